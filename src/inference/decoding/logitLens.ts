import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { LensProjector, StepResiduals } from '../models/modelAdapter';
import { LENS_TOP, type LensEntry } from '../protocol';
import { traceStep } from './trace';

/** A position of a step whose block outputs are read, and the token that was chosen after it. */
export interface LensPick {
  readonly row: number;
  readonly position: number;
  readonly chosen: number;
}


/** At most this many logits are held at once when vectors share runs (a long score with a large vocabulary). */
const MAX_LOGITS_AT_ONCE = 16 * 1024 * 1024;

/**
 * The logit lens (nostalgebraist, 2020): each block's output read through the model's own final norm
 * and output head, as if the model ended there. One entry per layer for every pick; the last layer's
 * entry is the model's own output distribution.
 */
export async function logitLens(head: LensProjector, residuals: StepResiduals, picks: readonly LensPick[], tokenizer: PreTrainedTokenizer): Promise<LensEntry[][]> {
  return head.perPosition ? lensOfPicks(head, residuals, picks, tokenizer) : lensOfSteps(head, residuals, picks, tokenizer);
}

const entry = (logits: Float32Array, offset: number, vocab: number, layer: number, chosen: number, tokenizer: PreTrainedTokenizer): LensEntry => {
  const t = traceStep(logits, offset, vocab, chosen, '', LENS_TOP, tokenizer);
  return { layer, rank: t.rank, prob: t.prob, top: t.top };
};

/** A head whose positions are independent: every layer's vector of every pick in as few runs as memory allows. */
async function lensOfPicks(head: LensProjector, residuals: StepResiduals, picks: readonly LensPick[], tokenizer: PreTrainedTokenizer): Promise<LensEntry[][]> {
  const layers = residuals.layers.length;
  const { hidden } = residuals;
  const out: LensEntry[][] = [];
  let perRun = Math.min(picks.length, 8); // until the first run shows the vocabulary size
  for (let start = 0; start < picks.length; ) {
    const batch = picks.slice(start, start + perRun);
    start += batch.length;
    const vectors = residuals.type === 'float16' ? new Uint16Array(batch.length * layers * hidden) : new Float32Array(batch.length * layers * hidden);
    batch.forEach((pick, i) => {
      const from = (pick.row * residuals.positions + pick.position) * hidden;
      residuals.layers.forEach((values, l) => vectors.set(values.subarray(from, from + hidden), (i * layers + l) * hidden));
    });
    const { logits, vocab } = await head.project(vectors, residuals.type, batch.length * layers, hidden);
    batch.forEach((pick, i) => out.push(residuals.layers.map((_, layer) => entry(logits, (i * layers + layer) * vocab, vocab, layer, pick.chosen, tokenizer))));
    // Later runs are sized by the vocabulary the first one showed.
    perRun = Math.max(1, Math.floor(MAX_LOGITS_AT_ONCE / (layers * vocab)));
  }
  return out;
}

/**
 * A dynamically quantized head (q8 exports scale their whole input tensor at once): each layer's
 * output is read as the whole step the model computed, `[1, positions, hidden]`, the only input that
 * gives the model's own logits at the last layer.
 */
async function lensOfSteps(head: LensProjector, residuals: StepResiduals, picks: readonly LensPick[], tokenizer: PreTrainedTokenizer): Promise<LensEntry[][]> {
  const { hidden, positions } = residuals;
  const out: LensEntry[][] = picks.map(() => []);
  for (const row of new Set(picks.map((p) => p.row))) {
    for (const [layer, values] of residuals.layers.entries()) {
      const step = values.subarray(row * positions * hidden, (row + 1) * positions * hidden);
      const { logits, vocab } = await head.project(step, residuals.type, positions, hidden);
      picks.forEach((pick, i) => {
        if (pick.row === row) out[i].push(entry(logits, pick.position * vocab, vocab, layer, pick.chosen, tokenizer));
      });
    }
  }
  return out;
}

import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { LensProjector, StepResiduals } from '../models/modelAdapter';
import type { LensEntry } from '../protocol';
import { traceStep } from './trace';

/** A position of a step whose block outputs are read, and the token that was chosen after it. */
export interface LensPick {
  readonly row: number;
  readonly position: number;
  readonly chosen: number;
}

/** How many alternatives each layer's entry lists. */
export const LENS_TOP = 5;

/**
 * The logit lens (nostalgebraist, 2020): each block's output read through the model's own final norm
 * and output head, as if the model ended there. One entry per layer for every pick; the last layer's
 * entry is the model's own output distribution.
 *
 * Each layer's output is read as the whole step the model computed (`[1, positions, hidden]`), not
 * position by position: a dynamically quantized head (q8 exports) scales its input per tensor, so
 * only the same tensor gives the model's own logits at the last layer.
 */
export async function logitLens(head: LensProjector, residuals: StepResiduals, picks: readonly LensPick[], tokenizer: PreTrainedTokenizer): Promise<LensEntry[][]> {
  const { hidden, positions } = residuals;
  const out: LensEntry[][] = picks.map(() => []);
  const rows = [...new Set(picks.map((p) => p.row))];
  for (const row of rows) {
    for (const [layer, values] of residuals.layers.entries()) {
      const step = values.subarray(row * positions * hidden, (row + 1) * positions * hidden);
      const { logits, vocab } = await head.project(step, residuals.type, positions, hidden);
      picks.forEach((pick, i) => {
        if (pick.row !== row) return;
        const t = traceStep(logits, pick.position * vocab, vocab, pick.chosen, '', LENS_TOP, tokenizer);
        out[i].push({ layer, rank: t.rank, prob: t.prob, top: t.top });
      });
    }
  }
  return out;
}

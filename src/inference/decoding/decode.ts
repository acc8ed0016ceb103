import { InferenceError } from '../errors';
import type { DecoderSession, LoadedModel, StepResult } from '../models/modelAdapter';
import type { TokenTrace } from '../protocol';
import { IncrementalDetokenizer } from '../loading/tokenizer';
import { AttentionRecorder } from './attentionRecorder';
import { argmax, logSoftmax, logSumExp, topKIndices } from './distribution';
import { buildProcessors, forcedTokenAt, type GenerationConfig } from './generationConfig';
import { applyAll, type LogitsProcessor } from './logitsProcessors';
import { SeededRandom } from './random';
import { DEFAULT_DRAFT, findDraft } from './promptLookup';
import { findStopString } from './stopping';
import { traceStep } from './trace';

export type FinishReason = 'eos' | 'length' | 'stop-string' | 'cancelled';

export interface DecodedSequence {
  readonly ids: number[];
  readonly tokens: TokenTrace[];
  readonly text: string;
  readonly logprob: number;
  readonly score: number;
  readonly finishReason: FinishReason;
  /** Row of the attention recorder that followed this sequence. */
  readonly attentionRow: number;
}

export interface DecodeHooks {
  readonly isCancelled: () => boolean;
  /** `delta`: the text this token added to the output (the deltas concatenate to the streamed text). */
  readonly onToken?: (token: TokenTrace, delta: string) => void;
}

export interface DecodeOutput {
  readonly sequences: DecodedSequence[];
  readonly session: DecoderSession;
  readonly recorder: AttentionRecorder;
  readonly firstTokenMs: number;
  /** Decoder forward passes, the first (prompt) pass included. */
  readonly passes: number;
}

/** Counts what the loop asked of the model. */
interface DecodeStats {
  passes: number;
}

/**
 * The one decoding loop for every architecture. The model adapter hides what a step is (a KV-cached
 * decoder-only step, an encoder-decoder step with cross-attention, an RNN step); this loop chooses
 * tokens, records the trace and the attention, and decides when to stop.
 */
export async function decode(
  model: LoadedModel,
  inputIds: readonly number[],
  config: GenerationConfig,
  forcedPrefixIds: readonly number[],
  hooks: DecodeHooks,
): Promise<DecodeOutput> {
  const started = performance.now();
  checkCancelled(hooks);
  const session = await model.start(inputIds, config.attentions);
  const recorder = new AttentionRecorder();
  const first = await session.step([session.startTokens]);
  recorder.record(first.attentions);
  const firstTokenMs = performance.now() - started;
  const stats: DecodeStats = { passes: 1 };
  const sequences =
    config.strategy === 'beam'
      ? await beamSearch(model, session, first, config, forcedPrefixIds, recorder, hooks, stats)
      : [await sampleOrGreedy(model, session, first, config, forcedPrefixIds, recorder, hooks, stats, model.input.draftSource(inputIds))];
  return { sequences, session, recorder, firstTokenMs, passes: stats.passes };
}

/** A stop before the first step has nothing to keep; after it, the loops return what they have ('cancelled'). */
function checkCancelled(hooks: DecodeHooks): void {
  if (hooks.isCancelled()) throw new InferenceError('cancelled', 'Generation was cancelled.');
}

/** History the processors see: the prompt and the output for a causal LM, the decoder tokens otherwise. */
function historyBase(session: DecoderSession): number[] {
  return [...session.startTokens];
}

async function sampleOrGreedy(
  model: LoadedModel,
  session: DecoderSession,
  first: StepResult,
  config: GenerationConfig,
  forced: readonly number[],
  recorder: AttentionRecorder,
  hooks: DecodeHooks,
  stats: DecodeStats,
  source: readonly number[],
): Promise<DecodedSequence> {
  const processors = buildProcessors(config);
  // Drafts are checked only where they cannot change the result: greedy choices, a cache that can be
  // cut back, and no attention recording (whose steps are one query each).
  const drafting = config.strategy === 'greedy' && config.promptLookupTokens > 0 && !config.attentions && session.dropLast !== undefined;
  const draftOptions = { ...DEFAULT_DRAFT, maxTokens: config.promptLookupTokens };
  // `rows[at]` is the logits row the current token is chosen from; later rows were computed in the
  // same pass for the draft tokens `ahead[at..]`, which are already in the cache.
  let rows: Float32Array[] = [first.logits];
  let ahead: number[] = [];
  let at = 0;
  const vocab = first.vocab;
  const rng = new SeededRandom(config.seed);
  const eos = new Set(model.eosTokenIds);
  const detok = new IncrementalDetokenizer(model.tokenizer);
  const history = historyBase(session);
  const ids: number[] = [];
  const tokens: TokenTrace[] = [];
  let logprob = 0;
  let finishReason: FinishReason = 'length';
  let stopAt = -1;
  for (let t = 0; t < config.maxNewTokens; t++) {
    if (hooks.isCancelled()) {
      finishReason = 'cancelled';
      break;
    }
    const logits = rows[at];
    let chosen = forcedTokenAt(config, forced, t);
    if (chosen === undefined) {
      const scores = shaped(processors, logits.subarray(0, vocab), history);
      chosen = config.strategy === 'sample' ? sample(scores, rng) : argmax(scores);
    }
    const before = detok.current.length;
    const piece = eos.has(chosen) ? '' : detok.push(chosen);
    const trace = traceStep(logits, 0, vocab, chosen, piece, config.topAlternatives, model.tokenizer);
    ids.push(chosen);
    tokens.push(trace);
    history.push(chosen);
    logprob += trace.logprob;
    if (eos.has(chosen)) {
      finishReason = 'eos';
      break;
    }
    hooks.onToken?.(trace, piece);
    stopAt = findStopString(detok.current, config.stopStrings, before);
    if (stopAt >= 0) {
      finishReason = 'stop-string';
      break;
    }
    if (t + 1 === config.maxNewTokens) break;
    if (at < ahead.length && ahead[at] === chosen) {
      at++; // the draft token was the model's own choice: its next row is already computed
      continue;
    }
    if (at < ahead.length) session.dropLast!(ahead.length - at);
    // Never feed a token the length limit would not reach: the context holds prompt + maxNewTokens - 1.
    const draft = drafting ? findDraft(history, source, draftOptions).slice(0, Math.max(0, config.maxNewTokens - t - 2)) : [];
    const step = await session.step([[chosen, ...draft]], draft.length > 0);
    stats.passes++;
    recorder.record(step.attentions);
    rows = draft.length > 0 ? splitRows(step.allLogits!, step.vocab) : [step.logits];
    ahead = draft;
    at = 0;
  }
  const text = stopAt >= 0 ? detok.current.slice(0, stopAt) : detok.current;
  return { ids, tokens, text, logprob, score: logprob / Math.max(1, ids.length) ** config.lengthPenalty, finishReason, attentionRow: 0 };
}

/** The row as the processors shape it: a copy when there are any (the raw row feeds the trace), else the row itself. */
function shaped(processors: readonly LogitsProcessor[], row: Float32Array, history: readonly number[]): Float32Array {
  if (processors.length === 0) return row;
  const scores = Float32Array.from(row);
  applyAll(processors, scores, history);
  return scores;
}

function splitRows(all: Float32Array, vocab: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i + vocab <= all.length; i += vocab) out.push(all.subarray(i, i + vocab));
  return out;
}

/** Draws from the softmax of `scores` (already shaped by temperature, top-k, top-p). */
function sample(scores: Float32Array, rng: SeededRandom): number {
  const lp = logSoftmax(scores);
  let u = rng.next();
  for (let i = 0; i < lp.length; i++) {
    u -= Math.exp(lp[i]);
    if (u <= 0) return i;
  }
  return argmax(scores);
}

interface Beam {
  readonly ids: number[];
  /** The raw logits row each token was chosen from: traces are computed only for returned sequences. */
  readonly rows: Float32Array[];
  readonly sum: number;
  readonly history: number[];
}

interface Hypothesis {
  readonly beam: Beam;
  readonly score: number;
  readonly finishReason: FinishReason;
  readonly row: number;
}

/**
 * Beam search over the rows of the session: keeps the `numBeams` best partial sequences by summed
 * log-probability, moves those that end with EOS to the finished hypotheses scored by
 * `sum / length^lengthPenalty`, and stops early when no running beam can beat the finished ones.
 */
async function beamSearch(
  model: LoadedModel,
  session: DecoderSession,
  first: StepResult,
  config: GenerationConfig,
  forced: readonly number[],
  recorder: AttentionRecorder,
  hooks: DecodeHooks,
  stats: DecodeStats,
): Promise<DecodedSequence[]> {
  const k = config.numBeams;
  const processors = buildProcessors(config);
  const eos = new Set(model.eosTokenIds);
  const normalise = (sum: number, length: number): number => sum / Math.max(1, length) ** config.lengthPenalty;
  let beams: Beam[] = [{ ids: [], rows: [], sum: 0, history: historyBase(session) }];
  const finished: Hypothesis[] = [];
  // Finished hypotheses keep their attention history in recorder rows beyond the running beams.
  const finishedRecorders: AttentionRecorder[] = [];
  let step = first;
  let finishedAll = false;
  let cancelled = false;

  for (let t = 0; t < config.maxNewTokens && !finishedAll; t++) {
    if (hooks.isCancelled()) {
      cancelled = true; // the running beams are returned as they are
      break;
    }
    const vocab = step.vocab;
    interface Candidate { row: number; id: number; sum: number }
    const candidates: Candidate[] = [];
    for (let r = 0; r < beams.length; r++) {
      const scores = shaped(processors, step.logits.subarray(r * vocab, (r + 1) * vocab), beams[r].history);
      const logZ = logSumExp(scores);
      const must = forcedTokenAt(config, forced, t);
      // The best candidates by score are the best by log-probability: log p = score - logZ.
      const ids = must !== undefined ? [must] : topKIndices(scores, 2 * k);
      for (const id of ids) if (scores[id] > -Infinity) candidates.push({ row: r, id, sum: beams[r].sum + scores[id] - logZ });
    }
    candidates.sort((a, b) => b.sum - a.sum);

    const next: Candidate[] = [];
    for (let i = 0; i < candidates.length && next.length < k; i++) {
      const c = candidates[i];
      if (eos.has(c.id)) {
        if (i >= k) continue; // only EOS among the k best candidates finishes a hypothesis
        const beam = extend(beams[c.row], c.id, c.sum, step.logits.subarray(c.row * vocab, (c.row + 1) * vocab));
        finished.push({ beam, score: normalise(c.sum, beam.ids.length), finishReason: 'eos', row: finishedRecorders.length });
        finishedRecorders.push(recorder.snapshot(c.row));
        continue;
      }
      next.push(c);
    }
    if (next.length === 0) {
      beams = []; // every beam ended: only the finished hypotheses remain
      break;
    }

    finished.sort((a, b) => b.score - a.score);
    if (finished.length >= k) {
      if (config.earlyStopping) break;
      const bestRunning = normalise(next[0].sum, t + 1);
      if (finished[k - 1].score >= bestRunning && config.lengthPenalty >= 0) finishedAll = true;
    }
    beams = next.map((c) => extend(beams[c.row], c.id, c.sum, step.logits.subarray(c.row * vocab, (c.row + 1) * vocab)));
    if (finishedAll || t + 1 === config.maxNewTokens) break;
    const rows = next.map((c) => c.row);
    session.reorder(rows);
    recorder.reorder(rows);
    step = await session.step(next.map((c) => [c.id]));
    stats.passes++;
    recorder.record(step.attentions);
  }

  const running: Hypothesis[] = beams.map((beam, r) => ({ beam, score: normalise(beam.sum, beam.ids.length), finishReason: cancelled ? 'cancelled' : 'length', row: -1 - r }));
  const all = [...finished, ...running].sort((a, b) => b.score - a.score).slice(0, Math.max(k, config.numReturnSequences));
  const out: DecodedSequence[] = [];
  const finalRecorder = new AttentionRecorder();
  for (const h of all.slice(0, config.numReturnSequences)) {
    const source = h.row >= 0 ? finishedRecorders[h.row] : recorder.snapshot(-1 - h.row);
    const row = finalRecorder.adopt(source);
    const { tokens, text } = traceSequence(model, h.beam, config);
    out.push({ ids: h.beam.ids, tokens, text, logprob: h.beam.sum, score: h.score, finishReason: h.finishReason, attentionRow: row });
  }
  recorder.replaceWith(finalRecorder);
  return out;
}

/** The trace and text of a returned sequence, from the logits rows its tokens were chosen from. */
function traceSequence(model: LoadedModel, beam: Beam, config: GenerationConfig): { tokens: TokenTrace[]; text: string } {
  const detok = new IncrementalDetokenizer(model.tokenizer);
  const eos = new Set(model.eosTokenIds);
  const tokens = beam.ids.map((id, i) => {
    const row = beam.rows[i];
    return traceStep(row, 0, row.length, id, eos.has(id) ? '' : detok.push(id), config.topAlternatives, model.tokenizer);
  });
  return { tokens, text: detok.current };
}

function extend(beam: Beam, id: number, sum: number, row: Float32Array): Beam {
  return { ids: [...beam.ids, id], rows: [...beam.rows, row], sum, history: [...beam.history, id] };
}

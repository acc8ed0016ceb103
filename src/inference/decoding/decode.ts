import type { DecoderSession, LoadedModel, StepResult } from '../models/modelAdapter';
import type { TokenTrace } from '../protocol';
import { IncrementalDetokenizer } from './incrementalDetokenizer';
import { AttentionRecorder } from './attentionRecorder';
import { argmax, logSoftmax, logSumExp, topKIndices } from './distribution';
import { buildProcessors, forcedTokenAt, type GenerationConfig } from './generationConfig';
import { applyAll, type LogitsProcessor } from './logitsProcessors';
import { SeededRandom } from './random';
import { DEFAULT_DRAFT, findDraft } from './promptLookup';
import { findStopString } from './stopping';
import { repetitionStart } from './repetitionStop';
import { traceStep } from './trace';
import { logitLens } from './logitLens';

export type FinishReason = 'eos' | 'length' | 'stop-string' | 'repetition' | 'cancelled';

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
  /** The prompt's last line, which the generated text continues (for `stopOnRepetition`). */
  readonly promptLine?: string;
}

export interface DecodeOutput {
  readonly sequences: DecodedSequence[];
  readonly session: DecoderSession;
  readonly recorder: AttentionRecorder;
  readonly firstTokenMs: number;
  /** Decoder forward passes, the first (prompt) pass included. */
  readonly passes: number;
}

/** What one decoding run carries through its loop: the model, its session, the settings, the records. */
interface DecodeRun {
  readonly model: LoadedModel;
  readonly session: DecoderSession;
  readonly config: GenerationConfig;
  /** Token ids the output must start with (a branch from an alternative). */
  readonly forced: readonly number[];
  readonly recorder: AttentionRecorder;
  readonly hooks: DecodeHooks;
  /** Decoder forward passes so far, the prompt's included. */
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
  // A stop at any point returns what the loop has by then (finishReason 'cancelled'), nothing at all included.
  const session = await model.start(inputIds, config.attentions, config.logitLens);
  const run: DecodeRun = { model, session, config, forced: forcedPrefixIds, recorder: new AttentionRecorder(), hooks, passes: 1 };
  const first = await session.step([session.startTokens]);
  run.recorder.record(first.attentions);
  const firstTokenMs = performance.now() - started;
  const sequences = config.strategy === 'beam' ? await beamSearch(run, first) : [await sampleOrGreedy(run, first, model.input.draftSource(inputIds))];
  return { sequences, session, recorder: run.recorder, firstTokenMs, passes: run.passes };
}

/** Greedy or sampled decoding of one sequence; greedy checks prompt-lookup drafts in the same passes. */
async function sampleOrGreedy(run: DecodeRun, first: StepResult, draftSource: readonly number[]): Promise<DecodedSequence> {
  const { model, session, config, hooks } = run;
  const processors = buildProcessors(config, session.startTokens.length, model.eosTokenIds);
  const rng = new SeededRandom(config.seed);
  const eos = new Set(model.eosTokenIds);
  const output = new OutputText(model, config.stopStrings, hooks.onToken, config.stopOnRepetition ? (hooks.promptLine ?? '') : undefined);
  const rows = new DraftRows(first);
  // Drafts are checked only where they cannot change the result: greedy choices, a model whose
  // several-token passes give the one-token logits (measured at load), a cache that can be cut back,
  // and no attention recording (whose steps are one query each).
  const drafting = config.strategy === 'greedy' && config.promptLookupTokens > 0 && !config.attentions && !config.logitLens && model.draftsAreExact && session.dropLast !== undefined;
  // The block outputs of the step the current logits came from (the logit lens reads its last position).
  let residuals = config.logitLens && model.lens ? first.residuals : undefined;
  const draftOptions = { ...DEFAULT_DRAFT, maxTokens: config.promptLookupTokens };
  const history = [...session.startTokens];
  const ids: number[] = [];
  const tokens: TokenTrace[] = [];
  let logprob = 0;
  let finishReason: FinishReason = 'length';
  for (let t = 0; t < config.maxNewTokens; t++) {
    if (hooks.isCancelled()) {
      finishReason = 'cancelled';
      break;
    }
    const logits = rows.current;
    let chosen = forcedTokenAt(run.forced, t);
    if (chosen === undefined) {
      const scores = shaped(processors, logits.subarray(0, rows.vocab), history);
      chosen = config.strategy === 'sample' ? sample(scores, rng) : argmax(scores);
    }
    const isEos = eos.has(chosen);
    const piece = isEos ? '' : output.add(chosen);
    const traced = traceStep(logits, 0, rows.vocab, chosen, piece, config.topAlternatives, model.tokenizer);
    const trace = residuals && model.lens ? { ...traced, lens: (await logitLens(model.lens, residuals, [{ row: 0, position: residuals.positions - 1, chosen }], model.tokenizer))[0] } : traced;
    ids.push(chosen);
    tokens.push(trace);
    history.push(chosen);
    logprob += trace.logprob;
    const last = isEos || t + 1 === config.maxNewTokens;
    const stopped = output.emit(trace, last);
    if (stopped) {
      finishReason = stopped;
      break;
    }
    if (isEos) {
      finishReason = 'eos';
      break;
    }
    if (last) break;
    if (rows.confirm(chosen)) continue; // the draft token was the model's own choice: its next row is already computed
    rows.discardUnconfirmed(session);
    // Never feed a token the length limit would not reach: the context holds prompt + maxNewTokens - 1.
    const draft = drafting ? findDraft(history, draftSource, draftOptions).slice(0, Math.max(0, config.maxNewTokens - t - 2)) : [];
    const step = await session.step([[chosen, ...draft]], draft.length > 0);
    run.passes++;
    run.recorder.record(step.attentions);
    if (residuals) residuals = step.residuals;
    rows.reset(step, draft);
  }
  if (config.attentions && ids.length > 0 && finishReason !== 'cancelled' && !hooks.isCancelled()) {
    // The last token is chosen but never fed: one more pass gives its attention row, so the map covers
    // every token of the text (the prompt and the new tokens always fit the context together).
    const step = await session.step([[ids[ids.length - 1]!]]);
    run.passes++;
    run.recorder.record(step.attentions);
  }
  return { ids, tokens, text: output.text(finishReason === 'cancelled'), logprob, score: logprob / Math.max(1, ids.length) ** config.lengthPenalty, finishReason, attentionRow: 0 };
}

/**
 * The logits rows of the last pass: `current` is the row the next token is chosen from; the rows
 * after it were computed in the same pass for draft tokens already in the KV cache.
 */
class DraftRows {
  private rows: Float32Array[];
  private ahead: readonly number[] = [];
  private at = 0;
  readonly vocab: number;

  constructor(first: StepResult) {
    this.rows = [first.logits];
    this.vocab = first.vocab;
  }

  get current(): Float32Array {
    return this.rows[this.at];
  }

  /** True when `chosen` is the next draft token: its row is already computed, no pass is needed. */
  confirm(chosen: number): boolean {
    if (this.at < this.ahead.length && this.ahead[this.at] === chosen) {
      this.at++;
      return true;
    }
    return false;
  }

  /** Cuts the cache back past the draft tokens that were not confirmed. */
  discardUnconfirmed(session: DecoderSession): void {
    if (this.at < this.ahead.length) session.dropLast!(this.ahead.length - this.at);
  }

  /** The rows of a new pass that fed the chosen token and `draft` after it. */
  reset(step: StepResult, draft: readonly number[]): void {
    this.rows = draft.length > 0 ? splitRows(step.allLogits!, step.vocab) : [step.logits];
    this.ahead = draft;
    this.at = 0;
  }
}

/**
 * The text as it is decoded, streamed and cut at the first stop string. What is streamed is exactly
 * the result's text: the end of the text that could still become a stop string is held back until
 * the next token settles it (streamed with the last token otherwise, or left out when stopped).
 */
class OutputText {
  private readonly detok: IncrementalDetokenizer;
  private stopAt = -1;
  private before = 0;
  private streamed = '';

  constructor(
    model: LoadedModel,
    private readonly stopStrings: readonly string[],
    private readonly onToken: DecodeHooks['onToken'],
    /** Set to stop where the text starts to repeat itself: the prompt's last line, which the text continues. */
    private readonly repetitionPromptLine?: string,
  ) {
    this.detok = new IncrementalDetokenizer(model.tokenizer);
  }

  /** Decodes one more token; returns the text it added. */
  add(id: number): string {
    // A stop string can begin only in the text a token may still change (the settled start never does).
    this.before = this.detok.settledLength;
    return this.detok.push(id);
  }

  /** Streams the token with the text it makes final; says why when the text must stop here. */
  emit(trace: TokenTrace, last: boolean): 'stop-string' | 'repetition' | undefined {
    if (last) this.detok.flush(); // an incomplete character at the very end is text too (U+FFFD)
    const text = this.detok.current;
    const atStop = findStopString(text, this.stopStrings, this.before);
    const atRepeat = this.repetitionPromptLine === undefined ? -1 : repetitionStart(text, this.repetitionPromptLine);
    this.stopAt = atRepeat >= 0 && (atStop < 0 || atRepeat < atStop) ? atRepeat : atStop;
    const why = this.stopAt < 0 ? undefined : this.stopAt === atRepeat ? 'repetition' : 'stop-string';
    // Streamed: the text no later token changes, less an end that may still become a stop string.
    const settled = this.stopAt >= 0 ? text.slice(0, this.stopAt) : last ? text : text.slice(0, Math.min(this.detok.settledLength, text.length - stopPrefixLength(text, this.stopStrings)));
    const delta = settled.slice(this.streamed.length);
    this.streamed = settled;
    this.onToken?.(trace, delta);
    return why;
  }

  /** The result's text; a stopped generation ends where its stream ended. */
  text(cancelled: boolean): string {
    if (this.stopAt >= 0) return this.detok.current.slice(0, this.stopAt);
    return cancelled ? this.streamed : this.detok.current;
  }
}

/** How many characters at the end of `text` begin a stop string (and may still become one). */
function stopPrefixLength(text: string, stops: readonly string[]): number {
  let longest = 0;
  for (const s of stops) {
    for (let n = Math.min(s.length - 1, text.length); n > longest; n--) {
      if (text.endsWith(s.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest;
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
async function beamSearch(run: DecodeRun, first: StepResult): Promise<DecodedSequence[]> {
  const { model, session, config, forced, recorder, hooks } = run;
  const k = config.numBeams;
  const processors = buildProcessors(config, session.startTokens.length, model.eosTokenIds);
  const eos = new Set(model.eosTokenIds);
  const normalise = (sum: number, length: number): number => sum / Math.max(1, length) ** config.lengthPenalty;
  let beams: Beam[] = [{ ids: [], rows: [], sum: 0, history: [...session.startTokens] }];
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
      const must = forcedTokenAt(forced, t);
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
    run.passes++;
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
  detok.flush();
  return { tokens, text: detok.current };
}

function extend(beam: Beam, id: number, sum: number, row: Float32Array): Beam {
  return { ids: [...beam.ids, id], rows: [...beam.rows, row], sum, history: [...beam.history, id] };
}

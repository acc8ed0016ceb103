import { InferenceError } from '../errors';
import { DECODING_LIMITS, clampToLimit } from '../requestValidation';
import type { DecodingOptions, Strategy } from '../protocol';
import { DEFAULT_DRAFT } from './promptLookup';
import { allowedTokens, noRepeatNgram, repetitionPenalty, temperature, topK, topP, type LogitsProcessor } from './logitsProcessors';

/** Decoding options with defaults filled in and checked. */
export interface GenerationConfig {
  readonly strategy: Strategy;
  readonly maxNewTokens: number;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly seed: number;
  readonly numBeams: number;
  readonly numReturnSequences: number;
  readonly lengthPenalty: number;
  readonly earlyStopping: boolean;
  readonly repetitionPenalty: number;
  readonly noRepeatNgramSize: number;
  readonly stopStrings: readonly string[];
  readonly topAlternatives: number;
  readonly attentions: boolean;
  readonly allowedTokenIds: readonly number[] | undefined;
  /** Token forced as the first generated token (generation_config `forced_bos_token_id`). */
  readonly forcedBosTokenId: number | undefined;
  /** Token forced when the length limit is reached (generation_config `forced_eos_token_id`). */
  readonly forcedEosTokenId: number | undefined;
  /** Most draft tokens checked per forward pass in greedy decoding (0 = one token per pass). */
  readonly promptLookupTokens: number;
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new InferenceError('bad-request', message);
}

/** Merges request options over the model's generation_config.json defaults. */
export function resolveGenerationConfig(options: DecodingOptions = {}, modelDefaults: Record<string, unknown> = {}): GenerationConfig {
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
  const beamsDefault = num(modelDefaults.num_beams) ?? 1;
  const strategy: Strategy = options.strategy ?? (options.numBeams && options.numBeams > 1 ? 'beam' : 'greedy');
  const c: GenerationConfig = {
    strategy,
    // A model's own defaults (generation_config.json, task_specific_params) get the same limits as a request.
    maxNewTokens: clampToLimit(options.maxNewTokens ?? num(modelDefaults.max_new_tokens) ?? 64, DECODING_LIMITS.maxNewTokens),
    temperature: options.temperature ?? 1,
    topK: options.topK ?? 0,
    topP: options.topP ?? 1,
    seed: options.seed ?? 0,
    numBeams: strategy === 'beam' ? clampToLimit(options.numBeams ?? Math.max(beamsDefault, 4), DECODING_LIMITS.numBeams) : 1,
    numReturnSequences: options.numReturnSequences ?? 1,
    lengthPenalty: options.lengthPenalty ?? num(modelDefaults.length_penalty) ?? 1,
    earlyStopping: options.earlyStopping ?? modelDefaults.early_stopping === true,
    repetitionPenalty: options.repetitionPenalty ?? 1,
    noRepeatNgramSize: options.noRepeatNgramSize ?? 0,
    stopStrings: options.stopStrings ?? [],
    topAlternatives: options.topAlternatives ?? 10,
    attentions: options.attentions ?? false,
    allowedTokenIds: options.allowedTokenIds,
    forcedBosTokenId: num(modelDefaults.forced_bos_token_id),
    forcedEosTokenId: num(modelDefaults.forced_eos_token_id),
    promptLookupTokens: options.promptLookupTokens ?? DEFAULT_DRAFT.maxTokens,
  };
  check(['greedy', 'sample', 'beam'].includes(c.strategy), `Unknown strategy "${c.strategy}": use greedy, sample or beam.`);
  check(Number.isInteger(c.maxNewTokens) && c.maxNewTokens >= 1, 'maxNewTokens must be a positive integer.');
  check(c.temperature > 0, 'temperature must be greater than 0.');
  check(Number.isInteger(c.topK) && c.topK >= 0, 'topK must be a non-negative integer (0 = off).');
  check(c.topP > 0 && c.topP <= 1, 'topP must be in (0, 1].');
  check(Number.isInteger(c.numBeams) && c.numBeams >= 1, 'numBeams must be a positive integer.');
  check(c.numReturnSequences >= 1 && c.numReturnSequences <= c.numBeams, 'numReturnSequences must be between 1 and numBeams.');
  check(c.repetitionPenalty > 0, 'repetitionPenalty must be greater than 0.');
  check(c.topAlternatives >= 0 && c.topAlternatives <= 100, 'topAlternatives must be between 0 and 100.');
  check(Number.isInteger(c.promptLookupTokens) && c.promptLookupTokens >= 0 && c.promptLookupTokens <= 64, 'promptLookupTokens must be an integer between 0 and 64 (0 = off).');
  return c;
}

/** The processors that shape the choice of the next token (not the reported distribution). */
export function buildProcessors(c: GenerationConfig): LogitsProcessor[] {
  const list: LogitsProcessor[] = [];
  if (c.allowedTokenIds) list.push(allowedTokens(c.allowedTokenIds));
  if (c.repetitionPenalty !== 1) list.push(repetitionPenalty(c.repetitionPenalty));
  if (c.noRepeatNgramSize > 0) list.push(noRepeatNgram(c.noRepeatNgramSize));
  if (c.strategy === 'sample') {
    if (c.temperature !== 1) list.push(temperature(c.temperature));
    if (c.topK > 0) list.push(topK(c.topK));
    if (c.topP < 1) list.push(topP(c.topP));
  }
  return list;
}

/** The token that step `t` must produce, if any: a branch's prefix, then forced BOS/EOS. */
export function forcedTokenAt(c: GenerationConfig, prefix: readonly number[], t: number): number | undefined {
  if (t < prefix.length) return prefix[t];
  if (t === 0 && c.forcedBosTokenId !== undefined) return c.forcedBosTokenId;
  if (t === c.maxNewTokens - 1 && c.forcedEosTokenId !== undefined) return c.forcedEosTokenId;
  return undefined;
}

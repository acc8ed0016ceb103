import { InferenceError } from '../errors';
import { DECODING_LIMITS, clampToLimit } from '../requestValidation';
import type { DecodingOptions, Strategy } from '../protocol';
import { DEFAULT_DRAFT } from './promptLookup';
import { allowedTokens, badWords, forcedAtLength, minLength, noRepeatNgram, repetitionPenalty, suppressTokens, temperature, topK, topP, type LogitsProcessor } from './logitsProcessors';

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
  /** Stop where the text starts to loop (a repeated line, a stretch repeated back to back): `finishReason` 'repetition'. */
  readonly stopOnRepetition: boolean;
  readonly topAlternatives: number;
  readonly attentions: boolean;
  /** Read every chosen token's step through the logit lens (greedy and sampling). */
  readonly logitLens: boolean;
  readonly allowedTokenIds: readonly number[] | undefined;
  /** EOS is forbidden while the sequence (prompt or decoder start included) is shorter than this (`min_length`). */
  readonly minLength: number;
  /** EOS is forbidden before this many new tokens (`min_new_tokens`). */
  readonly minNewTokens: number;
  /** Token sequences that must not be generated (`bad_words_ids`: the last id is banned after the others). */
  readonly badWordsIds: readonly (readonly number[])[];
  /** Tokens never generated (`suppress_tokens`). */
  readonly suppressTokens: readonly number[];
  /** Tokens not generated as the first new token (`begin_suppress_tokens`). */
  readonly beginSuppressTokens: readonly number[];
  /** Token forced as the first token after a one-token start (`forced_bos_token_id`). */
  readonly forcedBosTokenId: number | undefined;
  /** Token forced when the length limit is reached (`forced_eos_token_id`). */
  readonly forcedEosTokenIds: readonly number[];
  /** Most draft tokens checked per forward pass in greedy decoding (0 = one token per pass). */
  readonly promptLookupTokens: number;
}

/** Where a resolved setting came from, lowest priority first. */
export type SettingSource = 'default' | 'model' | 'task' | 'request';

/** The resolved settings as transformers names them, each with where it came from: shown in the trace. */
export type GenerationSettingsReport = Readonly<Record<string, { readonly value: unknown; readonly from: SettingSource }>>;

/**
 * The generation keys transformers reads from config.json and generation_config.json (a
 * `GenerationConfig` is built from the model config, then generation_config.json is laid over it).
 */
const MODEL_KEYS = [
  'do_sample', 'temperature', 'top_k', 'top_p', 'num_beams', 'length_penalty', 'early_stopping', 'repetition_penalty',
  'no_repeat_ngram_size', 'max_new_tokens', 'min_length', 'min_new_tokens', 'bad_words_ids', 'suppress_tokens',
  'begin_suppress_tokens', 'forced_bos_token_id', 'forced_eos_token_id',
] as const;

/** The model's generation defaults: config.json's generation keys, then generation_config.json over them. */
export function modelGenerationDefaults(config: Record<string, unknown>, generationConfig: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const source of [config, generationConfig]) for (const key of MODEL_KEYS) if (source[key] !== undefined && source[key] !== null) out[key] = source[key];
  return out;
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new InferenceError('bad-request', message);
}

const isIdList = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0);

/**
 * The one place where the model's defaults (config.json, generation_config.json), the task's
 * parameters (`task_specific_params`) and the request's options become the generation settings, in
 * that order of priority, as transformers merges them.
 */
export function resolveGenerationSettings(
  options: DecodingOptions = {},
  model: Record<string, unknown> = {},
  task: Record<string, unknown> = {},
): { config: GenerationConfig; report: GenerationSettingsReport } {
  const report: Record<string, { value: unknown; from: SettingSource }> = {};
  /** The request's value, else the task's, else the model's (snake_case key), else the default. */
  function pick<T>(request: T | undefined, key: string, accept: (v: unknown) => v is T, fallback: T): T {
    let value = fallback;
    let from: SettingSource = 'default';
    if (accept(model[key])) [value, from] = [model[key] as T, 'model'];
    if (accept(task[key])) [value, from] = [task[key] as T, 'task'];
    if (request !== undefined) [value, from] = [request, 'request'];
    report[key] = { value, from };
    return value;
  }
  const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
  const isId = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
  const isIdOrIds = (v: unknown): v is number | number[] => isId(v) || isIdList(v);
  const isIdLists = (v: unknown): v is number[][] => Array.isArray(v) && v.every(isIdList);

  // task_specific_params use max_length for the summary's length: new tokens of the decoder.
  const taskMax = isNum(task.max_length) ? task.max_length : undefined;
  const maxNewTokens = pick(options.maxNewTokens ?? (taskMax !== undefined ? Math.max(1, taskMax - 1) : undefined), 'max_new_tokens', isNum, 64);
  const numBeams = pick(options.numBeams, 'num_beams', isNum, 1);
  const doSample = pick(options.strategy === undefined ? undefined : options.strategy === 'sample', 'do_sample', isBool, false);
  const strategy: Strategy = options.strategy ?? (numBeams > 1 ? 'beam' : doSample ? 'sample' : 'greedy');
  report.strategy = { value: strategy, from: options.strategy !== undefined ? 'request' : report.num_beams.from !== 'default' && numBeams > 1 ? report.num_beams.from : report.do_sample.from };
  const forcedEos = pick<number | number[] | undefined>(undefined, 'forced_eos_token_id', isIdOrIds, undefined);

  const c: GenerationConfig = {
    strategy,
    // A model's own defaults (generation_config.json, task_specific_params) get the same limits as a request.
    maxNewTokens: clampToLimit(maxNewTokens, DECODING_LIMITS.maxNewTokens),
    temperature: pick(options.temperature, 'temperature', isNum, 1),
    topK: pick(options.topK, 'top_k', isNum, 0),
    topP: pick(options.topP, 'top_p', isNum, 1),
    seed: options.seed ?? 0,
    numBeams: strategy === 'beam' ? clampToLimit(numBeams > 1 ? numBeams : (options.numBeams ?? 4), DECODING_LIMITS.numBeams) : 1,
    numReturnSequences: options.numReturnSequences ?? 1,
    lengthPenalty: pick(options.lengthPenalty, 'length_penalty', isNum, 1),
    earlyStopping: pick(options.earlyStopping, 'early_stopping', isBool, false),
    repetitionPenalty: pick(options.repetitionPenalty, 'repetition_penalty', isNum, 1),
    noRepeatNgramSize: pick(options.noRepeatNgramSize, 'no_repeat_ngram_size', isNum, 0),
    stopStrings: options.stopStrings ?? [],
    stopOnRepetition: options.stopOnRepetition ?? false,
    topAlternatives: options.topAlternatives ?? 10,
    attentions: options.attentions ?? false,
    logitLens: options.logitLens ?? false,
    allowedTokenIds: options.allowedTokenIds,
    minLength: pick<number>(undefined, 'min_length', isNum, 0),
    minNewTokens: pick<number>(undefined, 'min_new_tokens', isNum, 0),
    badWordsIds: pick<number[][]>(undefined, 'bad_words_ids', isIdLists, []),
    suppressTokens: pick<number[]>(undefined, 'suppress_tokens', isIdList, []),
    beginSuppressTokens: pick<number[]>(undefined, 'begin_suppress_tokens', isIdList, []),
    forcedBosTokenId: pick<number | undefined>(undefined, 'forced_bos_token_id', isId, undefined),
    forcedEosTokenIds: forcedEos === undefined ? [] : typeof forcedEos === 'number' ? [forcedEos] : forcedEos,
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
  return { config: c, report };
}

/** The settings of a request on a model without defaults (tests, tools). */
export function resolveGenerationConfig(options: DecodingOptions = {}, modelDefaults: Record<string, unknown> = {}): GenerationConfig {
  return resolveGenerationSettings(options, modelDefaults).config;
}

/**
 * The processors that shape the choice of the next token (not the reported distribution), in the
 * order transformers applies them. `startLength` is the length of the sequence before the first new
 * token (the prompt, or the decoder start): transformers counts lengths on the whole sequence.
 */
export function buildProcessors(c: GenerationConfig, startLength: number, eosTokenIds: readonly number[]): LogitsProcessor[] {
  const list: LogitsProcessor[] = [];
  if (c.allowedTokenIds) list.push(allowedTokens(c.allowedTokenIds));
  if (c.repetitionPenalty !== 1) list.push(repetitionPenalty(c.repetitionPenalty));
  if (c.noRepeatNgramSize > 0) list.push(noRepeatNgram(c.noRepeatNgramSize));
  if (c.badWordsIds.length > 0) list.push(badWords(c.badWordsIds));
  if (c.minLength > 0 && eosTokenIds.length > 0) list.push(minLength(c.minLength, eosTokenIds));
  if (c.minNewTokens > 0 && eosTokenIds.length > 0) list.push(minLength(startLength + c.minNewTokens, eosTokenIds));
  if (c.forcedBosTokenId !== undefined) list.push(forcedAtLength(1, [c.forcedBosTokenId], 'forced-bos'));
  if (c.forcedEosTokenIds.length > 0) list.push(forcedAtLength(startLength + c.maxNewTokens - 1, c.forcedEosTokenIds, 'forced-eos'));
  if (c.suppressTokens.length > 0) list.push(suppressTokens(c.suppressTokens));
  if (c.beginSuppressTokens.length > 0) {
    const begin = startLength > 1 || c.forcedBosTokenId === undefined ? startLength : startLength + 1;
    list.push(suppressTokens(c.beginSuppressTokens, begin));
  }
  if (c.strategy === 'sample') {
    if (c.temperature !== 1) list.push(temperature(c.temperature));
    if (c.topK > 0) list.push(topK(c.topK));
    if (c.topP < 1) list.push(topP(c.topP));
  }
  return list;
}

/** The token that step `t` must produce because the output must start with a branch's prefix. */
export function forcedTokenAt(prefix: readonly number[], t: number): number | undefined {
  return t < prefix.length ? prefix[t] : undefined;
}

import { InferenceError } from './errors';
import type { DecodingOptions, EndpointSpec, EngineFault, GenerateRequest, HubOptions, ModelSpec, PromptContext, ScoreRequest, Task, WorkerRequest } from './protocol';
import { SERVING_APIS } from './protocol';
import { DTYPE_CHOICES } from './models/dtype';

/**
 * The engine's boundary: every message is checked here, whoever sent it (the extension, the CLI, a
 * test), before the engine sees it. Wrong types are refused with a message that names the field;
 * numbers outside their range are clamped into it; unknown fields are dropped. The ranges are the
 * settings' ranges (package.json declares the same; the manifest test compares them), so no path
 * (settings, a workspace's settings file, the CLI, a webview's branch) can ask for more.
 */
export interface Limit {
  readonly min: number;
  readonly max: number;
  readonly integer?: boolean;
}

export const DECODING_LIMITS = {
  maxNewTokens: { min: 1, max: 4096, integer: true },
  temperature: { min: 0.01, max: 10 },
  topK: { min: 0, max: 100_000, integer: true },
  topP: { min: 0.001, max: 1 },
  seed: { min: 0, max: 2 ** 32 - 1, integer: true },
  numBeams: { min: 1, max: 32, integer: true },
  numReturnSequences: { min: 1, max: 32, integer: true },
  lengthPenalty: { min: -10, max: 10 },
  repetitionPenalty: { min: 1, max: 10 },
  noRepeatNgramSize: { min: 0, max: 32, integer: true },
  topAlternatives: { min: 0, max: 50, integer: true },
  promptLookupTokens: { min: 0, max: 64, integer: true },
} as const satisfies Record<string, Limit>;

/** Characters of text one request may carry (a prompt, a text to score, a source). */
export const MAX_TEXT_CHARS = 1_000_000;
const MAX_NAME_CHARS = 4096;
const MAX_STOP_STRINGS = 16;
const MAX_STOP_CHARS = 1000;
const MAX_FORCED_IDS = 4096;
const MAX_ALLOWED_IDS = 1_000_000;
const MAX_CONTEXT_SNIPPETS = 64;
const MAX_COMMENT_CHARS = 16;
/** Most tokens a prompt context may take (more than any model's context). */
export const CONTEXT_TOKEN_LIMIT: Limit = { min: 0, max: 100_000, integer: true };

const DEVICES = ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const;
const STRATEGIES = ['greedy', 'sample', 'beam'] as const;
const FAULTS: readonly EngineFault[] = ['abort', 'exit', 'uncaught', 'hang', 'heap'];

function refuse(field: string, what: string): never {
  throw new InferenceError('bad-request', `${field} ${what}`);
}

const shown = (v: unknown): string => {
  const text = typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v);
  return text;
};

function record(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) refuse(field, `must be an object, not ${shown(v)}.`);
  return v as Record<string, unknown>;
}

function text(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string') refuse(field, `must be a string, not ${shown(v)}.`);
  if (v.length > max) refuse(field, `is ${v.length} characters long; at most ${max} are accepted.`);
  return v;
}

function optional<T>(v: unknown, check: (x: unknown) => T): T | undefined {
  return v === undefined ? undefined : check(v);
}

function flag(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') refuse(field, `must be true or false, not ${shown(v)}.`);
  return v;
}

function choice<T extends string>(v: unknown, field: string, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) refuse(field, `must be one of ${allowed.join(', ')}, not ${shown(v)}.`);
  return v as T;
}

/** A number clamped into `limit` (rounded first when the limit is for integers). */
export function clampToLimit(v: number, limit: Limit): number {
  const n = limit.integer ? Math.round(v) : v;
  return Math.min(limit.max, Math.max(limit.min, n));
}

function bounded(v: unknown, field: string, limit: Limit): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) refuse(field, `must be a finite number, not ${shown(v)}.`);
  return clampToLimit(v, limit);
}

function tokenIds(v: unknown, field: string, max: number): number[] {
  if (!Array.isArray(v)) refuse(field, `must be an array of token ids, not ${shown(v)}.`);
  if (v.length > max) refuse(field, `has ${v.length} token ids; at most ${max} are accepted.`);
  return v.map((id, i) => {
    if (!Number.isSafeInteger(id) || (id as number) < 0) refuse(`${field}[${i}]`, `must be a token id (an integer ≥ 0), not ${shown(id)}.`);
    return id as number;
  });
}

function modelSpec(v: unknown, field: string): ModelSpec {
  const o = record(v, field);
  const source = text(o.source, `${field}.source`, MAX_NAME_CHARS);
  if (source.trim() === '') refuse(`${field}.source`, 'is empty: name a bundled model, a folder or a Hub id.');
  return {
    source,
    device: optional(o.device, (x) => choice(x, `${field}.device`, DEVICES)),
    attentions: optional(o.attentions, (x) => flag(x, `${field}.attentions`)),
    dtype: optional(o.dtype, (x) => choice(x, `${field}.dtype`, DTYPE_CHOICES)),
    dtypeFallback: optional(o.dtypeFallback, (x) => flag(x, `${field}.dtypeFallback`)),
    quantized: optional(o.quantized, (x) => flag(x, `${field}.quantized`)),
    endpoint: optional(o.endpoint, (x) => endpointSpec(x, `${field}.endpoint`)),
  };
}

function endpointSpec(v: unknown, field: string): EndpointSpec {
  const o = record(v, field);
  const url = text(o.url, `${field}.url`, MAX_NAME_CHARS);
  if (!/^https?:\/\//i.test(url)) refuse(`${field}.url`, `must be an http:// or https:// URL, not ${shown(url)}.`);
  return {
    url,
    api: optional(o.api, (x) => choice(x, `${field}.api`, SERVING_APIS)),
    apiKey: optional(o.apiKey, (x) => text(x, `${field}.apiKey`, MAX_NAME_CHARS)),
  };
}

function task(v: unknown, field: string): Task {
  const o = record(v, field);
  const kind = choice(o.kind, `${field}.kind`, ['generate', 'summarize', 'translate'] as const);
  return kind === 'translate' ? { kind, to: text(o.to, `${field}.to`, 64) } : { kind };
}

function decodingOptions(v: unknown, field: string): DecodingOptions {
  const o = record(v, field);
  const out: Record<string, unknown> = {};
  for (const [key, limit] of Object.entries(DECODING_LIMITS)) {
    if (o[key] !== undefined) out[key] = bounded(o[key], `${field}.${key}`, limit);
  }
  if (o.strategy !== undefined) out.strategy = choice(o.strategy, `${field}.strategy`, STRATEGIES);
  if (o.earlyStopping !== undefined) out.earlyStopping = flag(o.earlyStopping, `${field}.earlyStopping`);
  if (o.attentions !== undefined) out.attentions = flag(o.attentions, `${field}.attentions`);
  if (o.logitLens !== undefined) out.logitLens = flag(o.logitLens, `${field}.logitLens`);
  if (o.stopOnRepetition !== undefined) out.stopOnRepetition = flag(o.stopOnRepetition, `${field}.stopOnRepetition`);
  if (o.stopStrings !== undefined) {
    if (!Array.isArray(o.stopStrings)) refuse(`${field}.stopStrings`, `must be an array of strings, not ${shown(o.stopStrings)}.`);
    if (o.stopStrings.length > MAX_STOP_STRINGS) refuse(`${field}.stopStrings`, `has ${o.stopStrings.length} entries; at most ${MAX_STOP_STRINGS} are accepted.`);
    out.stopStrings = o.stopStrings.map((s, i) => text(s, `${field}.stopStrings[${i}]`, MAX_STOP_CHARS));
  }
  if (o.allowedTokenIds !== undefined) out.allowedTokenIds = tokenIds(o.allowedTokenIds, `${field}.allowedTokenIds`, MAX_ALLOWED_IDS);
  if (typeof out.numReturnSequences === 'number' && typeof out.numBeams === 'number') out.numReturnSequences = Math.min(out.numReturnSequences, out.numBeams);
  return out as DecodingOptions;
}

function promptContext(v: unknown, field: string): PromptContext {
  const o = record(v, field);
  const comment = record(o.comment, `${field}.comment`);
  if (!Array.isArray(o.snippets)) refuse(`${field}.snippets`, `must be an array of { path, text }, not ${shown(o.snippets)}.`);
  if (o.snippets.length > MAX_CONTEXT_SNIPPETS) refuse(`${field}.snippets`, `has ${o.snippets.length} entries; at most ${MAX_CONTEXT_SNIPPETS} are accepted.`);
  let chars = 0;
  const snippets = o.snippets.map((s, i) => {
    const r = record(s, `${field}.snippets[${i}]`);
    const snippet = { path: text(r.path, `${field}.snippets[${i}].path`, MAX_NAME_CHARS), text: text(r.text, `${field}.snippets[${i}].text`, MAX_TEXT_CHARS) };
    chars += snippet.text.length;
    if (chars > MAX_TEXT_CHARS) refuse(`${field}.snippets`, `hold more than ${MAX_TEXT_CHARS} characters together.`);
    return snippet;
  });
  const open = text(comment.open, `${field}.comment.open`, MAX_COMMENT_CHARS);
  if (!open.trim()) refuse(`${field}.comment.open`, 'must not be empty.');
  const close = optional(comment.close, (x) => text(x, `${field}.comment.close`, MAX_COMMENT_CHARS));
  return {
    path: text(o.path, `${field}.path`, MAX_NAME_CHARS),
    comment: close === undefined ? { open } : { open, close },
    snippets,
    maxTokens: bounded(o.maxTokens, `${field}.maxTokens`, CONTEXT_TOKEN_LIMIT),
  };
}

function generateRequest(v: unknown, field: string): GenerateRequest {
  const o = record(v, field);
  return {
    model: modelSpec(o.model, `${field}.model`),
    prompt: text(o.prompt, `${field}.prompt`, MAX_TEXT_CHARS),
    forcedPrefixIds: optional(o.forcedPrefixIds, (x) => tokenIds(x, `${field}.forcedPrefixIds`, MAX_FORCED_IDS)),
    suffix: optional(o.suffix, (x) => text(x, `${field}.suffix`, MAX_TEXT_CHARS)),
    context: optional(o.context, (x) => promptContext(x, `${field}.context`)),
    task: optional(o.task, (x) => task(x, `${field}.task`)),
    options: optional(o.options, (x) => decodingOptions(x, `${field}.options`)),
    truncatePrompt: optional(o.truncatePrompt, (x) => flag(x, `${field}.truncatePrompt`)),
    stream: optional(o.stream, (x) => flag(x, `${field}.stream`)),
  };
}

function scoreRequest(v: unknown, field: string): ScoreRequest {
  const o = record(v, field);
  return {
    model: modelSpec(o.model, `${field}.model`),
    text: text(o.text, `${field}.text`, MAX_TEXT_CHARS),
    source: optional(o.source, (x) => text(x, `${field}.source`, MAX_TEXT_CHARS)),
    topAlternatives: optional(o.topAlternatives, (x) => bounded(x, `${field}.topAlternatives`, DECODING_LIMITS.topAlternatives)),
    attentions: optional(o.attentions, (x) => flag(x, `${field}.attentions`)),
    logitLens: optional(o.logitLens, (x) => flag(x, `${field}.logitLens`)),
    truncate: optional(o.truncate, (x) => flag(x, `${field}.truncate`)),
  };
}

function hubOptions(v: unknown, field: string): HubOptions {
  const o = record(v, field);
  return {
    cacheDir: optional(o.cacheDir, (x) => text(x, `${field}.cacheDir`, MAX_NAME_CHARS)),
    offline: optional(o.offline, (x) => flag(x, `${field}.offline`)),
    remoteHost: optional(o.remoteHost, (x) => text(x, `${field}.remoteHost`, MAX_NAME_CHARS)),
  };
}

/** The id of a message, if it has a usable one (so that even a refused request gets its answer). */
export function requestId(raw: unknown): number | undefined {
  const id = typeof raw === 'object' && raw !== null ? (raw as { id?: unknown }).id : undefined;
  return Number.isSafeInteger(id) && (id as number) > 0 ? (id as number) : undefined;
}

/** Checks one incoming message; returns it rebuilt from its known fields, or throws `bad-request`. */
export function validateRequest(raw: unknown): WorkerRequest {
  const o = record(raw, 'message');
  if (o.type === 'cancel') {
    if (!Number.isSafeInteger(o.target)) refuse('cancel.target', `must be a request id, not ${shown(o.target)}.`);
    return { type: 'cancel', target: o.target as number };
  }
  const id = requestId(raw);
  if (id === undefined) refuse('message.id', `must be a positive integer, not ${shown(o.id)}.`);
  const type = choice(o.type, 'message.type', ['configure', 'load', 'generate', 'score', 'servedModels', 'unload', 'ping', 'fault'] as const);
  const p = o.params;
  switch (type) {
    case 'configure': {
      const c = record(p, 'configure');
      return { type, id, params: { hub: hubOptions(c.hub, 'configure.hub'), bundledModelsDir: text(c.bundledModelsDir, 'configure.bundledModelsDir', MAX_NAME_CHARS) } };
    }
    case 'load':
      return { type, id, params: modelSpec(p, 'load') };
    case 'unload':
      return { type, id, params: optional(p, (x) => modelSpec(x, 'unload')) };
    case 'generate':
      return { type, id, params: generateRequest(p, 'generate') };
    case 'score':
      return { type, id, params: scoreRequest(p, 'score') };
    case 'servedModels':
      return { type, id, params: endpointSpec(p, 'servedModels') };
    case 'ping':
      return { type, id, params: {} };
    case 'fault':
      return { type, id, params: { how: choice(record(p, 'fault').how, 'fault.how', FAULTS) } };
  }
}


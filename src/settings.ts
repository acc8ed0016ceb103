/**
 * The typed `lmLens.*` settings as the extension uses them: defaults, clamping, allowed values and
 * workspace trust, read from anything shaped like a `WorkspaceConfiguration`. No editor dependency,
 * so it is unit-tested with a fake; `config.ts` feeds it VS Code's configuration.
 *
 * Workspace trust: in an untrusted workspace the restricted settings (model sources, the cache
 * folder) come from the user's settings or the defaults only, never from the workspace, so opening
 * a folder cannot make the extension load (and run) a model file it ships. Nor can a workspace raise
 * a limit (tokens, beams, context, how often work starts) above the user's own value or the default.
 * Numbers are clamped to the engine's own ranges (`DECODING_LIMITS`), which package.json declares too.
 */
import type { DecodingOptions, DevicePreference, DtypeChoice, Strategy } from './inference/protocol';
import { DTYPE_CHOICES } from './inference/models/dtype';
import { DECODING_LIMITS, clampToLimit, type Limit } from './inference/requestValidation';

export const SECTION = 'lmLens';

export type ModelRole = 'completion' | 'summarization' | 'translation';
export const MODEL_ROLES: readonly ModelRole[] = ['completion', 'summarization', 'translation'];

export type OutputMode = 'replace' | 'insertBelow';

export interface Config {
  readonly models: Readonly<Record<ModelRole, string>>;
  readonly device: DevicePreference;
  /** Which ONNX files to load (`lmLens.dtype`; the deprecated `lmLens.quantized` means q8 when dtype is auto). */
  readonly dtype: DtypeChoice;
  readonly decoding: Required<Pick<DecodingOptions, 'strategy' | 'maxNewTokens' | 'temperature' | 'topK' | 'topP' | 'numBeams' | 'repetitionPenalty' | 'topAlternatives'>> & { readonly seed?: number };
  readonly inline: {
    readonly debounceMs: number;
    readonly maxNewTokens: number;
    readonly multiline: boolean;
    readonly contextChars: number;
    /** `automatic`: as you type; `onRequest`: only when asked (Alt+\\, VS Code's Trigger Inline Suggestion). */
    readonly trigger: 'automatic' | 'onRequest';
    /** Glob patterns of files without inline completions. */
    readonly excludeFiles: readonly string[];
    /**
     * A suggestion is cut before its first token less probable than this, and not shown when under two
     * non-space characters or too low a mean log-probability are left (`confidenceCut.ts`); 0 shows every suggestion whole.
     */
    readonly minConfidence: number;
    /**
     * Most tokens of context from beyond the cursor's surroundings (the file's path, snippets of other files of the
     * same language): the text around the cursor is fitted first, this takes what is left. 0 turns it off.
     */
    readonly extraContextTokens: number;
  };
  /** Characters before (and after) the cursor that Continue at Cursor sends. */
  readonly continueContextChars: number;
  /** Continue at Cursor stops before its first token less probable than this (0: off). */
  readonly continueMinConfidence: number;
  /**
   * Only the decoding settings the user changed: Seq2Seq tasks keep the defaults their model
   * declares (`task_specific_params`: beams, length) unless the user overrides them.
   */
  readonly decodingOverrides: DecodingOptions;
  readonly summarizeOutput: OutputMode;
  readonly translateOutput: OutputMode;
  readonly translateTarget: string;
  readonly surprisalDebounceMs: number;
  /** Empty: the extension's global storage. */
  readonly cacheFolder: string;
  readonly offline: boolean;
}

/**
 * `lmLens.inline.minConfidence`'s default, measured with `models/recipes/eval_inline.mjs` on held-out code (BENCHMARKS.md):
 * with the mean floor, the pair whose shown suggestions were most often right among those that hid at most a third of
 * the right ones.
 */
export const DEFAULT_MIN_CONFIDENCE = 0.6;

/** `lmLens.inline.extraContextTokens`'s default: half of gpt2-code's 512-token context at most, and only what the text around the cursor leaves. */
export const DEFAULT_EXTRA_CONTEXT_TOKENS = 256;

/** Settings whose workspace values are ignored in an untrusted workspace (also declared in package.json). */
export const RESTRICTED_SETTINGS = ['models.completion', 'models.summarization', 'models.translation', 'cacheFolder', 'dtype', 'quantized'] as const;

/** The part of `vscode.WorkspaceConfiguration` (for the `lmLens` section) that is read. */
export interface SettingsSource {
  get<T>(key: string, defaultValue: T): T;
  inspect<T>(key: string): { readonly defaultValue?: T; readonly globalValue?: T; readonly workspaceValue?: T; readonly workspaceFolderValue?: T } | undefined;
}

function restricted<T>(cfg: SettingsSource, key: (typeof RESTRICTED_SETTINGS)[number], fallback: T, trusted: boolean): T {
  if (trusted) return cfg.get<T>(key, fallback);
  const i = cfg.inspect<T>(key);
  return i?.globalValue ?? i?.defaultValue ?? fallback;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  return allowed.includes(value as T) ? (value as T) : fallback;
}

/**
 * Settings that bound how much work one request (or typing) may cause: in an untrusted workspace a
 * workspace value may tighten them but never loosen them past the user's value (or the default).
 */
const COST_LIMITS: Readonly<Record<string, 'at-most' | 'at-least'>> = {
  'decoding.maxNewTokens': 'at-most',
  'decoding.numBeams': 'at-most',
  'decoding.topAlternatives': 'at-most',
  'inline.maxNewTokens': 'at-most',
  'inline.contextChars': 'at-most',
  'inline.extraContextTokens': 'at-most',
  'continue.contextChars': 'at-most',
  'inline.debounceMs': 'at-least',
  'surprisal.debounceMs': 'at-least',
};

/** The value of `key` as a number in `limit` (`own`: the default), or undefined when not a number. */
function numberSetting(cfg: SettingsSource, key: string, limit: Limit, trusted: boolean, value: unknown, own?: number): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  let v = value;
  const bound = COST_LIMITS[key];
  if (!trusted && bound) {
    const i = cfg.inspect<unknown>(key);
    const users = typeof i?.globalValue === 'number' ? i.globalValue : typeof i?.defaultValue === 'number' ? i.defaultValue : own;
    if (users !== undefined) v = bound === 'at-most' ? Math.min(v, users) : Math.max(v, users);
  }
  return clampToLimit(v, limit);
}

function num(cfg: SettingsSource, key: string, fallback: number, limit: Limit, trusted: boolean): number {
  return numberSetting(cfg, key, limit, trusted, cfg.get<unknown>(key, fallback), fallback) ?? fallback;
}

/** A list of non-empty strings (anything else in it is dropped). */
function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v.trim() !== '').map((v) => v.trim()) : [];
}

function str(cfg: SettingsSource, key: string): string {
  const v = cfg.get<unknown>(key, '');
  return typeof v === 'string' ? v.trim() : '';
}

function model(cfg: SettingsSource, role: ModelRole, fallback: string, trusted: boolean): string {
  const v = restricted<unknown>(cfg, `models.${role}`, fallback, trusted);
  return (typeof v === 'string' && v.trim()) || fallback;
}

/** The settings snapshot; `trusted` is whether the workspace is trusted. */
export function parseConfig(cfg: SettingsSource, trusted: boolean): Config {
  const seed = numberSetting(cfg, 'decoding.seed', DECODING_LIMITS.seed, trusted, cfg.get<unknown>('decoding.seed', null));
  const cacheFolder = restricted<unknown>(cfg, 'cacheFolder', '', trusted);
  const decoding: Config['decoding'] = {
    strategy: oneOf<Strategy>(cfg.get('decoding.strategy', 'greedy'), ['greedy', 'sample', 'beam'], 'greedy'),
    maxNewTokens: num(cfg, 'decoding.maxNewTokens', 64, DECODING_LIMITS.maxNewTokens, trusted),
    temperature: num(cfg, 'decoding.temperature', 0.8, DECODING_LIMITS.temperature, trusted),
    topK: num(cfg, 'decoding.topK', 40, DECODING_LIMITS.topK, trusted),
    topP: num(cfg, 'decoding.topP', 0.95, DECODING_LIMITS.topP, trusted),
    numBeams: num(cfg, 'decoding.numBeams', 4, DECODING_LIMITS.numBeams, trusted),
    repetitionPenalty: num(cfg, 'decoding.repetitionPenalty', 1.1, DECODING_LIMITS.repetitionPenalty, trusted),
    topAlternatives: num(cfg, 'decoding.topAlternatives', 10, PANEL_ALTERNATIVES, trusted),
    ...(seed !== undefined ? { seed } : {}),
  };
  return {
    models: {
      completion: model(cfg, 'completion', 'gpt2-code', trusted),
      summarization: model(cfg, 'summarization', 'bart-translate-summarize', trusted),
      translation: model(cfg, 'translation', 'bart-translate-summarize', trusted),
    },
    device: oneOf<DevicePreference>(cfg.get('device', 'auto'), ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'], 'auto'),
    dtype: dtypeSetting(cfg, trusted),
    decoding,
    inline: {
      debounceMs: num(cfg, 'inline.debounceMs', 150, { min: 0, max: 5000, integer: true }, trusted),
      maxNewTokens: num(cfg, 'inline.maxNewTokens', 16, { min: 1, max: 256, integer: true }, trusted),
      multiline: cfg.get<boolean>('inline.multiline', true) !== false,
      contextChars: num(cfg, 'inline.contextChars', 2000, { min: 100, max: 100_000, integer: true }, trusted),
      trigger: oneOf<'automatic' | 'onRequest'>(cfg.get('inline.trigger', 'automatic'), ['automatic', 'onRequest'], 'automatic'),
      excludeFiles: stringList(cfg.get<unknown>('inline.excludeFiles', [])),
      minConfidence: num(cfg, 'inline.minConfidence', DEFAULT_MIN_CONFIDENCE, { min: 0, max: 1 }, trusted),
      extraContextTokens: num(cfg, 'inline.extraContextTokens', DEFAULT_EXTRA_CONTEXT_TOKENS, { min: 0, max: 8192, integer: true }, trusted),
    },
    continueContextChars: num(cfg, 'continue.contextChars', 8000, { min: 100, max: 400_000, integer: true }, trusted),
    continueMinConfidence: num(cfg, 'continue.minConfidence', 0, { min: 0, max: 1 }, trusted),
    decodingOverrides: explicitDecoding(cfg, decoding),
    summarizeOutput: oneOf<OutputMode>(cfg.get('summarize.output', 'insertBelow'), ['replace', 'insertBelow'], 'insertBelow'),
    translateOutput: oneOf<OutputMode>(cfg.get('translate.output', 'insertBelow'), ['replace', 'insertBelow'], 'insertBelow'),
    translateTarget: str(cfg, 'translate.targetLanguage'),
    surprisalDebounceMs: num(cfg, 'surprisal.debounceMs', 400, { min: 0, max: 10_000, integer: true }, trusted),
    cacheFolder: typeof cacheFolder === 'string' ? cacheFolder.trim() : '',
    offline: cfg.get<boolean>('offline', false) === true,
  };
}

/** `lmLens.dtype`, with the older `lmLens.quantized` as q8 where the dtype is left at auto. */
function dtypeSetting(cfg: SettingsSource, trusted: boolean): DtypeChoice {
  const dtype = oneOf<DtypeChoice>(restricted<unknown>(cfg, 'dtype', 'auto', trusted), DTYPE_CHOICES, 'auto');
  // The alias chooses a dtype too: an untrusted workspace may not set it either.
  return dtype === 'auto' && restricted<unknown>(cfg, 'quantized', false, trusted) === true ? 'q8' : dtype;
}

/** The token panel shows at least one alternative per token (the engine accepts 0: inline completions ask for none). */
const PANEL_ALTERNATIVES: Limit = { ...DECODING_LIMITS.topAlternatives, min: 1 };

const DECODING_KEYS = ['strategy', 'maxNewTokens', 'temperature', 'topK', 'topP', 'numBeams', 'repetitionPenalty', 'seed'] as const;

/** The decoding settings the user set explicitly (at any level), as clamped and trust-limited in `decoding`. */
function explicitDecoding(cfg: SettingsSource, decoding: Config['decoding']): DecodingOptions {
  const out: Record<string, unknown> = {};
  for (const key of DECODING_KEYS) {
    const i = cfg.inspect<unknown>(`decoding.${key}`);
    const set = i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
    if (set !== undefined && set !== null && decoding[key] !== undefined) out[key] = decoding[key];
  }
  return out as DecodingOptions;
}

/**
 * Decoding options for a causal LM: what the user set, then `overrides`. A setting left unset does
 * not override the model's generation_config.json (Qwen's repetition penalty, a model's sampling
 * temperature), except that choosing sampling brings the sampling settings with it.
 */
export function decodingFor(config: Config, overrides: DecodingOptions = {}): DecodingOptions {
  const chosen: DecodingOptions = { maxNewTokens: config.decoding.maxNewTokens, topAlternatives: config.decoding.topAlternatives, ...config.decodingOverrides, ...overrides };
  if (chosen.strategy !== 'sample') return chosen;
  const { temperature, topK, topP } = config.decoding;
  return { temperature, topK, topP, ...chosen };
}

/** Decoding options for a Seq2Seq task: the model's task defaults stay unless the user changed a setting. */
export function taskDecodingFor(config: Config, overrides: DecodingOptions = {}): DecodingOptions {
  return { topAlternatives: config.decoding.topAlternatives, ...config.decodingOverrides, ...overrides };
}

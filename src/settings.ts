/**
 * The typed `lmLens.*` settings as the extension uses them: defaults, clamping, allowed values and
 * workspace trust, read from anything shaped like a `WorkspaceConfiguration`. No editor dependency,
 * so it is unit-tested with a fake; `config.ts` feeds it VS Code's configuration.
 *
 * Workspace trust: in an untrusted workspace the restricted settings (model sources, the cache
 * folder) come from the user's settings or the defaults only, never from the workspace, so opening
 * a folder cannot make the extension load (and run) a model file it ships.
 */
import type { DecodingOptions, DevicePreference, Strategy } from './inference/protocol';

export const SECTION = 'lmLens';

export type ModelRole = 'completion' | 'summarization' | 'translation';
export const MODEL_ROLES: readonly ModelRole[] = ['completion', 'summarization', 'translation'];

export type OutputMode = 'replace' | 'insertBelow';

export interface Config {
  readonly models: Readonly<Record<ModelRole, string>>;
  readonly device: DevicePreference;
  readonly quantized: boolean;
  readonly decoding: Required<Pick<DecodingOptions, 'strategy' | 'maxNewTokens' | 'temperature' | 'topK' | 'topP' | 'numBeams' | 'repetitionPenalty' | 'topAlternatives'>> & { readonly seed?: number };
  readonly inline: {
    readonly debounceMs: number;
    readonly maxNewTokens: number;
    readonly multiline: boolean;
    readonly contextChars: number;
  };
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

/** Settings whose workspace values are ignored in an untrusted workspace (also declared in package.json). */
export const RESTRICTED_SETTINGS = ['models.completion', 'models.summarization', 'models.translation', 'cacheFolder'] as const;

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

function num(cfg: SettingsSource, key: string, fallback: number, min: number, max: number): number {
  const v = cfg.get<number>(key, fallback);
  return typeof v === 'number' && Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : fallback;
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
  const seed = cfg.get<number | null>('decoding.seed', null);
  const cacheFolder = restricted<unknown>(cfg, 'cacheFolder', '', trusted);
  return {
    models: {
      completion: model(cfg, 'completion', 'gpt2-code', trusted),
      summarization: model(cfg, 'summarization', 'bart-translate-summarize', trusted),
      translation: model(cfg, 'translation', 'bart-translate-summarize', trusted),
    },
    device: oneOf<DevicePreference>(cfg.get('device', 'auto'), ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'], 'auto'),
    quantized: cfg.get<boolean>('quantized', false) === true,
    decoding: {
      strategy: oneOf<Strategy>(cfg.get('decoding.strategy', 'greedy'), ['greedy', 'sample', 'beam'], 'greedy'),
      maxNewTokens: num(cfg, 'decoding.maxNewTokens', 64, 1, 4096),
      temperature: num(cfg, 'decoding.temperature', 0.8, 0.01, 10),
      topK: num(cfg, 'decoding.topK', 40, 0, 100000),
      topP: num(cfg, 'decoding.topP', 0.95, 0, 1),
      numBeams: num(cfg, 'decoding.numBeams', 4, 1, 32),
      repetitionPenalty: num(cfg, 'decoding.repetitionPenalty', 1.1, 1, 10),
      topAlternatives: num(cfg, 'decoding.topAlternatives', 10, 1, 50),
      ...(typeof seed === 'number' && Number.isFinite(seed) ? { seed } : {}),
    },
    inline: {
      debounceMs: num(cfg, 'inline.debounceMs', 150, 0, 5000),
      maxNewTokens: num(cfg, 'inline.maxNewTokens', 16, 1, 256),
      multiline: cfg.get<boolean>('inline.multiline', true) !== false,
      contextChars: num(cfg, 'inline.contextChars', 2000, 100, 100000),
    },
    decodingOverrides: explicitDecoding(cfg),
    summarizeOutput: oneOf<OutputMode>(cfg.get('summarize.output', 'insertBelow'), ['replace', 'insertBelow'], 'insertBelow'),
    translateOutput: oneOf<OutputMode>(cfg.get('translate.output', 'insertBelow'), ['replace', 'insertBelow'], 'insertBelow'),
    translateTarget: str(cfg, 'translate.targetLanguage'),
    surprisalDebounceMs: num(cfg, 'surprisal.debounceMs', 400, 0, 10000),
    cacheFolder: typeof cacheFolder === 'string' ? cacheFolder.trim() : '',
    offline: cfg.get<boolean>('offline', false) === true,
  };
}

const DECODING_KEYS = ['strategy', 'maxNewTokens', 'temperature', 'topK', 'topP', 'numBeams', 'repetitionPenalty', 'seed'] as const;

function explicitDecoding(cfg: SettingsSource): DecodingOptions {
  const out: Record<string, unknown> = {};
  for (const key of DECODING_KEYS) {
    const i = cfg.inspect(`decoding.${key}`);
    const value = i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
    if (value !== undefined && value !== null) out[key] = value;
  }
  return out as DecodingOptions;
}

/** Decoding options for a causal LM: the configured defaults, then `overrides`. */
export function decodingFor(config: Config, overrides: DecodingOptions = {}): DecodingOptions {
  return { ...config.decoding, ...overrides };
}

/** Decoding options for a Seq2Seq task: the model's task defaults stay unless the user changed a setting. */
export function taskDecodingFor(config: Config, overrides: DecodingOptions = {}): DecodingOptions {
  return { topAlternatives: config.decoding.topAlternatives, ...config.decodingOverrides, ...overrides };
}

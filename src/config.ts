/**
 * The one typed view of the `lmLens.*` settings. Nothing else in the extension reads
 * `workspace.getConfiguration`.
 *
 * Workspace trust: in an untrusted workspace the model sources and the cache folder come from the
 * user's settings or the defaults only, never from the workspace, so opening a folder cannot make
 * the extension load (and run) a model file it ships.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
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

function trusted<T>(cfg: vscode.WorkspaceConfiguration, key: string, fallback: T): T {
  if (vscode.workspace.isTrusted) return cfg.get<T>(key, fallback);
  const i = cfg.inspect<T>(key);
  return i?.globalValue ?? i?.defaultValue ?? fallback;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  return allowed.includes(value as T) ? (value as T) : fallback;
}

function num(cfg: vscode.WorkspaceConfiguration, key: string, fallback: number, min: number, max: number): number {
  const v = cfg.get<number>(key, fallback);
  return typeof v === 'number' && Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : fallback;
}

export function readConfig(): Config {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const seed = cfg.get<number | null>('decoding.seed', null);
  return {
    models: {
      completion: trusted(cfg, 'models.completion', 'gpt2-code').trim() || 'gpt2-code',
      summarization: trusted(cfg, 'models.summarization', 'bart-translate-summarize').trim() || 'bart-translate-summarize',
      translation: trusted(cfg, 'models.translation', 'bart-translate-summarize').trim() || 'bart-translate-summarize',
    },
    device: oneOf<DevicePreference>(cfg.get('device'), ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'], 'auto'),
    quantized: cfg.get<boolean>('quantized', false),
    decoding: {
      strategy: oneOf<Strategy>(cfg.get('decoding.strategy'), ['greedy', 'sample', 'beam'], 'greedy'),
      maxNewTokens: num(cfg, 'decoding.maxNewTokens', 64, 1, 4096),
      temperature: num(cfg, 'decoding.temperature', 0.8, 0.01, 10),
      topK: num(cfg, 'decoding.topK', 40, 0, 100000),
      topP: num(cfg, 'decoding.topP', 0.95, 0, 1),
      numBeams: num(cfg, 'decoding.numBeams', 4, 1, 32),
      repetitionPenalty: num(cfg, 'decoding.repetitionPenalty', 1.1, 1, 10),
      topAlternatives: num(cfg, 'decoding.topAlternatives', 10, 1, 50),
      ...(typeof seed === 'number' ? { seed } : {}),
    },
    inline: {
      debounceMs: num(cfg, 'inline.debounceMs', 150, 0, 5000),
      maxNewTokens: num(cfg, 'inline.maxNewTokens', 16, 1, 256),
      multiline: cfg.get<boolean>('inline.multiline', true),
      contextChars: num(cfg, 'inline.contextChars', 2000, 100, 100000),
    },
    decodingOverrides: explicitDecoding(cfg),
    summarizeOutput: oneOf<OutputMode>(cfg.get('summarize.output'), ['replace', 'insertBelow'], 'insertBelow'),
    translateOutput: oneOf<OutputMode>(cfg.get('translate.output'), ['replace', 'insertBelow'], 'insertBelow'),
    translateTarget: cfg.get<string>('translate.targetLanguage', '').trim(),
    surprisalDebounceMs: num(cfg, 'surprisal.debounceMs', 400, 0, 10000),
    cacheFolder: trusted(cfg, 'cacheFolder', '').trim(),
    offline: cfg.get<boolean>('offline', false),
  };
}

const DECODING_KEYS = ['strategy', 'maxNewTokens', 'temperature', 'topK', 'topP', 'numBeams', 'repetitionPenalty', 'seed'] as const;

function explicitDecoding(cfg: vscode.WorkspaceConfiguration): DecodingOptions {
  const out: Record<string, unknown> = {};
  for (const key of DECODING_KEYS) {
    const i = cfg.inspect(`decoding.${key}`);
    const value = i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
    if (value !== undefined && value !== null) out[key] = value;
  }
  return out as DecodingOptions;
}

/** Whether ghost text is wanted in this document: the editor's own switch and ours, per language. */
export function inlineEnabled(document: vscode.TextDocument): boolean {
  const scope = { uri: document.uri, languageId: document.languageId };
  if (!vscode.workspace.getConfiguration('editor', scope).get<boolean>('inlineSuggest.enabled', true)) return false;
  return vscode.workspace.getConfiguration(SECTION, scope).get<boolean>('inline.enabled', true);
}

/**
 * Turns a configured model source into what the engine takes: `~` expanded, a relative path
 * (`./x`, `../x`) resolved against the first workspace folder; bundled names and Hub ids unchanged.
 */
export function resolveModelSource(source: string): string {
  if (source === '~' || source.startsWith('~/')) return path.join(os.homedir(), source.slice(1));
  if (source.startsWith('./') || source.startsWith('../')) {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (folder && vscode.workspace.isTrusted) return path.resolve(folder.uri.fsPath, source);
  }
  return source;
}

/** Writes the model for a role to the user's settings (so it also applies in untrusted workspaces). */
export async function setModel(role: ModelRole, source: string): Promise<void> {
  await vscode.workspace.getConfiguration(SECTION).update(`models.${role}`, source, vscode.ConfigurationTarget.Global);
}

export async function setInlineEnabled(enabled: boolean): Promise<void> {
  await vscode.workspace.getConfiguration(SECTION).update('inline.enabled', enabled, vscode.ConfigurationTarget.Global);
}

export function affects(e: vscode.ConfigurationChangeEvent, key?: string): boolean {
  return e.affectsConfiguration(key ? `${SECTION}.${key}` : SECTION);
}

export function openSettings(query = SECTION): Thenable<unknown> {
  return vscode.commands.executeCommand('workbench.action.openSettings', query);
}

/**
 * The extension's long-lived state: the inference client (its worker starts on first use), the
 * settings snapshot, the output channel, the status bar, the one-generation-at-a-time gate and
 * the last generation (for the inspect commands). `run` and `score` are the one path every
 * command, panel and provider takes to the engine. Commands are small functions of this context.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { affects, MODEL_ROLES, openSettings, readConfig, resolveModelSource, type Config, type ModelRole } from './config';
import { delay, GenerationGate, type GenerationKind, type GateState } from './generation/scheduler';
import { InferenceClient } from './inference/client';
import { InferenceError, isCancelled } from './inference/errors';
import type { ErrorCode, GenerateRequest, GenerateResult, HubOptions, LoadProgress, ModelInfo, ModelSpec, ScoreRequest, ScoreResult, TokenTrace } from './inference/protocol';
import { ModelStatus } from './statusBar';
import { apiKeySecret, parseServedSource, servedLabel } from './catalog/servedSource';

export interface LastGeneration {
  readonly title: string;
  readonly request: GenerateRequest;
  readonly result: GenerateResult;
  readonly info: ModelInfo;
}

export interface RunOptions {
  /** What runs, for the status bar and the gate ("Summarizing"). */
  readonly label: string;
  /** The user action named in error messages and the log ("Summarize"); defaults to `label`. */
  readonly action?: string;
  /** Who asks (default `command`): decides who may interrupt whom. */
  readonly kind?: GenerationKind;
  /** Title of a cancellable notification shown while it runs; cancelling it stops the generation. */
  readonly progress?: string;
  /** Receives each token and the text so far as the engine produces them. */
  readonly stream?: (token: TokenTrace, textSoFar: string) => void;
  /** Keep the generation as the last one (for the inspect commands) under this title. */
  readonly remember?: string;
  /** Load the model with a status bar spinner only, no notification (inline, background work). */
  readonly quiet?: boolean;
  /** The caller's own cancellation (an inline request the user typed past). */
  readonly signal?: AbortSignal;
  /** Handles a failure instead of the default error message (`reportError`). */
  readonly onError?: (error: InferenceError) => void;
}

/** What a run gives back: the engine's result and the model that produced it. */
export interface Ran<R> {
  readonly result: R;
  readonly info: ModelInfo;
}

const RECENT_KEY = 'lmLens.recentModels';
/** A load that takes longer than this shows progress; a model the worker holds answers well within it. */
const LOAD_NOTICE_MS = 250;

export class Ctx implements vscode.Disposable {
  config: Config;
  readonly log: vscode.LogOutputChannel;
  readonly gate: GenerationGate;
  lastGeneration: LastGeneration | undefined;
  private readonly status: ModelStatus;
  private clientInstance: InferenceClient | undefined;
  /**
   * `loadMs` of the model last reported per spec, only to log "Using …" once per real load. The
   * worker's cache is the one source of truth: a restarted worker loads again and reports anew.
   */
  private readonly reported = new Map<string, number>();
  private readonly disposables: vscode.Disposable[] = [];
  private generatingContext = false;
  /** API keys of the configured serving engines, read from the editor's secret storage. */
  private readonly apiKeys = new Map<string, string>();
  private readonly configListeners: ((e: vscode.ConfigurationChangeEvent | undefined) => void)[] = [];

  constructor(readonly extension: vscode.ExtensionContext) {
    this.config = readConfig();
    this.log = vscode.window.createOutputChannel('Local LM Lens', { log: true });
    this.status = new ModelStatus();
    this.gate = new GenerationGate((state) => this.onGateChange(state));
    this.status.setModel(this.modelLabel(this.config.models.completion), '');
    this.showRoles();
    this.disposables.push(
      this.log,
      this.status,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (affects(e)) this.reloadConfig(e);
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.reloadConfig(undefined)),
    );
  }

  /** Called with the change (or undefined when trust changed) after the settings snapshot is refreshed. */
  onDidChangeConfig(listener: (e: vscode.ConfigurationChangeEvent | undefined) => void): void {
    this.configListeners.push(listener);
  }

  private reloadConfig(e: vscode.ConfigurationChangeEvent | undefined): void {
    const before = this.config;
    this.config = readConfig();
    if (before.cacheFolder !== this.config.cacheFolder || before.offline !== this.config.offline) {
      void this.clientInstance?.configure(this.hubOptions());
    }
    // A setting that does not change which model loads leaves the status bar (and its error state)
    // alone; nor does saving the model that is loaded (Pick Model saves a model after loading it).
    const m = (c: Config): string => JSON.stringify([c.models.completion, c.dtype, c.device]);
    const label = this.modelLabel(this.config.models.completion);
    if (m(before) !== m(this.config) && !this.status.shows(label)) this.status.setModel(label, '');
    this.showRoles();
    this.log.info('Settings changed.');
    void this.refreshApiKeys();
    for (const l of this.configListeners) l(e);
  }

  get bundledModelsDir(): string {
    return this.extension.asAbsolutePath('models');
  }

  hubOptions(): HubOptions {
    const cacheDir = this.config.cacheFolder ? resolveModelSource(this.config.cacheFolder) : path.join(this.extension.globalStorageUri.fsPath, 'hub');
    return { cacheDir, offline: this.config.offline };
  }

  /** The client; its worker thread starts with the first request, not here. */
  get client(): InferenceClient {
    if (!this.clientInstance) {
      this.clientInstance = new InferenceClient({
        workerPath: this.extension.asAbsolutePath(path.join('dist', 'worker.js')),
        bundledModelsDir: this.bundledModelsDir,
        hub: this.hubOptions(),
        onLog: (level, message) => this.log[level](message),
      });
      this.log.info('Inference client created; the worker starts with the first request.');
    }
    return this.clientInstance;
  }

  /** The model for a role (or an explicit source) as the engine takes it. */
  spec(role: ModelRole, options: { source?: string; attentions?: boolean } = {}): ModelSpec {
    const configured = options.source ?? this.config.models[role];
    const served = parseServedSource(configured);
    if (served) {
      const apiKey = this.apiKeys.get(apiKeySecret(served.url));
      return { source: served.model, endpoint: { url: served.url, api: served.api, ...(apiKey ? { apiKey } : {}) }, ...(options.attentions ? { attentions: true } : {}) };
    }
    return {
      source: resolveModelSource(options.source ?? this.config.models[role]),
      device: this.config.device,
      dtype: this.config.dtype,
      // One setting for every model: a model without that dtype loads its auto choice (the status bar shows which).
      dtypeFallback: true,
      ...(options.attentions ? { attentions: true } : {}),
    };
  }

  modelLabel(source: string): string {
    const served = parseServedSource(source);
    if (served) return servedLabel(served);
    return path.basename(source.replace(/[\\/]+$/, '')) || source;
  }

  /** Bundled model folders (those with a config.json). */
  bundledModels(): string[] {
    try {
      return fs
        .readdirSync(this.bundledModelsDir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && fs.existsSync(path.join(this.bundledModelsDir, d.name, 'config.json')))
        .map((d) => d.name)
        .sort();
    } catch {
      return [];
    }
  }

  recentModels(): string[] {
    return this.extension.globalState.get<string[]>(RECENT_KEY, []);
  }

  /** Reads the API keys of the serving engines the settings name (at start, and when settings or secrets change). */
  async refreshApiKeys(): Promise<void> {
    this.apiKeys.clear();
    for (const source of Object.values(this.config.models)) {
      const served = parseServedSource(source);
      if (!served) continue;
      const key = await this.extension.secrets.get(apiKeySecret(served.url));
      if (key) this.apiKeys.set(apiKeySecret(served.url), key);
    }
  }

  /** Keeps (or, with an empty key, forgets) a serving engine's API key in the editor's secret storage. */
  async storeApiKey(url: string, key: string): Promise<void> {
    if (key) await this.extension.secrets.store(apiKeySecret(url), key);
    else await this.extension.secrets.delete(apiKeySecret(url));
    if (key) this.apiKeys.set(apiKeySecret(url), key);
    else this.apiKeys.delete(apiKeySecret(url));
  }

  async rememberModel(source: string): Promise<void> {
    const recent = [source, ...this.recentModels().filter((s) => s !== source)].slice(0, 10);
    await this.extension.globalState.update(RECENT_KEY, recent);
  }

  /**
   * Asks the worker for a model: it loads it once per (source, device, attentions, dtype) and
   * answers at once afterwards. A load that takes a while shows progress: a notification, or with
   * `quiet` only the status bar, or through the caller's `report` (the caller then shows the
   * progress, as Pick Model's cancellable check does); `signal` cancels it (a download stops).
   */
  async load(spec: ModelSpec, options: { quiet?: boolean; signal?: AbortSignal; report?: (message: string) => void } = {}): Promise<ModelInfo> {
    const label = this.modelLabel(spec.source);
    const started = Date.now();
    let lastMessage: string | undefined;
    let report: ((message: string) => void) | undefined = options.report;
    let lastPct = -1;
    const onProgress = (p: LoadProgress): void => {
      const pct = p.total > 0 ? Math.round((100 * p.loaded) / p.total) : 0;
      if (p.status === 'download' && pct === lastPct) return;
      lastPct = pct;
      lastMessage = p.status === 'download' ? `${p.file} ${pct}%` : p.file;
      report?.(lastMessage);
    };
    try {
      const loading = this.client.request('load', spec, { onProgress, signal: options.signal });
      const quick = await Promise.race([loading, delay(LOAD_NOTICE_MS).then(() => undefined)]);
      const info =
        quick ??
        (options.report ? await this.withLoadingStatus(label, loading) : await vscode.window.withProgress(
          { location: options.quiet ? vscode.ProgressLocation.Window : vscode.ProgressLocation.Notification, title: `Local LM Lens: loading ${label}` },
          async (progress) => {
            report = (message) => progress.report({ message });
            if (lastMessage) report(lastMessage);
            return await this.withLoadingStatus(label, loading);
          },
        ));
      this.reportLoaded(spec, label, info);
      return info;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.log.error(`Loading ${spec.source} failed after ${Date.now() - started} ms: ${message}`);
      if (!isCancelled(err)) this.status.failed(label, message);
      throw err;
    }
  }

  private async withLoadingStatus<T>(label: string, loading: Promise<T>): Promise<T> {
    this.status.loading(label);
    try {
      return await loading;
    } finally {
      this.status.idle();
    }
  }

  /** The status bar's tooltip names the model of each role. */
  private showRoles(): void {
    const name = (role: ModelRole): string => role[0]!.toUpperCase() + role.slice(1);
    this.status.setRoles(MODEL_ROLES.map((role) => [name(role), this.modelLabel(this.config.models[role])] as const));
  }

  /** Why the last inline request showed nothing (the status bar's tooltip says it), or undefined once one shows a suggestion. */
  showInlineOutcome(hidden: string | undefined): void {
    this.status.inlineOutcome(hidden);
  }

  /** Shows in the status bar that a model cannot be used (failed to load, or unfit for its role). */
  showModelFailed(source: string, reason: string): void {
    this.status.failed(this.modelLabel(source), reason);
  }

  private reportLoaded(spec: ModelSpec, label: string, info: ModelInfo): void {
    // Every load, a cached one too, shows its model: it also clears an earlier failure.
    this.status.setModel(label, info.device, info.dtype);
    const key = JSON.stringify([spec.source, spec.device, !!spec.attentions, spec.dtype ?? 'auto']);
    if (this.reported.get(key) === info.loadMs) return;
    this.reported.set(key, info.loadMs);
    // The worker logs the providers it tried; this line says what the editor will use.
    this.log.info(
      `Using ${label}: ${info.architecture}, ${info.modelType}, ${info.numLayers} layers × ${info.numHeads} heads, ${info.dtype}, on ${info.device}` +
        (info.dtypeNote ? `; ${info.dtypeNote}` : '') +
        (spec.attentions && info.attentionUnavailable ? `; attention unavailable: ${info.attentionUnavailable}` : ''),
    );
  }

  /**
   * Runs one generation the way every caller needs it: loads the model, waits for the generation
   * gate, shows progress, streams tokens, remembers the result and reports failures. Resolves
   * undefined when there is nothing to keep: superseded, stopped before any output, or failed
   * (already reported). A generation stopped midway resolves with its partial result
   * (`finishReason: 'cancelled'`).
   */
  run(request: GenerateRequest, options: RunOptions): Promise<Ran<GenerateResult> | undefined> {
    const onToken = (token: TokenTrace, text: string): void => {
      this.status.token();
      options.stream?.(token, text);
    };
    // Always streamed: the status bar counts the tokens as they come.
    const call = (signal: AbortSignal): Promise<GenerateResult> => this.client.request('generate', { ...request, stream: true }, { signal, onToken });
    return this.execute(request.model, options, call, (result, info) => {
      if (options.remember) this.remember(options.remember, request, result, info);
      // The caller's own cancellation (typing went on, a cut) is the caller's to report.
      if (result.finishReason === 'cancelled' && !options.signal?.aborted) this.noteStopped(options.action ?? options.label);
    });
  }

  /** Scores a text on the same path as `run` (load, gate, progress, errors). */
  score(request: ScoreRequest, options: RunOptions): Promise<Ran<ScoreResult> | undefined> {
    return this.execute(request.model, options, (signal) => this.client.request('score', request, { signal }));
  }

  private async execute<R extends GenerateResult | ScoreResult>(
    model: ModelSpec,
    options: RunOptions,
    call: (signal: AbortSignal) => Promise<R>,
    after?: (result: R, info: ModelInfo) => void,
  ): Promise<Ran<R> | undefined> {
    try {
      const info = await this.load(model, { quiet: options.quiet });
      if (options.signal?.aborted) return undefined;
      const lease = await this.gate.acquire(options.kind ?? 'command', options.label, options.signal);
      if (!lease) return undefined;
      this.status.generating(options.label);
      let rate: number | undefined;
      try {
        const result = options.progress ? await this.withCancellableProgress(options.progress, () => call(lease.signal)) : await call(lease.signal);
        rate = 'timings' in result ? result.timings.tokens_per_s : undefined;
        after?.(result, info);
        return { result, info };
      } finally {
        lease.release();
        this.status.idle(rate);
      }
    } catch (err) {
      const error = InferenceError.from(err);
      if (options.onError) options.onError(error);
      else this.reportError(error, options.action ?? options.label);
      return undefined;
    }
  }

  /** Runs `task` under a cancellable notification; cancelling it stops the generation. */
  private async withCancellableProgress<T>(title: string, task: () => Promise<T>): Promise<T> {
    return await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (_progress, token) => {
      const sub = token.onCancellationRequested(() => this.gate.stop());
      return task().finally(() => sub.dispose());
    });
  }

  private remember(title: string, request: GenerateRequest, result: GenerateResult, info: ModelInfo): void {
    this.lastGeneration = { title, request, result, info };
    const { tokens_per_s, first_token_ms } = result.timings;
    this.log.info(`${title}: ${result.tokens.length} tokens on ${result.device}, ${tokens_per_s.toFixed(1)} tok/s, first token ${first_token_ms.toFixed(0)} ms, ${result.finishReason}.`);
  }

  private noteStopped(what: string): void {
    this.log.info(`${what}: cancelled.`);
    vscode.window.setStatusBarMessage(`Local LM Lens: ${what} stopped`, 3000);
  }

  /** Shows an error as a VS Code message with the actions that help; a cancellation is only logged. */
  reportError(err: unknown, what: string): void {
    const e = InferenceError.from(err);
    if (e.code === 'cancelled') {
      this.noteStopped(what);
      return;
    }
    this.log.error(`${what} failed [${e.code}]: ${e.message}`);
    const settingsQuery = SETTINGS_FOR_ERROR[e.code];
    const actions = settingsQuery ? ['Open Settings', 'Show Log'] : ['Show Log'];
    void vscode.window.showErrorMessage(`Local LM Lens: ${what} failed: ${e.message}`, ...actions).then((choice) => {
      if (choice === 'Open Settings') void openSettings(settingsQuery);
      else if (choice === 'Show Log') this.log.show(true);
    });
  }

  /** `lmLens.generating` enables Stop (and its Escape key) for commands only: inline work stops by itself. */
  private onGateChange(state: GateState): void {
    const generating = state.busy && state.kind === 'command';
    if (generating === this.generatingContext) return;
    this.generatingContext = generating;
    void vscode.commands.executeCommand('setContext', 'lmLens.generating', generating);
  }

  async dispose(): Promise<void> {
    this.gate.stop();
    for (const d of this.disposables.splice(0)) d.dispose();
    const client = this.clientInstance;
    this.clientInstance = undefined;
    await client?.dispose();
  }
}

const SETTINGS_FOR_ERROR: Partial<Record<ErrorCode, string>> = {
  'model-not-found': 'lmLens.models',
  'model-corrupt': 'lmLens.models',
  'unsupported-model': 'lmLens.models',
  'unsupported-task': 'lmLens.models',
  'unsupported-device': 'lmLens.device',
  'out-of-memory': 'lmLens.device',
  offline: 'lmLens.offline',
  'context-overflow': 'lmLens.inline',
};

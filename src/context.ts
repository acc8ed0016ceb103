/**
 * The extension's long-lived state: the inference client (its worker starts on first use), the
 * settings snapshot, the output channel, the status bar, the one-generation-at-a-time gate and
 * the last generation (for the inspect commands). Commands are small functions of this context.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { affects, openSettings, readConfig, resolveModelSource, type Config, type ModelRole } from './config';
import { GenerationGate, type GenerationKind, type GenerationLease, type GateState } from './completion/scheduler';
import { InferenceClient, type CallOptions } from './inference/client';
import { InferenceError } from './inference/errors';
import type { ErrorCode, GenerateRequest, GenerateResult, HubOptions, ModelInfo, ModelSpec, ScoreRequest, ScoreResult } from './inference/protocol';

export interface LastGeneration {
  readonly title: string;
  readonly request: GenerateRequest;
  readonly result: GenerateResult;
  readonly info: ModelInfo;
}

const RECENT_KEY = 'lmLens.recentModels';

/** The status bar item: model and device when idle, a spinner while loading or generating, tokens/s after. */
class ModelStatus implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private model = '';
  private device = '';
  private rate: number | undefined;
  private busy: { kind: 'loading' | 'generating'; label: string; started: number; tokens: number } | undefined;
  private lastPaint = 0;

  constructor() {
    this.item = vscode.window.createStatusBarItem('lmLens.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Local LM Lens';
    this.paint();
    this.item.show();
  }

  setModel(model: string, device: string): void {
    this.model = model;
    this.device = device;
    this.paint();
  }

  loading(label: string): void {
    this.busy = { kind: 'loading', label, started: Date.now(), tokens: 0 };
    this.paint();
  }

  generating(label: string): void {
    this.busy = { kind: 'generating', label, started: Date.now(), tokens: 0 };
    this.paint();
  }

  token(): void {
    if (this.busy?.kind !== 'generating') return;
    this.busy.tokens++;
    // Repainting on every token would cost more than the tokens themselves.
    if (Date.now() - this.lastPaint > 250) this.paint();
  }

  idle(tokensPerSecond?: number): void {
    this.busy = undefined;
    if (tokensPerSecond !== undefined && Number.isFinite(tokensPerSecond) && tokensPerSecond > 0) this.rate = tokensPerSecond;
    this.paint();
  }

  private paint(): void {
    this.lastPaint = Date.now();
    const model = this.model || 'no model loaded';
    const device = this.device ? ` · ${this.device}` : '';
    if (this.busy?.kind === 'loading') {
      this.item.text = `$(loading~spin) Loading ${this.busy.label}…`;
      this.item.command = 'lmLens.showLog';
      this.item.tooltip = `Local LM Lens: loading ${this.busy.label}`;
    } else if (this.busy) {
      const seconds = (Date.now() - this.busy.started) / 1000;
      const rate = seconds > 0 && this.busy.tokens > 0 ? ` · ${(this.busy.tokens / seconds).toFixed(0)} tok/s` : '';
      this.item.text = `$(loading~spin) ${model}${device}${rate}`;
      this.item.command = 'lmLens.stopGeneration';
      this.item.tooltip = `Local LM Lens: ${this.busy.label}. Click to stop.`;
    } else {
      const rate = this.rate !== undefined ? ` · ${this.rate.toFixed(0)} tok/s` : '';
      this.item.text = `$(hubot) ${model}${device}${rate}`;
      this.item.command = 'lmLens.pickModel';
      this.item.tooltip = 'Local LM Lens: click to pick a model';
    }
    this.item.accessibilityInformation = { label: this.item.text.replace(/\$\([^)]*\)\s*/g, '') };
  }

  dispose(): void {
    this.item.dispose();
  }
}

export class Ctx implements vscode.Disposable {
  config: Config;
  readonly log: vscode.LogOutputChannel;
  readonly gate: GenerationGate;
  lastGeneration: LastGeneration | undefined;
  private readonly status: ModelStatus;
  private clientInstance: InferenceClient | undefined;
  private readonly loaded = new Map<string, Promise<ModelInfo>>();
  private readonly disposables: vscode.Disposable[] = [];
  private generatingContext = false;
  private readonly configListeners: ((e: vscode.ConfigurationChangeEvent | undefined) => void)[] = [];

  constructor(readonly extension: vscode.ExtensionContext) {
    this.config = readConfig();
    this.log = vscode.window.createOutputChannel('Local LM Lens', { log: true });
    this.status = new ModelStatus();
    this.gate = new GenerationGate((state) => this.onGateChange(state));
    this.status.setModel(this.modelLabel(this.config.models.completion), '');
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
    if (before.device !== this.config.device || before.quantized !== this.config.quantized) this.loaded.clear();
    this.status.setModel(this.modelLabel(this.config.models.completion), '');
    this.log.info('Settings changed.');
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
    return {
      source: resolveModelSource(options.source ?? this.config.models[role]),
      device: this.config.device,
      quantized: this.config.quantized,
      ...(options.attentions ? { attentions: true } : {}),
    };
  }

  modelLabel(source: string): string {
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

  async rememberModel(source: string): Promise<void> {
    const recent = [source, ...this.recentModels().filter((s) => s !== source)].slice(0, 10);
    await this.extension.globalState.update(RECENT_KEY, recent);
  }

  /**
   * Loads a model once per (source, device, attentions, quantized); later calls share the load.
   * Commands show a notification with progress; inline completions only the status bar.
   */
  load(spec: ModelSpec, options: { silent?: boolean } = {}): Promise<ModelInfo> {
    const key = JSON.stringify([spec.source, spec.device, !!spec.attentions, !!spec.quantized]);
    const existing = this.loaded.get(key);
    if (existing) return existing;
    const label = this.modelLabel(spec.source);
    const promise = Promise.resolve(
      vscode.window.withProgress(
        {
          location: options.silent ? vscode.ProgressLocation.Window : vscode.ProgressLocation.Notification,
          title: `Local LM Lens: loading ${label}`,
        },
        async (progress) => {
          this.status.loading(label);
          const started = Date.now();
          let lastPct = 0;
          try {
            const info = await this.client.load(spec, {
              onProgress: (p) => {
                const pct = p.total > 0 ? Math.round((100 * p.loaded) / p.total) : 0;
                if (p.status === 'download' && pct !== lastPct) {
                  lastPct = pct;
                  progress.report({ message: `${p.file} ${pct}%` });
                } else if (p.status !== 'download') {
                  progress.report({ message: p.file });
                }
              },
            });
            // The worker logs the providers it tried; this line says what the editor will use.
            this.log.info(
              `Using ${label}: ${info.architecture}, ${info.modelType}, ${info.numLayers} layers × ${info.numHeads} heads, on ${info.device}` +
                (spec.attentions && info.attentionUnavailable ? `; attention unavailable: ${info.attentionUnavailable}` : ''),
            );
            this.status.setModel(label, info.device);
            return info;
          } catch (err) {
            this.log.error(`Loading ${spec.source} failed after ${Date.now() - started} ms: ${err instanceof Error ? err.message : String(err)}`);
            throw err;
          } finally {
            this.status.idle();
          }
        },
      ),
    );
    this.loaded.set(key, promise);
    promise.catch(() => this.loaded.delete(key));
    return promise;
  }

  /**
   * Runs `fn` holding the generation gate: at most one generation at a time. Returns undefined
   * when the request was superseded (or, for inline requests, when a command is running).
   */
  async exclusive<T>(kind: GenerationKind, label: string, fn: (lease: GenerationLease) => Promise<T>, signal?: AbortSignal): Promise<T | undefined> {
    const lease = await this.gate.acquire(kind, label, signal);
    if (!lease) return undefined;
    this.status.generating(label);
    let rate: number | undefined;
    try {
      const result = await fn(lease);
      const timings = (result as { timings?: { tokens_per_s?: number } } | undefined)?.timings;
      rate = timings?.tokens_per_s;
      return result;
    } finally {
      lease.release();
      this.status.idle(rate);
    }
  }

  generate(request: GenerateRequest, options: CallOptions): Promise<GenerateResult> {
    return this.watchCrash(
      this.client.generate(request, {
        ...options,
        onToken: (token, text) => {
          this.status.token();
          options.onToken?.(token, text);
        },
      }),
    );
  }

  score(request: ScoreRequest, options: CallOptions = {}): Promise<ScoreResult> {
    return this.watchCrash(this.client.score(request, options));
  }

  private async watchCrash<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      // A restarted worker has no models loaded.
      if (err instanceof InferenceError && err.code === 'worker-crashed') this.loaded.clear();
      throw err;
    }
  }

  /** Shows an error as a VS Code message with the actions that help; a cancellation is only logged. */
  reportError(err: unknown, what: string): void {
    const e = InferenceError.from(err);
    if (e.code === 'cancelled') {
      this.log.info(`${what}: cancelled.`);
      vscode.window.setStatusBarMessage(`Local LM Lens: ${what} stopped`, 3000);
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

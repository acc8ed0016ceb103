import { startEngine, type EngineChannel, type Isolation } from './engineChannel';
import { InferenceError } from './errors';
import type {
  EndpointSpec,
  GenerateRequest,
  GenerateResult,
  HubOptions,
  LoadProgress,
  ModelInfo,
  ModelSpec,
  ParamsOf,
  RequestKind,
  ResultOf,
  ScoreRequest,
  ScoreResult,
  TokenTrace,
  WorkerRequest,
  WorkerResponse,
} from './protocol';

export interface ClientOptions {
  /** Path of the bundled worker script (dist/worker.js). */
  readonly workerPath: string;
  /** Folder that holds the bundled models; relative model sources resolve against it. */
  readonly bundledModelsDir: string;
  readonly hub?: HubOptions;
  readonly onLog?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** `process` (default): the engine in its own process, so its crash is never the host's. */
  readonly isolation?: Isolation;
  /** V8 heap ceiling of the engine, MiB (default 4096). */
  readonly maxHeapMb?: number;
  /** While requests are pending, the engine is pinged this often (ms, default 10 s)… */
  readonly heartbeatMs?: number;
  /** …and restarted when it has said nothing for this long (ms, default 60 s). */
  readonly hungAfterMs?: number;
  /** Extra environment for the engine (the isolation tests switch fault injection on with it). */
  readonly engineEnv?: Readonly<Record<string, string>>;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Each streamed token with the text so far (the client adds up the deltas the worker sends). */
  readonly onToken?: (token: TokenTrace, textSoFar: string) => void;
  readonly onProgress?: (progress: LoadProgress) => void;
}

interface Pending {
  /** Takes the result of the request's own kind: `request` ties the two together. */
  readonly resolve: (value: ResultOf<RequestKind>) => void;
  readonly reject: (err: InferenceError) => void;
  readonly options: CallOptions;
  readonly cleanup: () => void;
  /** The streamed text so far. */
  text: string;
}

/**
 * The extension side of the engine: starts it lazily (in its own process by default), matches
 * responses to requests by id, forwards cancellation, restarts the engine after a crash or when it
 * stops answering the heartbeat (pending callers get `worker-crashed`, never a hang).
 */
export class InferenceClient {
  private worker: EngineChannel | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;
  /** Why the heartbeat killed the engine, for the crash message. */
  private hungReason: string | undefined;
  /** The engine's last stderr lines, logged only if it crashes. */
  private engineStderr: string[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private disposed = false;
  private onIdle: (() => void) | undefined;
  private hub: HubOptions;

  constructor(private readonly options: ClientOptions) {
    this.hub = options.hub ?? {};
  }

  /** Changes Hub options (cache folder, offline) for the following loads. */
  configure(hub: HubOptions): Promise<void> {
    this.hub = hub;
    return this.worker ? this.request('configure', { hub, bundledModelsDir: this.options.bundledModelsDir }) : Promise.resolve();
  }

  get running(): boolean {
    return this.worker !== undefined;
  }

  /** The engine process's id while one runs (for memory figures); undefined for a thread or none. */
  get enginePid(): number | undefined {
    return this.worker?.pid;
  }

  /**
   * Sends one request and resolves with its result, typed by its kind. A generation streams its
   * tokens when `onToken` is given.
   */
  request<K extends RequestKind>(type: K, params: ParamsOf<K>, options: CallOptions = {}): Promise<ResultOf<K>> {
    return new Promise<ResultOf<K>>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(new InferenceError('cancelled', 'The request was cancelled.'));
        return;
      }
      let worker: EngineChannel;
      try {
        worker = this.ensureWorker();
      } catch (err) {
        reject(InferenceError.from(err));
        return;
      }
      const id = this.nextId++;
      const onAbort = (): void => this.worker?.send({ type: 'cancel', target: id });
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = (): void => options.signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, { resolve: resolve as (value: ResultOf<RequestKind>) => void, reject, options, cleanup, text: '' });
      worker.send({ type, id, params } as WorkerRequest);
    });
  }

  load(model: ModelSpec, options: CallOptions = {}): Promise<ModelInfo> {
    return this.request('load', model, options);
  }

  generate(request: GenerateRequest, options: CallOptions = {}): Promise<GenerateResult> {
    return this.request('generate', { ...request, stream: request.stream ?? options.onToken !== undefined }, options);
  }

  score(request: ScoreRequest, options: CallOptions = {}): Promise<ScoreResult> {
    return this.request('score', request, options);
  }

  servedModels(endpoint: EndpointSpec, options: CallOptions = {}): Promise<readonly string[]> {
    return this.request('servedModels', endpoint, options);
  }

  unload(model?: ModelSpec): Promise<void> {
    if (!this.worker) return Promise.resolve();
    return this.request('unload', model);
  }

  /** Kills the engine at once (tests use it to simulate a crash); pending calls fail with `worker-crashed`. */
  async crashForTesting(): Promise<void> {
    await this.worker?.kill();
  }

  /**
   * Stops the engine. In-flight requests are cancelled and allowed to finish their current decode
   * step first (a thread terminated inside an onnxruntime run would abort the host process).
   */
  async dispose(graceMs = 5000): Promise<void> {
    this.disposed = true;
    const worker = this.worker;
    if (!worker) return;
    for (const target of this.pending.keys()) worker.send({ type: 'cancel', target });
    if (this.pending.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.worker = undefined;
    this.stopHeartbeat();
    this.failAll(new InferenceError('cancelled', 'The inference worker was stopped.'));
    await worker.kill();
  }

  private ensureWorker(): EngineChannel {
    if (this.disposed) throw new InferenceError('cancelled', 'The inference client has been disposed.');
    if (this.worker) return this.worker;
    const worker: EngineChannel = startEngine(
      this.options.workerPath,
      { isolation: this.options.isolation ?? 'process', maxHeapMb: this.options.maxHeapMb ?? 4096, env: this.options.engineEnv },
      {
        onMessage: (msg) => {
          if (this.worker === worker) this.lastHeard = Date.now();
          this.onMessage(msg);
        },
        onExit: (reason) => this.onExit(worker, reason),
        onStderr: (line) => {
          // Kept, not logged: onnxruntime prints harmless warnings at every start (no Vulkan, …);
          // the last lines are what explains a crash.
          this.engineStderr.push(line);
          if (this.engineStderr.length > 20) this.engineStderr.shift();
        },
      },
    );
    this.worker = worker;
    this.engineStderr = [];
    this.lastHeard = Date.now();
    this.startHeartbeat(worker);
    // The first message: no request can reach the new engine before its configuration.
    this.request('configure', { hub: this.hub, bundledModelsDir: this.options.bundledModelsDir }).catch((err: InferenceError) => {
      if (err.code !== 'worker-crashed' && err.code !== 'cancelled') this.options.onLog?.('error', `Configuring the inference worker failed: ${err.message}`);
    });
    return worker;
  }

  /** While anything is pending, ping the engine; one that has said nothing for `hungAfterMs` is killed. */
  private startHeartbeat(worker: EngineChannel): void {
    const every = this.options.heartbeatMs ?? 10_000;
    const hungAfter = this.options.hungAfterMs ?? 60_000;
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      if (this.worker !== worker || this.pending.size === 0) {
        this.lastHeard = Date.now();
        return;
      }
      const silent = Date.now() - this.lastHeard;
      if (silent >= hungAfter) {
        this.hungReason = `it answered nothing for ${Math.round(silent / 1000)} s`;
        void worker.kill();
        return;
      }
      this.request('ping', {}).catch(() => undefined);
    }, every);
    this.heartbeat.unref?.();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private onExit(worker: EngineChannel, reason: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.stopHeartbeat();
    if (this.disposed) return;
    const why = this.hungReason ?? reason;
    this.hungReason = undefined;
    const lastWords = this.engineStderr.splice(0).join('\n');
    this.options.onLog?.('error', `Inference engine stopped unexpectedly (${why}); it restarts on the next request.${lastWords ? `\nIts last output:\n${lastWords}` : ''}`);
    this.failAll(new InferenceError('worker-crashed', `The inference engine stopped (${why}). It restarts on the next request.`));
  }

  private failAll(err: InferenceError): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      p.cleanup();
      p.reject(err);
    }
  }

  private onMessage(msg: WorkerResponse): void {
    if (msg.type === 'log') {
      this.options.onLog?.(msg.level, msg.message);
      return;
    }
    const pending = this.pending.get(msg.id);
    if (!pending) return;
    switch (msg.type) {
      case 'token':
        pending.text += msg.delta;
        pending.options.onToken?.(msg.token, pending.text);
        break;
      case 'progress':
        pending.options.onProgress?.(msg.progress);
        break;
      case 'result':
        this.pending.delete(msg.id);
        pending.cleanup();
        pending.resolve(msg.result);
        break;
      case 'error':
        this.pending.delete(msg.id);
        pending.cleanup();
        pending.reject(InferenceError.fromInfo(msg.error));
        break;
    }
    if (this.pending.size === 0) this.onIdle?.();
  }
}

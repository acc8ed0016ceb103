import { Worker } from 'node:worker_threads';
import { InferenceError } from './errors';
import type {
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
 * The extension side of the worker: starts it lazily, matches responses to requests by id,
 * forwards cancellation, and restarts the worker after a crash (pending callers get an error).
 */
export class InferenceClient {
  private worker: Worker | undefined;
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
      let worker: Worker;
      try {
        worker = this.ensureWorker();
      } catch (err) {
        reject(InferenceError.from(err));
        return;
      }
      const id = this.nextId++;
      const onAbort = (): void => this.worker?.postMessage({ type: 'cancel', target: id } satisfies WorkerRequest);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = (): void => options.signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, { resolve: resolve as (value: ResultOf<RequestKind>) => void, reject, options, cleanup, text: '' });
      worker.postMessage({ type, id, params } as WorkerRequest);
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

  unload(model?: ModelSpec): Promise<void> {
    if (!this.worker) return Promise.resolve();
    return this.request('unload', model);
  }

  /** Kills the worker at once (tests use it to simulate a crash); pending calls fail with `worker-crashed`. */
  async crashForTesting(): Promise<void> {
    await this.worker?.terminate();
  }

  /**
   * Stops the worker. In-flight requests are cancelled and allowed to finish their current decode
   * step first: terminating a thread inside an onnxruntime run would abort the whole process.
   */
  async dispose(graceMs = 5000): Promise<void> {
    this.disposed = true;
    const worker = this.worker;
    if (!worker) return;
    for (const target of this.pending.keys()) worker.postMessage({ type: 'cancel', target } satisfies WorkerRequest);
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
    this.failAll(new InferenceError('cancelled', 'The inference worker was stopped.'));
    await worker.terminate();
  }

  private ensureWorker(): Worker {
    if (this.disposed) throw new InferenceError('cancelled', 'The inference client has been disposed.');
    if (this.worker) return this.worker;
    const worker = new Worker(this.options.workerPath);
    worker.on('message', (msg: WorkerResponse) => this.onMessage(msg));
    worker.on('error', (err) => this.onExit(worker, err));
    worker.on('exit', (code) => this.onExit(worker, new Error(`exit code ${code}`)));
    this.worker = worker;
    // The first message: no request can reach the new worker before its configuration.
    this.request('configure', { hub: this.hub, bundledModelsDir: this.options.bundledModelsDir }).catch((err: InferenceError) => {
      if (err.code !== 'worker-crashed' && err.code !== 'cancelled') this.options.onLog?.('error', `Configuring the inference worker failed: ${err.message}`);
    });
    return worker;
  }

  private onExit(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    if (this.disposed) return;
    this.options.onLog?.('error', `Inference worker stopped unexpectedly (${err.message}); it restarts on the next request.`);
    this.failAll(new InferenceError('worker-crashed', `The inference worker crashed (${err.message}). It restarts on the next request.`));
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

import type { Engine, RequestHooks } from './engine';
import { InferenceError } from './errors';
import type { EngineFault, ParamsOf, RequestKind, RequestMessage, ResultOf, WorkerResponse } from './protocol';
import { requestId, validateRequest } from './requestValidation';

/**
 * Turns incoming messages into engine calls: each is validated first (requestValidation.ts), then
 * handled concurrently with the others (they interleave between decode steps, so a short completion
 * does not wait behind a long summary); cancellation by request id. Every request with a usable id
 * gets exactly one `result` or `error`, whatever it contained.
 */
export function createDispatcher(engine: Engine, post: (msg: WorkerResponse) => void, injectFault: (how: EngineFault) => Promise<void>): (raw: unknown) => void {
  const cancelled = new Set<number>();

  /** One handler per request kind, each returning that kind's result. */
  const handlers: { [K in RequestKind]: (params: ParamsOf<K>, hooks: RequestHooks) => Promise<ResultOf<K>> } = {
    configure: async (params) => engine.configure(params.bundledModelsDir, params.hub),
    load: async (model, hooks) => {
      const info = await engine.info(model, hooks);
      post({ type: 'log', level: 'info', message: `Loaded ${info.source} (${info.modelType}) on ${info.device} in ${Math.round(info.loadMs)} ms${info.deviceNotes.length ? `; not used: ${info.deviceNotes.join('; ')}` : ''}` });
      return info;
    },
    generate: (request, hooks) => engine.generate(request, hooks),
    score: (request, hooks) => engine.score(request, hooks),
    servedModels: (endpoint, hooks) => engine.servedModels(endpoint, hooks),
    unload: (model) => engine.unload(model),
    ping: async () => undefined,
    fault: (params) => injectFault(params.how),
  };

  function handle<K extends RequestKind>(msg: Extract<RequestMessage, { type: K }>): Promise<ResultOf<K>> {
    const handler = handlers[msg.type] as (params: ParamsOf<K>, hooks: RequestHooks) => Promise<ResultOf<K>>;
    return handler(msg.params, {
      isCancelled: () => cancelled.has(msg.id),
      // The engine's second argument is the text this token added (RequestHooks.onToken's delta).
      onToken: (token, delta) => post({ type: 'token', id: msg.id, token, delta }),
      onProgress: (progress) => post({ type: 'progress', id: msg.id, progress }),
    });
  }

  return (raw: unknown) => {
    let msg;
    try {
      msg = validateRequest(raw);
    } catch (err) {
      const id = requestId(raw);
      const error = InferenceError.from(err);
      if (id !== undefined) post({ type: 'error', id, error: error.toInfo() });
      else post({ type: 'log', level: 'warn', message: `Ignored a message without a request id: ${error.message}` });
      return;
    }
    if (msg.type === 'cancel') {
      cancelled.add(msg.target);
      return;
    }
    const { id } = msg;
    let running: Promise<ResultOf<RequestKind>>;
    try {
      running = handle(msg);
    } catch (err) {
      running = Promise.reject(err);
    }
    running.then(
      (result) => {
        cancelled.delete(id);
        post({ type: 'result', id, result });
      },
      (err: unknown) => {
        cancelled.delete(id);
        post({ type: 'error', id, error: InferenceError.from(err).toInfo() });
      },
    );
  };
}

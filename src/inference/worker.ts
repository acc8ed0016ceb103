import { parentPort } from 'node:worker_threads';
import { Engine, type RequestHooks } from './engine';
import { InferenceError } from './errors';
import type { ParamsOf, RequestKind, RequestMessage, ResultOf, WorkerRequest, WorkerResponse } from './protocol';

/**
 * The worker entry: one Engine, requests handled concurrently (they interleave between decode
 * steps, so a short completion does not wait behind a long summary), cancellation by request id.
 * The engine's model cache is the only one: the host asks for a model every time it needs one.
 */
const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');

const engine = new Engine('');
const cancelled = new Set<number>();
const post = (msg: WorkerResponse): void => port.postMessage(msg);

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
  unload: (model) => engine.unload(model),
};

function handle<K extends RequestKind>(msg: Extract<RequestMessage, { type: K }>): Promise<ResultOf<K>> {
  const handler = handlers[msg.type] as ((params: ParamsOf<K>, hooks: RequestHooks) => Promise<ResultOf<K>>) | undefined;
  if (!handler) return Promise.reject(new InferenceError('bad-request', `Unknown request type ${String(msg.type)}`));
  return handler(msg.params, {
    isCancelled: () => cancelled.has(msg.id),
    // The engine's second argument is the text this token added (RequestHooks.onToken's delta).
    onToken: (token, delta) => post({ type: 'token', id: msg.id, token, delta }),
    onProgress: (progress) => post({ type: 'progress', id: msg.id, progress }),
  });
}

port.on('message', (msg: WorkerRequest) => {
  if (!msg || typeof msg !== 'object') return;
  if (msg.type === 'cancel') {
    cancelled.add(msg.target);
    return;
  }
  if (typeof msg.id !== 'number') return;
  handle(msg).then(
    (result) => {
      cancelled.delete(msg.id);
      post({ type: 'result', id: msg.id, result });
    },
    (err: unknown) => {
      cancelled.delete(msg.id);
      post({ type: 'error', id: msg.id, error: InferenceError.from(err).toInfo() });
    },
  );
});

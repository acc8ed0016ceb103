import { parentPort } from 'node:worker_threads';
import { Engine } from './engine';
import { InferenceError } from './errors';
import type { WorkerRequest, WorkerResponse } from './protocol';

/**
 * The worker entry: one Engine, requests handled concurrently (they interleave between decode
 * steps, so a short completion does not wait behind a long summary), cancellation by request id.
 */
const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');

const engine = new Engine('');
const cancelled = new Set<number>();
const post = (msg: WorkerResponse): void => port.postMessage(msg);

async function handle(msg: Exclude<WorkerRequest, { type: 'cancel' }>): Promise<unknown> {
  const hooks = {
    isCancelled: () => cancelled.has(msg.id),
    onToken: (token: import('./protocol').TokenTrace, text: string) => post({ type: 'token', id: msg.id, token, text }),
    onProgress: (progress: import('./protocol').LoadProgress) => post({ type: 'progress', id: msg.id, progress }),
  };
  switch (msg.type) {
    case 'configure':
      engine.configure(msg.bundledModelsDir, msg.hub);
      return undefined;
    case 'load': {
      const info = await engine.info(msg.model, hooks);
      post({ type: 'log', level: 'info', message: `Loaded ${info.source} (${info.modelType}) on ${info.device} in ${Math.round(info.loadMs)} ms${info.deviceNotes.length ? `; not used: ${info.deviceNotes.join('; ')}` : ''}` });
      return info;
    }
    case 'generate':
      return engine.generate(msg.request, hooks);
    case 'score':
      return engine.score(msg.request, hooks);
    case 'unload':
      return engine.unload(msg.model);
    default:
      throw new InferenceError('bad-request', `Unknown request type ${(msg as { type: string }).type}`);
  }
}

port.on('message', (msg: WorkerRequest) => {
  if (!msg || typeof msg !== 'object' || typeof msg.id !== 'number') return;
  if (msg.type === 'cancel') {
    cancelled.add(msg.target);
    return;
  }
  handle(msg).then(
    (result) => {
      cancelled.delete(msg.id);
      if (msg.id !== 0) post({ type: 'result', id: msg.id, result });
    },
    (err: unknown) => {
      cancelled.delete(msg.id);
      const error = InferenceError.from(err);
      if (msg.id !== 0) post({ type: 'error', id: msg.id, error: error.toInfo() });
      else post({ type: 'log', level: 'error', message: error.message });
    },
  );
});

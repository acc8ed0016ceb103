import { parentPort } from 'node:worker_threads';
import { createDispatcher } from './dispatcher';
import { Engine } from './engine';
import { InferenceError } from './errors';
import type { EngineFault, WorkerResponse } from './protocol';

/**
 * The engine's entry: one Engine, requests handled concurrently (they interleave between decode
 * steps, so a short completion does not wait behind a long summary), cancellation by request id.
 * The engine's model cache is the only one: the host asks for a model every time it needs one.
 * It runs as a forked process (the default: a native crash ends only this process) or as a worker
 * thread, with the same messages either way.
 */
interface Transport {
  post(msg: WorkerResponse): void;
  listen(handler: (msg: unknown) => void): void;
}

function transport(): Transport {
  const port = parentPort;
  if (port) return { post: (msg) => port.postMessage(msg), listen: (handler) => port.on('message', handler) };
  const send = process.send?.bind(process);
  if (send) {
    // The host went away (its process ended): nobody is left to answer.
    process.on('disconnect', () => process.exit(0));
    return { post: (msg) => void send(msg), listen: (handler) => process.on('message', handler) };
  }
  throw new Error('worker.js runs as a worker thread or as a forked engine process');
}

const channel = transport();
const engine = new Engine('');
const post = (msg: WorkerResponse): void => channel.post(msg);
const faultsAllowed = process.env.LMLENS_ENGINE_FAULTS === '1';

/** What the isolation tests make the engine do: each one would take a host process down with it. */
function injectFault(how: EngineFault): Promise<void> {
  if (!faultsAllowed) return Promise.reject(new InferenceError('bad-request', 'Fault injection is off in this engine.'));
  switch (how) {
    case 'abort':
      process.abort();
      break;
    case 'exit':
      process.exit(70);
      break;
    case 'uncaught':
      setImmediate(() => {
        throw new Error('fault injected: uncaught exception');
      });
      break;
    case 'hang':
      for (;;) {
        /* a busy loop: the event loop never turns again */
      }
    case 'heap': {
      const hoard: number[][] = [];
      for (;;) hoard.push(new Array<number>(1 << 20).fill(hoard.length));
    }
  }
  return Promise.resolve();
}

channel.listen(createDispatcher(engine, post, injectFault));

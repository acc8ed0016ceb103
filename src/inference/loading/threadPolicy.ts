import type * as ort from 'onnxruntime-node';

/**
 * Graphs this small are dominated by per-operator overhead, where a thread pool's synchronisation
 * costs more than it saves: one intra-op thread. `bench/threadPolicy.mjs` measures each pass kind
 * of the loop (one row, a prompt-lookup draft, beam rows) with 1 and 2 threads, spinning off and on,
 * idle and beside a busy process (BENCHMARKS.md, "Thread policy").
 */
export const SINGLE_THREAD_BELOW_BYTES = 64 * 1024 * 1024;

/**
 * The intra-op threading of a session for a graph of `graphBytes` weights. Larger graphs keep
 * onnxruntime's pool (one thread per physical core) with spinning off: a spinning pool holds every
 * core between the operators of a pass and between passes, which an editor, its language servers and
 * builds beside the engine pay for, and on a busy machine the spinning threads wait on each other
 * (measured slower than not spinning on the 124M model, idle and busy alike).
 */
export function threadOptions(graphBytes: number): Pick<ort.InferenceSession.SessionOptions, 'intraOpNumThreads' | 'extra'> {
  if (graphBytes < SINGLE_THREAD_BELOW_BYTES) return { intraOpNumThreads: 1 };
  return { extra: { session: { intra_op: { allow_spinning: '0' } } } };
}

import { freemem, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { InferenceError } from '../errors';

const GIB = 1024 ** 3;

/** The graph files and the external-data files beside them (`model.onnx_data`, `model.onnx.data`, `model.onnx_data_1`…). */
function weightFiles(graphs: readonly string[]): string[] {
  const out = new Set<string>(graphs);
  for (const graph of graphs) {
    const dir = dirname(graph);
    if (!existsSync(dir)) continue;
    const stem = basename(graph);
    for (const name of readdirSync(dir)) if (name !== stem && (name.startsWith(`${stem}_data`) || name.startsWith(`${stem}.data`))) out.add(join(dir, name));
  }
  return [...out];
}

/**
 * Refuses, before onnxruntime allocates anything, a model whose weights cannot fit in the memory
 * this machine has free: an out-of-memory inside the runtime is an abort, not an error.
 */
/**
 * Memory a model may take: Linux reports MemAvailable and Windows the available physical memory, both
 * counting the file cache as reclaimable; macOS reports only never-used pages (often a few hundred MB
 * on a busy Mac whose cache and compressor would make room), so there the whole memory is the bound.
 */
function availableMemory(): number {
  return process.platform === 'darwin' ? totalmem() : freemem();
}

export function checkFitsInMemory(source: string, graphs: readonly string[], free = availableMemory()): void {
  const bytes = weightFiles(graphs).reduce((sum, file) => sum + statSync(file).size, 0);
  // onnxruntime holds the weights once, plus working memory; 10 % headroom is the least it needs.
  if (bytes * 1.1 > free) {
    throw new InferenceError(
      'out-of-memory',
      `The model "${source}" is too big for this machine: its weights take ${(bytes / GIB).toFixed(1)} GiB and ${(free / GIB).toFixed(1)} GiB of memory is available. Choose a smaller or quantized model, or close other programs.`,
    );
  }
}

// llama.cpp as a peer of this engine on the same weights: node-llama-cpp's prebuilt CPU binary runs
// GGUF files that models/recipes/gguf_from_onnx.py writes from the ONNX graph this engine runs
// (f32, q8_0, q4_0). Used by bench/run.mjs and by test/inference/ggufLlamaCpp.test.mjs.
//
// Before anything is timed, llama.cpp's greedy ids for the engine's prompt ids must equal the
// engine's own fp32 greedy ids (f32 GGUF); the quantized files report how far their greedy ids agree
// with this engine's same-bit export where one exists, else with fp32. Then the engines alternate
// within each round (the starting engine rotates), one token per pass, and the figures are medians.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GGUF_TYPES = ['f32', 'q8_0', 'q4_0'];
const PYTHON = '/usr/bin/python3';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * node-llama-cpp with its prebuilt CPU binary, or `{ reason }` saying why the peer is skipped. It
 * never builds llama.cpp from source (that would clone it from GitHub) and never uses a GPU: the
 * peer is measured on the CPU this engine runs on.
 */
export async function openLlamaCpp() {
  let mod;
  try {
    mod = await import('node-llama-cpp');
  } catch (err) {
    return { reason: `node-llama-cpp is not installed (\`npm ci\` installs it as a dev dependency): ${err.code ?? err.message}` };
  }
  try {
    const llama = await mod.getLlama({ gpu: false, build: 'never', usePrebuiltBinaries: true, progressLogs: false, logLevel: mod.LlamaLogLevel.error });
    // The package exports no package.json; its entry point is dist/index.js.
    const version = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.resolve('node-llama-cpp'))), '..', 'package.json'), 'utf8')).version;
    return { llama, version, llamaCppRelease: llama.llamaCppRelease?.release ?? 'unknown' };
  } catch (err) {
    return { reason: `node-llama-cpp has no prebuilt binary that loads here (${err.message.split('\n')[0]})` };
  }
}

/**
 * `.cache/gguf/<model>-<type>.gguf` for each type, converted from `<modelDir>/onnx/model.onnx` by the
 * recipe when missing or older than the ONNX file. Returns `{ files: { f32: path, … } }` or `{ reason }`.
 */
export function ensureGguf(root, modelDir, types = GGUF_TYPES) {
  const outDir = join(root, '.cache', 'gguf');
  const name = basename(modelDir);
  const onnxTime = statSync(join(modelDir, 'onnx', 'model.onnx')).mtimeMs;
  const files = Object.fromEntries(types.map((t) => [t, join(outDir, `${name}-${t}.gguf`)]));
  const stale = types.filter((t) => !existsSync(files[t]) || statSync(files[t]).mtimeMs < onnxTime);
  if (stale.length) {
    try {
      execFileSync(PYTHON, [join(root, 'models', 'recipes', 'gguf_from_onnx.py'), modelDir, outDir, `--types=${stale.join(',')}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const why = err.code === 'ENOENT' ? `${PYTHON} is missing` : (err.stderr?.toString().trim().split('\n').pop() ?? err.message);
      return { reason: `the GGUF converter (models/recipes/gguf_from_onnx.py, needs ${PYTHON} with python3-numpy and python3-onnx) failed: ${why}` };
    }
  }
  return { files };
}

/** One GGUF file loaded in llama.cpp with a context of `threads` CPU threads. */
export class LlamaCppModel {
  /**
   * `exact: false` (the bench): llama.cpp's defaults, an F16 KV cache and flash attention where it
   * chooses it. `exact: true` (the logit test): an F32 KV cache without flash attention, so what
   * differs from this engine is only ggml's CPU GELU, which reads a table indexed by the input
   * rounded to fp16 (about 1e-3 in log-probabilities on gpt2-code).
   */
  static async open(llama, path, { threads, contextSize = 512, exact = false }) {
    const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
    const context = await model.createContext({
      contextSize: Math.min(contextSize, model.trainContextSize),
      batchSize: 512,
      threads,
      sequences: 1,
      ...(exact ? { flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' } : {}),
    });
    return new LlamaCppModel(model, context, path, threads);
  }

  constructor(model, context, path, threads) {
    this.model = model;
    this.context = context;
    this.sequence = context.getSequence();
    this.path = path;
    this.threads = threads;
    this.bytes = statSync(path).size;
  }

  /**
   * Greedy decoding of `n` tokens after `promptIds`, one token per pass, the prompt evaluated afresh:
   * the ids, time to first token (ms) and tokens/s after the first, as the engine's timings count them.
   */
  async greedy(promptIds, n) {
    await this.sequence.clearHistory();
    const ids = [];
    const start = performance.now();
    let first = 0;
    for await (const id of this.sequence.evaluate(promptIds, { temperature: 0 })) {
      ids.push(id);
      if (ids.length === 1) first = performance.now();
      if (ids.length === n) break;
    }
    const end = performance.now();
    return { ids, ttft: first - start, tps: ((ids.length - 1) * 1000) / (end - first) };
  }

  /**
   * log p(next token | ids[0..i]) for every position i of `ids`, over the whole vocabulary (llama.cpp's
   * softmax at temperature 1, no top-k/top-p/min-p): one Float64Array per position.
   */
  async logProbs(ids) {
    await this.sequence.clearHistory();
    const all = { temperature: 1, topK: 0, topP: 1, minP: 0 };
    const out = await this.sequence.controlledEvaluate(ids.map((id) => [id, { generateNext: { probabilities: true, options: all } }]));
    return out.map((o, i) => {
      if (!o?.next?.probabilities) throw new Error(`llama.cpp returned no probabilities at position ${i}`);
      const row = new Float64Array(o.next.probabilities.size).fill(-Infinity);
      for (const [id, p] of o.next.probabilities) row[id] = Math.log(p);
      return row;
    });
  }

  async dispose() {
    await this.context.dispose();
    await this.model.dispose();
  }
}

/** How far two greedy id sequences agree: the length of their common prefix. */
export function agreement(a, b) {
  let k = 0;
  while (k < Math.min(a.length, b.length) && a[k] === b[k]) k++;
  return k;
}

/**
 * Runs every contestant `repeats` times, alternating (contestant i starts round i mod count), after
 * one warm-up run each whose ids are returned as `ids`. A contestant: `{ key, run: async () => ({ ids, tps, ttft }) }`.
 * Returns `{ [key]: { ids, tps, ttft } }` with medians.
 */
export async function alternate(contestants, repeats) {
  const results = {};
  for (const c of contestants) results[c.key] = { ids: (await c.run()).ids, tps: [], ttft: [] };
  for (let r = 0; r < repeats; r++) {
    for (let j = 0; j < contestants.length; j++) {
      const c = contestants[(r + j) % contestants.length];
      const x = await c.run();
      results[c.key].tps.push(x.tps);
      results[c.key].ttft.push(x.ttft);
    }
  }
  for (const k of Object.keys(results)) results[k] = { ids: results[k].ids, tps: median(results[k].tps), ttft: median(results[k].ttft) };
  return results;
}

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
 * Runs every contestant `repeats` times, alternating (round r starts with contestant r mod count).
 * A contestant: `{ key, run: async () => ({ tps, ttft }) }`. Returns `{ [key]: { tps, ttft } }`, medians.
 */
export async function alternate(contestants, repeats) {
  const results = {};
  for (const c of contestants) results[c.key] = { tps: [], ttft: [] };
  for (let r = 0; r < repeats; r++) {
    for (let j = 0; j < contestants.length; j++) {
      const c = contestants[(r + j) % contestants.length];
      const x = await c.run();
      results[c.key].tps.push(x.tps);
      results[c.key].ttft.push(x.ttft);
    }
  }
  for (const k of Object.keys(results)) results[k] = { tps: median(results[k].tps), ttft: median(results[k].ttft) };
  return results;
}

const MiB = 2 ** 20;
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

/** This engine's greedy decoding, one token per pass, as a contestant. */
function oursContestant(engine, key, source, dtype, prompt, n) {
  return {
    key,
    async run() {
      const r = await engine.generate({ model: { source, ...(dtype ? { dtype } : {}) }, prompt, options: { maxNewTokens: n, promptLookupTokens: 0, topAlternatives: 0 } });
      return { ids: r.tokens.map((t) => t.id), inputIds: r.inputIds, tps: r.timings.tokens_per_s, ttft: r.timings.first_token_ms };
    },
  };
}

/**
 * The section of BENCHMARKS.md comparing this engine with llama.cpp on the same weights. `models`:
 * `[{ label, dir, tokens, transformersJs? }]` (transformers.js tok/s measured earlier in the run, for the
 * summary); `quantizedDir(dir)`: the folder holding this engine's q8/q4 exports of that model, if any.
 */
export async function llamaCppSection({ root, engine, log, repeats, bandwidth, models, quantizedDir, prompt = 'def __init__(self' }) {
  log('## Decoding against llama.cpp on the same weights (one token per pass, greedy)');
  log();
  const peer = await openLlamaCpp();
  if (peer.reason) {
    log(`llama.cpp peer skipped: ${peer.reason}.`);
    log();
    return;
  }
  const summary = [];
  const rows = [];
  for (const { label, dir, tokens: n, transformersJs } of models) {
    const gguf = ensureGguf(root, dir);
    if (gguf.reason) {
      rows.push(`| ${label} | llama.cpp | not run: ${gguf.reason} | | | | | | | | |`);
      continue;
    }
    const contestants = [oursContestant(engine, 'ours fp32', dir, undefined, prompt, n)];
    const qdir = quantizedDir?.(dir);
    for (const [dtype, file] of [['q8', 'model_quantized.onnx'], ['q4', 'model_q4.onnx']]) {
      if (qdir && existsSync(join(qdir, 'onnx', file))) contestants.push({ ...oursContestant(engine, `ours ${dtype}`, qdir, dtype, prompt, n), bytes: statSync(join(qdir, 'onnx', file)).size });
    }
    contestants[0].bytes = statSync(join(dir, 'onnx', 'model.onnx')).size;
    const opened = [];
    for (const type of GGUF_TYPES) {
      for (const threads of [1, 2]) {
        const m = await LlamaCppModel.open(peer.llama, gguf.files[type], { threads });
        opened.push(m);
        contestants.push({ key: `llama.cpp ${type} ${threads}`, type, threads, bytes: m.bytes, model: m });
      }
    }
    // Warm-up and the greedy check, before anything is timed.
    const warm = {};
    for (const c of contestants) {
      if (c.model) c.run = () => c.model.greedy(warm['ours fp32'].inputIds, n);
      warm[c.key] = await c.run();
    }
    const reference = warm['ours fp32'].ids;
    const sameBits = { q8_0: 'ours q8', q4_0: 'ours q4' };
    const checks = {};
    for (const c of contestants) {
      const fp32 = agreement(warm[c.key].ids, reference);
      const same = c.type && c.type !== 'f32' && warm[sameBits[c.type]] ? agreement(warm[c.key].ids, warm[sameBits[c.type]].ids) : undefined;
      checks[c.key] = { fp32, same, n: reference.length };
    }
    // On a busy 2-core machine a 2-thread llama.cpp pass waits at every barrier for a core; where its
    // warm-up ran at under a fifth of the 1-thread rate, timing it would take minutes and say only that.
    const stalled = (c) => c.threads === 2 && warm[c.key].tps < 0.2 * warm[`llama.cpp ${c.type} 1`].tps;
    const timed = contestants.filter((c) => !(c.type === 'f32' && checks[c.key].fp32 < reference.length) && !stalled(c));
    const result = await alternate(timed, repeats);
    const base = result['ours fp32'];
    for (const c of contestants) {
      const x = result[c.key];
      const engineName = c.model ? 'llama.cpp' : 'this engine';
      const bits = c.model ? c.type : c.key.split(' ')[1];
      const threads = c.model ? String(c.threads) : 'policy';
      const check = checks[c.key];
      const idsCell = c.key === 'ours fp32'
        ? `the reference (${check.n} tokens)`
        : `${check.fp32}/${check.n} as fp32` + (check.same === undefined ? '' : `, ${check.same}/${check.n} as this engine ${sameBits[c.type].split(' ')[1]}`);
      if (!x) {
        const why = stalled(c)
          ? `not timed: its warm-up ran at ${fmt(warm[c.key].tps)} tok/s, under a fifth of 1 thread's (busy machine)`
          : `not timed: greedy ids differ from this engine's fp32 at token ${check.fp32 + 1}`;
        rows.push(`| ${label} | ${engineName} | ${bits} | ${threads} | ${fmt(c.bytes / MiB)} | ${why} | | | | | ${idsCell} |`);
        continue;
      }
      const roofline = bandwidth / c.bytes;
      const same = c.model && result[sameBits[c.type]] ? fmt(x.tps / result[sameBits[c.type]].tps, 2) + '×' : '—';
      rows.push(`| ${label} | ${engineName} | ${bits} | ${threads} | ${fmt(c.bytes / MiB)} | ${fmt(x.tps)} | ${fmt(x.ttft)} | ${c.key === 'ours fp32' ? '1.00×' : fmt(x.tps / base.tps, 2) + '×'} | ${same} | ${fmt((100 * x.tps) / roofline, 0)}% | ${idsCell} |`);
    }
    const cell = (key) => (result[key] ? fmt(result[key].tps) : '—');
    summary.push(`| ${label} | ${cell('ours fp32')} | ${transformersJs ? fmt(transformersJs) : '—'} | ${cell('llama.cpp f32 1')} / ${cell('llama.cpp f32 2')} | ${cell('llama.cpp q8_0 1')} / ${cell('llama.cpp q8_0 2')} | ${cell('llama.cpp q4_0 1')} / ${cell('llama.cpp q4_0 2')} | ${cell('ours q8')} | ${cell('ours q4')} |`);
    for (const m of opened) await m.dispose();
  }
  log(`llama.cpp through node-llama-cpp ${peer.version} (llama.cpp ${peer.llamaCppRelease}), its prebuilt CPU binary, defaults otherwise (F16 KV cache, flash`);
  log('attention as llama.cpp chooses, context 512): `sequence.evaluate` at temperature 0 on the prompt ids this engine encoded,');
  log('the history cleared before each run. GGUF files from `models/recipes/gguf_from_onnx.py` (the ONNX weights as they are;');
  log('q8_0/q4_0 quantize every matrix, position embeddings, norms and biases stay f32). This engine: greedy, prompt lookup off,');
  log('no alternatives recorded; its own thread policy. The engines alternate within each round; medians of ' + repeats + ' runs.');
  log();
  log('tok/s (threads 1 / 2 for llama.cpp):');
  log();
  log('| model | this engine fp32 | transformers.js fp32 | llama.cpp f32 | llama.cpp q8_0 | llama.cpp q4_0 | this engine q8 | this engine q4 |');
  log('|---|---|---|---|---|---|---|---|');
  for (const s of summary) log(s);
  log();
  log('| model | engine | weights | threads | file MiB | tok/s | first token ms | vs this engine fp32 | vs this engine, same bits | memory roofline | greedy ids |');
  log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) log(r);
  log();
  log(`Memory roofline: measured copy bandwidth ${fmt(bandwidth / 1e9)} GB/s over the file's bytes (every weight read once per pass);`);
  log('the column is the fraction of that pass rate reached. Greedy ids: how many leading ids agree with this engine\'s fp32 (and');
  log('with its export of the same bits), checked before any timing; an f32 file that disagrees is not timed. "this engine q8/q4"');
  log('rows appear where those exports exist.');
  log();
}

// `node bench/llamaCppPeer.mjs [--quick]` (after `npm run build`): this section alone, printed, not written
// to BENCHMARKS.md (`npm run bench` writes it with the rest).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const { Engine } = await import(join(root, 'dist', 'inference.js'));
  const quick = process.argv.includes('--quick');
  const small = join(root, '.cache', 'gpt2-small-random');
  const n = 64 * 1024 * 1024;
  const src = new Float32Array(n).fill(1);
  const dst = new Float32Array(n);
  const copies = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    dst.set(src);
    copies.push(performance.now() - t);
  }
  await llamaCppSection({
    root,
    engine: new Engine(join(root, 'models'), { offline: true }),
    log: (s = '') => console.log(s),
    repeats: Number(process.env.BENCH_REPEATS ?? 5),
    bandwidth: (2 * n * 4) / (median(copies) / 1000),
    models: [
      { label: 'gpt2-code', dir: join(root, 'models', 'gpt2-code'), tokens: quick ? 32 : 64 },
      ...(!quick && existsSync(join(small, 'onnx', 'model.onnx')) ? [{ label: 'GPT-2-small-shaped 124M', dir: small, tokens: 32 }] : []),
    ],
    quantizedDir: (dir) => join(root, '.cache', 'quantized', basename(dir)),
  });
}

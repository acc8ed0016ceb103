// Thread policy, measured: onnxruntime intra-op threads 1 vs 2, thread-pool spinning off vs on, per model
// size and per kind of decoder pass the loop makes, on the machine as it is and under a synthetic busy
// load (a child process spinning on one core). `npm run bench` calls it; alone:
//   node bench/threadPolicy.mjs [--quick]
// Each pass kind feeds a KV cache of PAST positions: one row of one token (greedy, sampling), one row of
// 1 + 8 tokens (prompt lookup checks its draft), four rows of one token (beam search, k = 4).
import { fork } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import * as ort from 'onnxruntime-node';

const PAST = 64;
export const PASS_KINDS = [
  { label: '1 row × 1 token', rows: 1, tokens: 1 },
  { label: 'draft: 1 row × 9 tokens', rows: 1, tokens: 9 },
  { label: 'beam: 4 rows × 1 token', rows: 4, tokens: 1 },
];
export const POLICIES = [
  { label: '1 thread', threads: 1, spinning: false },
  { label: '2 threads, spinning off', threads: 2, spinning: false },
  { label: '2 threads, spinning on', threads: 2, spinning: true },
];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function sessionOptions(policy) {
  return {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: policy.threads,
    interOpNumThreads: 1,
    // With one thread there is no pool to spin; the entry is set anyway so the options differ in one place only.
    extra: { session: { intra_op: { allow_spinning: policy.spinning ? '1' : '0' } } },
  };
}

/** The feeds of one pass of a GPT-2 style graph with a KV cache of PAST positions. */
function feedsFor(session, kind) {
  const { rows, tokens } = kind;
  const int64 = (dims, f) => new ort.Tensor('int64', BigInt64Array.from({ length: dims[0] * dims[1] }, (_, i) => BigInt(f(i % dims[1]))), dims);
  const feeds = {
    input_ids: int64([rows, tokens], (i) => 10 + i),
    attention_mask: int64([rows, PAST + tokens], () => 1),
    position_ids: int64([rows, tokens], (i) => PAST + i),
  };
  for (const meta of session.inputMetadata) {
    if (!meta.name.startsWith('past_key_values.')) continue;
    const [, heads, , headDim] = meta.shape;
    feeds[meta.name] = new ort.Tensor('float32', new Float32Array(rows * heads * PAST * headDim).fill(0.01), [rows, heads, PAST, headDim]);
  }
  return feeds;
}

/** Spins on one core until killed: the editor, the language server or a build beside the engine. */
function startBusyLoad() {
  return fork(fileURLToPath(import.meta.url), ['--spin'], { stdio: 'ignore' });
}

/**
 * Median milliseconds per pass for every model × policy × pass kind, idle and busy. Policies alternate
 * within each round, so a change in the machine's load hits all of them alike.
 */
export async function measureThreadPolicy({ models, rounds, log = console.log }) {
  const results = [];
  for (const model of models) {
    const sessions = [];
    for (const policy of POLICIES) sessions.push(await ort.InferenceSession.create(model.path, sessionOptions(policy)));
    const feeds = PASS_KINDS.map((kind) => feedsFor(sessions[0], kind));
    for (const load of ['as is', 'busy']) {
      const busy = load === 'busy' ? startBusyLoad() : undefined;
      const load1 = loadavg()[0];
      try {
        const times = POLICIES.map(() => PASS_KINDS.map(() => []));
        for (let r = -1; r < rounds; r++) {
          for (let k = 0; k < PASS_KINDS.length; k++) {
            for (let p = 0; p < POLICIES.length; p++) {
              const t = performance.now();
              await sessions[p].run(feeds[k], ['logits']);
              if (r >= 0) times[p][k].push(performance.now() - t); // round -1 warms up
            }
          }
        }
        results.push({ model: model.label, load, load1, ms: times.map((perKind) => perKind.map(median)) });
      } finally {
        busy?.kill();
      }
    }
    for (const s of sessions) await s.release();
    log(`thread policy: ${model.label} measured`);
  }
  return results;
}

/** The table for BENCHMARKS.md: ms per pass, and each policy against one thread. */
export function threadPolicyTable(results) {
  const lines = [];
  lines.push(`| model | machine | pass | ${POLICIES.map((p) => `${p.label} ms`).join(' | ')} | best |`);
  lines.push(`|---|---|---|${POLICIES.map(() => '---').join('|')}|---|`);
  for (const r of results) {
    PASS_KINDS.forEach((kind, k) => {
      const ms = r.ms.map((perKind) => perKind[k]);
      const best = ms.indexOf(Math.min(...ms));
      const cells = ms.map((m, p) => (p === 0 ? m.toFixed(2) : `${m.toFixed(2)} (${(ms[0] / m).toFixed(2)}×)`));
      lines.push(`| ${r.model} | ${r.load === 'busy' ? 'busy (+1 spinning process)' : `as is (load ${r.load1.toFixed(1)})`} | ${kind.label} | ${cells.join(' | ')} | ${POLICIES[best].label} |`);
    });
  }
  return lines;
}

/** Per model: each policy's speed against 1 thread, as the geometric mean over pass kinds and loads. */
export function threadPolicySummary(results) {
  const lines = [];
  for (const model of [...new Set(results.map((r) => r.model))]) {
    const rows = results.filter((r) => r.model === model);
    const means = POLICIES.map((_, p) => {
      const ratios = rows.flatMap((r) => r.ms[p].map((ms, k) => r.ms[0][k] / ms));
      return Math.exp(ratios.reduce((a, x) => a + Math.log(x), 0) / ratios.length);
    });
    lines.push(`- ${model}: against 1 thread, over every pass kind and load: ${POLICIES.slice(1).map((p, i) => `${p.label} ${means[i + 1].toFixed(2)}×`).join(', ')}.`);
  }
  return lines;
}

export function policyModels(root, quick) {
  const models = [{ label: 'gpt2-code (2.7M)', path: join(root, 'models', 'gpt2-code', 'onnx', 'model.onnx') }];
  const small = join(root, '.cache', 'gpt2-small-random', 'onnx', 'model.onnx');
  if (!quick && existsSync(small)) models.push({ label: `GPT-2-small-shaped 124M (${(statSync(small).size / 2 ** 20).toFixed(0)} MiB)`, path: small });
  return models;
}

if (process.argv.includes('--spin')) {
  for (;;); // the busy load: never returns, killed by its parent
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(fileURLToPath(import.meta.url), '..', '..');
  const quick = process.argv.includes('--quick');
  const results = await measureThreadPolicy({ models: policyModels(root, quick), rounds: quick ? 5 : 15 });
  for (const line of [...threadPolicyTable(results), '', ...threadPolicySummary(results)]) console.log(line);
}

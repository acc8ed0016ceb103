// npm run bench:reliability: what isolating the engine in its own process costs (start-up, per token,
// inline latency, against a worker thread in the same run), a keystroke-speed soak through the real
// generation gate and client, and a long run of sequential generations. Rewrites the "Reliability"
// section of BENCHMARKS.md (between its markers) and leaves the rest as `npm run bench` wrote it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModule } from '../test/extension/bundle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { InferenceClient } = await import(join(root, 'dist', 'inference.js'));
const { GenerationGate, delay } = await loadModule('src/generation/scheduler.ts');

const quick = process.argv.includes('--quick');
const KEYSTROKES = quick ? 200 : 1000;
const SEQUENTIAL = quick ? 500 : 5000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const mib = (bytes) => bytes / 1024 / 1024;
const lines = [];
const log = (s = '') => {
  console.log(s);
  lines.push(s);
};
const model = { source: 'gpt2-code' };
const newClient = (isolation) => new InferenceClient({ workerPath: join(root, 'dist', 'worker.js'), bundledModelsDir: join(root, 'models'), isolation });

/** Resident memory of a process, from /proc (the host's own comes from process.memoryUsage). */
function rss(pid) {
  if (pid === undefined) return process.memoryUsage().rss;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

log('<!-- reliability:start -->');
log('## Reliability: the engine in its own process');
log();
log(`\`npm run bench:reliability\` on ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${fmt(totalmem() / 1024 ** 3, 0)} GiB, Node ${process.version}; gpt2-code.`);
log();

// --- process against thread, alternating within the run ---------------------------------------
const startup = { process: [], thread: [] };
const inline = { process: [], thread: [] };
const perToken = { process: [], thread: [] };
for (let round = 0; round < (quick ? 2 : 5); round++) {
  for (const isolation of ['process', 'thread']) {
    const t0 = performance.now();
    const client = newClient(isolation);
    await client.load(model);
    startup[isolation].push(performance.now() - t0);
    for (let i = 0; i < 6; i++) {
      const t = performance.now();
      await client.generate({ model, prompt: `def parse_args(argv):\n    ${' '.repeat(i)}`, options: { maxNewTokens: 16, topAlternatives: 0 } });
      if (i > 0) inline[isolation].push(performance.now() - t);
    }
    const r = await client.generate({ model, prompt: 'import os\n', options: { maxNewTokens: 128, promptLookupTokens: 0, topAlternatives: 10 } }, { onToken: () => {} });
    const t = performance.now();
    await client.generate({ model, prompt: 'import os\n', options: { maxNewTokens: 128, promptLookupTokens: 0, topAlternatives: 10 } }, { onToken: () => {} });
    perToken[isolation].push((performance.now() - t) / r.tokens.length);
    await client.dispose();
  }
}
log('| | engine process (default) | worker thread | process / thread |');
log('|---|---|---|---|');
log(`| start-up: new client to model loaded, ms | ${fmt(median(startup.process))} | ${fmt(median(startup.thread))} | ${fmt(median(startup.process) / median(startup.thread), 2)}× |`);
log(`| inline completion, 16 tokens, request to result, ms | ${fmt(median(inline.process))} | ${fmt(median(inline.thread))} | ${fmt(median(inline.process) / median(inline.thread), 2)}× |`);
log(`| streamed generation with full trace, ms per token | ${fmt(median(perToken.process), 3)} | ${fmt(median(perToken.thread), 3)} | ${fmt(median(perToken.process) / median(perToken.thread), 2)}× |`);
log();
log('Medians; the two alternate within each round. The process pays one fork and the engine\'s imports at');
log('start-up, and structured-clone IPC per token instead of a thread message.');
log();

// --- keystroke-speed soak through the real gate and client --------------------------------------
const client = newClient('process');
await client.load(model);
const gate = new GenerationGate();
let inFlight = 0;
let maxInFlight = 0;
let completed = 0;
let superseded = 0;
/** Memory after a full collection (twice, with a pause: weak callbacks and finalizers run in between). */
async function sample() {
  global.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 50));
  global.gc?.();
  return { host: rss(undefined), heap: process.memoryUsage().heapUsed, engine: rss(client.enginePid) };
}
const text = 'def fibonacci(n: int) -> list[int]:\n    numbers = [0, 1]\n    while len(numbers) < n:\n        numbers.append(numbers[-1] + numbers[-2])\n';
let previous;
let warm;
const pending = [];
const started = performance.now();
for (let k = 0; k < KEYSTROKES; k++) {
  previous?.abort(); // VS Code cancels the previous inline request at every keystroke
  const controller = new AbortController();
  previous = controller;
  const prefix = text.slice(0, 20 + (k % (text.length - 20)));
  pending.push(
    (async () => {
      if (!(await delay(30, controller.signal))) return void superseded++; // the provider's debounce
      const lease = await gate.acquire('inline', 'soak', controller.signal);
      if (!lease) return void superseded++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        const r = await client.generate({ model, prompt: prefix, options: { maxNewTokens: 16, topAlternatives: 0 } }, { signal: lease.signal }).catch((e) => (e.code === 'cancelled' ? undefined : Promise.reject(e)));
        if (r && r.finishReason !== 'cancelled') completed++;
        else superseded++;
      } finally {
        inFlight--;
        lease.release();
      }
    })(),
  );
  // A fast typist: 40 keystrokes a second, with a short pause after every eighth (a word, a look).
  await new Promise((resolve) => setTimeout(resolve, k % 8 === 7 ? 60 + (k % 5) * 20 : 25));
  if (k === Math.floor(KEYSTROKES / 5)) warm = await sample();
}
await Promise.all(pending);
pending.length = 0;
const end = await sample();
const soakSeconds = (performance.now() - started) / 1000;
log(`### ${KEYSTROKES} keystrokes through the inline path (25 ms apart, a 60-140 ms pause after every eighth; 30 ms debounce, the generation gate, the client)`);
log();
log(`- Generations running at once in the engine: at most **${maxInFlight}**; ${completed} completions shown, ${superseded} superseded by the next keystroke; ${fmt(soakSeconds)} s.`);
log(`- Memory after warm-up (${Math.floor(KEYSTROKES / 5)} keystrokes) → end: host RSS ${fmt(mib(warm.host))} → ${fmt(mib(end.host))} MiB (${fmt((end.host / warm.host - 1) * 100)} %), host heap ${fmt(mib(warm.heap))} → ${fmt(mib(end.heap))} MiB (${fmt((end.heap / warm.heap - 1) * 100)} %), engine RSS ${fmt(mib(warm.engine))} → ${fmt(mib(end.engine))} MiB (${fmt((end.engine / warm.engine - 1) * 100)} %).`);
log();

// --- many sequential generations ----------------------------------------------------------------
const latency = [];
let before;
let middle;
for (let i = 0; i < SEQUENTIAL; i++) {
  const t = performance.now();
  await client.generate({ model, prompt: `x = ${i}\n`, options: { maxNewTokens: 16, topAlternatives: 3 } });
  latency.push(performance.now() - t);
  if (i === Math.floor(SEQUENTIAL / 5)) before = await sample();
  if (i === Math.floor((3 * SEQUENTIAL) / 5)) middle = await sample();
}
const after = await sample();
const tenth = Math.floor(SEQUENTIAL / 10);
const warmUp = Math.floor(SEQUENTIAL / 5);
const early = median(latency.slice(tenth, 2 * tenth));
const late = median(latency.slice(-tenth));
log(`### ${SEQUENTIAL} sequential generations (16 tokens, 3 alternatives each)`);
log();
log(`- Median latency, generations ${tenth}-${2 * tenth} against the last ${tenth}: ${fmt(early)} ms → ${fmt(late)} ms (${fmt((late / early - 1) * 100)} %).`);
const pct = (a, b) => `${fmt((b / a - 1) * 100)} %`;
log(`- Memory at generations ${warmUp}, ${Math.floor((3 * SEQUENTIAL) / 5)} and ${SEQUENTIAL}: host RSS ${fmt(mib(before.host))} → ${fmt(mib(middle.host))} → ${fmt(mib(after.host))} MiB, host heap ${fmt(mib(before.heap))} → ${fmt(mib(middle.heap))} → ${fmt(mib(after.heap))} MiB, engine RSS ${fmt(mib(before.engine))} → ${fmt(mib(middle.engine))} → ${fmt(mib(after.engine))} MiB.`);
log(`  Over the last ${SEQUENTIAL - Math.floor((3 * SEQUENTIAL) / 5)} generations: host RSS ${pct(middle.host, after.host)}, host heap ${pct(middle.heap, after.heap)}, engine RSS ${pct(middle.engine, after.engine)}. The heap stays flat throughout; resident memory climbs while the allocators fill their arenas and then stays.`);
await client.dispose();
log('<!-- reliability:end -->');

if (!quick) {
  const file = join(root, 'BENCHMARKS.md');
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const section = lines.join('\n');
  const marked = /<!-- reliability:start -->[\s\S]*<!-- reliability:end -->/;
  writeFileSync(file, marked.test(old) ? old.replace(marked, section) : `${old.trimEnd()}\n\n${section}\n`);
}

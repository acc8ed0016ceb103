// Runs a model through this project's engine (what the extension and the CLI run: ONNX graphs, the model's
// task_specific_params, beam search where they ask for it) over held-out Seq2Seq pairs, and writes the outputs
// for `train_bart.py metrics` to score.
//
//   npm run build && node models/recipes/eval_engine.mjs MODELS_DIR MODEL TEST_JSONL OUT_JSON [N_PER_TASK] [OPTIONS_JSON]
//
// OPTIONS_JSON overrides decoding options (for example '{"strategy":"greedy"}'); without it each task runs with the
// defaults the model's config declares, as the extension's Summarize/Translate commands do. EVAL_TASKS=sum (or a
// comma-separated list of de, fr, es, sum) runs only those tasks.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const { Engine } = require(path.join(root, 'dist', 'inference.js'));

const [modelsDir, model, testFile, outFile, nArg, optionsArg] = process.argv.slice(2);
if (!outFile) {
  console.error('usage: node eval_engine.mjs MODELS_DIR MODEL TEST_JSONL OUT_JSON [N_PER_TASK] [OPTIONS_JSON]');
  process.exit(2);
}
const n = Number(nArg ?? 300);
const options = optionsArg ? JSON.parse(optionsArg) : {};
const PREFIX = /^(summarize|translate English to (German|French|Spanish)): /;
const rows = fs.readFileSync(testFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const engine = new Engine(path.resolve(modelsDir));
const spec = { source: model, device: 'cpu', attentions: false, quantized: false };
const out = { model, options, n_per_task: n, tasks: {} };
const t0 = Date.now();
for (const task of (process.env.EVAL_TASKS ?? 'de,fr,es,sum').split(',')) {
  const picked = rows.filter((r) => r.task === task).slice(0, n);
  const hyps = [];
  for (const r of picked) {
    const text = r.src.replace(PREFIX, '');
    const result = await engine.generate({
      model: spec,
      prompt: text,
      task: task === 'sum' ? { kind: 'summarize' } : { kind: 'translate', to: task },
      options,
      truncatePrompt: true,
    });
    hyps.push(result.text.trim());
  }
  out.tasks[task] = { sources: picked.map((r) => r.src), refs: picked.map((r) => r.tgt), hyps };
  console.error(`${task}: ${picked.length} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
await engine.unload();
fs.writeFileSync(outFile, JSON.stringify(out));

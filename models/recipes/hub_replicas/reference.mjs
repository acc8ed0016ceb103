// Writes <fixture>/reference.json from transformers.js (the library the real Hub repos target):
//   node models/recipes/hub_replicas/reference.mjs <fixture dir> <causal|seq2seq> <dtype[=file stem]>,... <prompt> <prompt> ...
// e.g. node models/recipes/hub_replicas/reference.mjs test/fixtures/hub-qwen2 causal fp32,fp16,q8,q4 "Hello" "The fox"
// A dtype may name a model_file_name, e.g. "fp32=decoder_model_merged" (used for GPT-2's merged files).
// For each dtype file: AutoModelFor*.from_pretrained(dir, { dtype, local_files_only }), greedy generate()
// (do_sample false, num_beams 1, max_new_tokens 12; the repo's generation_config otherwise applies), then ONE
// forward call over prompt + generated ids: raw logits (rounded 1e-6) and top-5 log-probs of the first 3
// generated steps. The PyTorch side is filled in afterwards by the recipe's `torchref` step (fp32 only).
import fs from 'node:fs';
import path from 'node:path';

const { AutoTokenizer, AutoModelForCausalLM, AutoModelForSeq2SeqLM, Tensor, env } = await import('@huggingface/transformers');
const pkg = JSON.parse(fs.readFileSync('node_modules/@huggingface/transformers/package.json', 'utf8'));
const ortPkg = JSON.parse(fs.readFileSync('node_modules/onnxruntime-node/package.json', 'utf8'));

const [dirArg, kind, dtypeArg, ...prompts] = process.argv.slice(2);
const dir = path.resolve(dirArg);
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(dir) + '/';
const name = path.basename(dir);
const MAX_NEW = 12, STEPS = 3;
const opts = { max_new_tokens: MAX_NEW, do_sample: false, num_beams: 1 };

const tok = await AutoTokenizer.from_pretrained(name, { local_files_only: true });
const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
const genCfg = fs.existsSync(path.join(dir, 'generation_config.json'))
  ? JSON.parse(fs.readFileSync(path.join(dir, 'generation_config.json'), 'utf8')) : {};
const startId = genCfg.decoder_start_token_id ?? cfg.decoder_start_token_id;
const i64 = (a) => new Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
const logSoftmax = (row) => {
  let m = -Infinity; for (const x of row) m = Math.max(m, x);
  let s = 0; for (const x of row) s += Math.exp(x - m);
  const l = Math.log(s) + m; return Array.from(row, (x) => x - l);
};
const top5 = (row) => logSoftmax(row).map((lp, id) => ({ id, lp })).sort((a, b) => b.lp - a.lp).slice(0, 5)
  .map((e) => ({ id: e.id, logprob: Math.round(e.lp * 1e7) / 1e7 }));

const ref = {
  model: name, task: kind,
  generated_by: `@huggingface/transformers ${pkg.version} + onnxruntime-node ${ortPkg.version} (CPU)`,
  generate_options: opts, dtypes: {},
};
const old = fs.existsSync(path.join(dir, 'reference.json')) ? JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) : null;
for (const spec of dtypeArg.split(',')) {
  const [dtype, fileStem] = spec.split('=');
  const key = fileStem ? `${dtype}:${fileStem}` : dtype;
  const Auto = kind === 'seq2seq' ? AutoModelForSeq2SeqLM : AutoModelForCausalLM;
  const model = await Auto.from_pretrained(name, { dtype, local_files_only: true, ...(fileStem ? { model_file_name: fileStem } : {}) });
  const files = Object.values(model.sessions).map((s) => s.path ?? '').filter(Boolean);
  const entry = { prompts: [] };
  for (const text of prompts) {
    const enc = await tok(text);
    const input_ids = Array.from(enc.input_ids.data, Number);
    const out = await model.generate({ ...enc, ...opts });
    const all = Array.from(out.data, Number);
    let greedy, logits;
    if (kind === 'seq2seq') {
      greedy = all.slice(1);
      const o = await model({ ...enc, decoder_input_ids: i64([startId, ...greedy]) });
      logits = o.logits.to('float32');
    } else {
      greedy = all.slice(input_ids.length);
      const ids = [...input_ids, ...greedy];
      const o = await model({ input_ids: i64(ids), attention_mask: i64(ids.map(() => 1)) });
      logits = o.logits.to('float32');
    }
    const V = logits.dims[2];
    const first = kind === 'seq2seq' ? 0 : input_ids.length - 1;
    const steps = [];
    for (let s = 0; s < Math.min(STEPS, greedy.length); s++) {
      const row = logits.data.subarray((first + s) * V, (first + s + 1) * V);
      steps.push({ top5: top5(row), logits: Array.from(row, (x) => Math.round(x * 1e6) / 1e6) });
    }
    entry.prompts.push({ text, input_ids, greedy_ids: greedy, greedy_text: tok.decode(greedy, { skip_special_tokens: true }), steps });
    console.log(`${key.padEnd(28)} ${JSON.stringify(text)} -> ${JSON.stringify(greedy)} ${JSON.stringify(tok.decode(greedy, { skip_special_tokens: true }))}`);
  }
  ref.dtypes[key] = entry;
  await model.dispose?.();
}
if (old?.pytorch) ref.pytorch_stale = 'rerun torchref';
fs.writeFileSync(path.join(dir, 'reference.json'), JSON.stringify(ref) + '\n');
console.log('wrote', path.join(dir, 'reference.json'));

// Checks an exported decoder folder against its PyTorch-computed reference.json, with
// onnxruntime-node and transformers.js (run from the repository root):
//   node models/recipes/verify_decoder.mjs models/gpt2-code [logits.json]
//   node models/recipes/verify_decoder.mjs test/fixtures/tiny-llama-gqa
// 1. tokenizer.json (transformers.js) encodes every reference text to the reference input_ids;
// 2. ORT, past length 0: prompt log-probs == score_logprobs (|diff| <= 1e-4);
// 3. ORT, greedy decoding through the KV cache: greedy ids == greedy_ids, top-5 log-probs match,
//    and (if a logits.json from the recipe is given) raw logits per step within 1e-4;
// 4. ORT, a left-padded batch of two prompts gives the same last-token logits as single runs;
// 5. Softmax outputs tapped (onnx-proto) == reference attention (within 1e-4), one Softmax per layer;
// 6. transformers.js AutoModelForCausalLM.generate greedy ids == greedy_ids.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.resolve('package.json'));
const ort = require('onnxruntime-node');
const onnxProto = require('onnx-proto');
const { AutoTokenizer, AutoModelForCausalLM, Tensor, env } = await import('@huggingface/transformers');

const dir = path.resolve(process.argv[2] ?? 'models/gpt2-code');
const logitsFile = process.argv[3];
const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8'));
const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
const nLayer = cfg.n_layer ?? cfg.num_hidden_layers;
const kvHeads = cfg.num_key_value_heads ?? cfg.n_head;
const headDim = cfg.head_dim ?? (cfg.n_embd / cfg.n_head);
const eos = cfg.eos_token_id;
let failures = 0;
const check = (ok, msg) => { console.log(`${ok ? 'ok  ' : 'FAIL'} ${msg}`); if (!ok) failures++; };
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// 1. tokenizer
env.allowRemoteModels = false;
env.localModelPath = path.dirname(dir) + '/';
const name = path.basename(dir);
const tok = await AutoTokenizer.from_pretrained(name);
for (const p of [...ref.prompts, ref.attention]) {
  check(same(tok.encode(p.text), p.input_ids), `tokenizer ids ${JSON.stringify(p.text)}`);
}

const modelPath = path.join(dir, 'onnx', 'model.onnx');
const sess = await ort.InferenceSession.create(modelPath);
console.log('inputs', sess.inputNames.join(', '));
console.log('outputs', sess.outputNames.join(', '));

const i64 = (arr, dims) => new ort.Tensor('int64', BigInt64Array.from(arr.map(BigInt)), dims);
const emptyPast = (b) => {
  const f = {};
  for (let i = 0; i < nLayer; i++) for (const kv of ['key', 'value'])
    f[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [b, kvHeads, 0, headDim]);
  return f;
};
async function run(ids, past, pastLen, s = sess) {
  const T = ids.length;
  const feeds = {
    input_ids: i64(ids, [1, T]),
    attention_mask: i64(Array(pastLen + T).fill(1), [1, pastLen + T]),
    position_ids: i64(ids.map((_, i) => pastLen + i), [1, T]),
    ...(past ?? emptyPast(1)),
  };
  return s.run(feeds);
}
const logSoftmax = (row) => {
  let m = -Infinity; for (const x of row) m = Math.max(m, x);
  let s = 0; for (const x of row) s += Math.exp(x - m);
  const l = Math.log(s) + m; return Array.from(row, (x) => x - l);
};
const rowAt = (logits, t) => { const V = logits.dims[2]; return logits.data.subarray(t * V, (t + 1) * V); };
const presentsToPast = (out) => {
  const f = {};
  for (let i = 0; i < nLayer; i++) for (const kv of ['key', 'value']) f[`past_key_values.${i}.${kv}`] = out[`present.${i}.${kv}`];
  return f;
};
const argmax = (row) => { let b = 0; for (let i = 1; i < row.length; i++) if (row[i] > row[b]) b = i; return b; };

const rawLogits = logitsFile ? JSON.parse(fs.readFileSync(logitsFile, 'utf8')) : null;
let maxScore = 0, maxTop = 0, maxRaw = 0;
for (const [pi, p] of ref.prompts.entries()) {
  // 2. past length 0, whole prompt
  let out = await run(p.input_ids, null, 0);
  for (let t = 1; t < p.input_ids.length; t++) {
    const lp = logSoftmax(rowAt(out.logits, t - 1));
    maxScore = Math.max(maxScore, Math.abs(lp[p.input_ids[t]] - p.score_logprobs[t - 1]));
  }
  // 3. greedy through the KV cache
  const greedy = [];
  let last = rowAt(out.logits, p.input_ids.length - 1);
  let past = presentsToPast(out);
  let len = p.input_ids.length;
  for (let step = 0; step < p.greedy_ids.length; step++) {
    if (rawLogits && rawLogits[pi]) {
      const r = rawLogits[pi][step];
      for (let v = 0; v < r.length; v++) maxRaw = Math.max(maxRaw, Math.abs(r[v] - last[v]));
    }
    const nxt = argmax(last);
    if (step < p.top5.length) {
      const lp = logSoftmax(last);
      for (const e of p.top5[step]) maxTop = Math.max(maxTop, Math.abs(lp[e.id] - e.logprob));
    }
    greedy.push(nxt);
    if (nxt === eos) break;
    out = await run([nxt], past, len);
    past = presentsToPast(out);
    len += 1;
    last = rowAt(out.logits, 0);
  }
  check(same(greedy, p.greedy_ids), `ORT KV-cache greedy ids ${JSON.stringify(p.text)} -> ${JSON.stringify(tok.decode(greedy))}`);
}
check(maxScore <= 1e-4, `ORT past-0 prompt log-probs vs PyTorch: max |diff| ${maxScore.toExponential(2)}`);
check(maxTop <= 1e-4, `ORT KV-cache top-5 log-probs vs PyTorch: max |diff| ${maxTop.toExponential(2)}`);
if (rawLogits) check(maxRaw <= 1e-4, `ORT KV-cache raw logits vs PyTorch: max |diff| ${maxRaw.toExponential(2)}`);

// 4. left-padded batch of two prompts
{
  const a = ref.prompts[0].input_ids, b = ref.prompts[1].input_ids;
  const L = Math.max(a.length, b.length);
  const pad = (x) => [...Array(L - x.length).fill(eos), ...x];
  const mask = (x) => [...Array(L - x.length).fill(0), ...Array(x.length).fill(1)];
  const pos = (x) => [...Array(L - x.length).fill(1), ...x.map((_, i) => i)];
  const out = await sess.run({
    input_ids: i64([...pad(a), ...pad(b)], [2, L]),
    attention_mask: i64([...mask(a), ...mask(b)], [2, L]),
    position_ids: i64([...pos(a), ...pos(b)], [2, L]),
    ...emptyPast(2),
  });
  let md = 0;
  for (const [bi, x] of [a, b].entries()) {
    const single = rowAt((await run(x, null, 0)).logits, x.length - 1);
    const V = out.logits.dims[2];
    const row = out.logits.data.subarray((bi * L + L - 1) * V, (bi * L + L) * V);
    for (let v = 0; v < V; v++) md = Math.max(md, Math.abs(row[v] - single[v]));
  }
  check(md <= 1e-4, `ORT left-padded batch vs single: max |logit diff| ${md.toExponential(2)}`);
}

// 5. tapped Softmax outputs vs reference attention
{
  const model = onnxProto.onnx.ModelProto.decode(fs.readFileSync(modelPath));
  const sm = model.graph.node.filter((n) => n.opType === 'Softmax');
  console.log('Softmax nodes:', sm.map((n) => n.name).join(', '));
  check(sm.length === nLayer, `one Softmax per layer (${sm.length})`);
  for (const n of sm) model.graph.output.push(onnxProto.onnx.ValueInfoProto.create({
    name: n.output[0], type: { tensorType: { elemType: 1 } } }));
  const tapped = await ort.InferenceSession.create(Buffer.from(onnxProto.onnx.ModelProto.encode(model).finish()));
  const out = await run(ref.attention.input_ids, null, 0, tapped);
  let md = 0;
  for (const [li, n] of sm.entries()) {
    const t = out[n.output[0]];
    const [, H, Q, K] = t.dims;
    const L = ref.attention.layers[li];
    for (let h = 0; h < H; h++) for (let q = 0; q < Q; q++) for (let k = 0; k < K; k++)
      md = Math.max(md, Math.abs(t.data[(h * Q + q) * K + k] - L[h][q][k]));
    if (li === 0) console.log('attention tap dims', t.dims.join('x'));
  }
  check(md <= 1e-4, `tapped attention vs PyTorch reference: max |diff| ${md.toExponential(2)}`);
}

// 6. transformers.js generate
{
  const model = await AutoModelForCausalLM.from_pretrained(name);
  for (const p of ref.prompts) {
    const tt = (a) => new Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
    const input_ids = tt(p.input_ids);
    const attention_mask = tt(Array(p.input_ids.length).fill(1));
    const out = await model.generate({ input_ids, attention_mask, max_new_tokens: 20, do_sample: false });
    const ids = Array.from(out.data, Number).slice(p.input_ids.length);
    check(same(ids, p.greedy_ids), `transformers.js greedy ${JSON.stringify(p.text)}`);
  }
  // the plain tokenizer route, as an app would call it
  const enc = await tok(ref.prompts[0].text);
  const out = await model.generate({ ...enc, max_new_tokens: 20, do_sample: false });
  check(same(Array.from(out.data, Number).slice(ref.prompts[0].input_ids.length), ref.prompts[0].greedy_ids),
    'transformers.js greedy via tokenizer()');
  await model.dispose?.();
}
console.log(failures ? `${failures} FAILED` : 'ALL OK');
process.exit(failures ? 1 : 0);

// hub-qwen2-gqa (model-builder graph: GroupQueryAttention with rotary inside, no position_ids) against hub-qwen2's
// Optimum-style fp32 model.onnx (the same weights), in onnxruntime-node:
//   node models/recipes/hub_replicas/check_gqa_past.mjs [test/fixtures/hub-qwen2-gqa] [test/fixtures/hub-qwen2]
// For each prompt of the GQA fixture's reference.json (prompt ids + transformers.js's greedy ids):
//  (a) GQA: one pass over the prompt (empty past), then ONE token per pass feeding present.* back as past_key_values.*;
//      every logits row vs hub-qwen2's single no-past pass over the whole sequence;
//  (b) GQA: one no-past pass over the whole sequence vs the same;
//  (c) the final present.* of (a) vs hub-qwen2's present.* (both [1, kv_heads, total, head_dim], keys after RoPE);
//  (d) informative: the greedy continuation in several tokens per pass with a past (chunked prefill).
// Also compares the two fixtures' reference.json fp32 logits (transformers.js on each layout). Fails above 1e-4.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
const ort = createRequire(path.resolve('package.json'))('onnxruntime-node');
const ortVersion = createRequire(path.resolve('package.json'))('onnxruntime-node/package.json').version;
const dir = process.argv[2] ?? 'test/fixtures/hub-qwen2-gqa';
const refDir = process.argv[3] ?? 'test/fixtures/hub-qwen2';
const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
const L = cfg.num_hidden_layers, KVH = cfg.num_key_value_heads, HD = cfg.hidden_size / cfg.num_attention_heads, V = cfg.vocab_size;
const i64 = (a) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
const range = (a, b) => Array.from({ length: b - a }, (_, i) => a + i);
const maxDiff = (a, b) => {
  if (a.length !== b.length) return Infinity;
  let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m;
};
const names = (p) => range(0, L).flatMap((i) => [`${p}.${i}.key`, `${p}.${i}.value`]);
const emptyPast = () => Object.fromEntries(names('past_key_values').map((n) =>
  [n, new ort.Tensor('float32', new Float32Array(0), [1, KVH, 0, HD])]));
const pastFrom = (o) => Object.fromEntries(range(0, L).flatMap((i) => [
  [`past_key_values.${i}.key`, o[`present.${i}.key`]], [`past_key_values.${i}.value`, o[`present.${i}.value`]]]));

const gqa = await ort.InferenceSession.create(path.join(dir, 'onnx', 'model.onnx'));
const opt = await ort.InferenceSession.create(path.join(refDir, 'onnx', 'model.onnx'));
console.log(`onnxruntime-node ${ortVersion}; GQA graph inputs: ${gqa.inputNames.join(', ')}`);
const runG = (ids, past, start) => gqa.run({ input_ids: i64(ids), attention_mask: i64(Array(start + ids.length).fill(1)), ...past });
const runO = (ids) => opt.run({ input_ids: i64(ids), attention_mask: i64(Array(ids.length).fill(1)),
  position_ids: i64(range(0, ids.length)), ...emptyPast() });

const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8'));
const refO = JSON.parse(fs.readFileSync(path.join(refDir, 'reference.json'), 'utf8'));
let ok = true, worstInc = 0, worstFull = 0, worstPres = 0, worstChunk = 0, worstTjs = 0;
for (const [k, p] of ref.dtypes.fp32.prompts.entries()) {
  const ids = [...p.input_ids, ...p.greedy_ids], n0 = p.input_ids.length;
  const o = await runO(ids);
  // (a) prompt pass, then one token per pass
  let out = await runG(p.input_ids, emptyPast(), 0);
  const rows = [...out.logits.data];
  for (let t = n0; t < ids.length; t++) {
    out = await runG([ids[t]], pastFrom(out), t);
    rows.push(...out.logits.data);
  }
  const dInc = maxDiff(Float32Array.from(rows), o.logits.data);
  // (b) one pass over everything
  const full = await runG(ids, emptyPast(), 0);
  const dFull = maxDiff(full.logits.data, o.logits.data);
  // (c) presents after the incremental passes
  let dPres = 0;
  for (const n of names('present')) dPres = Math.max(dPres, maxDiff(out[n].data, o[n].data));
  const dims = out['present.0.key'].dims.join('x');
  // (d) chunked: prompt, then the greedy ids 4 at a time (informative)
  let dChunk;
  try {
    let c = await runG(p.input_ids, emptyPast(), 0);
    const crow = [...c.logits.data];
    for (let t = n0; t < ids.length; t += 4) {
      c = await runG(ids.slice(t, t + 4), pastFrom(c), t);
      crow.push(...c.logits.data);
    }
    dChunk = maxDiff(Float32Array.from(crow), o.logits.data);
  } catch (e) { dChunk = `error: ${String(e.message ?? e).split('\n')[0]}`; }
  // transformers.js on the two layouts
  let dTjs = 0;
  const po = refO.dtypes.fp32.prompts[k];
  const sameIds = po.text === p.text && JSON.stringify(po.greedy_ids) === JSON.stringify(p.greedy_ids);
  for (const [s, st] of p.steps.entries()) dTjs = Math.max(dTjs, maxDiff(st.logits, po.steps[s].logits));
  console.log(`${JSON.stringify(p.text)} (${n0} + ${p.greedy_ids.length} ids): prompt pass + 1 token/pass vs hub-qwen2 ` +
    `max |dlogit| ${dInc.toExponential(2)}; one pass ${dFull.toExponential(2)}; present (${dims}) ${dPres.toExponential(2)}; ` +
    `4 tokens/pass with past (informative) ${typeof dChunk === 'number' ? dChunk.toExponential(2) : dChunk}; ` +
    `transformers.js greedy ids equal hub-qwen2's ${sameIds}, reference logits ${dTjs.toExponential(2)}`);
  worstInc = Math.max(worstInc, dInc); worstFull = Math.max(worstFull, dFull); worstPres = Math.max(worstPres, dPres);
  worstTjs = Math.max(worstTjs, dTjs);
  if (typeof dChunk === 'number') worstChunk = Math.max(worstChunk, dChunk);
  ok &&= dInc <= 1e-4 && dFull <= 1e-4 && dPres <= 1e-4 && dTjs <= 1e-4 && sameIds && dims === `1x${KVH}x${ids.length}x${HD}`;
}
console.log(ok ? `GQA CHECK OK (max |dlogit| incremental ${worstInc.toExponential(2)}, one pass ${worstFull.toExponential(2)}, ` +
  `present ${worstPres.toExponential(2)}, transformers.js reference ${worstTjs.toExponential(2)})` : 'GQA CHECK FAILED');
process.exit(ok ? 0 : 1);

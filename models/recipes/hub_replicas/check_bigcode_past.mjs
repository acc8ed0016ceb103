// Multi-query cache check for hub-bigcode's onnx/model.onnx (Optimum gpt_bigcode I/O: one
// past_key_values.{i}.key_value [batch, past_len, 2*head_dim] per layer, key and value concatenated on the last axis).
//   node models/recipes/hub_replicas/check_bigcode_past.mjs test/fixtures/hub-bigcode
// A no-past pass over 5 prompt tokens (past of length 0), then 3 new tokens (a) in ONE pass with that past,
// (b) in 3 single-token passes, each feeding the previous present.*; (c) one no-past pass over all 8 tokens.
// Prints max |logit diff| (a vs b, a vs c) and max |present diff| (a vs b); fp32 must agree within 1e-4.
// The q8 file is printed for information only: DynamicQuantizeLinear picks its scale from the whole activation
// tensor, so a 3-token pass and three 1-token passes legitimately quantize differently.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
const ort = createRequire(path.resolve('package.json'))('onnxruntime-node');
const dir = process.argv[2] ?? 'test/fixtures/hub-bigcode';
const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
const L = cfg.n_layer, KV = 2 * (cfg.n_embd / cfg.n_head), V = cfg.vocab_size;
const i64 = (a) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
const range = (a, b) => Array.from({ length: b - a }, (_, i) => a + i);
const maxDiff = (a, b) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; };
const emptyPast = () => Object.fromEntries(range(0, L).map((i) =>
  [`past_key_values.${i}.key_value`, new ort.Tensor('float32', new Float32Array(0), [1, 0, KV])]));
const pastFrom = (o) => Object.fromEntries(range(0, L).map((i) => [`past_key_values.${i}.key_value`, o[`present.${i}.key_value`]]));

const prompt = [287, 376, 26, 96, 284], added = [17, 402, 88];
let ok = true;
for (const [file, strict] of [['model.onnx', true], ['model_quantized.onnx', false]]) {
  const s = await ort.InferenceSession.create(path.join(dir, 'onnx', file));
  const run = (ids, past, start) => s.run({ input_ids: i64(ids), attention_mask: i64(Array(start + ids.length).fill(1)),
    position_ids: i64(range(start, start + ids.length)), ...past });
  const p0 = await run(prompt, emptyPast(), 0);
  const multi = await run(added, pastFrom(p0), 5);
  let past = pastFrom(p0), rows = [], last;
  for (let t = 0; t < 3; t++) {
    last = await run([added[t]], past, 5 + t);
    rows.push(...last.logits.data);
    past = pastFrom(last);
  }
  const full = await run([...prompt, ...added], emptyPast(), 0);
  const dSeq = maxDiff(multi.logits.data, rows);
  const dFull = maxDiff(multi.logits.data, full.logits.data.subarray(5 * V));
  let dPres = 0;
  for (let i = 0; i < L; i++) dPres = Math.max(dPres, maxDiff(multi[`present.${i}.key_value`].data, last[`present.${i}.key_value`].data));
  const dims = multi['present.0.key_value'].dims.join('x');
  console.log(`${file}: present.0.key_value ${dims}; 3 new tokens in one pass with past vs 3 single-token passes: max |dlogit| ` +
    `${dSeq.toExponential(2)}, max |dpresent| ${dPres.toExponential(2)}; vs one no-past pass over all 8: max |dlogit| ` +
    `${dFull.toExponential(2)}${strict ? '' : ' (informative)'}`);
  if (strict) ok &&= dSeq <= 1e-4 && dFull <= 1e-4 && dPres <= 1e-4 && dims === `1x8x${KV}`;
}
process.exit(ok ? 0 : 1);

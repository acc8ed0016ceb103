// Is the with-past branch of hub-gpt2-merged's decoder_model_merged.onnx causal over SEVERAL new tokens?
// GPT-2 builds its causal mask from the lengths (bias[key_len - query_len : key_len, :key_len]), so the graph
// traced with one new token stays causal for more (Marian's with-past branch has no self-attention mask at all).
//   node models/recipes/hub_replicas/check_gpt2_causal.mjs test/fixtures/hub-gpt2-merged
// no-past pass over 5 prompt tokens, then 3 new tokens (a) in ONE with-past pass, (b) in 3 single-token with-past
// passes, (c) a no-past pass over all 8: prints max |logit diff| (a vs b, a vs c) and of present.* (a vs b).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
const ort = createRequire(path.resolve('package.json'))('onnxruntime-node');
const dir = process.argv[2] ?? 'test/fixtures/hub-gpt2-merged';
const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
const s = await ort.InferenceSession.create(path.join(dir, 'onnx', 'decoder_model_merged.onnx'));
const L = cfg.n_layer, H = cfg.n_head, HD = cfg.n_embd / cfg.n_head, V = cfg.vocab_size;
const i64 = (a) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
const emptyPast = () => Object.fromEntries([...Array(L).keys()].flatMap((i) => ['key', 'value'].map((k) =>
  [`past_key_values.${i}.${k}`, new ort.Tensor('float32', new Float32Array(0), [1, H, 0, HD])])));
const pastFrom = (o) => Object.fromEntries([...Array(L).keys()].flatMap((i) => ['key', 'value'].map((k) =>
  [`past_key_values.${i}.${k}`, o[`present.${i}.${k}`]])));
const run = (ids, total, past, cache) => s.run({ input_ids: i64(ids), attention_mask: i64(Array(total).fill(1)),
  ...past, use_cache_branch: new ort.Tensor('bool', [cache], [1]) });
const maxDiff = (a, b) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; };

const prompt = [33, 71, 5, 260, 301], added = [17, 402, 88];
const p0 = await run(prompt, 5, emptyPast(), false);
const multi = await run(added, 8, pastFrom(p0), true);
let past = pastFrom(p0), rows = [], last;
for (let t = 0; t < 3; t++) {
  last = await run([added[t]], 6 + t, past, true);
  rows.push(...last.logits.data);
  past = pastFrom(last);
}
const full = await run([...prompt, ...added], 8, emptyPast(), false);
const dSeq = maxDiff(multi.logits.data, rows);
const dFull = maxDiff(multi.logits.data, full.logits.data.subarray(5 * V));
let dPres = 0;
for (let i = 0; i < L; i++) for (const k of ['key', 'value']) dPres = Math.max(dPres, maxDiff(multi[`present.${i}.${k}`].data, last[`present.${i}.${k}`].data));
console.log(`3 new tokens in one with-past pass vs 3 single-token passes: max |dlogit| ${dSeq.toExponential(2)}, max |dpresent| ${dPres.toExponential(2)}; vs one no-past pass over all 8: max |dlogit| ${dFull.toExponential(2)}`);
process.exit(dSeq <= 1e-4 && dFull <= 1e-4 && dPres <= 1e-4 ? 0 : 1);

// Is the with-past branch of a seq2seq fixture's decoder_model_merged.onnx causal over SEVERAL new tokens?
//   node models/recipes/hub_replicas/check_seq2seq_past.mjs <fixture dir> <causal|noncausal>
// Encoder over 6 ids; decoder no-past pass over 3 ids, then 3 new ids (a) in ONE with-past pass vs (b) one no-past
// pass over all 6. T5 builds its causal mask from the lengths (expect max |dlogit| <= 1e-4: "causal"); BART/Marian
// traced with one new token have no self-attention mask in that branch (expect > 1e-4: "noncausal"). Also checks
// 3 single-token with-past passes against (b) (must hold for both kinds).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
const ort = createRequire(path.resolve('package.json'))('onnxruntime-node');
const [dir, expect] = process.argv.slice(2);
const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
const t5 = cfg.model_type === 't5';
const L = t5 ? cfg.num_decoder_layers : cfg.decoder_layers;
const H = t5 ? cfg.num_heads : cfg.decoder_attention_heads;
const HD = t5 ? cfg.d_kv : cfg.d_model / H;
const V = cfg.vocab_size;
const enc = await ort.InferenceSession.create(path.join(dir, 'onnx', 'encoder_model.onnx'));
const dec = await ort.InferenceSession.create(path.join(dir, 'onnx', 'decoder_model_merged.onnx'));
const i64 = (a) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
const src = [5, 40, 77, 120, 9, 2];
const { last_hidden_state } = await enc.run({ input_ids: i64(src), attention_mask: i64(src.map(() => 1)) });
const names = [...Array(L).keys()].flatMap((i) => ['decoder', 'encoder'].flatMap((p) => ['key', 'value'].map((k) => [i, p, k])));
const empty = () => Object.fromEntries(names.map(([i, p, k]) => [`past_key_values.${i}.${p}.${k}`,
  new ort.Tensor('float32', new Float32Array(0), [1, H, 0, HD])]));
const pastFrom = (o, encPast) => Object.fromEntries(names.map(([i, p, k]) => [`past_key_values.${i}.${p}.${k}`,
  p === 'encoder' ? encPast[`present.${i}.encoder.${k}`] : o[`present.${i}.decoder.${k}`]]));
const run = (ids, past, cache) => dec.run({ encoder_attention_mask: i64(src.map(() => 1)), input_ids: i64(ids),
  encoder_hidden_states: last_hidden_state, ...past, use_cache_branch: new ort.Tensor('bool', [cache], [1]) });
const maxDiff = (a, b) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; };
const start = cfg.decoder_start_token_id, first = [start, 30, 61], added = [17, 99, 45];
const p0 = await run(first, empty(), false);
const multi = await run(added, pastFrom(p0, p0), true);
const full = await run([...first, ...added], empty(), false);
let past = pastFrom(p0, p0), rows = [];
for (const t of added) { const o = await run([t], past, true); rows.push(...o.logits.data); past = pastFrom(o, p0); }
const ref = full.logits.data.subarray(3 * V);
const dMulti = maxDiff(multi.logits.data, ref), dSingle = maxDiff(rows, ref);
console.log(`${path.basename(dir)}: 3 single-token with-past passes vs no-past: max |dlogit| ${dSingle.toExponential(2)}; ` +
  `3 new tokens in ONE with-past pass vs no-past: max |dlogit| ${dMulti.toExponential(2)} (expected: ${expect})`);
const ok = dSingle <= 1e-4 && (expect === 'causal' ? dMulti <= 1e-4 : dMulti > 1e-4);
console.log(ok ? 'PAST CHECK OK' : 'PAST CHECK FAILED');
process.exit(ok ? 0 : 1);

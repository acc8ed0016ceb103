// Attention from a GroupQueryAttention graph: onnxruntime's GQA has an optional 4th output `output_qk` whose content
// the `qk_output` attribute picks (1: scaled Q·K^T with the causal mask, 2: after softmax). This decodes
// hub-qwen2-gqa's onnx/model.onnx with onnx-proto, gives every GroupQueryAttention node that output with
// qk_output=2, adds it to graph.output, runs the re-encoded graph in onnxruntime-node over
// reference.json.pytorch.attention.ids (one pass, empty past) and compares with PyTorch's softmax rows.
//   node models/recipes/hub_replicas/check_gqa_attention.mjs [test/fixtures/hub-qwen2-gqa]
// Shape [batch, num_heads (query heads), q, total]; must agree within 1e-4 (PyTorch's rows are rounded to 1e-7).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
const req = createRequire(path.resolve('package.json'));
const ort = req('onnxruntime-node');
const { onnx } = req('onnx-proto');
const dir = process.argv[2] ?? 'test/fixtures/hub-qwen2-gqa';
const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
const L = cfg.num_hidden_layers, KVH = cfg.num_key_value_heads, HD = cfg.hidden_size / cfg.num_attention_heads;
const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8'));
const att = ref.pytorch?.attention;
if (!att) { console.log('reference.json has no pytorch.attention: run make_qwen2_gqa.py torchref first'); process.exit(1); }

const model = onnx.ModelProto.decode(fs.readFileSync(path.join(dir, 'onnx', 'model.onnx')));
const taps = [];
for (const n of model.graph.node) {
  if (n.opType !== 'GroupQueryAttention') continue;
  while (n.output.length < 3) n.output.push('');
  const name = `${n.name}/output_qk`;
  n.output.push(name);
  n.attribute.push(onnx.AttributeProto.create({ name: 'qk_output', type: onnx.AttributeProto.AttributeType.INT, i: 2 }));
  model.graph.output.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }));
  taps.push(name);
}
const s = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish());
const i64 = (a) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
const feeds = { input_ids: i64(att.ids), attention_mask: i64(att.ids.map(() => 1)) };
for (let i = 0; i < L; i++) for (const k of ['key', 'value']) feeds[`past_key_values.${i}.${k}`] = new ort.Tensor('float32', new Float32Array(0), [1, KVH, 0, HD]);
const out = await s.run(feeds);
let worst = 0, rowsum = 0;
const T = att.ids.length;
for (const [l, name] of taps.entries()) {
  const t = out[name];
  const [b, h, qn, kn] = t.dims;
  if (b !== 1 || h !== att.layers[l].length || qn !== T || kn !== T) { console.log(`${name}: dims ${t.dims}`); process.exit(1); }
  for (let hh = 0; hh < h; hh++) for (let qi = 0; qi < T; qi++) {
    let sum = 0;
    for (let k = 0; k < T; k++) {
      const v = t.data[(hh * T + qi) * T + k];
      sum += v;
      worst = Math.max(worst, Math.abs(v - att.layers[l][hh][qi][k]));
    }
    rowsum = Math.max(rowsum, Math.abs(sum - 1));
  }
}
console.log(`GroupQueryAttention output_qk (qk_output=2, onnxruntime-node ${req('onnxruntime-node/package.json').version}): ` +
  `${taps.length} layers x [1, ${att.layers[0].length}, ${T}, ${T}] vs PyTorch attention: max |diff| ${worst.toExponential(2)}, ` +
  `max |row sum - 1| ${rowsum.toExponential(2)}`);
console.log(worst <= 1e-4 ? 'GQA ATTENTION OK' : 'GQA ATTENTION FAILED');
process.exit(worst <= 1e-4 ? 0 : 1);

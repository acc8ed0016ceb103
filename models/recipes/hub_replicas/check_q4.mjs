// Runs the two graphs check_q4.py wrote (MatMulNBits from the fixture vs MatMul with our dequantized weights)
// in onnxruntime-node: equal outputs mean ORT reads the packed layout as hub_quant.py writes it.
// Optional args: the two graphs (check_bnb4.py writes /tmp/_bnb4a.onnx /tmp/_bnb4b.onnx for MatMulBnb4).
import path from 'node:path';
import { createRequire } from 'node:module';
const ort = createRequire(path.resolve('package.json'))('onnxruntime-node');
const [fa = '/tmp/_q4a.onnx', fb = '/tmp/_q4b.onnx'] = process.argv.slice(2);
const a = await ort.InferenceSession.create(fa);
const b = await ort.InferenceSession.create(fb);
const K = a.inputMetadata?.[0]?.shape?.[1] ?? 64;
const x = new ort.Tensor('float32', Float32Array.from({ length: 3 * K }, (_, i) => Math.sin(i * 0.37)), [3, K]);
const ya = (await a.run({ x })).y.data, yb = (await b.run({ x })).y.data;
let md = 0; for (let i = 0; i < ya.length; i++) md = Math.max(md, Math.abs(ya[i] - yb[i]));
console.log(`ORT ${path.basename(fa)} (${fa.includes('bnb4') ? 'MatMulBnb4' : 'MatMulNBits'}) vs MatMul(dequantized): max |diff| ${md.toExponential(2)}`);
process.exit(md <= 1e-4 ? 0 : 1);

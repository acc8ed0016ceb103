import * as ort from 'onnxruntime-node';
import type { AttentionOutput } from './modelFiles';
import type { StepAttention, StepResiduals, StepResult } from './modelAdapter';

export function int64Tensor(rows: readonly (readonly number[])[]): ort.Tensor {
  const width = rows[0]?.length ?? 0;
  const data = new BigInt64Array(rows.length * width);
  rows.forEach((row, r) => row.forEach((v, c) => (data[r * width + c] = BigInt(v))));
  return new ort.Tensor('int64', data, [rows.length, width]);
}

export function filledInt64(dims: readonly number[], value: number): ort.Tensor {
  const size = dims.reduce((a, b) => a * b, 1);
  return new ort.Tensor('int64', new BigInt64Array(size).fill(BigInt(value)), dims);
}

/** The float element types a graph's caches and logits come in (fp16 exports keep float16 caches). */
export type FloatType = 'float32' | 'float16';

function emptyFloat(dims: readonly number[], type: FloatType = 'float32'): ort.Tensor {
  return type === 'float16' ? new ort.Tensor('float16', new Uint16Array(0), dims) : new ort.Tensor('float32', new Float32Array(0), dims);
}

/** The declared element type of a graph input (float16 or float32), for the empty caches fed at the start. */
function declaredFloatType(session: ort.InferenceSession, input: string | undefined): FloatType {
  const meta = input === undefined ? undefined : session.inputMetadata.find((m) => m.name === input);
  return meta?.isTensor && meta.type === 'float16' ? 'float16' : 'float32';
}

const HALF_TABLE = (() => {
  // Every float16 bit pattern's value: 256 KiB, built once, exact.
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    table[h] =
      exponent === 0 ? sign * 2 ** -14 * (fraction / 1024) : exponent === 31 ? (fraction ? NaN : sign * Infinity) : sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
  }
  return table;
})();

/** A float tensor's data as float32 (float16 data arrives as the raw bit patterns in a Uint16Array). */
export function floatData(t: ort.Tensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') {
    const bits = t.data as Uint16Array;
    const out = new Float32Array(bits.length);
    for (let i = 0; i < bits.length; i++) out[i] = HALF_TABLE[bits[i]];
    return out;
  }
  throw new Error(`Expected a float tensor, got ${t.type}.`);
}

type CacheData = Float32Array | Uint16Array | BigInt64Array;

/**
 * Gathers rows along the first (batch) axis: row i of the result is row `rows[i]` of `t`. With as
 * many rows as before it works in place (the tensor is the session's own): rows that stay are not
 * touched, rows that move are copied once, and a row that is overwritten before it is read is set
 * aside first. Beam search moves a few rows per step, so this copies less than a fresh tensor would.
 */
export function gatherRows(t: ort.Tensor, rows: readonly number[]): ort.Tensor {
  const dims = t.dims;
  const rowSize = dims.slice(1).reduce((a, b) => a * b, 1);
  const src = t.data as CacheData;
  const row = (data: CacheData, r: number): CacheData => data.subarray(r * rowSize, (r + 1) * rowSize);
  if (rows.length !== dims[0]) {
    const out = new (src.constructor as { new (n: number): CacheData })(rows.length * rowSize);
    rows.forEach((r, i) => (out as Float32Array).set(row(src, r) as Float32Array, i * rowSize));
    return new ort.Tensor(t.type as 'float32', out as Float32Array, [rows.length, ...dims.slice(1)]);
  }
  const setAside = new Map<number, CacheData>();
  rows.forEach((r, i) => {
    if (r !== i && rows[r] !== r && !setAside.has(r)) setAside.set(r, row(src, r).slice());
  });
  rows.forEach((r, i) => {
    if (r !== i) (src as Float32Array).set((setAside.get(r) ?? row(src, r)) as Float32Array, i * rowSize);
  });
  return t;
}

/**
 * Keeps the first `keep` positions along `axis` of a cache tensor (axis 2 of `[rows, heads, positions, headDim]`),
 * compacted inside the tensor's own buffer (the session's own: no allocation, and the first block
 * stays where it is); the result views the start of that buffer.
 */
export function keepPositions(t: ort.Tensor, keep: number, axis = 2): ort.Tensor {
  const dims = t.dims;
  const positions = dims[axis];
  if (keep >= positions) return t;
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const data = t.data as CacheData;
  for (let o = 1; o < outer; o++) data.copyWithin(o * keep * inner, o * positions * inner, (o * positions + keep) * inner);
  return new ort.Tensor(t.type as 'float32', data.subarray(0, outer * keep * inner) as Float32Array, [...dims.slice(0, axis), keep, ...dims.slice(axis + 1)]);
}

/**
 * How a cache input is laid out, from the graph's declared shape (as transformers.js reads it): the
 * batch axis, the axis that grows with the positions, fixed sizes. `[batch, heads, past, headDim]`
 * for most models; GPT-BigCode's multi-query `key_value` is `[batch, past, 2·headDim]`.
 */
export interface CacheLayout {
  readonly dims: readonly (number | string)[];
  readonly type: FloatType;
  /** The axis of the past positions (the one that grows). */
  readonly positionAxis: number;
}

export function cacheLayout(session: ort.InferenceSession, input: string, fallback: readonly number[]): CacheLayout {
  const meta = session.inputMetadata.find((m) => m.name === input);
  const declared = meta?.isTensor ? (meta.shape as readonly (number | string)[]) : undefined;
  const dims = declared && declared.length >= 3 ? declared : ['batch_size', ...fallback.slice(1)];
  const isBatch = (d: number | string, i: number): boolean => typeof d === 'string' && (i === 0 || /batch/i.test(d));
  let positionAxis = dims.findIndex((d, i) => typeof d === 'string' && !isBatch(d, i));
  if (positionAxis < 0) positionAxis = Math.min(2, dims.length - 2);
  return { dims, type: declaredFloatType(session, input), positionAxis };
}

/** An empty cache for `rows` sequences: the batch axis is `rows`, the position axis 0, the others as declared. */
export function emptyCache(layout: CacheLayout, rows: number, fixed: readonly number[]): ort.Tensor {
  const dims = layout.dims.map((d, i) => {
    if (i === layout.positionAxis) return 0;
    if (typeof d === 'number' && d > 0) return d;
    if (i === 0) return rows;
    return fixed[i] ?? 0;
  });
  return emptyFloat(dims, layout.type);
}

/** Reads a fixed dimension of a graph input from its declared shape, if it is a number. */
export function declaredDim(session: ort.InferenceSession, input: string, axis: number): number | undefined {
  const meta = session.inputMetadata.find((m) => m.name === input);
  if (!meta || !meta.isTensor) return undefined;
  const d = meta.shape[axis];
  return typeof d === 'number' && d > 0 ? d : undefined;
}

/**
 * A decoder run's outputs as the loop wants them: the last position's logits of every row, the
 * logits of every position of row 0 when asked (scoring), and the tapped attention outputs.
 */
export function stepResult(
  out: Record<string, ort.Tensor>,
  attentionOutputs: readonly AttentionOutput[],
  allPositions: boolean,
  residualOutputs: readonly string[] = [],
): StepResult {
  const logitsTensor = out.logits;
  const [rows, positions, vocab] = logitsTensor.dims as [number, number, number];
  const all = floatData(logitsTensor);
  const logits = new Float32Array(rows * vocab);
  for (let r = 0; r < rows; r++) logits.set(all.subarray((r * positions + positions - 1) * vocab, (r * positions + positions) * vocab), r * vocab);
  const attentions = attentionOutputs.map((output) => attentionBlock(output, out[output.name]));
  return { logits, allLogits: allPositions ? all.subarray(0, positions * vocab) : undefined, vocab, attentions, residuals: residualsOf(out, residualOutputs) };
}

/** The tapped block outputs of a step, as returned (`[rows, positions, hidden]` each). */
function residualsOf(out: Record<string, ort.Tensor>, names: readonly string[]): StepResiduals | undefined {
  if (names.length === 0) return undefined;
  const first = out[names[0]];
  const [rows, positions, hidden] = first.dims as [number, number, number];
  const type = first.type === 'float16' ? 'float16' : 'float32';
  if (first.type !== type) throw new Error(`Expected a float residual stream, got ${first.type}.`);
  return { layers: names.map((n) => out[n].data as Float32Array | Uint16Array), type, rows, positions, hidden };
}

/** A tapped attention output as `[batch, heads, query, key]` probabilities, whatever its layout. */
export function attentionBlock(output: AttentionOutput, tensor: ort.Tensor): StepAttention {
  const data = output.scores ? rowSoftmax(floatData(tensor).slice(), tensor.dims.at(-1) ?? 1) : floatData(tensor);
  if (!output.queryMajor) return { output, data, dims: tensor.dims };
  const [batch, queries, heads, keys] = tensor.dims as [number, number, number, number];
  const out = new Float32Array(data.length);
  for (let b = 0; b < batch; b++)
    for (let q = 0; q < queries; q++)
      for (let h = 0; h < heads; h++) {
        const from = ((b * queries + q) * heads + h) * keys;
        out.set(data.subarray(from, from + keys), ((b * heads + h) * queries + q) * keys);
      }
  return { output, data: out, dims: [batch, heads, queries, keys] };
}

/** Softmax of every row of `width` values, in place (masked scores, the float minimum, become 0). */
function rowSoftmax(values: Float32Array, width: number): Float32Array {
  for (let start = 0; start < values.length; start += width) {
    let max = -Infinity;
    for (let i = start; i < start + width; i++) if (values[i] > max) max = values[i];
    let sum = 0;
    for (let i = start; i < start + width; i++) sum += values[i] = Math.exp(values[i] - max);
    for (let i = start; i < start + width; i++) values[i] /= sum;
  }
  return values;
}

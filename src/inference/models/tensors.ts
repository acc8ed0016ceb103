import * as ort from 'onnxruntime-node';
import type { AttentionOutput } from './modelFiles';
import type { StepResult } from './modelAdapter';

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

export function emptyFloat(dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', new Float32Array(0), dims);
}

/** Gathers rows along the first (batch) axis: row i of the result is row `rows[i]` of `t`. */
export function gatherRows(t: ort.Tensor, rows: readonly number[]): ort.Tensor {
  const dims = t.dims;
  const rowSize = dims.slice(1).reduce((a, b) => a * b, 1);
  const src = t.data as Float32Array | BigInt64Array;
  const out = new (src.constructor as { new (n: number): Float32Array | BigInt64Array })(rows.length * rowSize);
  rows.forEach((r, i) => (out as Float32Array).set((src as Float32Array).subarray(r * rowSize, (r + 1) * rowSize), i * rowSize));
  return new ort.Tensor(t.type as 'float32', out as Float32Array, [rows.length, ...dims.slice(1)]);
}

/** Keeps the first `keep` positions of a `[rows, heads, positions, headDim]` cache tensor. */
export function keepPositions(t: ort.Tensor, keep: number): ort.Tensor {
  const [rows, heads, positions, headDim] = t.dims as [number, number, number, number];
  if (keep >= positions) return t;
  const src = t.data as Float32Array;
  const out = new Float32Array(rows * heads * keep * headDim);
  for (let rh = 0; rh < rows * heads; rh++) out.set(src.subarray(rh * positions * headDim, (rh * positions + keep) * headDim), rh * keep * headDim);
  return new ort.Tensor('float32', out, [rows, heads, keep, headDim]);
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
): StepResult {
  const logitsTensor = out.logits;
  const [rows, positions, vocab] = logitsTensor.dims as [number, number, number];
  const all = logitsTensor.data as Float32Array;
  const logits = new Float32Array(rows * vocab);
  for (let r = 0; r < rows; r++) logits.set(all.subarray((r * positions + positions - 1) * vocab, (r * positions + positions) * vocab), r * vocab);
  const attentions = attentionOutputs.map((output) => ({ output, data: out[output.name].data as Float32Array, dims: out[output.name].dims }));
  return { logits, allLogits: allPositions ? all.subarray(0, positions * vocab) : undefined, vocab, attentions };
}

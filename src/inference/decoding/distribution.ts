/** Numerically stable log-softmax of `logits[offset, offset + size)`. */
export function logSoftmax(logits: Float32Array, offset = 0, size = logits.length - offset): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < size; i++) if (logits[offset + i] > max) max = logits[offset + i];
  let sum = 0;
  for (let i = 0; i < size; i++) sum += Math.exp(logits[offset + i] - max);
  const logZ = max + Math.log(sum);
  const out = new Float64Array(size);
  for (let i = 0; i < size; i++) out[i] = logits[offset + i] - logZ;
  return out;
}

/** log Σ exp(x): the log of the softmax's normaliser. */
export function logSumExp(values: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp(values[i] - max);
  return max + Math.log(sum);
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Indices of the `k` largest values, largest first (ties: lower index first). */
export function topKIndices(values: ArrayLike<number>, k: number): number[] {
  const n = Math.min(k, values.length);
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (idx.length === n && v <= values[idx[n - 1]]) continue;
    let pos = idx.length === n ? n - 1 : idx.length;
    while (pos > 0 && values[idx[pos - 1]] < v) pos--;
    idx.splice(pos, 0, i);
    if (idx.length > n) idx.pop();
  }
  return idx;
}

/**
 * Arithmetic behind the attention inspector: averaging heads, the colour ramp, turning a matrix
 * into RGBA pixels, and the step view of a generation. No DOM dependency, so it is unit-tested.
 */
import type { AttentionMap } from '../inference/protocol';

/** Rows of weights: number arrays, or Float32Array views of packed maps (packedAttention.ts). */
export type Matrix = readonly ArrayLike<number>[];

export interface MapShape {
  readonly layers: number;
  readonly heads: number;
  readonly queries: number;
  readonly keys: number;
}

export function mapShape(map: { readonly weights: readonly (readonly Matrix[])[] }): MapShape {
  const layers = map.weights.length;
  const heads = map.weights[0]?.length ?? 0;
  const queries = map.weights[0]?.[0]?.length ?? 0;
  const keys = map.weights[0]?.[0]?.[0]?.length ?? 0;
  return { layers, heads, queries, keys };
}

/** Element-wise mean of the heads of one layer. */
export function averageHeads(heads: readonly Matrix[]): number[][] {
  if (heads.length === 0) return [];
  // Plain loops: a 500-token layer is 250 000 cells per head.
  const first = heads[0]!;
  const n = heads.length;
  const out: number[][] = new Array(first.length);
  for (let q = 0; q < first.length; q++) {
    const width = first[q]!.length;
    const row = new Array<number>(width).fill(0);
    for (const head of heads) {
      const src = head[q]!;
      for (let k = 0; k < width; k++) row[k]! += src[k]!;
    }
    for (let k = 0; k < width; k++) row[k]! /= n;
    out[q] = row;
  }
  return out;
}

/**
 * `m` shrunk to at most `size` × `size` cells, each the maximum of the block it covers (so a
 * single strong weight stays visible in a thumbnail). Small matrices are returned as they are.
 */
export function maxPool(m: Matrix, size: number): Matrix {
  const rows = m.length;
  const cols = m[0]?.length ?? 0;
  if (rows <= size && cols <= size) return m;
  const outRows = Math.min(rows, size);
  const outCols = Math.min(cols, size);
  const out: number[][] = Array.from({ length: outRows }, () => new Array<number>(outCols).fill(0));
  for (let q = 0; q < rows; q++) {
    const dst = out[Math.floor((q * outRows) / rows)]!;
    const src = m[q]!;
    for (let k = 0; k < cols; k++) {
      const j = Math.floor((k * outCols) / cols);
      if (src[k]! > dst[j]!) dst[j] = src[k]!;
    }
  }
  return out;
}

export function matrixMax(m: Matrix): number {
  let max = 0;
  for (const row of m) for (let k = 0; k < row.length; k++) if (row[k]! > max) max = row[k]!;
  return max;
}

// Viridis, sampled at five stops: readable on dark and light themes and for colour-blind users.
const RAMP: readonly (readonly [number, number, number])[] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

/** Colour of a value in [0, 1]. */
export function rampColor(value: number): [number, number, number] {
  const v = Math.min(1, Math.max(0, Number.isFinite(value) ? value : 0));
  const x = v * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const a = RAMP[i]!;
  const b = RAMP[i + 1]!;
  return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f), Math.round(a[2] + (b[2] - a[2]) * f)];
}

export interface RenderOptions {
  /** Rows from this query index on are drawn faint: the step view (what the model has not reached yet). */
  readonly rowsShown?: number;
  /** Scale: values are divided by this (defaults to the matrix maximum). */
  readonly scale?: number;
  /**
   * Exponent applied to the scaled value. Below 1 it lifts weak weights: attention often puts most
   * of its mass on one token (the first), which would leave every other cell dark.
   */
  readonly gamma?: number;
}

/** The ramp at 256 levels, so that a large map costs a table look-up per cell. */
const RAMP_TABLE: Uint8Array = (() => {
  const t = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) t.set(rampColor(i / 255), i * 3);
  return t;
})();

/** Opacity of the rows after the current step. */
export const FUTURE_ALPHA = 40;

/** RGBA pixels for `m`, one pixel per cell, width = keys and height = queries. */
export function matrixToRgba(m: Matrix, options: RenderOptions = {}): Uint8ClampedArray {
  const height = m.length;
  const width = m[0]?.length ?? 0;
  const pixels = new Uint8ClampedArray(width * height * 4);
  const scale = options.scale ?? (matrixMax(m) || 1);
  const rows = Math.min(height, options.rowsShown ?? height);
  const gamma = options.gamma ?? 0.5;
  for (let q = 0; q < height; q++) {
    const alpha = q < rows ? 255 : FUTURE_ALPHA;
    const row = m[q]!;
    for (let k = 0; k < width; k++) {
      const o = (q * width + k) * 4;
      const v = Math.pow(Math.min(1, Math.max(0, (row[k] ?? 0) / scale)), gamma);
      const t = Math.round((Number.isFinite(v) ? v : 0) * 255) * 3;
      pixels[o] = RAMP_TABLE[t]!;
      pixels[o + 1] = RAMP_TABLE[t + 1]!;
      pixels[o + 2] = RAMP_TABLE[t + 2]!;
      pixels[o + 3] = alpha;
    }
  }
  return pixels;
}

/** The colour a weight is drawn in, as matrixToRgba draws it (the legend's stops). */
export function weightColor(weight: number, scale: number, gamma = 0.5): [number, number, number] {
  return rampColor(Math.pow(Math.min(1, Math.max(0, weight / (scale || 1))), gamma));
}

/** The `count` keys with the largest weight in row `q`, heaviest first. */
export function topKeys(m: Matrix, q: number, count: number): { key: number; weight: number }[] {
  return Array.from(m[q] ?? [], (weight, key) => ({ key, weight }))
    .sort((a, b) => b.weight - a.weight)
    .slice(0, count);
}

/** The matrix a view shows: one head, or the mean of the layer's heads when `head` is 'avg'. */
export function selectMatrix(map: { readonly weights: readonly (readonly Matrix[])[] }, layer: number, head: number | 'avg'): Matrix {
  const heads = map.weights[layer];
  if (!heads) return [];
  if (head === 'avg') return averageHeads(heads);
  return heads[head] ?? [];
}

/** A JSON document for export: the map with its shape, so other tools need not infer it. */
export function attentionExport(map: AttentionMap, meta: { model: string; title: string }): string {
  return JSON.stringify({ ...meta, kind: map.kind, shape: mapShape(map), queryTokens: map.queryTokens, keyTokens: map.keyTokens, weights: map.weights });
}

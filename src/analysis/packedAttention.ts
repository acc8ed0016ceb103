/**
 * Attention maps as they travel to the attention inspector: each map's weights in one Float32Array
 * (layers × heads × queries × keys, row-major) instead of nested arrays. VS Code sends typed
 * arrays to a webview as binary buffers; nested arrays of a 500-token map would be a JSON text of
 * about 100 MB to write, send and parse. The webview reads the weights through row views
 * (`subarray`), without copying.
 */
import type { AttentionKind, AttentionMap } from '../inference/protocol';
import type { MapShape, Matrix } from './heatmap';

export interface PackedAttentionMap {
  readonly kind: AttentionKind;
  readonly queryTokens: readonly string[];
  readonly keyTokens: readonly string[];
  readonly shape: MapShape;
  readonly weights: Float32Array;
}

/** A map whose weights are read as layers × heads × rows (number arrays or Float32Array views). */
export interface AttentionMatrices {
  readonly kind: AttentionKind;
  readonly queryTokens: readonly string[];
  readonly keyTokens: readonly string[];
  readonly weights: readonly (readonly Matrix[])[];
}

export function packMap(map: AttentionMap): PackedAttentionMap {
  const layers = map.weights.length;
  const heads = map.weights[0]?.length ?? 0;
  const queries = map.queryTokens.length;
  const keys = map.keyTokens.length;
  const weights = new Float32Array(layers * heads * queries * keys);
  let o = 0;
  for (const layer of map.weights) {
    for (const head of layer) {
      for (const row of head) {
        weights.set(row, o);
        o += keys;
      }
    }
  }
  return { kind: map.kind, queryTokens: map.queryTokens, keyTokens: map.keyTokens, shape: { layers, heads, queries, keys }, weights };
}

/** The packed weights as layers × heads × rows of `subarray` views (no copy). */
export function unpackMap(p: PackedAttentionMap): AttentionMatrices {
  const { layers, heads, queries, keys } = p.shape;
  const weights: Float32Array[][][] = [];
  let o = 0;
  for (let l = 0; l < layers; l++) {
    const layer: Float32Array[][] = [];
    for (let h = 0; h < heads; h++) {
      const head: Float32Array[] = [];
      for (let q = 0; q < queries; q++, o += keys) head.push(p.weights.subarray(o, o + keys));
      layer.push(head);
    }
    weights.push(layer);
  }
  return { kind: p.kind, queryTokens: p.queryTokens, keyTokens: p.keyTokens, weights };
}

/** Plain nested number arrays (for the webview's saved state, which is JSON). */
export function nestedMap(m: AttentionMatrices): AttentionMap {
  return { kind: m.kind, queryTokens: [...m.queryTokens], keyTokens: [...m.keyTokens], weights: m.weights.map((layer) => layer.map((head) => head.map((row) => Array.from(row)))) };
}

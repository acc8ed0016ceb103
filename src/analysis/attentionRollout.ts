/**
 * Attention rollout (Abnar & Zuidema, 2020, "Quantifying Attention Flow in Transformers"): how
 * much each input token flows into each position after several layers. Per layer the heads are
 * averaged, the identity is added for the residual connection, rows are renormalised to sum to 1,
 * and the layers are multiplied through: R_l = Â_l · R_{l-1}, R_0 = Â_0.
 */
import { averageHeads, type Matrix } from './heatmap';

/** One layer's averaged heads with the residual connection: (A + I), rows renormalised. */
export function withResidual(a: Matrix): number[][] {
  return a.map((row, q) => {
    const r = Array.from(row, (v, k) => v + (k === q ? 1 : 0));
    const sum = r.reduce((s, v) => s + v, 0);
    return sum > 0 ? r.map((v) => v / sum) : r;
  });
}

function multiply(a: Matrix, b: Matrix): number[][] {
  const n = b[0]?.length ?? 0;
  return a.map((row) => {
    const out = new Array<number>(n).fill(0);
    for (let j = 0; j < row.length; j++) {
      const v = row[j]!;
      if (v === 0) continue;
      const bj = b[j]!;
      for (let k = 0; k < n; k++) out[k]! += v * bj[k]!;
    }
    return out;
  });
}

/**
 * The rollout from the first layer through `throughLayer` (inclusive) of a square map
 * (`layers × heads × n × n`). Rows sum to 1.
 */
export function attentionRollout(weights: readonly (readonly Matrix[])[], throughLayer = weights.length - 1): number[][] {
  let rollout: number[][] | undefined;
  for (let l = 0; l <= Math.min(throughLayer, weights.length - 1); l++) {
    const layer = withResidual(averageHeads(weights[l]!));
    rollout = rollout ? multiply(layer, rollout) : layer;
  }
  return rollout ?? [];
}

/** Rollout needs queries and keys to be the same tokens (self-attention), not target × source. */
export function rolloutApplies(map: { readonly kind: string; readonly queryTokens: readonly string[]; readonly keyTokens: readonly string[] }): boolean {
  return (map.kind === 'self' || map.kind === 'encoder' || map.kind === 'decoder') && map.queryTokens.length === map.keyTokens.length;
}

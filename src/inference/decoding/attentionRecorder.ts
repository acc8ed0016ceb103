import type { StepAttention } from '../models/modelAdapter';
import type { AttentionMap } from '../protocol';

/** One step's attention for one sequence and one tapped output: `heads × query × key`, as returned. */
interface StepBlock {
  readonly data: Float32Array;
  readonly heads: number;
  readonly queries: number;
  readonly keys: number;
}

/** One step's blocks, by tapped output index. */
type StepRows = StepBlock[];

/**
 * Collects the attention rows of each step for every row (beam) of a run, follows beam reordering,
 * and assembles full layer × head × query × key maps for the sequence that is returned.
 */
export class AttentionRecorder {
  private history: StepRows[][] = [[]];
  private outputs: StepAttention['output'][] = [];

  record(attentions: readonly StepAttention[]): void {
    if (attentions.length === 0) return;
    this.outputs = attentions.map((a) => a.output);
    const rows = attentions[0].dims[0];
    while (this.history.length < rows) this.history.push([...this.history[0]]);
    for (let r = 0; r < rows; r++) {
      this.history[r].push(attentions.map((a) => slice(a, r)));
    }
  }

  /** A recorder holding only the history of `row` (as its row 0). */
  snapshot(row: number): AttentionRecorder {
    const copy = new AttentionRecorder();
    copy.outputs = this.outputs;
    copy.history = [[...(this.history[row] ?? [])]];
    return copy;
  }

  /** Appends `other`'s row 0 as a new row; returns its index. */
  adopt(other: AttentionRecorder): number {
    if (other.outputs.length) this.outputs = other.outputs;
    if (this.history.length === 1 && this.history[0].length === 0) this.history = [];
    this.history.push(other.history[0] ?? []);
    return this.history.length - 1;
  }

  replaceWith(other: AttentionRecorder): void {
    this.history = other.history;
    this.outputs = other.outputs;
  }

  reorder(rows: readonly number[]): void {
    this.history = rows.map((r) => [...this.history[r]]);
  }

  /**
   * Maps for one row, grouped by kind and sorted by layer. `labels(kind)` gives the token texts of
   * both axes; rows are as many as the steps recorded, square maps are cut to that size.
   */
  build(row: number, labels: (kind: AttentionMap['kind']) => { query: string[]; key: string[] }): AttentionMap[] {
    const steps = this.history[row] ?? [];
    if (steps.length === 0) return [];
    const kinds = [...new Set(this.outputs.map((o) => o.kind))];
    return kinds.map((kind) => {
      const indices = this.outputs.map((o, i) => [o, i] as const).filter(([o]) => o.kind === kind).sort(([a], [b]) => a.layer - b.layer);
      const { query, key } = labels(kind);
      const totalRows = steps.reduce((n, step) => n + step[indices[0][1]].queries, 0);
      const count = Math.min(query.length, totalRows);
      const square = kind !== 'cross' && kind !== 'alignment';
      const keys = square ? query.slice(0, count) : key;
      // One pass per head straight from the recorded blocks into rows padded to the key axis.
      const headRows = (i: number, h: number): number[][] => {
        const rows: number[][] = [];
        for (const { [i]: b } of steps) {
          for (let q = 0; q < b.queries && rows.length < count; q++) {
            const row = new Array<number>(keys.length).fill(0);
            const base = (h * b.queries + q) * b.keys;
            for (let j = 0, n = Math.min(b.keys, keys.length); j < n; j++) row[j] = b.data[base + j];
            rows.push(row);
          }
        }
        return rows;
      };
      const weights = indices.map(([, i]) => Array.from({ length: steps[0][i].heads }, (_, h) => headRows(i, h)));
      return { kind, queryTokens: query.slice(0, count), keyTokens: keys, weights };
    });
  }
}

/** Copies one row's block out of a step's output (the output buffers are not kept by onnxruntime). */
function slice(a: StepAttention, row: number): StepBlock {
  const [, heads, queries, keys] = a.dims as [number, number, number, number];
  const size = heads * queries * keys;
  return { data: a.data.slice(row * size, (row + 1) * size), heads, queries, keys };
}

/** A map from a single run of a graph (the encoder's self-attention). */
export function singleMap(attentions: readonly StepAttention[], tokens: string[]): AttentionMap[] {
  const recorder = new AttentionRecorder();
  recorder.record(attentions);
  return recorder.build(0, () => ({ query: tokens, key: tokens }));
}

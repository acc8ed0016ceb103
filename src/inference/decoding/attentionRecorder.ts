import type { StepAttention } from '../models/modelAdapter';
import type { AttentionMap } from '../protocol';

/** One step's attention rows for one sequence: `[heads][query][key]` per tapped output index. */
type StepRows = number[][][][];

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
      const rowsOf = (i: number, h: number): number[][] => steps.flatMap((step) => step[i][h]);
      const count = Math.min(query.length, rowsOf(indices[0][1], 0).length);
      const square = kind !== 'cross' && kind !== 'alignment';
      const keys = square ? query.slice(0, count) : key;
      const weights = indices.map(([, i]) => Array.from({ length: steps[0][i].length }, (_, h) => rowsOf(i, h).slice(0, count).map((r) => pad(r, keys.length))));
      return { kind, queryTokens: query.slice(0, count), keyTokens: keys, weights };
    });
  }
}

function pad(row: number[], length: number): number[] {
  if (row.length >= length) return row.slice(0, length);
  return row.concat(new Array<number>(length - row.length).fill(0));
}

function slice(a: StepAttention, row: number): number[][][] {
  const [, heads, q, k] = a.dims as [number, number, number, number];
  const out: number[][][] = [];
  for (let h = 0; h < heads; h++) {
    const rows: number[][] = [];
    for (let i = 0; i < q; i++) {
      const start = ((row * heads + h) * q + i) * k;
      rows.push(Array.from(a.data.subarray(start, start + k)));
    }
    out.push(rows);
  }
  return out;
}

/** A map from a single run of a graph (the encoder's self-attention). */
export function singleMap(attentions: readonly StepAttention[], tokens: string[]): AttentionMap[] {
  const recorder = new AttentionRecorder();
  recorder.record(attentions);
  return recorder.build(0, () => ({ query: tokens, key: tokens }));
}

/**
 * The data behind bertviz's head view: for one query token, a line to every key token per shown
 * head, weighted by that head's attention; heads told apart by colour.
 */
import type { Matrix } from './heatmap';

export interface HeadLine {
  readonly head: number;
  readonly query: number;
  readonly key: number;
  readonly weight: number;
}

/** Tableau 10, as d3's schemeTableau10 (bertviz colours heads with a categorical d3 scheme). */
const HEAD_COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function headColour(head: number): string {
  return HEAD_COLOURS[head % HEAD_COLOURS.length]!;
}

/**
 * Lines from each query in `queries` to every key, for each head in `shown`; weights below
 * `minWeight` are left out (invisible anyway, and a long text has many). Heaviest last, so they are
 * drawn on top.
 */
export function headViewLines(heads: readonly Matrix[], shown: readonly number[], queries: readonly number[], minWeight = 0.005): HeadLine[] {
  const lines: HeadLine[] = [];
  for (const head of shown) {
    const m = heads[head];
    if (!m) continue;
    for (const query of queries) {
      const row = m[query];
      if (!row) continue;
      for (let key = 0; key < row.length; key++) {
        const weight = row[key]!;
        if (weight >= minWeight) lines.push({ head, query, key, weight });
      }
    }
  }
  return lines.sort((a, b) => a.weight - b.weight);
}

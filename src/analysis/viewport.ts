/**
 * Which rows or columns of a large heatmap are in view, so that only those are drawn and labelled
 * (a 500-token map has 250 000 cells and 1 000 labels; a screen shows a fraction of them).
 */

export interface Span {
  /** First index in view. */
  readonly first: number;
  /** One past the last index in view. */
  readonly end: number;
}

/**
 * The cells of size `cell` (px) of `count` that a window of `size` px scrolled by `scroll` px
 * shows, widened by `overscan` cells on each side (smooth scrolling).
 */
export function visibleSpan(scroll: number, size: number, cell: number, count: number, overscan = 2): Span {
  if (count <= 0 || cell <= 0 || size <= 0) return { first: 0, end: 0 };
  const first = Math.max(0, Math.floor(Math.max(0, scroll) / cell) - overscan);
  const end = Math.min(count, Math.ceil((Math.max(0, scroll) + size) / cell) + overscan);
  return { first: Math.min(first, end), end };
}

/** The cell size that fits `count` cells into `size` px, within [min, max]. */
export function fitCell(size: number, count: number, min = 1, max = 32): number {
  if (count <= 0) return max;
  return Math.min(max, Math.max(min, size / count));
}

/** Zoom steps of the heatmap (cell sizes in px), from overview to close-up. */
export const ZOOM_STEPS: readonly number[] = [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32];

/** The next zoom step above (`direction` 1) or below (-1) `cell`. */
export function nextZoom(cell: number, direction: 1 | -1): number {
  if (direction > 0) return ZOOM_STEPS.find((z) => z > cell + 1e-9) ?? ZOOM_STEPS[ZOOM_STEPS.length - 1]!;
  return [...ZOOM_STEPS].reverse().find((z) => z < cell - 1e-9) ?? ZOOM_STEPS[0]!;
}

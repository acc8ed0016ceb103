/**
 * Arithmetic behind the logit lens view (layers × tokens, as the logit-lens notebooks draw it): the
 * grid's shape, what a cell shows, its colour, which columns a scrolled viewport needs, and the
 * chosen token's rank per layer. No DOM dependency, so it is unit-tested.
 */
import { LENS_TOP, type Alternative, type LensEntry, type TokenTrace } from '../inference/protocol';

export { LENS_TOP };

/**
 * The trace with each layer's alternatives cut to `n`: the engine gives as many per layer as per
 * token (10 by default), and layers × tokens of them would make the panel's data, which crosses
 * into the webview and is kept in its state, several times larger than it needs to be.
 */
export function trimLens<T extends Pick<TokenTrace, 'lens'>>(tokens: readonly T[], n = LENS_TOP): T[] {
  return tokens.map((t) => (t.lens && t.lens.some((e) => e.top.length > n) ? { ...t, lens: t.lens.map((e) => (e.top.length > n ? { ...e, top: e.top.slice(0, n) } : e)) } : t));
}
import { rampColor } from './heatmap';

/** Number of layer rows: the longest lens of any token (0 when no token has one). */
export function lensLayerCount(tokens: readonly Pick<TokenTrace, 'lens'>[]): number {
  let n = 0;
  for (const t of tokens) n = Math.max(n, t.lens?.length ?? 0);
  return n;
}

/** What one cell shows: the layer's most probable token and how sure the layer is of it. */
export interface LensCell {
  readonly layer: number;
  readonly top1: Alternative | undefined;
  /** Where the token that actually came stands in this layer. */
  readonly rank: number;
  readonly prob: number;
  /** Whether the layer's top-1 is the token that came. */
  readonly hit: boolean;
}

export function lensCell(token: Pick<TokenTrace, 'id' | 'lens'>, layerIndex: number): LensCell | undefined {
  const e: LensEntry | undefined = token.lens?.[layerIndex];
  if (!e) return undefined;
  const top1 = e.top[0];
  return { layer: e.layer, top1, rank: e.rank, prob: e.prob, hit: e.rank === 1 || top1?.id === token.id };
}

/**
 * A cell's background for a probability in [0, 1] (the ramp of the attention heatmaps) and the text
 * colour that reads on it: dark text on the bright end, light text on the dark end.
 */
export function lensCellColors(prob: number): { background: string; foreground: string } {
  const p = Number.isFinite(prob) ? Math.min(1, Math.max(0, prob)) : 0;
  const [r, g, b] = rampColor(p);
  const luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  return { background: `rgb(${r}, ${g}, ${b})`, foreground: luminance > 0.5 ? '#000' : '#fff' };
}

/** The columns [start, end) a viewport scrolled to `scrollLeft` shows, plus `overscan` on each side. */
export function visibleColumns(scrollLeft: number, viewportWidth: number, columnWidth: number, count: number, overscan = 4): { start: number; end: number } {
  if (count <= 0 || columnWidth <= 0) return { start: 0, end: 0 };
  const first = Math.floor(Math.max(0, scrollLeft) / columnWidth);
  const last = Math.ceil((Math.max(0, scrollLeft) + Math.max(0, viewportWidth)) / columnWidth);
  return { start: Math.max(0, Math.min(count, first - overscan)), end: Math.max(0, Math.min(count, last + overscan)) };
}

/** The chosen token's rank and probability after each layer, first layer first. */
export function rankByLayer(token: Pick<TokenTrace, 'lens'>): { layer: number; rank: number; prob: number }[] {
  return (token.lens ?? []).map((e) => ({ layer: e.layer, rank: e.rank, prob: e.prob }));
}

/** The first layer from which on the chosen token stays the top-1 (the layer where the model "decided"), or undefined. */
export function settledLayer(token: Pick<TokenTrace, 'lens'>): number | undefined {
  const lens = token.lens ?? [];
  let settled: number | undefined;
  for (const e of lens) {
    if (e.rank === 1) settled ??= e.layer;
    else settled = undefined;
  }
  return settled;
}

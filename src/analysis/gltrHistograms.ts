/**
 * GLTR's three histograms of a token trace, as pure functions: counts per rank bucket (with the
 * bucket thresholds the user sets), the ratio of the chosen token's probability to the top one's
 * (frac(p)), and the entropy of each step's distribution. The webview draws them; tests check them.
 */
import type { TokenTrace } from '../inference/protocol';
import type { RankBucket } from './gltr';

/** The largest rank in each of GLTR's first three buckets (green, yellow, red); the rest is purple. */
export interface RankThresholds {
  readonly top10: number;
  readonly top100: number;
  readonly top1000: number;
}

export const DEFAULT_THRESHOLDS: RankThresholds = { top10: 10, top100: 100, top1000: 1000 };

/** The most a threshold may be: larger than any vocabulary the engine loads. */
export const MAX_THRESHOLD = 10_000_000;

/**
 * Makes any three numbers usable thresholds: whole, at least 1, and strictly increasing (each one
 * raised above the one before it), so every rank falls in exactly one bucket. Non-numbers fall back
 * to the defaults.
 */
export function normalizeThresholds(t: Partial<Record<keyof RankThresholds, unknown>> | undefined): RankThresholds {
  const pick = (v: unknown, fallback: number): number => (typeof v === 'number' && Number.isFinite(v) ? Math.min(MAX_THRESHOLD, Math.max(1, Math.floor(v))) : fallback);
  const a = pick(t?.top10, DEFAULT_THRESHOLDS.top10);
  const b = Math.max(a + 1, pick(t?.top100, DEFAULT_THRESHOLDS.top100));
  const c = Math.max(b + 1, pick(t?.top1000, DEFAULT_THRESHOLDS.top1000));
  return { top10: a, top100: b, top1000: c };
}

export function bucketOf(rank: number, t: RankThresholds): RankBucket {
  if (rank <= t.top10) return 'top10';
  if (rank <= t.top100) return 'top100';
  if (rank <= t.top1000) return 'top1000';
  return 'beyond';
}

/** The label of each bucket under these thresholds: `rank ≤ 10`, `11–100`, `101–1000`, `> 1000`. */
export function bucketLabels(t: RankThresholds): Record<RankBucket, string> {
  return { top10: `rank ≤ ${t.top10}`, top100: `${t.top10 + 1}–${t.top100}`, top1000: `${t.top100 + 1}–${t.top1000}`, beyond: `> ${t.top1000}` };
}

export function rankHistogram(tokens: readonly Pick<TokenTrace, 'rank'>[], t: RankThresholds): Record<RankBucket, number> {
  const counts: Record<RankBucket, number> = { top10: 0, top100: 0, top1000: 0, beyond: 0 };
  for (const tok of tokens) counts[bucketOf(tok.rank, t)]++;
  return counts;
}

/** One bar of a histogram: the half-open range [from, to) (the last bin also holds `to`) and its count. */
export interface Bin {
  readonly from: number;
  readonly to: number;
  readonly count: number;
}

export interface Histogram {
  readonly bins: readonly Bin[];
  /** Tokens the histogram could not place (see each function). */
  readonly skipped: number;
}

/** Counts values into `n` equal bins over [lo, hi]; a value equal to `hi` goes into the last bin. */
function binValues(values: readonly number[], lo: number, hi: number, n: number): Bin[] {
  const width = (hi - lo) / n;
  const counts = new Array<number>(n).fill(0);
  for (const v of values) {
    // (v - lo) * n / (hi - lo), not (v - lo) / width: 0.3 / 0.1 is 2.999…, which would put 0.3 one bin low.
    const i = hi > lo ? Math.min(n - 1, Math.max(0, Math.floor(((v - lo) * n) / (hi - lo)))) : 0;
    counts[i]!++;
  }
  return counts.map((count, i) => ({ from: lo + i * width, to: i === n - 1 ? hi : lo + (i + 1) * width, count }));
}

/**
 * frac(p) = p(chosen) / p(top-1 token) per token, in `n` bins over [0, 1]: 1 when the model chose
 * its favourite, near 0 when it thought little of the token. The top-1 probability is the first
 * alternative's; a token with rank 1 is 1 even without alternatives, and one of a worse rank without
 * alternatives cannot be placed (`skipped`).
 */
export function fracPHistogram(tokens: readonly Pick<TokenTrace, 'prob' | 'rank' | 'top'>[], n = 10): Histogram {
  const values: number[] = [];
  let skipped = 0;
  for (const t of tokens) {
    const best = t.top[0]?.prob;
    if (t.rank === 1) values.push(1);
    else if (best !== undefined && best > 0) values.push(Math.min(1, Math.max(0, t.prob / best)));
    else skipped++;
  }
  return { bins: binValues(values, 0, 1, n), skipped };
}

/**
 * Entropy (nats) of each step's distribution in `n` equal bins over the observed range [min, max];
 * when every token has the same entropy the range is that value to that value + 1. Non-finite
 * entropies are `skipped`.
 */
export function entropyHistogram(tokens: readonly Pick<TokenTrace, 'entropy'>[], n = 10): Histogram {
  const values = tokens.map((t) => t.entropy).filter((v) => Number.isFinite(v));
  const skipped = tokens.length - values.length;
  if (values.length === 0) return { bins: [], skipped };
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (hi === lo) hi = lo + 1;
  return { bins: binValues(values, lo, hi, n), skipped };
}

/**
 * GLTR-style reading of a token trace: rank buckets, probability colours, totals and the mapping
 * of token texts back onto the text they came from. Shared by the token panel, its webview script
 * and the editor's surprisal highlighting; no editor or DOM dependency.
 */
import type { TokenTrace } from '../inference/protocol';

export type RankBucket = 'top10' | 'top100' | 'top1000' | 'beyond';

export const RANK_BUCKETS: readonly { readonly bucket: RankBucket; readonly label: string; readonly maxRank: number }[] = [
  { bucket: 'top10', label: 'top 10', maxRank: 10 },
  { bucket: 'top100', label: 'top 100', maxRank: 100 },
  { bucket: 'top1000', label: 'top 1000', maxRank: 1000 },
  { bucket: 'beyond', label: 'beyond', maxRank: Infinity },
];

export function rankBucket(rank: number): RankBucket {
  for (const b of RANK_BUCKETS) if (rank <= b.maxRank) return b.bucket;
  return 'beyond';
}

export function bucketCounts(tokens: readonly Pick<TokenTrace, 'rank'>[]): Record<RankBucket, number> {
  const counts: Record<RankBucket, number> = { top10: 0, top100: 0, top1000: 0, beyond: 0 };
  for (const t of tokens) counts[rankBucket(t.rank)]++;
  return counts;
}

/**
 * A colour for a probability, from red (improbable) through yellow to green (certain), on a log
 * scale because most probabilities a model gives are small. Alpha keeps text readable on any theme.
 */
export function probabilityColor(prob: number): string {
  const p = Math.min(1, Math.max(1e-6, prob));
  const t = 1 + Math.log10(p) / 6; // 1e-6 → 0, 1 → 1
  const hue = Math.round(120 * t);
  return `hsla(${hue}, 75%, 45%, 0.45)`;
}

export interface TraceTotals {
  readonly count: number;
  readonly logprob: number;
  /** exp of the mean negative log-probability; 1 for an empty trace. */
  readonly perplexity: number;
  readonly meanEntropy: number;
}

export function traceTotals(tokens: readonly Pick<TokenTrace, 'logprob' | 'entropy'>[]): TraceTotals {
  let logprob = 0;
  let entropy = 0;
  for (const t of tokens) {
    logprob += t.logprob;
    entropy += t.entropy;
  }
  const n = tokens.length;
  return {
    count: n,
    logprob,
    perplexity: n === 0 ? 1 : Math.exp(-logprob / n),
    meanEntropy: n === 0 ? 0 : entropy / n,
  };
}

export interface TextRange {
  readonly start: number;
  readonly end: number;
}

/**
 * Finds where each token text lies in `text`, in order. Byte-level BPE tokens may decode to a
 * replacement character (a multi-byte character split over tokens) or differ in whitespace, so a
 * token that does not match where expected is looked for a little further on; one that cannot be
 * found gets `null` and does not move the cursor.
 */
export function alignTokens(text: string, tokenTexts: readonly string[], lookahead = 16, from = 0): (TextRange | null)[] {
  const ranges: (TextRange | null)[] = [];
  let cursor = from;
  for (const tok of tokenTexts) {
    if (tok.length === 0) {
      ranges.push(null);
      continue;
    }
    if (text.startsWith(tok, cursor)) {
      ranges.push({ start: cursor, end: cursor + tok.length });
      cursor += tok.length;
      continue;
    }
    const found = text.indexOf(tok, cursor);
    if (found >= 0 && found - cursor <= lookahead && !tok.includes('\uFFFD')) {
      ranges.push({ start: found, end: found + tok.length });
      cursor = found + tok.length;
      continue;
    }
    if (tok.includes('\uFFFD')) {
      // Part of a character split across tokens: claim one character when the text has a non-ASCII one here.
      const code = text.codePointAt(cursor);
      if (code !== undefined && code > 0x7f) {
        const width = code > 0xffff ? 2 : 1;
        ranges.push({ start: cursor, end: cursor + width });
        cursor += width;
        continue;
      }
    }
    ranges.push(null);
  }
  return ranges;
}

/**
 * The start of a scored text that has no token of its own: a causal LM without a BOS token cannot
 * score the first token (it has no context), so the trace covers the text after it.
 */
export function unscoredHead(text: string, tokenTexts: readonly string[]): string {
  const tail = tokenTexts.join('');
  return text.endsWith(tail) ? text.slice(0, text.length - tail.length) : '';
}

/** How a token is shown: control characters made visible, the text otherwise unchanged. */
export function displayToken(text: string): string {
  return text.replace(/\n/g, '↵\n').replace(/\t/g, '→\t').replace(/\r/g, '');
}

export function formatProb(prob: number): string {
  if (prob >= 0.01) return `${(prob * 100).toFixed(1)}%`;
  return prob.toExponential(1);
}

/**
 * Shows only what the model is sure of: a suggestion is cut before its first token whose probability
 * is below `minConfidence`, and not shown at all when what is left is too short or its tokens' mean
 * log-probability is too low. Pure, so it is unit-tested; the default threshold comes from
 * `models/recipes/eval_inline.mjs` (see BENCHMARKS.md).
 */
import type { TokenTrace } from '../inference/protocol';

export interface ConfidenceOptions {
  /** Cut before the first token whose probability is below this (0 keeps every token). */
  readonly minConfidence: number;
  /** Fewest non-space characters worth showing. */
  readonly minChars?: number;
  /** Lowest mean log-probability (nats per token) of the kept tokens; by default no floor. */
  readonly minMeanLogprob?: number;
}

export const DEFAULT_MIN_CHARS = 2;

/**
 * The mean log-probability floor the extension uses with a threshold, chosen with it by the same measurement on
 * held-out code (`models/recipes/eval_inline.mjs`, BENCHMARKS.md): about a 0.22 geometric-mean probability per token.
 */
export const DEFAULT_MIN_MEAN_LOGPROB = -1.5;

export type HiddenReason = 'too-short' | 'low-mean';

export type ConfidenceCut =
  | {
      readonly text: string;
      /** Tokens that begin in `text`. */
      readonly tokens: number;
      /** Mean log-probability of those tokens; 0 when there are none. */
      readonly meanLogprob: number;
      /** The token the text was cut before: its index in the trace and its probability. */
      readonly cutAt?: { readonly index: number; readonly prob: number };
      /** Set when the trace does not spell the text (no log-probabilities from a server): nothing was judged. */
      readonly unscored?: true;
    }
  | {
      readonly text: undefined;
      readonly reason: HiddenReason;
      /** One line for the log: why nothing is shown. */
      readonly message: string;
      readonly cutAt?: { readonly index: number; readonly prob: number };
    };

/**
 * `text` is what would be shown, a prefix of the generated text (completionText.ts only shortens it);
 * `tokens` is the generation's trace, whose token texts, joined, begin with the generated text.
 */
export function confidenceCut(text: string, tokens: readonly TokenTrace[], o: ConfidenceOptions): ConfidenceCut {
  const joined = tokens.map((t) => t.text).join('');
  if (tokens.length === 0 || !(joined.startsWith(text) || text.startsWith(joined))) return { text, tokens: 0, meanLogprob: 0, unscored: true };
  let end = text.length;
  let cutAt: { index: number; prob: number } | undefined;
  const starts: number[] = [];
  for (let i = 0, start = 0; i < tokens.length && start < text.length; start += tokens[i].text.length, i++) {
    if (tokens[i].prob < o.minConfidence) {
      end = start;
      cutAt = { index: i, prob: tokens[i].prob };
      break;
    }
    starts.push(start);
  }
  const kept = text.slice(0, end).replace(/\s+$/, '');
  // The kept tokens: those that begin inside the kept text (whitespace trimmed off its end is not kept).
  const inKept = starts.filter((s) => s < kept.length).length;
  let logprob = 0;
  for (let i = 0; i < inKept; i++) logprob += tokens[i].logprob;
  const minChars = o.minChars ?? DEFAULT_MIN_CHARS;
  const chars = kept.replace(/\s/g, '').length;
  const at = cutAt ? ` (cut before token ${cutAt.index + 1}, probability ${cutAt.prob.toFixed(3)} < ${o.minConfidence})` : '';
  if (chars < minChars) {
    return { text: undefined, reason: 'too-short', message: `${chars} non-space character${chars === 1 ? '' : 's'} left, fewer than ${minChars}${at}`, ...(cutAt ? { cutAt } : {}) };
  }
  const meanLogprob = inKept > 0 ? logprob / inKept : 0;
  if (o.minMeanLogprob !== undefined && meanLogprob < o.minMeanLogprob) {
    return {
      text: undefined,
      reason: 'low-mean',
      message: `mean log-probability ${meanLogprob.toFixed(3)} of ${inKept} token${inKept === 1 ? '' : 's'} is below ${o.minMeanLogprob}${at}`,
      ...(cutAt ? { cutAt } : {}),
    };
  }
  return { text: kept, tokens: inKept, meanLogprob, ...(cutAt ? { cutAt } : {}) };
}

/**
 * Continue at Cursor's cut (`lmLens.continue.minConfidence`): the text before its first token whose probability is
 * below `minConfidence`, however short (the user asked for it), with the token it stopped at; 0 keeps it whole.
 */
export function sureContinuation(text: string, tokens: readonly TokenTrace[], minConfidence: number): { readonly text: string; readonly cutAt?: { readonly index: number; readonly prob: number } } {
  if (minConfidence <= 0) return { text };
  const cut = confidenceCut(text, tokens, { minConfidence, minChars: 0 });
  // With no minimum length and no mean floor nothing is hidden.
  return cut.text === undefined ? { text: '' } : { text: cut.cutAt ? cut.text : text, ...(cut.cutAt ? { cutAt: cut.cutAt } : {}) };
}

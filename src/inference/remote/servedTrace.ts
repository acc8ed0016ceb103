import type { Alternative, TokenTrace } from '../protocol';

/** One token as a serving engine reports it: its text, its log-probability, and the alternatives it lists. */
export interface ServedToken {
  readonly text: string;
  /** The token id, where the API gives it (llama.cpp); -1 otherwise. */
  readonly id: number;
  /** null where the server gave none (the first token of an echoed prompt has no context). */
  readonly logprob: number | null;
  readonly top: readonly { readonly text: string; readonly id: number; readonly logprob: number }[];
}

/**
 * A protocol trace from what the server returned: the probability from its log-probability, the
 * rank from the position among its alternatives (beyond them: `topN + 1`), and the entropy of its top
 * N with the remaining mass as one outcome (a lower bound of the true entropy).
 */
export function servedTrace(token: ServedToken): TokenTrace {
  const top = [...token.top].sort((a, b) => b.logprob - a.logprob);
  const alternatives: Alternative[] = top.map((a) => ({ id: a.id, text: a.text, prob: Math.exp(a.logprob) }));
  const logprob = token.logprob ?? NaN;
  const at = top.findIndex((a) => (token.id >= 0 && a.id >= 0 ? a.id === token.id : a.text === token.text));
  const rank = at >= 0 ? at + 1 : top.length + 1;
  let covered = 0;
  let entropy = 0;
  for (const a of alternatives) {
    covered += a.prob;
    if (a.prob > 0) entropy -= a.prob * Math.log(a.prob);
  }
  const rest = 1 - covered;
  if (rest > 1e-12) entropy -= rest * Math.log(rest);
  return { id: token.id, text: token.text, prob: Math.exp(logprob), logprob, rank, entropy: Math.max(0, entropy), top: alternatives, topN: top.length };
}

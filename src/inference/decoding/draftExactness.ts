import type { DecoderSession } from '../models/modelAdapter';

/**
 * Whether feeding several tokens in one decoder pass gives the logits that one pass per token gives,
 * which prompt-lookup drafting needs to leave the output unchanged. It does not hold for every export:
 * Optimum traces the with-past decoders of BART-family models (BART, Marian, Pegasus…) with one new
 * token, so a several-token pass has no causal mask; dynamically quantized files (`DynamicQuantizeLinear`)
 * choose their scale over all the tokens of a pass. Rather than a list of such graphs, the loaded model
 * is measured: the same tokens are fed once together and once one by one.
 */
export interface DraftCheck {
  readonly exact: boolean;
  /** The largest logit difference measured. */
  readonly maxDiff: number;
  /** Why drafting is off for this model (null when it is exact). */
  readonly reason: string | null;
}

/** Logits may differ by this much between the two ways (float32 sums in another order differ by ~1e-6). */
export const DRAFT_TOLERANCE = 1e-4;

/**
 * Runs the check: `start(probe)` twice, the first pass as decoding does, then `tokens` in one pass on
 * one session and one at a time on the other.
 */
export async function checkMultiTokenPasses(
  start: () => Promise<DecoderSession>,
  tokens: readonly number[],
): Promise<DraftCheck> {
  const together = await start();
  if (!together.dropLast) return { exact: false, maxDiff: NaN, reason: 'The model keeps a state that cannot be cut back (an RNN).' };
  await together.step([together.startTokens]);
  const batch = await together.step([tokens], true);
  const single = await start();
  await single.step([single.startTokens]);
  let maxDiff = 0;
  for (let i = 0; i < tokens.length; i++) {
    const one = await single.step([[tokens[i]]]);
    const row = batch.allLogits!.subarray(i * batch.vocab, (i + 1) * batch.vocab);
    for (let v = 0; v < one.vocab; v++) {
      const d = Math.abs(row[v] - one.logits[v]);
      if (!(d <= maxDiff)) maxDiff = Number.isNaN(d) ? Infinity : d;
    }
  }
  const exact = maxDiff <= DRAFT_TOLERANCE;
  return {
    exact,
    maxDiff,
    reason: exact
      ? null
      : `Prompt-lookup drafting is off for this model: a pass over several new tokens does not give the logits of one pass per token (max |Δlogit| ${maxDiff.toPrecision(2)}), as in BART-family with-past exports traced with one token and dynamically quantized files. Every token gets its own pass.`,
  };
}

import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { Alternative, TokenTrace } from '../protocol';
import { tokenText } from '../loading/tokenizer';

/**
 * What the model thought at one step: the chosen token's probability and rank in the model's raw
 * distribution, the distribution's entropy, and the most probable alternatives. Two passes over the
 * logits and no allocation of vocabulary size: this runs for every generated token.
 */
export function traceStep(
  logits: Float32Array,
  offset: number,
  vocab: number,
  chosen: number,
  text: string,
  topN: number,
  tokenizer: PreTrainedTokenizer,
): TokenTrace {
  let max = -Infinity;
  for (let i = offset, end = offset + vocab; i < end; i++) if (logits[i] > max) max = logits[i];
  const chosenLogit = logits[offset + chosen];
  let sumExp = 0;
  let sumShiftedExp = 0;
  let rank = 1;
  // The top-N ids, highest logit first, kept by insertion (N is small).
  const top: number[] = [];
  const topLogits: number[] = [];
  for (let i = 0; i < vocab; i++) {
    const x = logits[offset + i];
    const shifted = x - max;
    const e = Math.exp(shifted);
    sumExp += e;
    if (e > 0) sumShiftedExp += shifted * e;
    if (x > chosenLogit) rank++;
    if (topN > 0 && (top.length < topN || x > topLogits[top.length - 1])) {
      let pos = top.length < topN ? top.length : topN - 1;
      while (pos > 0 && topLogits[pos - 1] < x) pos--;
      top.splice(pos, 0, i);
      topLogits.splice(pos, 0, x);
      if (top.length > topN) {
        top.pop();
        topLogits.pop();
      }
    }
  }
  const logZ = max + Math.log(sumExp);
  const entropy = Math.max(0, Math.log(sumExp) - sumShiftedExp / sumExp);
  const alternatives: Alternative[] = top.map((id, j) => ({ id, text: tokenText(tokenizer, id), prob: Math.exp(topLogits[j] - logZ) }));
  const logprob = chosenLogit - logZ;
  return { id: chosen, text, prob: Math.exp(logprob), logprob, rank, entropy, top: alternatives };
}

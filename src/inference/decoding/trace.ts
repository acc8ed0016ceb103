import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { Alternative, TokenTrace } from '../protocol';
import { tokenText } from '../loading/tokenizer';
import { topKIndices } from './distribution';

/**
 * What the model thought at one step: the chosen token's probability and rank in the model's raw
 * distribution, the distribution's entropy, and the most probable alternatives (`topKIndices`, the selection beam search
 * uses too). A few passes over the logits and no allocation of vocabulary size: this runs for every token.
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
  for (let i = 0; i < vocab; i++) {
    const x = logits[offset + i];
    const shifted = x - max;
    const e = Math.exp(shifted);
    sumExp += e;
    if (e > 0) sumShiftedExp += shifted * e;
    if (x > chosenLogit) rank++;
  }
  const top = topN > 0 ? topKIndices(logits.subarray(offset, offset + vocab), topN) : [];
  const logZ = max + Math.log(sumExp);
  const entropy = Math.max(0, Math.log(sumExp) - sumShiftedExp / sumExp);
  const alternatives: Alternative[] = top.map((id) => ({ id, text: tokenText(tokenizer, id), prob: Math.exp(logits[offset + id] - logZ) }));
  const logprob = chosenLogit - logZ;
  return { id: chosen, text, prob: Math.exp(logprob), logprob, rank, entropy, top: alternatives };
}

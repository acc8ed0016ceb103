import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { Alternative, TokenTrace } from '../protocol';
import { entropy, logSoftmax, rankOf, topKIndices } from './distribution';
import { tokenText } from '../loading/tokenizer';

/**
 * What the model thought at one step: the chosen token's probability and rank in the model's raw
 * distribution, the distribution's entropy, and the most probable alternatives.
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
  const lp = logSoftmax(logits, offset, vocab);
  const top: Alternative[] = topKIndices(lp, topN).map((id) => ({ id, text: tokenText(tokenizer, id), prob: Math.exp(lp[id]) }));
  return { id: chosen, text, prob: Math.exp(lp[chosen]), logprob: lp[chosen], rank: rankOf(lp, chosen), entropy: entropy(lp), top };
}

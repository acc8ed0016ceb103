import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { InferenceError } from '../errors';

/**
 * How a model reads what it is given, so that the engine and the decoding loop never ask which
 * architecture they hold: a decoder-only model continues its prompt; an encoder-decoder (or the RNN)
 * reads a source and writes a separate target. transformers.js keeps this per model class too.
 */
export interface InputPolicy {
  /** Fits a prompt's ids to the context: what `start` receives, and how many tokens may follow. */
  fitPrompt(ids: readonly number[], request: FitRequest): FittedPrompt;
  /** What one scoring pass feeds and which positions' logits score which tokens. */
  planScore(request: ScoreInput): ScorePlan;
  /** Tokens prompt-lookup drafts may be copied from besides the output itself. */
  draftSource(inputIds: readonly number[]): readonly number[];
}

export interface FitRequest {
  /** The model's name in messages. */
  readonly name: string;
  readonly maxContext: number;
  readonly maxNewTokens: number;
  /** Cut an input that is too long instead of refusing it. */
  readonly truncate: boolean;
  /** Ids to start from when the prompt is empty. */
  readonly bosIds: readonly number[];
}

export interface FittedPrompt {
  /** What `LoadedModel.start` receives: the prompt to continue, or the source to encode. */
  readonly inputIds: number[];
  readonly maxNewTokens: number;
}

export interface ScoreInput {
  readonly tokenizer: PreTrainedTokenizer;
  readonly name: string;
  readonly maxContext: number;
  readonly text: string;
  readonly source: string | undefined;
  readonly truncate: boolean;
}

export interface ScorePlan {
  /** What `LoadedModel.start` receives. */
  readonly startIds: number[];
  /** Source ids shown beside the scores (Seq2Seq); empty for a continuation. */
  readonly sourceIds: number[];
  /** The tokens whose probability is reported, in order. */
  readonly targetIds: number[];
  /** The tokens fed in the one pass, given the session's first tokens (its prompt, or the decoder start). */
  feed(sessionStart: readonly number[]): number[];
  /** The ids of the scored text (to decode it when it was cut). */
  readonly scoredIds: number[];
  readonly truncated: boolean;
}

/** A decoder-only model: the prompt is context, the output continues it. */
export const continuation: InputPolicy = {
  fitPrompt(ids, r) {
    let inputIds = [...ids];
    if (inputIds.length === 0) {
      if (r.bosIds.length === 0) throw new InferenceError('bad-request', 'The prompt is empty and the model has no BOS token to start from.');
      inputIds = [...r.bosIds];
    }
    if (inputIds.length >= r.maxContext) {
      if (!r.truncate) throw new InferenceError('context-overflow', `The prompt is ${inputIds.length} tokens long; the model "${r.name}" has a context of ${r.maxContext} tokens.`);
      inputIds = inputIds.slice(inputIds.length - Math.max(1, r.maxContext - r.maxNewTokens)); // keep the end: the text nearest the cursor
    }
    return { inputIds, maxNewTokens: Math.min(r.maxNewTokens, r.maxContext - inputIds.length) };
  },
  planScore({ tokenizer, name, maxContext, text, truncate }) {
    // As a prompt is tokenized: a tokenizer that adds BOS gives the first text token a context;
    // otherwise the first token has none and is not scored (as in the reference implementation).
    let contextIds = tokenizer.encode(text) as number[];
    const added = contextIds.length - (tokenizer.encode(text, { add_special_tokens: false }) as number[]).length;
    let truncated = false;
    if (contextIds.length > maxContext) {
      if (!truncate) throw new InferenceError('context-overflow', `The text is ${contextIds.length} tokens long; the model "${name}" has a context of ${maxContext} tokens.`);
      contextIds = contextIds.slice(0, maxContext);
      truncated = true;
    }
    const targetIds = contextIds.slice(Math.max(1, added));
    if (targetIds.length === 0) throw new InferenceError('bad-request', 'The text is a single token: there is nothing to score after it.');
    return { startIds: contextIds.slice(0, 1), sourceIds: [], targetIds, feed: () => contextIds.slice(0, contextIds.length - 1), scoredIds: contextIds, truncated };
  },
  draftSource: () => [], // the prompt is already in the output's history
};

/** An encoder-decoder or the RNN: the input is a source to encode, the output a new text. */
export const sourceToTarget: InputPolicy = {
  fitPrompt(ids, r) {
    if (ids.length <= r.maxContext) return { inputIds: [...ids], maxNewTokens: r.maxNewTokens };
    if (!r.truncate) throw new InferenceError('context-overflow', `The source is ${ids.length} tokens long; the encoder of "${r.name}" takes at most ${r.maxContext} tokens.`);
    return { inputIds: [...ids.slice(0, r.maxContext - 1), ids[ids.length - 1]], maxNewTokens: r.maxNewTokens }; // keep the start and the closing EOS
  },
  planScore({ tokenizer, name, maxContext, text, source, truncate }) {
    if (typeof source !== 'string') throw new InferenceError('bad-request', 'Scoring with a Seq2Seq model needs the source text.');
    let sourceIds = tokenizer.encode(source) as number[];
    let targetIds = tokenizer.encode(text, { add_special_tokens: false }) as number[];
    let truncated = false;
    if (sourceIds.length > maxContext || targetIds.length >= maxContext) {
      if (!truncate) throw new InferenceError('context-overflow', `The source is ${sourceIds.length} and the text ${targetIds.length} tokens long; "${name}" takes at most ${maxContext} of each.`);
      if (sourceIds.length > maxContext) sourceIds = [...sourceIds.slice(0, maxContext - 1), sourceIds[sourceIds.length - 1]];
      targetIds = targetIds.slice(0, maxContext - 1);
      truncated = true;
    }
    return { startIds: sourceIds, sourceIds, targetIds, feed: (start) => [...start, ...targetIds.slice(0, -1)], scoredIds: targetIds, truncated };
  },
  draftSource: (inputIds) => inputIds, // a translation or summary copies from its source
};

import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { ModelFolder } from './modelFiles';
import type { AttentionMap, ModelInfo } from '../protocol';
import type { AttentionOutput } from './modelFiles';
import type { InputPolicy } from './inputPolicy';

/** Attention probabilities returned by one step: `[batch, heads, query, key]` per tapped output. */
export interface StepAttention {
  readonly output: AttentionOutput;
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/**
 * The residual stream after every block for one step (the logit lens's input): per layer, the
 * `[rows, positions, hidden]` values in the graph's float type (float16 as raw bit patterns).
 */
export interface StepResiduals {
  readonly layers: readonly (Float32Array | Uint16Array)[];
  readonly type: 'float32' | 'float16';
  readonly rows: number;
  readonly positions: number;
  readonly hidden: number;
}

/** Reads vectors of the residual stream through the model's output head. */
export interface LensProjector {
  /** Whether vectors of different positions and layers may share one run (see `LensHeadGraph.perPosition`). */
  readonly perPosition: boolean;
  /** Logits for `count` vectors laid end to end in `vectors` (the residuals' float type): `count × vocab`. */
  project(vectors: Float32Array | Uint16Array, type: StepResiduals['type'], count: number, hidden: number): Promise<{ logits: Float32Array; vocab: number }>;
  dispose(): Promise<void>;
}

export interface StepResult {
  /** Logits of the last position of every row: `rows × vocab`. */
  readonly logits: Float32Array;
  /** Logits of every position of row 0 (only when asked): `positions × vocab`. */
  readonly allLogits?: Float32Array;
  readonly vocab: number;
  readonly attentions: readonly StepAttention[];
  /** Set when the run was started with the logit lens. */
  readonly residuals?: StepResiduals;
}

/**
 * One decoding run of a model: the loop feeds tokens, the session keeps the model's state (KV cache,
 * encoder output, RNN state) and can reorder its rows when beams are selected.
 */
export interface DecoderSession {
  /**
   * The decoder's first input, fed by the loop's first step: the prompt of a causal LM, the decoder
   * start token of a Seq2Seq model (also what a scoring pass puts before the target).
   */
  readonly startTokens: readonly number[];
  /** Attention computed once before decoding (the encoder's self-attention). */
  readonly encoderAttentions: readonly StepAttention[];
  /** Feeds `tokens[row]` to every row; all rows feed the same number of tokens. */
  step(tokens: readonly (readonly number[])[], allPositions?: boolean): Promise<StepResult>;
  /** Keeps rows `rows[i]` as the new row `i` (beam selection; may grow from 1 row to k). */
  reorder(rows: readonly number[]): void;
  /**
   * Forgets the last `count` fed positions (draft tokens the model did not confirm), where the state
   * allows it: a KV cache can be cut, an RNN state cannot, and such sessions leave this undefined.
   */
  dropLast?(count: number): void;
}

export interface LoadedModel {
  readonly info: ModelInfo;
  readonly folder: ModelFolder;
  readonly tokenizer: PreTrainedTokenizer;
  readonly eosTokenIds: readonly number[];
  /** The generation defaults of config.json and generation_config.json (transformers' key names). */
  readonly generationDefaults: Readonly<Record<string, unknown>>;
  /** The tasks the model can do (`summarization`, `translation_en_to_de`, …), with their prefix and parameters. */
  readonly tasks: ReadonlyMap<string, { readonly prefix: string; readonly params: Record<string, unknown> }>;
  /** Whether a pass over several new tokens gives the logits of one pass per token (measured at load). */
  readonly draftsAreExact: boolean;
  /** Ids to start from when the prompt is empty (BOS), if the model has one. */
  readonly bosIds: readonly number[];
  /** How the model reads its input (prompt fitting, scoring, draft sources): no caller asks the architecture. */
  readonly input: InputPolicy;
  /** The output head the logit lens reads block outputs through (absent when `info.lensUnavailable` says why). */
  readonly lens?: LensProjector;
  /**
   * Starts a run: `inputIds` is what `input.fitPrompt` or `input.planScore` gave; `attentions` and
   * `lens` say what each step returns besides the logits.
   */
  start(inputIds: readonly number[], attentions: boolean, lens?: boolean): Promise<DecoderSession>;
  /** Releases the ONNX sessions. */
  dispose(): Promise<void>;
}

export type { AttentionMap };

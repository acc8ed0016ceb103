import { InferenceError } from '../errors';
import type { Architecture, AttentionKind } from '../protocol';
import type { Dtype } from './dtype';

/**
 * What the model adapters need to know of a model's files, declared here (below both) so that
 * loading/ builds adapters and the adapters never import loading/.
 */

/** The parsed contents of a model folder in Hugging Face Hub layout. */
export interface ModelFolder {
  readonly folder: string;
  readonly config: ModelConfig;
  readonly generationConfig: Record<string, unknown>;
  readonly architecture: Architecture;
  /** ONNX files by role. */
  readonly files: OnnxFiles;
  /** The dtypes every role's file exists in (what the user may choose). */
  readonly availableDtypes: readonly Dtype[];
}

/** One ONNX graph file of a model, in the dtype chosen for it, with its external data files. */
export interface OnnxFile {
  /** Absolute path. */
  readonly path: string;
  /** The file's stem as transformers.js names it (`model`, `encoder_model`, `decoder_model_merged`, …). */
  readonly stem: string;
  readonly dtype: Dtype;
  /** Absolute paths of the external data files transformers.js would load beside it (`model.onnx_data`, …). */
  readonly externalData: readonly string[];
}

export type OnnxFiles =
  | { readonly kind: 'causal-lm'; readonly decoder: OnnxFile }
  | { readonly kind: 'encoder-decoder-merged'; readonly encoder: OnnxFile; readonly decoder: OnnxFile }
  | { readonly kind: 'encoder-decoder-split'; readonly encoder: OnnxFile; readonly decoder: OnnxFile; readonly decoderWithPast: OnnxFile }
  | { readonly kind: 'rnn-seq2seq'; readonly encoder: OnnxFile; readonly decoderStep: OnnxFile };

/** The graph files of a model, in load order. */
export function onnxFileList(files: OnnxFiles): OnnxFile[] {
  switch (files.kind) {
    case 'causal-lm':
      return [files.decoder];
    case 'encoder-decoder-merged':
      return [files.encoder, files.decoder];
    case 'encoder-decoder-split':
      return [files.encoder, files.decoder, files.decoderWithPast];
    case 'rnn-seq2seq':
      return [files.encoder, files.decoderStep];
  }
}

export type ModelConfig = Record<string, unknown> & { readonly model_type: string };

export type TappedKind = AttentionKind;

/** One attention-probability tensor made visible as a graph output: `[batch, heads, query, key]`. */
export interface AttentionOutput {
  readonly name: string;
  readonly kind: TappedKind;
  readonly layer: number;
  /**
   * `[batch, query, heads, key]` instead: GPT-BigCode's multi-query attention folds the heads into
   * the query axis, and its probabilities come out query-major.
   */
  readonly queryMajor?: boolean;
  /** Scores before the softmax (a fused kernel's `output_qk`): the probabilities are their row softmax. */
  readonly scores?: boolean;
}

export function configNumber(config: Record<string, unknown>, names: readonly string[], fallback?: number): number {
  for (const name of names) {
    const v = config[name];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  if (fallback !== undefined) return fallback;
  throw new InferenceError('unsupported-model', `config.json lacks ${names.join(' / ')}.`);
}

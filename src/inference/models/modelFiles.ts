import { InferenceError } from '../errors';
import type { Architecture, AttentionKind } from '../protocol';

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
  /** ONNX files by role, absolute paths. */
  readonly files: OnnxFiles;
}

export type OnnxFiles =
  | { readonly kind: 'causal-lm'; readonly decoder: string }
  | { readonly kind: 'encoder-decoder-merged'; readonly encoder: string; readonly decoder: string }
  | { readonly kind: 'encoder-decoder-split'; readonly encoder: string; readonly decoder: string; readonly decoderWithPast: string }
  | { readonly kind: 'rnn-seq2seq'; readonly encoder: string; readonly decoderStep: string };

export type ModelConfig = Record<string, unknown> & { readonly model_type: string };

export type TappedKind = AttentionKind;

/** One attention-probability tensor made visible as a graph output: `[batch, heads, query, key]`. */
export interface AttentionOutput {
  readonly name: string;
  readonly kind: TappedKind;
  readonly layer: number;
}

export function configNumber(config: Record<string, unknown>, names: readonly string[], fallback?: number): number {
  for (const name of names) {
    const v = config[name];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  if (fallback !== undefined) return fallback;
  throw new InferenceError('unsupported-model', `config.json lacks ${names.join(' / ')}.`);
}

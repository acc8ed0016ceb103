/**
 * Hub models recommended per role in Pick Model: ONNX exports for transformers.js that this engine
 * runs (each layout is one of the tested replicas: Qwen2, GPT-2, Marian, BART, T5). Sizes are
 * estimates from the parameter count and the bytes per weight of each dtype, not file listings.
 */
import type { Dtype } from '../inference/protocol';
import type { ModelRole } from '../settings';

export interface RecommendedModel {
  readonly id: string;
  readonly roles: readonly ModelRole[];
  /** Parameters, millions (the published model card's count). */
  readonly millions: number;
  /** The dtypes its onnx/ folder ships. */
  readonly dtypes: readonly Dtype[];
  readonly note: string;
}

const ALL: readonly Dtype[] = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'];
const CLASSIC: readonly Dtype[] = ['fp32', 'q8'];

export const RECOMMENDED_MODELS: readonly RecommendedModel[] = [
  { id: 'onnx-community/Qwen2.5-Coder-0.5B-Instruct', roles: ['completion'], millions: 494, dtypes: ALL, note: 'code completion, 32k context' },
  { id: 'onnx-community/Qwen2.5-0.5B-Instruct', roles: ['completion'], millions: 494, dtypes: ALL, note: 'prose and code, 32k context' },
  { id: 'HuggingFaceTB/SmolLM2-135M-Instruct', roles: ['completion'], millions: 135, dtypes: ALL, note: 'small and fast' },
  { id: 'Xenova/distilgpt2', roles: ['completion'], millions: 82, dtypes: CLASSIC, note: 'GPT-2, the classic small model' },
  { id: 'Xenova/distilbart-cnn-6-6', roles: ['summarization'], millions: 230, dtypes: CLASSIC, note: 'news summaries (CNN/DailyMail)' },
  { id: 'Xenova/t5-small', roles: ['summarization', 'translation'], millions: 60, dtypes: CLASSIC, note: 'summaries; English to German, French, Romanian' },
  { id: 'Xenova/opus-mt-en-de', roles: ['translation'], millions: 74, dtypes: CLASSIC, note: 'English to German (Marian)' },
  { id: 'Xenova/opus-mt-en-fr', roles: ['translation'], millions: 75, dtypes: CLASSIC, note: 'English to French (Marian)' },
  { id: 'Xenova/opus-mt-en-es', roles: ['translation'], millions: 78, dtypes: CLASSIC, note: 'English to Spanish (Marian)' },
];

/** Bytes per weight of each dtype (4-bit formats keep scales, and embeddings at 8 bits or more). */
const BYTES_PER_WEIGHT: Readonly<Record<Dtype, number>> = { fp32: 4, fp16: 2, q8: 1, int8: 1, uint8: 1, q4: 0.75, q4f16: 0.6, bnb4: 0.75 };

/** The approximate download of a model in a dtype, in MB. */
export function estimatedMegabytes(model: RecommendedModel, dtype: Dtype): number {
  return Math.round(model.millions * BYTES_PER_WEIGHT[dtype]);
}

/** "≈ 190 MB (q8)" style text for the smallest and the full-precision download. */
export function sizeSummary(model: RecommendedModel): string {
  const sizes = model.dtypes.map((d) => ({ d, mb: estimatedMegabytes(model, d) })).sort((a, b) => a.mb - b.mb);
  const text = (s: { d: Dtype; mb: number }): string => `≈ ${s.mb >= 1000 ? `${(s.mb / 1000).toFixed(1)} GB` : `${s.mb} MB`} ${s.d}`;
  return sizes.length > 1 ? `${text(sizes[0])} … ${text(sizes[sizes.length - 1])}` : text(sizes[0]);
}

export function recommendedFor(role: ModelRole): RecommendedModel[] {
  return RECOMMENDED_MODELS.filter((m) => m.roles.includes(role));
}

/**
 * Hub models recommended per role in Pick Model: ONNX exports for transformers.js that this engine
 * runs (each layout is one of the tested replicas: Qwen2, Llama, GPT-2, Marian, BART, T5), with the
 * download of each dtype their onnx/ folder ships (the ONNX files that dtype loads: `model_*.onnx`,
 * or `encoder_model_*` + `decoder_model_merged_*`; external data included; tokenizer and configs
 * add a few MB). Sizes were read from the repos' Hub file listings; `approx` ones from an older
 * listing or a copy of the repo. Repos gain dtypes over time: one not listed may exist, and the
 * check before saving says which ones a repo has.
 */
import type { Dtype } from '../inference/protocol';
import type { ModelRole } from '../settings';

export interface DownloadSize {
  /** Megabytes (10^6 bytes), as the Hub lists them. */
  readonly mb: number;
  /** Not read from the repo's current listing: shown with "≈". */
  readonly approx?: boolean;
}

export interface RecommendedModel {
  readonly id: string;
  readonly roles: readonly ModelRole[];
  /** The dtypes its onnx/ folder is known to ship, with their download. */
  readonly sizes: Readonly<Partial<Record<Dtype, DownloadSize>>>;
  readonly note: string;
}

export const RECOMMENDED_MODELS: readonly RecommendedModel[] = [
  {
    id: 'onnx-community/Qwen2.5-Coder-0.5B-Instruct',
    roles: ['completion'],
    note: 'code completion, 32k context',
    sizes: { q4f16: { mb: 555 }, q8: { mb: 639 }, int8: { mb: 639 }, uint8: { mb: 639 }, bnb4: { mb: 832 }, q4: { mb: 862 }, fp16: { mb: 1260 }, fp32: { mb: 2530 } },
  },
  {
    id: 'onnx-community/Qwen2.5-0.5B-Instruct',
    roles: ['completion'],
    note: 'prose and code, 32k context',
    sizes: { q4f16: { mb: 483 }, q8: { mb: 512 }, int8: { mb: 512 }, uint8: { mb: 512 }, bnb4: { mb: 764 }, q4: { mb: 786 }, fp16: { mb: 997 }, fp32: { mb: 1990 } },
  },
  { id: 'HuggingFaceTB/SmolLM2-135M-Instruct', roles: ['completion'], note: 'small and fast', sizes: { q4f16: { mb: 134 }, q4: { mb: 200 }, fp16: { mb: 327 }, fp32: { mb: 654 } } },
  { id: 'Xenova/distilgpt2', roles: ['completion'], note: 'GPT-2, the classic small model', sizes: { q8: { mb: 85 }, fp32: { mb: 330 } } },
  { id: 'Xenova/distilbart-cnn-6-6', roles: ['summarization'], note: 'news summaries (CNN/DailyMail)', sizes: { q8: { mb: 340, approx: true }, fp32: { mb: 1130, approx: true } } },
  { id: 'Xenova/t5-small', roles: ['summarization', 'translation'], note: 'summaries; English to German, French, Romanian', sizes: { q8: { mb: 78 }, fp16: { mb: 155 }, fp32: { mb: 308 } } },
  { id: 'Xenova/opus-mt-en-de', roles: ['translation'], note: 'English to German (Marian)', sizes: { q8: { mb: 106 }, fp16: { mb: 209 }, fp32: { mb: 418 } } },
  { id: 'Xenova/opus-mt-en-fr', roles: ['translation'], note: 'English to French (Marian)', sizes: { q8: { mb: 108 }, fp16: { mb: 212 }, fp32: { mb: 424 } } },
  { id: 'Xenova/opus-mt-en-es', roles: ['translation'], note: 'English to Spanish (Marian)', sizes: { q8: { mb: 147, approx: true }, fp32: { mb: 579, approx: true } } },
];

/** The dtypes a recommended model is known to ship, smallest download first. */
export function knownDtypes(model: RecommendedModel): Dtype[] {
  return (Object.keys(model.sizes) as Dtype[]).sort((a, b) => model.sizes[a]!.mb - model.sizes[b]!.mb);
}

/** `786 MB`, `1.99 GB`, `≈ 340 MB`. */
export function formatSize(size: DownloadSize): string {
  const text = size.mb >= 1000 ? `${(size.mb / 1000).toFixed(2).replace(/\.?0+$/, '')} GB` : `${Math.round(size.mb)} MB`;
  return size.approx ? `≈ ${text}` : text;
}

/** "85 MB q8 … 330 MB fp32": the smallest and the largest known download. */
export function sizeSummary(model: RecommendedModel): string {
  const dtypes = knownDtypes(model);
  const text = (d: Dtype): string => `${formatSize(model.sizes[d]!)} ${d}`;
  return dtypes.length > 1 ? `${text(dtypes[0]!)} … ${text(dtypes[dtypes.length - 1]!)}` : text(dtypes[0]!);
}

export function recommendedFor(role: ModelRole): RecommendedModel[] {
  return RECOMMENDED_MODELS.filter((m) => m.roles.includes(role));
}

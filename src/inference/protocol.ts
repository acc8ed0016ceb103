/**
 * The one place where the messages between the extension host (or the CLI) and the inference
 * worker are declared. Everything that crosses the thread boundary is plain structured-clone data.
 */

import type { Dtype, DtypeChoice } from './models/dtype';

/** Where a model comes from: a local folder in Hub layout, or a Hub model id. */
export interface ModelSpec {
  /** A folder path (absolute, or relative to the bundled models folder) or a Hub id such as `Xenova/gpt2`. */
  readonly source: string;
  /** Execution provider preference. `auto` tries GPU providers and falls back to CPU. */
  readonly device?: DevicePreference;
  /** Load the attention-tapped graph so that attention weights can be returned. */
  readonly attentions?: boolean;
  /**
   * Which ONNX files to load, as transformers.js names their dtypes (`model_q4.onnx` is q4). `auto`
   * (the default): what config.json's `transformers.js_config.dtype` declares, else the smallest file
   * that runs well on the device.
   */
  readonly dtype?: DtypeChoice;
  /**
   * Take `dtype` as a preference: a model without files of that dtype loads what `auto` would (the
   * editor's one setting for all models); without it (the CLI's `--dtype`), such a model is refused.
   */
  readonly dtypeFallback?: boolean;
  /** Older name for `dtype: 'q8'` (`*_quantized.onnx`); `dtype` wins when both are given. */
  readonly quantized?: boolean;
  /**
   * A serving engine that runs the model (vLLM, llama.cpp's server, Ollama, LM Studio): `source` is
   * then the name the server knows the model by. Nothing is loaded locally.
   */
  readonly endpoint?: EndpointSpec;
}

/** How a serving engine is spoken to. */
export type ServingApi = 'openai' | 'llama.cpp' | 'ollama';

export const SERVING_APIS: readonly ServingApi[] = ['openai', 'llama.cpp', 'ollama'];

export interface EndpointSpec {
  /** Base URL: `http://host:8000/v1` (OpenAI-compatible), `http://host:8080` (llama.cpp), `http://host:11434` (Ollama). */
  readonly url: string;
  /** `openai` (the default): `/v1/completions`, served by vLLM, llama.cpp and LM Studio. */
  readonly api?: ServingApi;
  /** Sent as `Authorization: Bearer …` (the editor keeps it in its secret storage). */
  readonly apiKey?: string;
}

export type { Dtype, DtypeChoice } from './models/dtype';

export type DevicePreference = 'auto' | 'cpu' | 'webgpu' | 'cuda' | 'dml' | 'coreml';

export interface HubOptions {
  /** Folder where downloaded Hub models are cached. */
  readonly cacheDir?: string;
  /** Refuse any network access: only local folders and the cache are used. */
  readonly offline?: boolean;
  /** Base URL of the Hub (tests point it at a local server). */
  readonly remoteHost?: string;
}

export type Architecture = 'causal-lm' | 'encoder-decoder' | 'rnn-seq2seq';

export interface ModelInfo {
  readonly source: string;
  readonly folder: string;
  readonly modelType: string;
  readonly architecture: Architecture;
  readonly device: string;
  /** Why the providers tried before `device` were not used. */
  readonly deviceNotes: readonly string[];
  readonly maxContext: number;
  readonly vocabSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  /** Tasks declared by the model's config (`summarization`, `translation_en_to_de`, …). */
  readonly tasks: readonly string[];
  /** `null` when attention can be captured; otherwise the reason it cannot. */
  readonly attentionUnavailable: string | null;
  /**
   * `null` when the logit lens can be computed (the model was loaded for inspection and its graph
   * exposes the residual stream and the output head); otherwise the reason it cannot.
   */
  readonly lensUnavailable?: string | null;
  readonly loadMs: number;
  /** The ONNX files that were loaded, relative to the folder. */
  readonly onnxFiles: readonly string[];
  /** The dtype of the loaded files (`q8`, or `encoder_model fp32, decoder_model_merged q4` where they differ). */
  readonly dtype: string;
  /** Why prompt-lookup drafting is off for this model (null when several tokens may share a pass exactly). */
  readonly draftingUnavailable: string | null;
  /** Set when the loaded dtype is not the one asked for (a preference the model lacks). */
  readonly dtypeNote?: string;
  /** The dtypes this model's folder has every file in. */
  readonly availableDtypes: readonly Dtype[];
  /** Set when a serving engine runs the model: where, and how it is spoken to. */
  readonly served?: { readonly url: string; readonly api: ServingApi };
  /**
   * Whether the output continues the prompt (a causal LM) rather than being generated from a
   * source (Seq2Seq). Optional until the engine sets it: read it through `continuesPrompt`.
   */
  readonly continuesPrompt?: boolean;
}

/** The one place that derives `continuesPrompt` from the architecture when the engine does not say. */
export function continuesPrompt(info: Pick<ModelInfo, 'architecture' | 'continuesPrompt'>): boolean {
  return info.continuesPrompt ?? info.architecture === 'causal-lm';
}

// ---- Task names -------------------------------------------------------------------------------

/** Names of the language codes that models declare in their translation tasks. */
export const LANGUAGE_NAMES: Readonly<Record<string, string>> = {
  de: 'German',
  fr: 'French',
  es: 'Spanish',
  it: 'Italian',
  pt: 'Portuguese',
  nl: 'Dutch',
  zh: 'Chinese',
  ja: 'Japanese',
  ru: 'Russian',
  ro: 'Romanian',
  en: 'English',
};

export function languageName(code: string): string {
  return LANGUAGE_NAMES[code] ?? code;
}

/** Target languages a model declares (`translation_en_to_de` → `de`), each once, in order. */
export function translationTargets(tasks: readonly string[]): string[] {
  const out: string[] = [];
  for (const t of tasks) {
    const to = /^translation_[a-z]+_to_([a-z]+)$/i.exec(t)?.[1]?.toLowerCase();
    if (to && !out.includes(to)) out.push(to);
  }
  return out;
}

export type Strategy = 'greedy' | 'sample' | 'beam';

export interface DecodingOptions {
  readonly strategy?: Strategy;
  readonly maxNewTokens?: number;
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly seed?: number;
  readonly numBeams?: number;
  readonly numReturnSequences?: number;
  readonly lengthPenalty?: number;
  readonly earlyStopping?: boolean;
  readonly repetitionPenalty?: number;
  readonly noRepeatNgramSize?: number;
  readonly stopStrings?: readonly string[];
  /**
   * Stop where the text starts to loop: a line it already wrote (or the prompt's line it continues),
   * or words repeated back to back. The text ends before the repetition; `finishReason` is 'repetition'.
   */
  readonly stopOnRepetition?: boolean;
  /** Number of alternatives recorded per token in the trace. */
  readonly topAlternatives?: number;
  /** Capture attention weights (needs a model loaded with `attentions: true`). */
  readonly attentions?: boolean;
  /**
   * Logit lens: add to every token's trace what the model would predict after each layer (needs a
   * model loaded with `attentions: true`, which loads it for inspection).
   */
  readonly logitLens?: boolean;
  /** Constrain generation to these token ids (plus EOS). */
  readonly allowedTokenIds?: readonly number[];
  /**
   * Greedy only: how many tokens prompt-lookup drafting may propose per forward pass (0 = off; default
   * 8). The output is the same either way; only the number of passes changes.
   */
  readonly promptLookupTokens?: number;
}

export type Task =
  | { readonly kind: 'generate' }
  | { readonly kind: 'summarize' }
  | { readonly kind: 'translate'; readonly to: string };

export interface GenerateRequest {
  readonly model: ModelSpec;
  /** Prompt for a causal LM; encoder input for Seq2Seq models. */
  readonly prompt: string;
  /** Token ids to force at the start of the continuation (branching from an alternative). */
  readonly forcedPrefixIds?: readonly number[];
  /**
   * The text after the cursor: the prompt is then the text before it, and a model trained for
   * fill-in-the-middle (StarCoder, Qwen2.5-Coder, CodeLlama, DeepSeek-Coder, Codestral…) writes what goes
   * between, in its own format; a model without such tokens continues the prompt alone (`fimUnavailable`).
   */
  readonly suffix?: string;
  /**
   * Context from beyond the text around the cursor (a decoder model only): the file's path and snippets of other
   * files, put before the prompt in the model family's own way. The prompt (and suffix) are fitted first; this
   * takes only the tokens left, at most `maxTokens`.
   */
  readonly context?: PromptContext;
  readonly task?: Task;
  readonly options?: DecodingOptions;
  /** Keep only the last tokens of a prompt longer than the context instead of failing. */
  readonly truncatePrompt?: boolean;
  /** Stream `token` events while decoding. */
  readonly stream?: boolean;
}

/** What a completion knows beyond the text around the cursor (`GenerateRequest.context`). */
export interface PromptContext {
  /** The current file's path as its header names it (workspace-relative). */
  readonly path: string;
  /** The file's line comment, for a model without repository-level tokens: `#`, `//`, or an opener and closer (`<!--`, `-->`). */
  readonly comment: { readonly open: string; readonly close?: string };
  /** Snippets of other files, most relevant first: the first ones are kept when the budget is short. */
  readonly snippets: readonly { readonly path: string; readonly text: string }[];
  /** Most tokens the header and snippets together may take. */
  readonly maxTokens: number;
}

export interface ScoreRequest {
  readonly model: ModelSpec;
  /** Text to score; for Seq2Seq models the target, given `source`. */
  readonly text: string;
  readonly source?: string;
  readonly topAlternatives?: number;
  readonly attentions?: boolean;
  /** Logit lens for every scored token (see `DecodingOptions.logitLens`). */
  readonly logitLens?: boolean;
  /** Score only the start of a text (or source) longer than the context instead of failing. */
  readonly truncate?: boolean;
}

export interface Alternative {
  readonly id: number;
  readonly text: string;
  readonly prob: number;
}

export interface TokenTrace {
  readonly id: number;
  readonly text: string;
  readonly prob: number;
  readonly logprob: number;
  /** 1 = the most probable token. */
  readonly rank: number;
  /** Entropy of the step's distribution, in nats. */
  readonly entropy: number;
  /** Most probable first. */
  readonly top: readonly Alternative[];
  /**
   * Set for a token from a serving engine, which returns only its `topN` most probable alternatives:
   * `rank` is `topN + 1` when the chosen token is not among them (beyond the top N), `entropy` is
   * estimated from the top N (the rest counted as one outcome: a lower bound), and ids are -1 where
   * the API gives only token texts.
   */
  readonly topN?: number;
  /**
   * Logit lens, when asked for: one entry per layer, first to last. Entry `i` reads the residual
   * stream after block `i` through the model's final norm and output head; the last entry is the
   * model's own output distribution (before any logits processor).
   */
  readonly lens?: readonly LensEntry[];
}

/** How many of its most probable tokens each layer's lens entry lists. */
export const LENS_TOP = 5;

/** What the model would predict after one layer, and where the chosen token stands there. */
export interface LensEntry {
  readonly layer: number;
  /** Rank of the chosen token (1 = most probable) in this layer's distribution. */
  readonly rank: number;
  /** Probability of the chosen token in this layer's distribution. */
  readonly prob: number;
  /** Most probable first. */
  readonly top: readonly Alternative[];
}

export type AttentionKind = 'self' | 'encoder' | 'decoder' | 'cross' | 'alignment';

export interface AttentionMap {
  readonly kind: AttentionKind;
  /** Token texts along the query (row) axis. */
  readonly queryTokens: readonly string[];
  /** Token texts along the key (column) axis. */
  readonly keyTokens: readonly string[];
  /** layers × heads × query × key. The RNN alignment has one layer and one head. */
  readonly weights: number[][][][];
}

export interface Timings {
  readonly load_ms: number;
  readonly first_token_ms: number;
  readonly tokens_per_s: number;
  readonly total_ms: number;
  /** Decoder forward passes, the prompt's included: fewer than tokens when prompt-lookup drafts were confirmed. */
  readonly decoder_passes: number;
}

export interface SequenceResult {
  readonly text: string;
  readonly ids: readonly number[];
  /** Sum of log-probabilities. */
  readonly logprob: number;
  /** Length-normalised score that ranked the beam. */
  readonly score: number;
}

export interface GenerateResult {
  readonly text: string;
  readonly tokens: readonly TokenTrace[];
  readonly finishReason: 'eos' | 'length' | 'stop-string' | 'repetition' | 'cancelled';
  readonly device: string;
  readonly timings: Timings;
  readonly sequences?: readonly SequenceResult[];
  readonly attentions?: readonly AttentionMap[];
  readonly attentionUnavailable?: string;
  /** Why `logitLens` was asked for but not computed. */
  readonly lensUnavailable?: string;
  /**
   * Set when a suffix was given and the model filled the middle: its format, and the formatted prompt's
   * length in tokens. A served model's prompt is formatted either by this client, from the family its
   * name says (`formattedBy: 'client'`, format the family), or by the server (`'server'`: llama.cpp's
   * `/infill`, Ollama's template, the completions API's `suffix`; format names the route); its
   * `promptTokens` is the server's count (0 where the server gives none).
   */
  readonly fim?: { readonly format: string; readonly promptTokens: number; readonly formattedBy?: 'client' | 'server' };
  /** Why a suffix was given but not used (the model has no fill-in-the-middle tokens). */
  readonly fimUnavailable?: string;
  /** Set when a `context` was given: the tokens it took, how it was written, and how many of its snippets fitted. */
  readonly context?: { readonly tokens: number; readonly style: 'file-separator' | 'comments'; readonly snippets: number; readonly offered: number };
  /** Why `tokens` is empty although text was generated (a server that returns no log-probabilities). */
  readonly traceUnavailable?: string;
  /** Encoder input tokens (Seq2Seq) or prompt tokens (causal), as texts. */
  readonly inputTokens: readonly string[];
  readonly inputIds: readonly number[];
  /**
   * Set when `truncatePrompt` cut the input to fit the model: its length in tokens and how many the
   * model read (a Seq2Seq source keeps its start, a causal prompt its end).
   */
  readonly inputTruncated?: { readonly tokens: number; readonly kept: number };
  /**
   * The generation settings this run used, as transformers names them (`no_repeat_ngram_size`,
   * `bad_words_ids`, …), each with where it came from: the model's config, its task parameters, the
   * request, or the default.
   */
  readonly generationSettings?: Readonly<Record<string, { readonly value: unknown; readonly from: 'default' | 'model' | 'task' | 'request' }>>;
}

export interface ScoreResult {
  /** The text that was scored: the request's text, or its start when `truncate` cut it. */
  readonly text: string;
  readonly truncated: boolean;
  /** The tokens of `text` that have a context: a causal LM's first token is scored only when its tokenizer adds BOS. */
  readonly tokens: readonly TokenTrace[];
  readonly totalLogprob: number;
  readonly perplexity: number;
  readonly device: string;
  readonly attentions?: readonly AttentionMap[];
  readonly attentionUnavailable?: string;
  /** Why `logitLens` was asked for but not computed. */
  readonly lensUnavailable?: string;
  readonly sourceTokens?: readonly string[];
}

export interface LoadProgress {
  readonly file: string;
  readonly loaded: number;
  readonly total: number;
  readonly status: 'download' | 'done' | 'cached';
}

// ---- Requests -------------------------------------------------------------------------------

/**
 * Every request the worker answers, tied to its parameters and its result (as rust-analyzer's
 * `lsp_ext.ts` ties each request to its types): `client.request('generate', …)` is a
 * `Promise<GenerateResult>`, with no casts on either side.
 */
export interface RequestMap {
  readonly configure: { readonly params: { readonly hub: HubOptions; readonly bundledModelsDir: string }; readonly result: void };
  readonly load: { readonly params: ModelSpec; readonly result: ModelInfo };
  readonly generate: { readonly params: GenerateRequest; readonly result: GenerateResult };
  readonly score: { readonly params: ScoreRequest; readonly result: ScoreResult };
  /** The models a serving engine offers (`/v1/models`, Ollama's `/api/tags`), for choosing one. */
  readonly servedModels: { readonly params: EndpointSpec; readonly result: readonly string[] };
  /** Without a model: every model. */
  readonly unload: { readonly params: ModelSpec | undefined; readonly result: void };
  /** The client's heartbeat while requests are pending: an engine that stops answering is restarted. */
  readonly ping: { readonly params: Record<string, never>; readonly result: void };
  /**
   * Fault injection for the isolation tests: honoured only by an engine started with
   * LMLENS_ENGINE_FAULTS=1 in its environment, refused as a bad request otherwise.
   */
  readonly fault: { readonly params: { readonly how: EngineFault }; readonly result: void };
}

export type EngineFault = 'abort' | 'exit' | 'uncaught' | 'hang' | 'heap';

export type RequestKind = keyof RequestMap;
export type ParamsOf<K extends RequestKind> = RequestMap[K]['params'];
export type ResultOf<K extends RequestKind> = RequestMap[K]['result'];

// ---- Messages -------------------------------------------------------------------------------

/** A request; `id` is assigned by the client and echoed by every response to it. */
export type RequestMessage = { [K in RequestKind]: { readonly type: K; readonly id: number; readonly params: ParamsOf<K> } }[RequestKind];

export type WorkerRequest = RequestMessage | { readonly type: 'cancel'; readonly target: number };

export type WorkerResponse =
  | { readonly type: 'result'; readonly id: number; readonly result: ResultOf<RequestKind> }
  | { readonly type: 'error'; readonly id: number; readonly error: WorkerErrorInfo }
  /** One decoded token and the text it added: the concatenated deltas are the final text (O(n) bytes, not O(n²)). */
  | { readonly type: 'token'; readonly id: number; readonly token: TokenTrace; readonly delta: string }
  | { readonly type: 'progress'; readonly id: number; readonly progress: LoadProgress }
  | { readonly type: 'log'; readonly level: 'info' | 'warn' | 'error'; readonly message: string };

export type ErrorCode =
  | 'model-not-found'
  | 'model-corrupt'
  | 'unsupported-model'
  | 'unsupported-device'
  | 'context-overflow'
  | 'unsupported-task'
  | 'offline'
  | 'download-failed'
  | 'server-unreachable'
  | 'server-error'
  | 'out-of-memory'
  | 'cancelled'
  | 'worker-crashed'
  | 'bad-request'
  | 'internal';

export interface WorkerErrorInfo {
  readonly code: ErrorCode;
  readonly message: string;
}

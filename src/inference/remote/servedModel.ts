import { InferenceError } from '../errors';
import { resolveGenerationSettings } from '../decoding/generationConfig';
import type { EndpointSpec, GenerateRequest, GenerateResult, ModelInfo, ModelSpec, ScoreRequest, ScoreResult, TokenTrace } from '../protocol';
import type { HttpOptions } from './httpClient';
import { LlamaCppServer } from './llamaCppApi';
import { OllamaServer } from './ollamaApi';
import { OpenAiCompletions } from './openaiApi';
import { servedTrace } from './servedTrace';
import type { ServingAdapter } from './servingAdapter';

/** What a request to a serving engine needs of the engine's hooks. */
export interface ServedHooks {
  readonly isCancelled: () => boolean;
  readonly onToken?: (token: TokenTrace, delta: string) => void;
}

/** Alternatives per token a request may ask a server for (vLLM's default `--max-logprobs` is 20; Ollama's limit is 20). */
const MAX_SERVED_ALTERNATIVES = 20;

/** The adapter for an endpoint; an OpenAI-compatible URL without a version path gets `/v1`. */
export function servingAdapter(endpoint: EndpointSpec): ServingAdapter {
  let url: URL;
  try {
    url = new URL(endpoint.url);
  } catch {
    throw new InferenceError('bad-request', `The endpoint "${endpoint.url}" is not a URL (for example http://127.0.0.1:8000/v1).`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InferenceError('bad-request', `The endpoint "${endpoint.url}" must be an http:// or https:// URL.`);
  let base = url.toString().replace(/\/+$/, '');
  const api = endpoint.api ?? 'openai';
  if (api === 'openai' && !/\/v\d+$/.test(url.pathname.replace(/\/+$/, ''))) base += '/v1';
  if (api === 'llama.cpp') return new LlamaCppServer(base);
  if (api === 'ollama') return new OllamaServer(base);
  return new OpenAiCompletions(base);
}

const ATTENTION_NOT_SERVED = 'Attention never leaves a serving engine: its attention kernels are fused, and the API returns only tokens and their log-probabilities.';
const LENS_NOT_SERVED = 'The logit lens needs the residual stream, which a serving engine does not return.';

/** The `device` a served result names: which API, at which host. */
function servedDevice(adapter: ServingAdapter): string {
  return `${adapter.api} server at ${new URL(adapter.base).host}`;
}

function http(spec: ModelSpec, hooks: ServedHooks): HttpOptions {
  return { apiKey: spec.endpoint?.apiKey, isCancelled: hooks.isCancelled };
}

/** The model as the server lists it; an unknown name is refused with the names the server has. */
export async function servedModelInfo(spec: ModelSpec, hooks: ServedHooks): Promise<ModelInfo> {
  const started = performance.now();
  const adapter = servingAdapter(spec.endpoint!);
  const models = await adapter.models(http(spec, hooks));
  const model = models.find((m) => m.name === spec.source || m.name === `${spec.source}:latest`);
  if (!model) {
    const names = models.map((m) => m.name);
    throw new InferenceError('model-not-found', `${adapter.base} serves no model "${spec.source}"${names.length ? `; it serves: ${names.slice(0, 20).join(', ')}` : ''}.`);
  }
  return {
    source: spec.source,
    folder: '',
    modelType: adapter.api,
    architecture: 'causal-lm',
    device: servedDevice(adapter),
    deviceNotes: [],
    maxContext: model.contextLength ?? 0,
    vocabSize: 0,
    numLayers: 0,
    numHeads: 0,
    tasks: [],
    attentionUnavailable: ATTENTION_NOT_SERVED,
    lensUnavailable: LENS_NOT_SERVED,
    loadMs: performance.now() - started,
    onnxFiles: [],
    dtype: 'as served',
    draftingUnavailable: 'The server decodes: prompt-lookup drafting is the local engine\'s.',
    availableDtypes: [],
    continuesPrompt: true,
    served: { url: adapter.base, api: adapter.api },
  };
}

/** A generation by the server, streamed, with a trace per token from the log-probabilities it returns. */
export async function servedGenerate(request: GenerateRequest, hooks: ServedHooks): Promise<GenerateResult> {
  const adapter = servingAdapter(request.model.endpoint!);
  if (request.task && request.task.kind !== 'generate') throw new InferenceError('unsupported-task', `A served model continues text; ${request.task.kind} needs a local Seq2Seq model or a prompt that asks for it.`);
  if (request.forcedPrefixIds?.length) throw new InferenceError('bad-request', 'Branching from an alternative forces token ids, which a serving engine\'s API does not take: append the alternative\'s text to the prompt instead.');
  const { config, report } = resolveGenerationSettings(request.options, {}, {});
  if (config.strategy === 'beam') throw new InferenceError('bad-request', `Beam search is not offered through the ${adapter.api} API; use greedy decoding or sampling.`);
  const started = performance.now();
  let firstMs = 0;
  let text = '';
  const tokens: TokenTrace[] = [];
  let finishReason: GenerateResult['finishReason'] = 'length';
  const served = {
    model: request.model.source,
    prompt: request.prompt,
    ...(request.suffix !== undefined ? { suffix: request.suffix } : {}),
    maxNewTokens: config.maxNewTokens,
    sampling: config.strategy === 'sample' ? { temperature: config.temperature, topP: config.topP < 1 ? config.topP : undefined, topK: config.topK > 0 ? config.topK : undefined, seed: config.seed } : null,
    stop: config.stopStrings,
    alternatives: Math.min(MAX_SERVED_ALTERNATIVES, Math.max(1, config.topAlternatives)),
  };
  try {
    for await (const event of adapter.generate(served, http(request.model, hooks))) {
      if (event.text && !firstMs) firstMs = performance.now() - started;
      let emitted = '';
      event.tokens.forEach((token, i) => {
        const trace = servedTrace(token, served.alternatives);
        tokens.push(trace);
        // The deltas add up to the event's text (the last token takes what the server trimmed or added).
        const delta = i === event.tokens.length - 1 ? event.text.slice(emitted.length) : token.text;
        emitted += delta;
        if (request.stream) hooks.onToken?.(trace, delta);
      });
      text += event.text;
      if (event.finish) finishReason = event.finish;
    }
  } catch (err) {
    if (!(err instanceof InferenceError && err.code === 'cancelled')) throw err;
    finishReason = 'cancelled';
  }
  const totalMs = performance.now() - started;
  return {
    text,
    tokens,
    finishReason,
    device: servedDevice(adapter),
    timings: { load_ms: 0, first_token_ms: firstMs, tokens_per_s: tokens.length > 1 && totalMs > firstMs ? ((tokens.length - 1) * 1000) / (totalMs - firstMs) : 0, total_ms: totalMs, decoder_passes: tokens.length },
    attentionUnavailable: config.attentions ? ATTENTION_NOT_SERVED : undefined,
    lensUnavailable: config.logitLens ? LENS_NOT_SERVED : undefined,
    traceUnavailable: text && tokens.length === 0 ? `${adapter.base} returned no log-probabilities, so the text has no per-token trace (the server ignores logprobs, or was started without them).` : undefined,
    inputTokens: [],
    inputIds: [],
    generationSettings: report,
  };
}

/** Every token's log-probability in a given text, where the server echoes them (vLLM). */
export async function servedScore(request: ScoreRequest, hooks: ServedHooks): Promise<ScoreResult> {
  const adapter = servingAdapter(request.model.endpoint!);
  if (request.source !== undefined) throw new InferenceError('bad-request', 'A served model scores a text on its own; a source text is for local Seq2Seq models.');
  const alternatives = Math.min(MAX_SERVED_ALTERNATIVES, Math.max(1, request.topAlternatives ?? 10));
  const served = await adapter.score(request.model.source, request.text, alternatives, http(request.model, hooks));
  const tokens = served.map((t) => servedTrace(t, alternatives));
  const total = tokens.reduce((sum, t) => sum + t.logprob, 0);
  return {
    text: request.text,
    truncated: false,
    tokens,
    totalLogprob: total,
    perplexity: tokens.length ? Math.exp(-total / tokens.length) : NaN,
    device: servedDevice(adapter),
    attentionUnavailable: request.attentions ? ATTENTION_NOT_SERVED : undefined,
    lensUnavailable: request.logitLens ? LENS_NOT_SERVED : undefined,
  };
}

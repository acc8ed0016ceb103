import { InferenceError } from '../errors';
import { resolveGenerationSettings } from '../decoding/generationConfig';
import { repetitionStart } from '../decoding/repetitionStop';
import { blankSuffix, fimFamiliesByName, fimFormatForModelName, fimPromptText } from '../fillInTheMiddle';
import type { EndpointSpec, GenerateRequest, GenerateResult, ModelInfo, ModelSpec, ScoreRequest, ScoreResult, SequenceResult, TokenTrace } from '../protocol';
import type { HttpOptions } from './httpClient';
import { LlamaCppServer } from './llamaCppApi';
import { OllamaServer } from './ollamaApi';
import { OpenAiCompletions } from './openaiApi';
import { servedTrace } from './servedTrace';
import type { ServedEvent, ServedRequest, ServingAdapter } from './servingAdapter';

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

/** How the text after the cursor reaches the server: written into the prompt here, or left to the server. */
interface ServedFim {
  readonly prompt: string;
  /** Sent as the API's own suffix (llama.cpp /infill, Ollama's template, the completions API's `suffix`). */
  readonly suffix?: string;
  readonly stops: readonly string[];
  readonly format: string;
  readonly formattedBy: 'client' | 'server';
}

/**
 * An OpenAI-compatible completions API takes text only (vLLM refuses `suffix` for most models), so
 * the prompt is written here in the format of the family the model's name says, as Continue writes
 * it, with the family's end markers as stop strings. llama.cpp and Ollama format it themselves from
 * the model's own tokens and template; so does an OpenAI-compatible server for a family unknown here.
 */
function servedFim(adapter: ServingAdapter, model: string, prefix: string, suffix: string): ServedFim {
  const format = adapter.api === 'openai' ? fimFormatForModelName(model) : undefined;
  if (format) return { prompt: fimPromptText(format, prefix, suffix), stops: format.stops, format: format.name, formattedBy: 'client' };
  return { prompt: prefix, suffix, stops: [], format: adapter.serverFim, formattedBy: 'server' };
}

/** Why a server refused to fill in the middle, and what to do. */
function fimRefusedBecause(adapter: ServingAdapter, model: string): string {
  if (adapter.api === 'openai') {
    return `The model name "${model}" names no fill-in-the-middle family this client writes the prompt for (${fimFamiliesByName()}), so the text after the cursor went as the API's \`suffix\`, which this server refuses. Serve the model under a name that contains its family (vLLM: --served-model-name), or serve it with llama.cpp or Ollama, which format the prompt themselves.`;
  }
  return `The model "${model}" has no fill-in-the-middle ${adapter.api === 'ollama' ? 'template' : 'tokens'}: serve a code model trained for it (Qwen2.5-Coder, StarCoder2, DeepSeek-Coder, CodeLlama, Codestral…).`;
}

/**
 * Servers (base URL and model) that refused to fill in the middle, with the message that says so:
 * later requests with a suffix continue the prefix alone at once instead of asking again.
 */
const SUFFIX_REFUSED = new Map<string, string>();

/** One sequence of a reply as it arrives. */
class ServedSequence {
  text = '';
  readonly tokens: TokenTrace[] = [];
  finishReason: GenerateResult['finishReason'] = 'length';
  /** Where the text starts to repeat itself (it ends there), or -1. */
  repeatsAt = -1;

  get logprob(): number {
    return this.tokens.reduce((sum, t) => sum + t.logprob, 0);
  }
}

/** A generation by the server, streamed, with a trace per token from the log-probabilities it returns. */
export async function servedGenerate(request: GenerateRequest, hooks: ServedHooks): Promise<GenerateResult> {
  const adapter = servingAdapter(request.model.endpoint!);
  if (request.task && request.task.kind !== 'generate') throw new InferenceError('unsupported-task', `A served model continues text; ${request.task.kind} needs a local Seq2Seq model or a prompt that asks for it.`);
  if (request.forcedPrefixIds?.length) throw new InferenceError('bad-request', 'Branching from an alternative forces token ids, which a serving engine\'s API does not take: append the alternative\'s text to the prompt instead.');
  const asked = request.options?.numReturnSequences ?? 1;
  // Several sampled sequences are the server's `n`; the local check (at most numBeams) is for beam search.
  const { config, report } = resolveGenerationSettings(request.options?.strategy === 'beam' ? request.options : { ...request.options, numReturnSequences: undefined }, {}, {});
  const beam = config.strategy === 'beam';
  if ((beam || asked > 1) && adapter.severalSequencesUnavailable) {
    throw new InferenceError('bad-request', `${beam ? 'Beam search' : `${asked} sequences`}: ${adapter.severalSequencesUnavailable}. Ask for one sequence with greedy decoding or sampling, or use an OpenAI-compatible server such as vLLM.`);
  }
  if (config.strategy === 'greedy' && asked > 1) throw new InferenceError('bad-request', `Greedy decoding gives one sequence; ${asked} sequences need sampling (the server's n) or beam search.`);
  const blank = request.suffix === undefined ? undefined : blankSuffix(request.suffix);
  let fim = request.suffix === undefined || blank ? undefined : servedFim(adapter, request.model.source, request.prompt, request.suffix);
  let fimUnavailable: string | undefined = blank;
  const refusedKey = `${adapter.base}#${request.model.source}`;
  if (fim?.suffix !== undefined && SUFFIX_REFUSED.has(refusedKey)) [fim, fimUnavailable] = [undefined, SUFFIX_REFUSED.get(refusedKey)];
  const started = performance.now();
  let firstMs = 0;
  let promptTokens: number | undefined;
  let served: ServedRequest = {
    model: request.model.source,
    prompt: fim?.prompt ?? request.prompt,
    ...(fim?.suffix !== undefined ? { suffix: fim.suffix } : {}),
    maxNewTokens: config.maxNewTokens,
    sampling: config.strategy === 'sample' ? { temperature: config.temperature, topP: config.topP < 1 ? config.topP : undefined, topK: config.topK > 0 ? config.topK : undefined, seed: config.seed } : null,
    stop: [...new Set([...config.stopStrings, ...(fim?.stops ?? [])])],
    alternatives: Math.min(MAX_SERVED_ALTERNATIVES, Math.max(1, config.topAlternatives)),
    // vLLM's beam search returns its beam width's sequences, best first; the request keeps the best numReturnSequences.
    sequences: beam ? config.numBeams : asked,
    ...(beam ? { beam: { lengthPenalty: config.lengthPenalty } } : {}),
  };
  const sequences: ServedSequence[] = [];
  const sequenceAt = (i: number): ServedSequence => (sequences[i] ??= new ServedSequence());
  // The prompt's last line, which the generated text continues (for stopOnRepetition, as locally).
  const promptLine = request.prompt.slice(request.prompt.lastIndexOf('\n') + 1);
  // One streamed sequence stops where it starts to repeat itself: the request is aborted there.
  const stopStream = config.stopOnRepetition && served.sequences === 1;
  const events = async function* (): AsyncGenerator<ServedEvent> {
    let answered = false;
    try {
      for await (const event of adapter.generate(served, http(request.model, hooks))) {
        answered = true;
        yield event;
      }
    } catch (err) {
      // A server that cannot fill in the middle for the model, said before it sends anything: the
      // prefix is continued alone, as a local model without FIM tokens continues it, and the result says why.
      if (answered || !(fim?.suffix !== undefined && err instanceof InferenceError && err.code === 'server-error' && adapter.fimRefusal.test(err.message))) throw err;
      fimUnavailable = `${err.message} ${fimRefusedBecause(adapter, request.model.source)} The text before the cursor was continued alone.`;
      SUFFIX_REFUSED.set(refusedKey, fimUnavailable);
      fim = undefined;
      served = { ...served, suffix: undefined };
      yield* adapter.generate(served, http(request.model, hooks));
    }
  };
  try {
    stream: for await (const event of events()) {
      if (event.promptTokens !== undefined) promptTokens = event.promptTokens;
      const index = event.sequence ?? 0;
      const seq = sequenceAt(index);
      if (event.text && !firstMs) firstMs = performance.now() - started;
      let emitted = '';
      event.tokens.forEach((token, i) => {
        const trace = servedTrace(token, served.alternatives);
        seq.tokens.push(trace);
        // The deltas add up to the event's text (the last token takes what the server trimmed or added).
        const delta = i === event.tokens.length - 1 ? event.text.slice(emitted.length) : token.text;
        emitted += delta;
        if (request.stream && index === 0) hooks.onToken?.(trace, delta);
      });
      seq.text += event.text;
      if (event.finish) seq.finishReason = event.finish;
      if (stopStream) {
        seq.repeatsAt = repetitionStart(seq.text, promptLine);
        if (seq.repeatsAt >= 0) break stream; // leaving the loop closes the connection: the server stops decoding
      }
    }
  } catch (err) {
    if (!(err instanceof InferenceError && err.code === 'cancelled')) throw err;
    sequenceAt(0).finishReason = 'cancelled';
  }
  if (config.stopOnRepetition) {
    for (const seq of sequences) {
      if (seq.repeatsAt < 0 && seq.finishReason !== 'cancelled') seq.repeatsAt = repetitionStart(seq.text, promptLine);
      if (seq.repeatsAt < 0) continue;
      seq.text = seq.text.slice(0, seq.repeatsAt);
      seq.finishReason = 'repetition';
    }
  }
  const best = sequenceAt(0);
  const kept = beam ? sequences.slice(0, config.numReturnSequences) : sequences;
  const totalMs = performance.now() - started;
  const tokenCount = best.tokens.length;
  return {
    text: best.text,
    tokens: best.tokens,
    finishReason: best.finishReason,
    device: servedDevice(adapter),
    timings: { load_ms: 0, first_token_ms: firstMs, tokens_per_s: tokenCount > 1 && totalMs > firstMs ? ((tokenCount - 1) * 1000) / (totalMs - firstMs) : 0, total_ms: totalMs, decoder_passes: tokenCount },
    ...(kept.length > 1 || beam ? { sequences: kept.map((seq) => sequenceResult(seq, config.lengthPenalty, beam ? (promptTokens ?? 0) : 0)) } : {}),
    attentionUnavailable: config.attentions ? ATTENTION_NOT_SERVED : undefined,
    lensUnavailable: config.logitLens ? LENS_NOT_SERVED : undefined,
    traceUnavailable: best.text && tokenCount === 0 ? `${adapter.base} returned no log-probabilities, so the text has no per-token trace (the server ignores logprobs, or was started without them).` : undefined,
    ...(fim ? { fim: { format: fim.format, promptTokens: promptTokens ?? 0, formattedBy: fim.formattedBy } } : {}),
    ...(fimUnavailable ? { fimUnavailable } : {}),
    inputTokens: [],
    inputIds: [],
    generationSettings: report,
  };
}

/**
 * A returned sequence: its log-probability is the sum of its tokens'. Its score follows how it was
 * ranked: for vLLM's beam search the log-probability over (prompt + generated tokens)^length_penalty
 * (`get_beam_search_score`; for a beam ended by EOS vLLM's own sum also holds the EOS token's
 * log-probability, which the reply does not list); for samples, as for the local engine's sequences,
 * over the generated tokens alone.
 */
function sequenceResult(seq: ServedSequence, lengthPenalty: number, promptTokens: number): SequenceResult {
  const logprob = seq.logprob;
  const ids = seq.tokens.every((t) => t.id >= 0) ? seq.tokens.map((t) => t.id) : [];
  return { text: seq.text, ids, logprob, score: logprob / Math.max(1, promptTokens + seq.tokens.length) ** lengthPenalty };
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

import { InferenceError } from '../errors';
import { requestJson, requestStream, type HttpOptions } from './httpClient';
import type { ServedToken } from './servedTrace';
import { asArray, asNumber, asString, field, samplingFields, type ServedEvent, type ServedRequest, type ServingAdapter } from './servingAdapter';

/**
 * The OpenAI-compatible legacy completions API (`POST /v1/completions`), as vLLM, llama.cpp's server
 * and LM Studio serve it: `logprobs: N` returns, per token, its log-probability and a map of the top
 * N alternatives (`{token: logprob}`); `echo` returns the prompt's tokens first (vLLM), which is how a
 * text is scored.
 */
export class OpenAiCompletions implements ServingAdapter {
  readonly api = 'openai' as const;
  readonly serverFim = 'suffix field';
  // vLLM: 400 "suffix is not currently supported".
  readonly fimRefusal = /suffix/i;
  constructor(readonly base: string) {}

  async models(http: HttpOptions) {
    const reply = await requestJson(`${this.base}/models`, undefined, http);
    return asArray(field(reply, 'data')).map((m) => ({ name: asString(field(m, 'id')) ?? '', contextLength: asNumber(field(m, 'max_model_len')) })).filter((m) => m.name);
  }

  private body(request: ServedRequest, extra: Record<string, unknown>): Record<string, unknown> {
    return {
      model: request.model,
      prompt: request.prompt,
      max_tokens: request.maxNewTokens,
      ...samplingFields(request),
      ...(request.alternatives > 0 ? { logprobs: request.alternatives } : {}),
      // The legacy completions API's own fill-in-the-middle field, for a model whose family the client
      // does not know (vLLM refuses it; servedGenerate then continues the prefix alone and says why).
      ...(request.suffix !== undefined ? { suffix: request.suffix } : {}),
      // Several sequences: sampled (`n`), or vLLM's beam search with `n` beams, returned best first.
      ...(request.sequences > 1 ? { n: request.sequences } : {}),
      ...(request.beam ? { use_beam_search: true, length_penalty: request.beam.lengthPenalty } : {}),
      ...extra,
    };
  }

  async *generate(request: ServedRequest, http: HttpOptions): AsyncGenerator<ServedEvent> {
    // The last chunk then carries `usage` (the prompt's length in the server's tokens).
    const body = this.body(request, { stream: true, stream_options: { include_usage: true } });
    // vLLM does not stream beam search: the whole reply comes as one event (every choice, with its logprobs and usage).
    for await (const chunk of requestStream(`${this.base}/completions`, body, http)) {
      const promptTokens = asNumber(field(chunk, 'usage', 'prompt_tokens'));
      if (promptTokens !== undefined) yield { text: '', tokens: [], promptTokens };
      for (const choice of asArray(field(chunk, 'choices'))) {
        const reason = asString(field(choice, 'finish_reason'));
        const stopReason = field(choice, 'stop_reason');
        yield {
          text: asString(field(choice, 'text')) ?? '',
          tokens: tokensOf(field(choice, 'logprobs')),
          finish: reason === 'length' ? 'length' : reason ? (typeof stopReason === 'string' ? 'stop-string' : 'eos') : undefined,
          sequence: asNumber(field(choice, 'index')) ?? 0,
        };
      }
    }
  }

  async score(model: string, text: string, alternatives: number, http: HttpOptions): Promise<ServedToken[]> {
    // One generated token beside the echoed prompt: servers differ on whether max_tokens may be 0.
    const request: ServedRequest = { model, prompt: text, maxNewTokens: 1, sampling: null, stop: [], alternatives: Math.max(1, alternatives), sequences: 1 };
    const reply = await requestJson(`${this.base}/completions`, this.body(request, { echo: true }), http);
    const logprobs = field(reply, 'choices', 0, 'logprobs');
    const offsets = asArray(field(logprobs, 'text_offset')).map((o) => asNumber(o) ?? Infinity);
    const tokens = tokensOf(logprobs);
    if (tokens.length === 0) throw new InferenceError('server-error', `${this.base}: the server returned no log-probabilities for the echoed text, so it cannot score it (vLLM does, with echo and logprobs).`);
    // The prompt's tokens are those that start inside it; the first has no context (its log-probability is null).
    return tokens.filter((_, i) => (offsets[i] ?? Infinity) < text.length).slice(1);
  }
}

/** The legacy `logprobs` object: parallel `tokens`, `token_logprobs`, `top_logprobs` (`{token: logprob}` each). */
function tokensOf(logprobs: unknown): ServedToken[] {
  const texts = asArray(field(logprobs, 'tokens'));
  const values = asArray(field(logprobs, 'token_logprobs'));
  const tops = asArray(field(logprobs, 'top_logprobs'));
  return texts.map((t, i) => ({
    text: asString(t) ?? '',
    id: -1,
    logprob: asNumber(values[i]) ?? null,
    top: Object.entries((tops[i] as Record<string, unknown> | null) ?? {}).flatMap(([text, lp]) => (asNumber(lp) === undefined ? [] : [{ text, id: -1, logprob: lp as number }])),
  }));
}

import { InferenceError } from '../errors';
import { requestJson, requestStream, type HttpOptions } from './httpClient';
import type { ServedToken } from './servedTrace';
import { asArray, asNumber, asString, field, samplingFields, type ServedEvent, type ServedRequest, type ServingAdapter } from './servingAdapter';

/**
 * llama.cpp's own server API (`llama-server`): `POST /completion` with `n_probs` returns, per
 * generated token, `completion_probabilities` entries (`{id, token, logprob, top_logprobs}`; with
 * `post_sampling_probs` `prob`/`top_probs`; older builds `{content, probs: [{tok_str, prob}]}`).
 * It gives no probabilities for the prompt's tokens, so it cannot score a text.
 */
export class LlamaCppServer implements ServingAdapter {
  readonly api = 'llama.cpp' as const;
  readonly serverFim = 'llama.cpp /infill';
  // A model without FIM tokens: 501 "Infill is not supported by this model: prefix token is missing. …".
  readonly fimRefusal = /infill is not supported/i;
  // tools/server/README.md: /completion has no `n` and no beam search; its OpenAI-compatible route refuses `n` ≠ 1.
  readonly severalSequencesUnavailable = 'llama.cpp\'s server returns one sequence per request and has no beam search (its OpenAI-compatible route answers "Only one completion choice is allowed")';
  constructor(readonly base: string) {}

  async models(http: HttpOptions) {
    const reply = await requestJson(`${this.base}/v1/models`, undefined, http);
    const props = await requestJson(`${this.base}/props`, undefined, http).catch(() => undefined);
    const context = asNumber(field(props, 'default_generation_settings', 'n_ctx'));
    return asArray(field(reply, 'data')).map((m) => ({ name: asString(field(m, 'id')) ?? '', contextLength: context })).filter((m) => m.name);
  }

  async *generate(request: ServedRequest, http: HttpOptions): AsyncGenerator<ServedEvent> {
    // With a suffix, /infill: the server builds the model's fill-in-the-middle prompt from its own tokens.
    const infill = request.suffix !== undefined;
    const body = {
      ...(infill ? { input_prefix: request.prompt, input_suffix: request.suffix, prompt: '' } : { prompt: request.prompt }),
      n_predict: request.maxNewTokens,
      ...samplingFields(request),
      n_probs: request.alternatives,
      stream: true,
      cache_prompt: true,
    };
    for await (const event of requestStream(`${this.base}/${infill ? 'infill' : 'completion'}`, body, http)) {
      const stopped = field(event, 'stop') === true;
      const stopType = asString(field(event, 'stop_type'));
      const finish = !stopped
        ? undefined
        : stopType === 'limit' || field(event, 'stopped_limit') === true
          ? 'length'
          : stopType === 'word' || field(event, 'stopped_word') === true
            ? 'stop-string'
            : 'eos';
      yield { text: asString(field(event, 'content')) ?? '', tokens: asArray(field(event, 'completion_probabilities')).map(tokenOf), finish, promptTokens: stopped ? asNumber(field(event, 'tokens_evaluated')) : undefined };
    }
  }

  async score(): Promise<ServedToken[]> {
    throw new InferenceError('server-error', `${this.base}: llama.cpp's server returns probabilities only for the tokens it generates, not for a given text; scoring needs an OpenAI-compatible server that echoes the prompt's log-probabilities (vLLM).`);
  }
}

/** One `completion_probabilities` entry, in any of the formats llama.cpp has used. */
function tokenOf(entry: unknown): ServedToken {
  const logOf = (e: unknown): number | undefined => asNumber(field(e, 'logprob')) ?? (asNumber(field(e, 'prob')) !== undefined ? Math.log(asNumber(field(e, 'prob'))!) : undefined);
  const tops = asArray(field(entry, 'top_logprobs') ?? field(entry, 'top_probs') ?? field(entry, 'probs'));
  const top = tops.flatMap((t) => {
    const logprob = logOf(t);
    return logprob === undefined ? [] : [{ text: asString(field(t, 'token')) ?? asString(field(t, 'tok_str')) ?? '', id: asNumber(field(t, 'id')) ?? -1, logprob }];
  });
  const text = asString(field(entry, 'token')) ?? asString(field(entry, 'content')) ?? '';
  const id = asNumber(field(entry, 'id')) ?? -1;
  // Older builds give the chosen token's probability only among its alternatives.
  const own = logOf(entry) ?? top.find((t) => (id >= 0 ? t.id === id : t.text === text))?.logprob ?? null;
  return { text, id, logprob: own, top };
}

import { InferenceError } from '../errors';
import { requestJson, requestStream, type HttpOptions } from './httpClient';
import type { ServedToken } from './servedTrace';
import { asArray, asNumber, asString, field, samplingFields, type ServedEvent, type ServedRequest, type ServingAdapter } from './servingAdapter';

/**
 * Ollama's native API: `POST /api/generate` (raw: the prompt is sent without the model's chat
 * template) streams newline-delimited JSON; with `logprobs` and `top_logprobs` each line carries its
 * tokens' log-probabilities and alternatives. Ollama does not score a given text.
 */
export class OllamaServer implements ServingAdapter {
  readonly api = 'ollama' as const;
  readonly serverFim = 'Ollama template';
  // A model whose template has no suffix: 400 "<model> does not support insert".
  readonly fimRefusal = /does not support insert/i;
  // docs/api.md: /api/generate takes no number of completions and has no beam search.
  readonly severalSequencesUnavailable = 'Ollama\'s /api/generate returns one sequence per request and has no beam search';
  constructor(readonly base: string) {}

  async models(http: HttpOptions) {
    const reply = await requestJson(`${this.base}/api/tags`, undefined, http);
    return asArray(field(reply, 'models')).map((m) => ({ name: asString(field(m, 'name')) ?? asString(field(m, 'model')) ?? '' })).filter((m) => m.name);
  }

  async *generate(request: ServedRequest, http: HttpOptions): AsyncGenerator<ServedEvent> {
    const body = {
      model: request.model,
      prompt: request.prompt,
      // Ollama formats prompt and suffix with the model's fill-in-the-middle template (raw must then be off).
      ...(request.suffix !== undefined ? { suffix: request.suffix } : { raw: true }),
      stream: true,
      options: {
        num_predict: request.maxNewTokens,
        ...samplingFields(request),
      },
      ...(request.alternatives > 0 ? { logprobs: true, top_logprobs: request.alternatives } : {}),
    };
    for await (const line of requestStream(`${this.base}/api/generate`, body, http)) {
      const error = asString(field(line, 'error'));
      if (error) throw new InferenceError('server-error', `${this.base}: ${error}`);
      const done = field(line, 'done') === true;
      const reason = asString(field(line, 'done_reason'));
      yield {
        text: asString(field(line, 'response')) ?? '',
        tokens: asArray(field(line, 'logprobs')).map(tokenOf),
        finish: done ? (reason === 'length' ? 'length' : 'eos') : undefined,
        promptTokens: done ? asNumber(field(line, 'prompt_eval_count')) : undefined,
      };
    }
  }

  async score(): Promise<ServedToken[]> {
    throw new InferenceError('server-error', `${this.base}: Ollama returns probabilities only for the tokens it generates, not for a given text; scoring needs an OpenAI-compatible server that echoes the prompt's log-probabilities (vLLM).`);
  }
}

function tokenOf(entry: unknown): ServedToken {
  return {
    text: asString(field(entry, 'token')) ?? '',
    id: -1,
    logprob: asNumber(field(entry, 'logprob')) ?? null,
    top: asArray(field(entry, 'top_logprobs')).flatMap((t) => {
      const logprob = asNumber(field(t, 'logprob'));
      return logprob === undefined ? [] : [{ text: asString(field(t, 'token')) ?? '', id: -1, logprob }];
    }),
  };
}

import type { ServingApi } from '../protocol';
import type { ServedToken } from './servedTrace';
import type { HttpOptions } from './httpClient';

/** A completion request in the terms every serving API shares. */
export interface ServedRequest {
  readonly model: string;
  readonly prompt: string;
  /** The text after the cursor: the server fills the middle in the model's own format. */
  readonly suffix?: string;
  readonly maxNewTokens: number;
  /** null: greedy (temperature 0). */
  readonly sampling: { readonly temperature: number; readonly topP?: number; readonly topK?: number; readonly seed?: number } | null;
  readonly stop: readonly string[];
  /** Alternatives asked for per token (the API's own limit may be lower). */
  readonly alternatives: number;
  /**
   * Sequences the server returns (the OpenAI-compatible `n`): sampled independently, or, with
   * `beam`, the beam width. 1 unless `ServingAdapter.severalSequences` is set.
   */
  readonly sequences: number;
  /** vLLM's beam search (`use_beam_search`, `length_penalty`): the reply comes whole, best first. */
  readonly beam?: { readonly lengthPenalty: number };
}

/** What a streamed reply says at one point: text, the tokens it covers (with their probabilities), and whether it ended. */
export interface ServedEvent {
  readonly text: string;
  readonly tokens: readonly ServedToken[];
  readonly finish?: 'eos' | 'length' | 'stop-string';
  /** Which returned sequence the event continues (0 unless several were asked for). */
  readonly sequence?: number;
  /** How many tokens the server read as the prompt, where it says (usage, tokens_evaluated, prompt_eval_count). */
  readonly promptTokens?: number;
}

/** One serving API: how to list its models, generate (streamed) and, where it can, score a text. */
export interface ServingAdapter {
  readonly api: ServingApi;
  /** The URL requests go to (for messages). */
  readonly base: string;
  /** Why the API cannot return several sequences for one prompt or run beam search; undefined where it can. */
  readonly severalSequencesUnavailable?: string;
  /** Where the server formats a fill-in-the-middle prompt itself from a `suffix` (for `GenerateResult.fim`). */
  readonly serverFim: string;
  /** What the server's error says when it cannot fill in the middle for the model (the prefix is then continued alone). */
  readonly fimRefusal: RegExp;
  models(http: HttpOptions): Promise<{ readonly name: string; readonly contextLength?: number }[]>;
  generate(request: ServedRequest, http: HttpOptions): AsyncGenerator<ServedEvent>;
  /** The log-probability of every token of `text` after the first; throws `server-error` saying why where the API cannot. */
  score(model: string, text: string, alternatives: number, http: HttpOptions): Promise<ServedToken[]>;
}

/** The object at `path` of a parsed reply, or undefined. */
export function field(value: unknown, ...path: (string | number)[]): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

export const asNumber = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
export const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The sampling fields the three APIs name alike (`temperature` 0 is greedy in all of them). */
export function samplingFields(request: ServedRequest): Record<string, unknown> {
  const s = request.sampling;
  return {
    temperature: s ? s.temperature : 0,
    ...(s?.topP !== undefined ? { top_p: s.topP } : {}),
    ...(s?.topK !== undefined ? { top_k: s.topK } : {}),
    ...(s?.seed !== undefined ? { seed: s.seed } : {}),
    ...(request.stop.length ? { stop: request.stop } : {}),
  };
}

import { SERVING_APIS, type ServingApi } from '../inference/protocol';

/**
 * A model run by a serving engine, as a model setting writes it: `API+URL#MODEL`, for example
 * `ollama+http://127.0.0.1:11434#qwen2.5-coder:1.5b` or `openai+http://gpu-box:8000/v1#Qwen/Qwen2.5-Coder-7B`.
 * One string, so that every role's setting (and Recent, and the status bar) takes it like a folder or a Hub id.
 */
export interface ServedSource {
  readonly api: ServingApi;
  readonly url: string;
  readonly model: string;
}

const SERVED = /^(openai|llama\.cpp|ollama)\+(https?:\/\/[^#\s]+)#(.+)$/;

export function parseServedSource(source: string): ServedSource | undefined {
  const m = SERVED.exec(source.trim());
  if (!m || !(SERVING_APIS as readonly string[]).includes(m[1]!)) return undefined;
  try {
    new URL(m[2]!);
  } catch {
    return undefined;
  }
  return { api: m[1] as ServingApi, url: m[2]!, model: m[3]!.trim() };
}

export function formatServedSource(s: ServedSource): string {
  return `${s.api}+${s.url.replace(/\/+$/, '')}#${s.model}`;
}

/** A short name for the status bar and messages: `model @ host`. */
export function servedLabel(s: ServedSource): string {
  return `${s.model} @ ${new URL(s.url).host}`;
}

/** Where each API is usually served on one's own machine (what the URL box starts with). */
export const DEFAULT_ENDPOINTS: Readonly<Record<ServingApi, string>> = {
  openai: 'http://127.0.0.1:8000/v1',
  'llama.cpp': 'http://127.0.0.1:8080',
  ollama: 'http://127.0.0.1:11434',
};

/** The secret-storage key of an endpoint's API key. */
export function apiKeySecret(url: string): string {
  return `lmLens.apiKey:${url.replace(/\/+$/, '')}`;
}

import { InferenceError } from '../errors';

/**
 * HTTP for the serving engines: JSON requests, streamed replies (server-sent events or NDJSON),
 * retries with back-off for connection errors only, a timeout for a server that stops answering,
 * cancellation that aborts the request at once, and messages that say what the status means.
 */

export interface HttpOptions {
  readonly apiKey?: string;
  readonly isCancelled: () => boolean;
}

/** Connection attempts before a server is called unreachable, and the waits between them. */
const RETRY_WAITS_MS = [250, 1000];
/** How long a server may stay silent (before its first byte, or between two chunks of a stream). */
function silenceLimitMs(): number {
  return Number(process.env.LMLENS_SERVER_TIMEOUT_MS) || 60_000;
}

const RETRIABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

function causeCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: string } })?.cause;
  return cause?.code ?? (err as { code?: string })?.code;
}

/** An AbortController that fires on cancellation (polled) and on silence longer than the limit. */
class RequestGuard {
  readonly controller = new AbortController();
  private readonly poll: NodeJS.Timeout;
  private silence: NodeJS.Timeout | undefined;
  reason: 'cancelled' | 'silent' | undefined;

  constructor(private readonly isCancelled: () => boolean) {
    this.poll = setInterval(() => {
      if (this.isCancelled()) this.abort('cancelled');
    }, 25);
    this.heard();
  }

  /** The server said something: the silence limit starts again. */
  heard(): void {
    clearTimeout(this.silence);
    this.silence = setTimeout(() => this.abort('silent'), silenceLimitMs());
  }

  private abort(reason: 'cancelled' | 'silent'): void {
    this.reason ??= reason;
    this.controller.abort();
  }

  done(): void {
    clearInterval(this.poll);
    clearTimeout(this.silence);
  }
}

/** What a server's error body says (OpenAI/vLLM and llama.cpp: `{error: {message}}`; Ollama: `{error: "…"}`). */
function serverMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: string | { message?: string }; message?: string; detail?: string };
    const e = parsed.error;
    const text = typeof e === 'string' ? e : (e?.message ?? parsed.message ?? parsed.detail);
    if (text) return String(text).slice(0, 500);
  } catch {
    // not JSON: the text itself
  }
  return body.trim().slice(0, 500) || '(no message)';
}

function statusError(status: number, url: string, body: string): InferenceError {
  const said = serverMessage(body);
  const what =
    status === 401 || status === 403
      ? `the server refused the request (${status}: ${said}). Check the API key.`
      : status === 404
        ? `not found (404: ${said}). Check the endpoint URL (an OpenAI-compatible server's ends in /v1) and the model name.`
        : status === 429
          ? `the server is limiting requests (429: ${said}). Try again later.`
          : status >= 500
            ? `the server failed (${status}: ${said}).`
            : `the server refused the request (${status}: ${said}).`;
  return new InferenceError('server-error', `${url}: ${what}`);
}

async function send(url: string, init: RequestInit, options: HttpOptions): Promise<{ response: Response; guard: RequestGuard }> {
  const headers: Record<string, string> = { accept: 'application/json, text/event-stream, application/x-ndjson' };
  if (init.body) headers['content-type'] = 'application/json';
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  for (let attempt = 0; ; attempt++) {
    if (options.isCancelled()) throw new InferenceError('cancelled', 'The request was cancelled.');
    const guard = new RequestGuard(options.isCancelled);
    try {
      const response = await fetch(url, { ...init, headers, signal: guard.controller.signal });
      guard.heard();
      if (!response.ok) {
        const body = await response.text().catch(() => '');
        guard.done();
        throw statusError(response.status, url, body);
      }
      return { response, guard };
    } catch (err) {
      guard.done();
      if (err instanceof InferenceError) throw err;
      if (guard.reason === 'cancelled') throw new InferenceError('cancelled', 'The request was cancelled.');
      if (guard.reason === 'silent') throw new InferenceError('server-unreachable', `${url}: the server did not answer within ${silenceLimitMs() / 1000} s.`);
      const code = causeCode(err);
      if (code && RETRIABLE.has(code) && attempt < RETRY_WAITS_MS.length) {
        await new Promise((r) => setTimeout(r, RETRY_WAITS_MS[attempt]));
        continue;
      }
      const detail = code ?? (err as { cause?: Error }).cause?.message ?? (err as Error).message;
      throw new InferenceError('server-unreachable', `Could not reach ${url} (${detail}): is the server running, and is the URL right?`);
    }
  }
}

/** Reads a whole JSON reply. */
export async function requestJson(url: string, body: unknown, options: HttpOptions): Promise<unknown> {
  const { response, guard } = await send(url, body === undefined ? { method: 'GET' } : { method: 'POST', body: JSON.stringify(body) }, options);
  try {
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      throw new InferenceError('server-error', `${url}: the reply is not JSON (${text.slice(0, 200)}).`);
    }
  } catch (err) {
    throw guardError(err, guard, url);
  } finally {
    guard.done();
  }
}

function guardError(err: unknown, guard: RequestGuard, url: string): unknown {
  if (guard.reason === 'cancelled') return new InferenceError('cancelled', 'The request was cancelled.');
  if (guard.reason === 'silent') return new InferenceError('server-unreachable', `${url}: the server stopped answering for ${silenceLimitMs() / 1000} s.`);
  return err;
}

/**
 * Posts a request whose reply is a stream, and yields its events as parsed JSON: server-sent events
 * (`data: {…}` lines, ended by `data: [DONE]`) or newline-delimited JSON (Ollama).
 */
export async function* requestStream(url: string, body: unknown, options: HttpOptions): AsyncGenerator<unknown> {
  const { response, guard } = await send(url, { method: 'POST', body: JSON.stringify(body) }, options);
  try {
    if (!response.body) return;
    const decoder = new TextDecoder();
    let pending = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      guard.heard();
      pending += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        const event = parseLine(line, url);
        if (event === DONE) return;
        if (event !== undefined) yield event;
      }
    }
    const last = parseLine(pending.trim(), url);
    if (last !== undefined && last !== DONE) yield last;
  } catch (err) {
    throw guardError(err, guard, url);
  } finally {
    guard.done();
    guard.controller.abort(); // closes the connection when the consumer stops early
  }
}

const DONE = Symbol('done');

function parseLine(line: string, url: string): unknown {
  if (line === '' || line.startsWith(':') || line.startsWith('event:') || line.startsWith('id:')) return undefined;
  const data = line.startsWith('data:') ? line.slice(5).trim() : line;
  if (data === '[DONE]') return DONE;
  try {
    return JSON.parse(data);
  } catch {
    throw new InferenceError('server-error', `${url}: a streamed event is not JSON (${data.slice(0, 200)}).`);
  }
}

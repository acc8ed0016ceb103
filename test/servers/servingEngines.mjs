// Test servers that speak the wire formats of serving engines (issue #18): the OpenAI-compatible
// completions API as vLLM serves it, llama.cpp's `llama-server` native API, and Ollama's
// `/api/generate`. Every number in a reply comes from this project's own engine running the bundled
// `gpt2-code`, so a client tested against them sees real probabilities, tokens and finish reasons.
// The shapes, field names, defaults and error bodies follow each project's documentation and source;
// docs/serving-apis.md lists them with where each comes from.
//
// Each `start*Server(opts)` listens on 127.0.0.1, port 0, and resolves to
// `{ url, port, requests, generations, close() }`:
//   requests:    every request received, `{ method, path, headers, body }` (body parsed when JSON)
//   generations: every generation run, `{ path, prompt, maxTokens, engineTokens, sentTokens,
//                finishReason, cancelled }`; `cancelled` is set when the client went away before the
//                reply was complete, and the engine was told to stop then (its finishReason is then
//                'cancelled' unless it had already finished).
// Options: `{ model = 'gpt2-code', apiKey, fail: { status, times }, delayMs, noLogprobs }`, for
// Ollama `insert` (accept `suffix` as a fill-in-the-middle model would), for llama.cpp `noInfill`
// (refuse /infill as for a model without FIM tokens), and for the OpenAI-compatible
// server `fim: { prefix, suffix, middle, order }` (a FIM model's markers as text: a prompt with them
// must be in that format); see docs/serving-apis.md.

import http from 'node:http';
import path from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUNDLED = 'gpt2-code';

let enginePromise;
/** One engine for all servers of a process (the model loads once). Needs `npm run build`. */
export function sharedEngine() {
  enginePromise ??= import(path.join(REPO, 'dist', 'inference.js')).then(({ Engine }) => new Engine(path.join(REPO, 'models'), { offline: true }));
  return enginePromise;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A token's raw bytes. GPT-2's byte-level BPE writes each byte as one character of its printable
 * alphabet (`bytes_to_unicode`); mapping those back gives the bytes, which for a token that is part of
 * a multi-byte character are not valid UTF-8 on their own: the engine's `text` is then "\ufffd", and
 * llama.cpp's and Ollama's `bytes` carry the real bytes.
 */
let byteTable;
function tokenBytesOf(tokenizer, id, text) {
  const json = tokenizer._tokenizerJSON;
  if (json?.decoder?.type !== 'ByteLevel' || !json.model?.vocab) return [...Buffer.from(text, 'utf8')];
  if (!byteTable) {
    const printable = [];
    for (let b = 0; b < 256; b++) if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) printable.push(b);
    const charToByte = new Map(printable.map((b) => [String.fromCodePoint(b), b]));
    let extra = 0;
    for (let b = 0; b < 256; b++) if (!printable.includes(b)) charToByte.set(String.fromCodePoint(256 + extra++), b);
    byteTable = { charToByte, idToToken: new Map(Object.entries(json.model.vocab).map(([tok, i]) => [i, tok])) };
  }
  const tok = byteTable.idToToken.get(id);
  if (tok === undefined) return [...Buffer.from(text, 'utf8')];
  return [...tok].map((c) => byteTable.charToByte.get(c) ?? 63);
}
let bundledTokenizer;
const utf8Bytes = (id, text) => (bundledTokenizer ? tokenBytesOf(bundledTokenizer, id, text) : [...Buffer.from(text, 'utf8')]);
/** Python's len(): code points, which vLLM's text_offset counts. */
const pyLen = (s) => [...s].length;
/** Engine probabilities as log-probabilities (exp(logprob) gives the engine's prob back). */
const logOf = (p) => Math.log(p);

/** The tokens of a prompt as the engine's tokenizer splits them, with texts. */
async function tokenize(text) {
  const engine = await sharedEngine();
  const model = await engine.load({ source: BUNDLED });
  bundledTokenizer = model.tokenizer;
  const ids = Array.from(model.tokenizer.encode(text));
  return { ids, pieces: ids.map((id) => model.tokenizer.decode([id], { skip_special_tokens: false })), tokenizer: model.tokenizer, info: model.info };
}

/**
 * Scores a prompt: one entry per prompt token, the first `null` (a causal LM has nothing to predict
 * it from; GPT-2's tokenizer adds no BOS), the others the engine's trace of that token given the ones before.
 */
async function scorePrompt(prompt, topN) {
  const engine = await sharedEngine();
  const { ids, pieces } = await tokenize(prompt);
  if (ids.length === 0) return { ids, pieces, traces: [] };
  const scored = ids.length > 1 ? (await engine.score({ model: { source: BUNDLED }, text: prompt, topAlternatives: Math.max(1, topN) })).tokens : [];
  if (scored.length !== ids.length - 1 || scored.some((t, i) => t.id !== ids[i + 1])) throw new Error('score() tokenized the prompt differently from the tokenizer');
  return { ids, pieces, traces: [null, ...scored] };
}

/**
 * Runs one generation on the engine and hands out its tokens as the engine makes them. A consumer
 * reads them with `next()`; `cancel()` makes the engine stop at its next step (the servers call it
 * when the client closes the connection).
 */
function startGeneration({ prompt, maxTokens, temperature, topP, topK, seed, stop, topN, record, paced }) {
  const queue = [];
  let wake;
  let cancelled = false;
  let done = false;
  const sampling = temperature !== undefined && temperature !== null && temperature > 0;
  const options = {
    strategy: sampling ? 'sample' : 'greedy',
    maxNewTokens: maxTokens,
    ...(sampling ? { temperature, topP: topP ?? 1, topK: topK ?? 0 } : {}),
    ...(seed !== undefined && seed !== null && seed >= 0 ? { seed } : {}),
    ...(stop?.length ? { stopStrings: stop } : {}),
    topAlternatives: Math.max(1, topN),
    // A serving engine applies no repetition penalty unless asked; the bundled model's config must not add one.
    repetitionPenalty: 1,
    // With `delayMs` (a client that cancels), one token per forward pass, as a serving engine decodes:
    // prompt-lookup drafts would let the small model finish long before the client can cancel.
    ...(paced ? { promptLookupTokens: 0 } : {}),
  };
  const result = sharedEngine()
    .then((engine) =>
      engine.generate(
        { model: { source: BUNDLED }, prompt, stream: true, options },
        {
          isCancelled: () => cancelled,
          onToken: (token, delta) => {
            record.engineTokens++;
            queue.push({ token, delta });
            wake?.();
          },
        },
      ),
    )
    .then((r) => {
      record.finishReason = r.finishReason;
      return r;
    })
    .finally(() => {
      done = true;
      wake?.();
    });
  result.catch(() => undefined);
  return {
    result,
    /** The next token, or undefined once the engine has finished and every token was read. */
    async next() {
      for (;;) {
        if (queue.length) return queue.shift();
        if (done) {
          await result;
          return undefined;
        }
        await new Promise((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
    cancel() {
      cancelled = true;
    },
  };
}

/**
 * The common part of the three servers: request recording, the `fail` option, the API key check,
 * JSON bodies, and client-abort detection. `route(ctx)` answers; `ctx.gone()` is true once the client
 * closed the connection before the reply ended.
 */
async function serve(opts, { unauthorized, failure, needsKey, route }) {
  const requests = [];
  const generations = [];
  let failuresLeft = opts.fail?.times ?? 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body = raw;
      if (raw) {
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
      }
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const entry = { method: req.method, path: url.pathname, headers: req.headers, body };
      requests.push(entry);
      let closed = false;
      res.on('close', () => {
        if (!res.writableFinished) closed = true;
      });
      const send = (status, json, headers = {}) => {
        if (res.headersSent || closed) return;
        const text = JSON.stringify(json);
        res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
        res.end(text);
      };
      if (opts.apiKey && needsKey(url.pathname)) {
        const auth = req.headers.authorization ?? '';
        const given = auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
        const extra = opts.acceptXApiKey ? req.headers['x-api-key'] : undefined;
        if (given !== opts.apiKey && extra !== opts.apiKey) return send(401, unauthorized);
      }
      if (failuresLeft > 0) {
        failuresLeft--;
        const status = opts.fail.status;
        return send(status, failure(status), status === 429 || status === 503 ? { 'Retry-After': '1' } : {});
      }
      const ctx = {
        req,
        res,
        url,
        body: typeof body === 'object' && body !== null ? body : {},
        send,
        gone: () => closed,
        newGeneration: (fields) => {
          const record = { path: url.pathname, engineTokens: 0, sentTokens: 0, finishReason: undefined, cancelled: false, ...fields };
          generations.push(record);
          return record;
        },
      };
      Promise.resolve(route(ctx)).catch((err) => {
        if (!res.headersSent) send(500, failure(500, String(err?.message ?? err)));
        else res.destroy();
      });
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    generations,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/**
 * Streams a generation: `emit(item, index)` writes one event per engine token. Stops, and stops the
 * engine, when the client goes away. `delayMs` waits before each event (to give a client time to
 * cancel). Returns `{ items, result, cancelled }`.
 */
async function pump(gen, ctx, record, delayMs, emit) {
  const items = [];
  for (;;) {
    const item = await gen.next();
    if (!item) break;
    if (delayMs) await sleep(delayMs);
    if (ctx.gone()) break;
    items.push(item);
    emit?.(item, items.length - 1);
    record.sentTokens++;
  }
  if (ctx.gone()) {
    record.cancelled = true;
    gen.cancel();
    await gen.result.catch(() => undefined);
    return { items, result: undefined, cancelled: true };
  }
  return { items, result: await gen.result, cancelled: false };
}

/** Waits for a whole generation, stopping the engine if the client goes away meanwhile. */
async function collect(gen, ctx, record) {
  const watch = setInterval(() => {
    if (ctx.gone()) gen.cancel();
  }, 5);
  try {
    return await pump(gen, ctx, record, 0);
  } finally {
    clearInterval(watch);
  }
}

function sseHeaders(res) {
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
}

const asStopList = (stop) => (stop === undefined || stop === null ? [] : Array.isArray(stop) ? stop.filter((s) => typeof s === 'string' && s) : [String(stop)]);

/** Which stop string ended the text, if one did (vLLM's `stop_reason`, llama.cpp's `stopping_word`). */
function matchedStop(result, stop) {
  if (result.finishReason !== 'stop-string') return null;
  const full = result.tokens.map((t) => t.text).join('');
  return stop.find((s) => full.includes(s)) ?? null;
}

// ---------------------------------------------------------------------------------------------------
// OpenAI-compatible completions, as vLLM serves them (vllm/entrypoints/openai/completion/*).

function vllmError(status, message, type, param = null) {
  return { error: { message, type, param, code: status } };
}
// vLLM names an HTTPException's error type by the status phrase (server_utils.py http_exception_handler).
const VLLM_FAILURE_TYPES = { 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };

/**
 * vLLM's per-token logprobs dict: the token itself first, then the top N of the step; keyed by
 * decoded text, so two ids with the same text collapse into one key (the later value wins, as in a
 * Python dict comprehension). Logprobs are clamped at -9999.0.
 */
function vllmTopLogprobs(trace, n) {
  const entries = [[trace.id, trace.text, trace.logprob]];
  for (const alt of trace.top.slice(0, n)) if (alt.id !== trace.id) entries.push([alt.id, alt.text, logOf(alt.prob)]);
  const out = {};
  entries.slice(0, n + 1).forEach(([, text, lp]) => (out[text] = Math.max(lp, -9999)));
  return out;
}

/** `CompletionLogProbs` for a run of tokens (`traces[i]` null: a prompt's first token). */
function vllmLogprobs(ids, pieces, traces, n, initialOffset) {
  const out = { text_offset: [], token_logprobs: [], tokens: [], top_logprobs: [] };
  let lastLen = 0;
  ids.forEach((id, i) => {
    const trace = traces[i];
    const token = trace ? trace.text : pieces[i];
    out.tokens.push(token);
    out.token_logprobs.push(trace ? Math.max(trace.logprob, -9999) : null);
    out.top_logprobs.push(trace ? vllmTopLogprobs(trace, n) : null);
    out.text_offset.push(out.text_offset.length === 0 ? initialOffset : out.text_offset[out.text_offset.length - 1] + lastLen);
    lastLen = pyLen(token);
  });
  return out;
}

/** vLLM's `prompt_logprobs`: per prompt token, `null` first, then `{ "<id>": { logprob, rank, decoded_token } }` for the token and the top N. */
function vllmPromptLogprobs(ids, traces, n) {
  return ids.map((id, i) => {
    const t = traces[i];
    if (!t) return null;
    const out = { [String(id)]: { logprob: Math.max(t.logprob, -9999), rank: t.rank, decoded_token: t.text } };
    t.top.slice(0, n).forEach((alt, r) => {
      if (!(String(alt.id) in out)) out[String(alt.id)] = { logprob: Math.max(logOf(alt.prob), -9999), rank: r + 1, decoded_token: alt.text };
    });
    return out;
  });
}

/**
 * The prefix and suffix of a fill-in-the-middle prompt written with `fim`'s markers (`{ prefix, suffix,
 * middle, order }`: psm `<pre>P<suf>S<mid>`, spm `<suf>S<pre>P`), or undefined when it is not so written.
 */
function splitFimPrompt(prompt, fim) {
  if (fim.order === 'spm') {
    if (!prompt.startsWith(fim.suffix)) return undefined;
    const at = prompt.indexOf(fim.prefix, fim.suffix.length);
    return at < 0 ? undefined : { prefix: prompt.slice(at + fim.prefix.length), suffix: prompt.slice(fim.suffix.length, at) };
  }
  if (!prompt.startsWith(fim.prefix) || !prompt.endsWith(fim.middle)) return undefined;
  const at = prompt.lastIndexOf(fim.suffix, prompt.length - fim.middle.length - fim.suffix.length);
  if (at < fim.prefix.length) return undefined;
  return { prefix: prompt.slice(fim.prefix.length, at), suffix: prompt.slice(at + fim.suffix.length, prompt.length - fim.middle.length) };
}

const describeFim = (fim) => (fim.order === 'spm' ? `${fim.suffix}…${fim.prefix}…` : `${fim.prefix}…${fim.suffix}…${fim.middle}`);

/**
 * vLLM's beam search, computed by the engine: its beam search with `width` beams and sequences, each
 * sequence's per-token traces from a run that forces its tokens, ranked as vLLM ranks them
 * (`get_beam_search_score`: the cumulative log-probability, EOS included, over (prompt + generated
 * tokens, EOS excluded)^length_penalty). A sequence that ended with EOS leaves EOS out of its tokens
 * and text, as vLLM does by default.
 */
async function beamSearchChoices({ prompt, width, maxTokens, lengthPenalty, promptTokens, n, record }) {
  const engine = await sharedEngine();
  const model = { source: BUNDLED };
  const eosIds = new Set((await engine.load(model)).eosTokenIds);
  const beam = await engine.generate({ model, prompt, options: { strategy: 'beam', numBeams: width, numReturnSequences: width, maxNewTokens: maxTokens, lengthPenalty, repetitionPenalty: 1, topAlternatives: 1 } });
  const out = [];
  for (const seq of beam.sequences) {
    const forced = await engine.generate({ model, prompt, forcedPrefixIds: seq.ids, options: { strategy: 'greedy', maxNewTokens: seq.ids.length, topAlternatives: Math.max(1, n ?? 1), repetitionPenalty: 1 } });
    const eos = seq.ids.length > 0 && eosIds.has(seq.ids.at(-1));
    const cum = forced.tokens.reduce((sum, t) => sum + t.logprob, 0);
    const kept = eos ? seq.ids.length - 1 : seq.ids.length;
    out.push({ ids: seq.ids.slice(0, kept), traces: forced.tokens.slice(0, kept), text: seq.text, eos, eosId: eos ? seq.ids.at(-1) : null, score: cum / Math.max(1, promptTokens + kept) ** lengthPenalty });
  }
  record.engineTokens += out.reduce((sum, b) => sum + b.ids.length, 0);
  return out.sort((a, b) => b.score - a.score);
}

export async function startOpenAiServer(opts = {}) {
  const model = opts.model ?? BUNDLED;
  const created = Math.floor(Date.now() / 1000);
  return serve(opts, {
    // vLLM's --api-key middleware answers 401 with this body (vllm/entrypoints/openai/api_server.py).
    unauthorized: { error: 'Unauthorized' },
    failure: (status, message) => vllmError(status, message ?? `test server: failing this request with ${status}`, VLLM_FAILURE_TYPES[status] ?? 'Internal Server Error'),
    // vLLM checks the key only on paths under /v1 (server_utils.py AuthenticationMiddleware).
    needsKey: (p) => p.startsWith('/v1'),
    route: async (ctx) => {
      const { req, url, body, send } = ctx;
      if (req.method === 'GET' && url.pathname === '/health') return ctx.res.writeHead(200).end();
      if (req.method === 'GET' && url.pathname === '/v1/models') {
        const { info } = await tokenize('');
        return send(200, {
          object: 'list',
          data: [
            {
              id: model,
              object: 'model',
              created,
              owned_by: 'vllm',
              root: model,
              parent: null,
              max_model_len: info.maxContext,
              permission: [
                {
                  id: `modelperm-${randomBytes(16).toString('hex')}`,
                  object: 'model_permission',
                  created,
                  allow_create_engine: false,
                  allow_sampling: true,
                  allow_logprobs: true,
                  allow_search_indices: false,
                  allow_view: true,
                  allow_fine_tuning: false,
                  organization: '*',
                  group: null,
                  is_blocking: false,
                },
              ],
            },
          ],
        });
      }
      if (req.method !== 'POST' || url.pathname !== '/v1/completions') return send(404, { detail: 'Not Found' });
      // CompletionRequest's validators (completion/protocol.py), answered as request validation errors.
      const invalid = (message, param) => send(400, vllmError(400, message, 'Bad Request', param));
      if (body.model !== undefined && body.model !== model) return send(404, vllmError(404, `The model \`${body.model}\` does not exist.`, 'NotFoundError', 'model'));
      const sent = Array.isArray(body.prompt) && body.prompt.length === 1 && typeof body.prompt[0] === 'string' ? body.prompt[0] : body.prompt;
      if (typeof sent !== 'string') return send(400, vllmError(400, 'test server: prompt must be one string', 'BadRequestError', 'prompt'));
      if (sent === '') return invalid('Either prompt or prompt_embeds must be provided and non-empty.', null);
      if (body.suffix !== undefined && body.suffix !== null) return send(400, vllmError(400, 'suffix is not currently supported', 'BadRequestError'));
      // A fill-in-the-middle model (`fim`): a prompt with its markers must be in its format; the bundled model has no FIM
      // tokens, so the middle is computed as the continuation of the prefix the prompt carries.
      let prompt = sent;
      let fimParts;
      // A prompt with none of the markers is continued as it is; one with any of them must be in the format.
      if (opts.fim && [opts.fim.prefix, opts.fim.suffix, opts.fim.middle].some((m) => m && sent.includes(m.trim()))) {
        fimParts = splitFimPrompt(sent, opts.fim);
        if (!fimParts) return send(400, vllmError(400, `test server: the prompt is not in ${model}'s fill-in-the-middle format (${describeFim(opts.fim)}): ${JSON.stringify(sent.slice(0, 120))}`, 'BadRequestError', 'prompt'));
        prompt = fimParts.prefix;
      }
      const choices = body.n ?? 1;
      if (!Number.isInteger(choices) || choices < 1) return invalid(`n must be at least 1, got ${choices}.`, 'n');
      if (choices > 1 && body.echo) return send(400, vllmError(400, 'test server: echo with n > 1 is not served', 'BadRequestError', 'n'));
      if (body.prompt_logprobs !== undefined && body.prompt_logprobs !== null && body.stream && (body.prompt_logprobs > 0 || body.prompt_logprobs === -1)) return invalid('`prompt_logprobs` are not available when `stream=True`.', 'prompt_logprobs');
      if (typeof body.logprobs === 'number' && body.logprobs < 0) return invalid('`logprobs` must be a positive value.', 'logprobs');
      if (body.stream_options && !body.stream) return invalid('Stream options can only be defined when `stream=True`.', 'stream_options');
      const maxTokens = body.max_tokens ?? 16;
      const echo = body.echo === true;
      const n = opts.noLogprobs || body.logprobs === undefined || body.logprobs === null ? null : Number(body.logprobs);
      // vLLM: echo with logprobs asks the engine for prompt logprobs (prompt_logprobs defaults to logprobs).
      const promptN = opts.noLogprobs ? null : (body.prompt_logprobs ?? (echo && n !== null ? n : null));
      const stop = asStopList(body.stop);
      const temperature = body.temperature ?? 1;
      const id = `cmpl-${randomBytes(16).toString('hex')}`;
      const createdNow = Math.floor(Date.now() / 1000);
      const promptScore = await scorePrompt(prompt, Math.max(n ?? 0, promptN ?? 0, 1));
      // SamplingParams' own checks answer as BadRequestError with "(parameter=…, value=…)" appended, as a
      // real vLLM reply shows: {"error":{"message":"max_tokens must be at least 1, got -46771. (parameter=max_tokens,
      // value=-46771)","type":"BadRequestError","param":"max_tokens","code":400}}.
      if (maxTokens < 1 && !(echo && maxTokens === 0)) return send(400, vllmError(400, `max_tokens must be at least 1, got ${maxTokens}. (parameter=max_tokens, value=${maxTokens})`, 'BadRequestError', 'max_tokens'));
      const maxModelLen = (await tokenize('')).info.maxContext;
      if (promptScore.ids.length + maxTokens > maxModelLen) {
        // Wording paraphrased from vLLM's context-length check; the status, type and param are vLLM's.
        return send(400, vllmError(400, `'max_tokens' is too large: ${maxTokens}. This model's maximum context length is ${maxModelLen} tokens and your request has ${promptScore.ids.length} input tokens (${maxTokens} > ${maxModelLen} - ${promptScore.ids.length}).`, 'BadRequestError', 'max_tokens'));
      }
      const promptLogprobsOut = promptN !== null ? vllmPromptLogprobs(promptScore.ids, promptScore.traces, promptN) : null;
      const record = ctx.newGeneration({ prompt, maxTokens, ...(fimParts ? { fim: fimParts } : {}), choices, beam: body.use_beam_search === true });
      const finishReasonOf = (r) => (r.finishReason === 'length' ? 'length' : 'stop');

      if (maxTokens === 0) {
        // Nothing to generate: with echo, only the prompt (and its logprobs) comes back.
        record.finishReason = 'length';
        const text = echo ? prompt : '';
        const logprobs = n !== null ? (echo ? vllmLogprobs(promptScore.ids, promptScore.pieces, promptScore.traces, n, 0) : vllmLogprobs([], [], [], n, 0)) : null;
        const choice = { index: 0, text, logprobs, finish_reason: 'length', stop_reason: null, token_ids: body.return_token_ids ? [] : null, prompt_logprobs: promptLogprobsOut, prompt_token_ids: body.return_token_ids ? promptScore.ids : null };
        const usage = { prompt_tokens: promptScore.ids.length, total_tokens: promptScore.ids.length, completion_tokens: 0, prompt_tokens_details: null };
        if (!body.stream) return send(200, { id, object: 'text_completion', created: createdNow, model, choices: [choice], service_tier: null, system_fingerprint: null, usage, kv_transfer_params: null });
        sseHeaders(ctx.res);
        ctx.res.write(`data: ${JSON.stringify({ id, object: 'text_completion', created: createdNow, model, choices: [{ index: 0, text, logprobs, finish_reason: 'length', stop_reason: null, prompt_token_ids: null, token_ids: null }], usage: null })}\n\n`);
        return ctx.res.end('data: [DONE]\n\n');
      }

      const reply = (choiceList, completionTokens) => ({
        id,
        object: 'text_completion',
        created: createdNow,
        model,
        choices: choiceList,
        service_tier: null,
        system_fingerprint: null,
        usage: { prompt_tokens: promptScore.ids.length, total_tokens: promptScore.ids.length + completionTokens, completion_tokens: completionTokens, prompt_tokens_details: null },
        kv_transfer_params: null,
      });
      if (body.use_beam_search === true) {
        // vLLM's beam search (BeamSearchOnlineMixin.beam_search): beam width n, no stop strings, not streamed
        // (a stream request gets the whole reply as one event, then [DONE]).
        const beams = await beamSearchChoices({ prompt, width: choices, maxTokens, lengthPenalty: body.length_penalty ?? 1, promptTokens: promptScore.ids.length, n, record });
        const out = reply(
          beams.map((b, index) => ({ index, text: b.text, logprobs: n === null ? null : vllmLogprobs(b.ids, [], b.traces, n, 0), finish_reason: b.eos ? 'stop' : 'length', stop_reason: b.eos ? b.eosId : null, token_ids: body.return_token_ids ? b.ids : null, prompt_logprobs: null, prompt_token_ids: null })),
          beams.reduce((sum, b) => sum + b.ids.length, 0),
        );
        record.finishReason = beams[0]?.eos ? 'eos' : 'length';
        if (!body.stream) return send(200, out);
        sseHeaders(ctx.res);
        return ctx.res.end(`data: ${JSON.stringify(out)}\n\ndata: [DONE]\n\n`);
      }
      if (choices > 1) {
        // n samples: independent runs of the engine, seeded seed, seed + 1, … (a random base seed when none is given).
        const base = body.seed ?? Math.floor(Math.random() * 2 ** 31);
        const runs = [];
        if (body.stream) sseHeaders(ctx.res);
        for (let index = 0; index < choices; index++) {
          const gen = startGeneration({ prompt, maxTokens, temperature, topP: body.top_p, topK: body.top_k, seed: base + index, stop, topN: n ?? 1, record, paced: Boolean(opts.delayMs) });
          let textLen = 0;
          let pending;
          const write = (item, finish) => {
            const logprobs = n === null ? null : vllmLogprobs([item.token.id], [], [item.token], n, textLen);
            textLen += pyLen(item.delta);
            const choice = { index, text: item.delta, logprobs, finish_reason: finish?.finish_reason ?? null, stop_reason: finish?.stop_reason ?? null, prompt_token_ids: null, token_ids: null };
            ctx.res.write(`data: ${JSON.stringify({ id, object: 'text_completion', created: createdNow, model, choices: [choice], usage: null })}\n\n`);
          };
          const run = body.stream
            ? await pump(gen, ctx, record, opts.delayMs ?? 0, (item) => {
                if (pending) write(pending);
                pending = item;
              })
            : await collect(gen, ctx, record);
          if (run.cancelled) return body.stream ? ctx.res.destroy() : undefined;
          if (body.stream && pending) write(pending, { finish_reason: finishReasonOf(run.result), stop_reason: matchedStop(run.result, stop) });
          runs.push(run);
        }
        const completionTokens = runs.reduce((sum, r) => sum + r.items.length, 0);
        if (!body.stream) {
          return send(
            200,
            reply(
              runs.map((r, index) => ({ index, text: r.result.text, logprobs: n === null ? null : vllmLogprobs(r.items.map((it) => it.token.id), [], r.items.map((it) => it.token), n, 0), finish_reason: finishReasonOf(r.result), stop_reason: matchedStop(r.result, stop), token_ids: null, prompt_logprobs: null, prompt_token_ids: null })),
              completionTokens,
            ),
          );
        }
        if (body.stream_options?.include_usage) ctx.res.write(`data: ${JSON.stringify({ id, object: 'text_completion', created: createdNow, model, choices: [], usage: { prompt_tokens: promptScore.ids.length, total_tokens: promptScore.ids.length + completionTokens, completion_tokens: completionTokens } })}\n\n`);
        return ctx.res.end('data: [DONE]\n\n');
      }

      const gen = startGeneration({ prompt, maxTokens, temperature, topP: body.top_p, topK: body.top_k, seed: body.seed, stop, topN: n ?? 1, record, paced: Boolean(opts.delayMs) });
      if (!body.stream) {
        const { items, result, cancelled } = await collect(gen, ctx, record);
        if (cancelled) return;
        const ids = items.map((it) => it.token.id);
        const traces = items.map((it) => it.token);
        const text = (echo ? prompt : '') + result.text;
        const logprobs =
          n === null
            ? null
            : echo
              ? vllmLogprobs([...promptScore.ids, ...ids], [...promptScore.pieces, ...traces.map((t) => t.text)], [...promptScore.traces, ...traces], n, 0)
              : vllmLogprobs(ids, [], traces, n, 0);
        return send(200, {
          id,
          object: 'text_completion',
          created: createdNow,
          model,
          choices: [
            {
              index: 0,
              text,
              logprobs,
              finish_reason: finishReasonOf(result),
              stop_reason: matchedStop(result, stop),
              token_ids: body.return_token_ids ? ids : null,
              prompt_logprobs: promptLogprobsOut,
              prompt_token_ids: body.return_token_ids ? promptScore.ids : null,
            },
          ],
          service_tier: null,
          system_fingerprint: null,
          usage: { prompt_tokens: promptScore.ids.length, total_tokens: promptScore.ids.length + ids.length, completion_tokens: ids.length, prompt_tokens_details: null },
          kv_transfer_params: null,
        });
      }

      // Streaming: one event per token; the first carries the echoed prompt; the last the finish reason.
      sseHeaders(ctx.res);
      let textLen = 0;
      let pending;
      const writeChunk = (item, finish) => {
        const first = item.index === 0 && echo;
        const text = (first ? prompt : '') + item.delta;
        let logprobs = null;
        if (n !== null) {
          logprobs = first
            ? vllmLogprobs([...promptScore.ids, item.token.id], [...promptScore.pieces, item.token.text], [...promptScore.traces, item.token], n, textLen)
            : vllmLogprobs([item.token.id], [], [item.token], n, textLen);
        }
        textLen += pyLen(text);
        // CompletionResponseStreamChoice: no prompt_logprobs; prompt_token_ids only in the first chunk.
        const choice = {
          index: 0,
          text,
          logprobs,
          finish_reason: finish?.finish_reason ?? null,
          stop_reason: finish?.stop_reason ?? null,
          prompt_token_ids: body.return_token_ids && item.index === 0 ? promptScore.ids : null,
          token_ids: body.return_token_ids ? [item.token.id] : null,
        };
        ctx.res.write(`data: ${JSON.stringify({ id, object: 'text_completion', created: createdNow, model, choices: [choice], usage: null })}\n\n`);
      };
      // Each token is written when the next one (or the end) is known, so the last carries finish_reason.
      const { items, result, cancelled } = await pump(gen, ctx, record, opts.delayMs ?? 0, (item, index) => {
        if (pending) writeChunk(pending);
        pending = { ...item, index };
      });
      if (cancelled) return ctx.res.destroy();
      if (pending) writeChunk(pending, { finish_reason: finishReasonOf(result), stop_reason: matchedStop(result, stop) });
      if (body.stream_options?.include_usage) {
        ctx.res.write(
          `data: ${JSON.stringify({ id, object: 'text_completion', created: createdNow, model, choices: [], usage: { prompt_tokens: promptScore.ids.length, total_tokens: promptScore.ids.length + items.length, completion_tokens: items.length } })}\n\n`,
        );
      }
      ctx.res.end('data: [DONE]\n\n');
    },
  });
}

// ---------------------------------------------------------------------------------------------------
// llama.cpp `llama-server` native API (tools/server/README.md).

const llamaError = (status, message, type) => ({ error: { code: status, message, type } });
const LLAMA_FAILURE_TYPES = { 400: 'invalid_request_error', 401: 'authentication_error', 404: 'not_found_error', 429: 'unavailable_error', 500: 'server_error', 503: 'unavailable_error' };

/**
 * `post_sampling_probs`: the probabilities after llama.cpp's default sampler chain (top_k → top_p →
 * min_p → temperature), over the step's top-k candidates (which the engine gives exactly, so the
 * renormalisation is exact). Temperature ≤ 0 is greedy: the top candidate gets 1, the rest 0.
 */
function postSampling(trace, { topK, topP, minP, temperature }) {
  let cands = trace.top.slice(0, topK > 0 ? topK : trace.top.length).map((a) => ({ ...a }));
  const sum = (xs) => xs.reduce((s, a) => s + a.prob, 0);
  let total = sum(cands);
  cands.forEach((a) => (a.prob /= total));
  if (topP < 1) {
    let acc = 0;
    const kept = [];
    for (const a of cands) {
      kept.push(a);
      acc += a.prob;
      if (acc >= topP) break;
    }
    cands = kept;
  }
  if (minP > 0 && cands.length) cands = cands.filter((a) => a.prob >= minP * cands[0].prob);
  if (temperature <= 0) cands.forEach((a, i) => (a.prob = i === 0 ? 1 : 0));
  else {
    cands.forEach((a) => (a.prob = Math.pow(a.prob, 1 / temperature)));
    total = sum(cands);
    cands.forEach((a) => (a.prob /= total));
  }
  return cands;
}

function llamaProbs(trace, body, nProbs) {
  if (body.post_sampling_probs) {
    const cands = postSampling(trace, { topK: body.top_k ?? 40, topP: body.top_p ?? 0.95, minP: body.min_p ?? 0.05, temperature: body.temperature ?? 0.8 });
    const own = cands.find((a) => a.id === trace.id);
    return {
      id: trace.id,
      token: trace.text,
      bytes: utf8Bytes(trace.id, trace.text),
      prob: own ? own.prob : 0,
      top_probs: cands.slice(0, nProbs).map((a) => ({ id: a.id, token: a.text, bytes: utf8Bytes(a.id, a.text), prob: a.prob })),
    };
  }
  return {
    id: trace.id,
    token: trace.text,
    bytes: utf8Bytes(trace.id, trace.text),
    logprob: trace.logprob,
    top_logprobs: trace.top.slice(0, nProbs).map((a) => ({ id: a.id, token: a.text, bytes: utf8Bytes(a.id, a.text), logprob: logOf(a.prob) })),
  };
}

export async function startLlamaCppServer(opts = {}) {
  const model = opts.model ?? BUNDLED;
  const created = Math.floor(Date.now() / 1000);
  return serve(
    { ...opts, acceptXApiKey: true },
    {
      // llama-server's API key middleware: format_error_response("Invalid API Key", ERROR_TYPE_AUTHENTICATION).
      unauthorized: llamaError(401, 'Invalid API Key', 'authentication_error'),
      failure: (status, message) => llamaError(status, message ?? `test server: failing this request with ${status}`, LLAMA_FAILURE_TYPES[status] ?? 'server_error'),
      // /health and /models are public (README, tests/unit/test_security.py); so is /v1/models.
      needsKey: (p) => !['/health', '/v1/health', '/models', '/v1/models'].includes(p),
      route: async (ctx) => {
        const { req, url, body, send } = ctx;
        const p = url.pathname;
        if (req.method === 'GET' && (p === '/health' || p === '/v1/health')) return send(200, { status: 'ok' });
        if (req.method === 'GET' && (p === '/v1/models' || p === '/models')) {
          const { info } = await tokenize('');
          return send(200, {
            object: 'list',
            data: [
              {
                id: model,
                object: 'model',
                architecture: { input_modalities: ['text'], output_modalities: ['text'] },
                created,
                owned_by: 'llamacpp',
                meta: { vocab_type: 2, n_vocab: info.vocabSize, n_ctx_train: info.maxContext, n_embd: null, n_params: null, size: null },
              },
            ],
          });
        }
        if (req.method === 'POST' && p === '/tokenize') {
          const { ids, pieces } = await tokenize(String(body.content ?? ''));
          // A piece is its text when it is valid UTF-8 on its own, else its bytes (README, /tokenize).
          const piece = (id, i) => {
            const bytes = utf8Bytes(id, pieces[i]);
            const text = Buffer.from(bytes).toString('utf8');
            return Buffer.from(text, 'utf8').equals(Buffer.from(bytes)) ? text : bytes;
          };
          return send(200, { tokens: body.with_pieces ? ids.map((id, i) => ({ id, piece: piece(id, i) })) : ids });
        }
        if (req.method === 'POST' && p === '/detokenize') {
          const { tokenizer } = await tokenize('');
          return send(200, { content: tokenizer.decode(Array.isArray(body.tokens) ? body.tokens : [], { skip_special_tokens: false }) });
        }
        const infill = p === '/infill';
        if (req.method !== 'POST' || !(p === '/completion' || p === '/completions' || infill)) return send(404, llamaError(404, 'File Not Found', 'not_found_error'));

        let prompt;
        // `noInfill`: the real server's answer for a model without FIM tokens (handle_infill's vocab check,
        // ERROR_TYPE_NOT_SUPPORTED → 501); the bundled model has none, so without the option this server stands in for one that has.
        if (infill && opts.noInfill) return send(501, llamaError(501, 'Infill is not supported by this model: prefix token is missing. suffix token is missing. middle token is missing. ', 'not_supported_error'));
        if (infill) {
          // The real server formats a FIM prompt (<FIM_PRE>prefix<FIM_SUF>suffix<FIM_MID>prompt, with
          // input_extra before it) from the model's FIM tokens. The bundled model has none, so this
          // server computes the middle by continuing input_extra + input_prefix + prompt; input_suffix
          // is accepted and recorded but cannot steer the model.
          const extra = Array.isArray(body.input_extra) ? body.input_extra.map((c) => String(c?.text ?? '')).join('') : '';
          prompt = extra + String(body.input_prefix ?? '') + String(body.prompt ?? '');
        } else {
          if (typeof body.prompt !== 'string') return send(400, llamaError(400, 'test server: "prompt" must be a string', 'invalid_request_error'));
          prompt = body.prompt;
        }
        const { ids: promptIds, info } = await tokenize(prompt);
        const room = info.maxContext - promptIds.length;
        const nPredict = body.n_predict === undefined || body.n_predict < 0 ? room : Math.min(body.n_predict, room);
        const nProbs = opts.noLogprobs ? 0 : (body.n_probs ?? 0);
        const stop = asStopList(body.stop);
        const temperature = body.temperature ?? 0.8;
        const topK = body.top_k ?? 40;
        const wantAlternatives = Math.max(nProbs, body.post_sampling_probs && topK > 0 ? topK : 0, 1);
        const record = ctx.newGeneration({ prompt, maxTokens: nPredict });
        const settings = {
          n_predict: body.n_predict ?? -1,
          seed: body.seed ?? 4294967295,
          temperature,
          top_k: topK,
          top_p: body.top_p ?? 0.95,
          min_p: body.min_p ?? 0.05,
          stop,
          n_probs: nProbs,
          post_sampling_probs: body.post_sampling_probs ?? false,
          stream: body.stream ?? false,
        };
        const t0 = performance.now();
        const finalFields = (items, result) => {
          const stopType = result.finishReason === 'eos' ? 'eos' : result.finishReason === 'stop-string' ? 'word' : 'limit';
          const ms = performance.now() - t0;
          return {
            model,
            tokens_predicted: items.length,
            tokens_evaluated: promptIds.length,
            generation_settings: settings,
            prompt,
            has_new_line: result.text.includes('\n'),
            truncated: false,
            stop_type: stopType,
            stopping_word: matchedStop(result, stop) ?? '',
            tokens_cached: 0,
            timings: {
              cache_n: 0,
              prompt_n: promptIds.length,
              prompt_ms: 0,
              prompt_per_token_ms: 0,
              prompt_per_second: 0,
              predicted_n: items.length,
              predicted_ms: ms,
              predicted_per_token_ms: items.length ? ms / items.length : 0,
              predicted_per_second: ms > 0 ? (items.length * 1000) / ms : 0,
            },
          };
        };
        if (nPredict === 0) {
          const empty = { text: '', finishReason: 'length', tokens: [] };
          record.finishReason = 'length';
          return send(200, { index: 0, content: '', tokens: [], id_slot: 0, stop: true, ...finalFields([], empty) });
        }
        const gen = startGeneration({ prompt, maxTokens: nPredict, temperature, topP: body.top_p ?? 0.95, topK, seed: body.seed, stop, topN: wantAlternatives, record, paced: Boolean(opts.delayMs) });
        if (!body.stream) {
          const { items, result, cancelled } = await collect(gen, ctx, record);
          if (cancelled) return;
          const reply = { index: 0, content: result.text, tokens: body.return_tokens ? items.map((it) => it.token.id) : [], id_slot: 0, stop: true, ...finalFields(items, result) };
          if (nProbs > 0) reply.completion_probabilities = items.map((it) => llamaProbs(it.token, body, nProbs));
          return send(200, reply);
        }
        // Stream: one `data:` event per token with its text and its probabilities, then a final event
        // with stop: true and the summary fields. This endpoint sends no `[DONE]` (only the /v1 ones do).
        sseHeaders(ctx.res);
        const { items, result, cancelled } = await pump(gen, ctx, record, opts.delayMs ?? 0, (item) => {
          const chunk = { index: 0, content: item.delta, tokens: [item.token.id], stop: false, id_slot: -1, tokens_predicted: record.sentTokens + 1, tokens_evaluated: promptIds.length };
          if (nProbs > 0) chunk.completion_probabilities = [llamaProbs(item.token, body, nProbs)];
          ctx.res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        });
        if (cancelled) return ctx.res.destroy();
        ctx.res.end(`data: ${JSON.stringify({ index: 0, content: '', tokens: [], id_slot: 0, stop: true, ...finalFields(items, result) })}\n\n`);
      },
    },
  );
}

// ---------------------------------------------------------------------------------------------------
// Ollama `/api/generate` (docs/api.md, api/types.go).

function ollamaLogprob(trace, topN) {
  const entry = { token: trace.text, logprob: trace.logprob };
  const own = utf8Bytes(trace.id, trace.text);
  if (own.length) entry.bytes = own;
  if (topN > 0) {
    entry.top_logprobs = trace.top.slice(0, topN).map((a) => {
      const alt = { token: a.text, logprob: logOf(a.prob) };
      const bytes = utf8Bytes(a.id, a.text);
      if (bytes.length) alt.bytes = bytes;
      return alt;
    });
  }
  return entry;
}

export async function startOllamaServer(opts = {}) {
  const model = opts.model ?? BUNDLED;
  const tagged = model.includes(':') ? model : `${model}:latest`;
  const modifiedAt = new Date().toISOString();
  return serve(opts, {
    // Local Ollama has no API key; behind ollama.com (or a proxy) a missing key is answered so.
    unauthorized: { error: 'unauthorized' },
    failure: (status, message) => ({ error: message ?? `test server: failing this request with ${status}` }),
    needsKey: (p) => p !== '/' && p !== '/api/version',
    route: async (ctx) => {
      const { req, url, body, send } = ctx;
      const p = url.pathname;
      if (req.method === 'GET' && p === '/') {
        ctx.res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        return ctx.res.end('Ollama is running');
      }
      if (req.method === 'GET' && p === '/api/version') return send(200, { version: '0.0.0-test' });
      if (req.method === 'GET' && p === '/api/tags') {
        const { info } = await tokenize('');
        return send(200, {
          models: [
            {
              name: tagged,
              model: tagged,
              modified_at: modifiedAt,
              size: 0,
              digest: createHash('sha256').update(tagged).digest('hex'),
              details: { parent_model: '', format: 'onnx', family: info.modelType, families: [info.modelType], parameter_size: '', quantization_level: info.dtype ?? '' },
            },
          ],
        });
      }
      if (req.method !== 'POST' || p !== '/api/generate') return send(404, { error: '404 page not found' });
      if (body.model !== model && body.model !== tagged) return send(404, { error: `model '${body.model}' not found` });
      const topN = body.top_logprobs ?? 0;
      if (topN < 0 || topN > 20) return send(400, { error: 'top_logprobs must be between 0 and 20' });
      const createdAt = () => new Date().toISOString();
      const prompt = String(body.prompt ?? '');
      if (!prompt) {
        // An empty prompt only loads the model (docs/api.md, "Load a model").
        return send(200, { model: body.model, created_at: createdAt(), response: '', done: true, done_reason: 'load' });
      }
      if (body.suffix && !opts.insert) {
        // The bundled model has no fill-in-the-middle template: Ollama refuses a suffix for such a model.
        return send(400, { error: `${tagged} does not support insert` });
      }
      // With `insert`, this server stands in for a FIM model: the real one renders prompt and suffix
      // through the model's template; here the middle is the continuation of the prompt.
      const o = body.options ?? {};
      const wantLogprobs = body.logprobs === true && !opts.noLogprobs;
      const { ids: promptIds, info } = await tokenize(prompt);
      const room = info.maxContext - promptIds.length;
      const maxTokens = o.num_predict === undefined || o.num_predict < 0 ? room : Math.min(o.num_predict, room);
      const stop = asStopList(o.stop);
      const record = ctx.newGeneration({ prompt, maxTokens });
      const stream = body.stream !== false;
      const t0 = process.hrtime.bigint();
      const finalFields = (items, result) => {
        const total = Number(process.hrtime.bigint() - t0);
        const out = {
          done: true,
          done_reason: result.finishReason === 'length' ? 'length' : 'stop',
        };
        if (!body.raw) out.context = [...promptIds, ...items.map((it) => it.token.id)];
        return { ...out, total_duration: total, load_duration: 0, prompt_eval_count: promptIds.length, prompt_eval_duration: 0, eval_count: items.length, eval_duration: total };
      };
      if (maxTokens === 0) {
        record.finishReason = 'length';
        return send(200, { model: body.model, created_at: createdAt(), response: '', ...finalFields([], { finishReason: 'length' }) });
      }
      const gen = startGeneration({ prompt, maxTokens, temperature: o.temperature ?? 0.8, topP: o.top_p ?? 0.9, topK: o.top_k ?? 40, seed: o.seed, stop, topN: Math.max(topN, 1), record, paced: Boolean(opts.delayMs) });
      if (!stream) {
        const { items, result, cancelled } = await collect(gen, ctx, record);
        if (cancelled) return;
        const reply = { model: body.model, created_at: createdAt(), response: result.text, ...finalFields(items, result) };
        if (wantLogprobs) reply.logprobs = items.map((it) => ollamaLogprob(it.token, topN));
        return send(200, reply);
      }
      ctx.res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      const { items, result, cancelled } = await pump(gen, ctx, record, opts.delayMs ?? 0, (item) => {
        const line = { model: body.model, created_at: createdAt(), response: item.delta, done: false };
        if (wantLogprobs) line.logprobs = [ollamaLogprob(item.token, topN)];
        ctx.res.write(`${JSON.stringify(line)}\n`);
      });
      if (cancelled) return ctx.res.destroy();
      ctx.res.end(`${JSON.stringify({ model: body.model, created_at: createdAt(), response: '', ...finalFields(items, result) })}\n`);
    },
  });
}

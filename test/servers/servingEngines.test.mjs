// The serving-engine test servers answer in each API's documented shape, with the engine's own
// numbers: every logprob is checked against a direct run of the engine on the bundled model.
// Run: npm run build && node --test test/servers/
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startOpenAiServer, startLlamaCppServer, startOllamaServer, sharedEngine } from './servingEngines.mjs';

const PROMPT = 'def add(a, b):\n    ';
const MODEL = { source: 'gpt2-code' };
const servers = [];
after(() => Promise.all(servers.map((s) => s.close())));
async function started(start, opts) {
  const s = await start(opts);
  servers.push(s);
  return s;
}

/** The engine's greedy run, as the servers make it. */
async function reference(prompt, maxNewTokens, topAlternatives) {
  const engine = await sharedEngine();
  return engine.generate({ model: MODEL, prompt, options: { strategy: 'greedy', maxNewTokens, topAlternatives, repetitionPenalty: 1 } });
}

const close = (a, b, what) => assert.ok(Math.abs(a - b) <= 1e-9, `${what}: ${a} vs ${b}`);
const post = (url, body, headers = {}) => fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });

/** `data: …` events of an SSE body. */
function sseEvents(text) {
  return text
    .split('\n\n')
    .map((block) => block.trim())
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice(6));
}

// ----------------------------------------------------------------------------------------- OpenAI / vLLM

test('OpenAI /v1/completions: text, tokens and logprobs are the engine’s, in vLLM’s CompletionResponse shape', async () => {
  const s = await started(startOpenAiServer, {});
  const ref = await reference(PROMPT, 6, 3);
  const res = await post(`${s.url}/v1/completions`, { model: 'gpt2-code', prompt: PROMPT, max_tokens: 6, temperature: 0, logprobs: 3 });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.match(body.id, /^cmpl-/);
  assert.equal(body.object, 'text_completion');
  assert.equal(typeof body.created, 'number');
  assert.equal(body.model, 'gpt2-code');
  assert.equal(body.choices.length, 1);
  const [choice] = body.choices;
  assert.equal(choice.index, 0);
  assert.equal(choice.text, ref.text);
  assert.equal(choice.finish_reason, ref.finishReason === 'length' ? 'length' : 'stop');
  assert.deepEqual(choice.logprobs.tokens, ref.tokens.map((t) => t.text));
  assert.equal(choice.logprobs.token_logprobs.length, ref.tokens.length);
  ref.tokens.forEach((t, i) => {
    close(Math.exp(choice.logprobs.token_logprobs[i]), t.prob, `token ${i}`);
    const top = choice.logprobs.top_logprobs[i];
    // vLLM: the sampled token plus the top N, so N or N + 1 entries.
    assert.ok(Object.keys(top).length === 3 || Object.keys(top).length === 4);
    close(Math.exp(top[t.text]), t.prob, `top[${i}] own token`);
    for (const alt of t.top.slice(0, 3)) close(Math.exp(top[alt.text]), alt.prob, `top[${i}] ${JSON.stringify(alt.text)}`);
  });
  // text_offset: where each token starts in `text` (code points).
  let offset = 0;
  choice.logprobs.tokens.forEach((tok, i) => {
    assert.equal(choice.logprobs.text_offset[i], offset);
    offset += [...tok].length;
  });
  assert.deepEqual(body.usage, { prompt_tokens: ref.inputIds.length, total_tokens: ref.inputIds.length + ref.tokens.length, completion_tokens: ref.tokens.length, prompt_tokens_details: null });
  assert.equal(s.requests.length, 1);
  assert.equal(s.requests[0].path, '/v1/completions');
  assert.equal(s.requests[0].body.max_tokens, 6);
});

test('OpenAI echo + logprobs with max_tokens 0: only the prompt, its first token null, the rest the engine’s score', async () => {
  const s = await started(startOpenAiServer, {});
  const engine = await sharedEngine();
  const scored = await engine.score({ model: MODEL, text: PROMPT, topAlternatives: 2 });
  const res = await post(`${s.url}/v1/completions`, { model: 'gpt2-code', prompt: PROMPT, max_tokens: 0, echo: true, logprobs: 2 });
  assert.equal(res.status, 200);
  const { choices, usage } = await res.json();
  const lp = choices[0].logprobs;
  assert.equal(choices[0].text, PROMPT);
  assert.equal(lp.tokens.length, scored.tokens.length + 1);
  assert.equal(lp.token_logprobs[0], null);
  assert.equal(lp.top_logprobs[0], null);
  assert.equal(lp.tokens.join(''), PROMPT);
  scored.tokens.forEach((t, i) => {
    assert.equal(lp.tokens[i + 1], t.text);
    close(Math.exp(lp.token_logprobs[i + 1]), t.prob, `prompt token ${i + 1}`);
  });
  // vLLM's prompt_logprobs: null first, then { "<id>": { logprob, rank, decoded_token } }.
  const pl = choices[0].prompt_logprobs;
  assert.equal(pl[0], null);
  scored.tokens.forEach((t, i) => {
    const own = pl[i + 1][String(t.id)];
    assert.equal(own.rank, t.rank);
    assert.equal(own.decoded_token, t.text);
    close(Math.exp(own.logprob), t.prob, `prompt_logprobs ${i + 1}`);
  });
  assert.equal(usage.completion_tokens, 0);
});

test('OpenAI echo + generation: prompt tokens first, then the generated ones', async () => {
  const s = await started(startOpenAiServer, {});
  const ref = await reference(PROMPT, 3, 1);
  const res = await post(`${s.url}/v1/completions`, { model: 'gpt2-code', prompt: PROMPT, max_tokens: 3, temperature: 0, echo: true, logprobs: 1 });
  const { choices } = await res.json();
  assert.equal(choices[0].text, PROMPT + ref.text);
  const lp = choices[0].logprobs;
  assert.equal(lp.tokens.length, ref.inputIds.length + ref.tokens.length);
  assert.equal(lp.token_logprobs[0], null);
  ref.tokens.forEach((t, i) => close(Math.exp(lp.token_logprobs[ref.inputIds.length + i]), t.prob, `generated ${i}`));
});

test('OpenAI stream: one SSE chunk per token with its logprobs, finish_reason on the last, then [DONE]', async () => {
  const s = await started(startOpenAiServer, {});
  const ref = await reference(PROMPT, 5, 2);
  const res = await post(`${s.url}/v1/completions`, { model: 'gpt2-code', prompt: PROMPT, max_tokens: 5, temperature: 0, logprobs: 2, stream: true, stream_options: { include_usage: true } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const events = sseEvents(await res.text());
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  const usageChunk = chunks.pop();
  assert.deepEqual(usageChunk.choices, []);
  assert.equal(usageChunk.usage.completion_tokens, ref.tokens.length);
  assert.equal(chunks.length, ref.tokens.length);
  assert.equal(chunks.map((c) => c.choices[0].text).join(''), ref.text);
  chunks.forEach((c, i) => {
    assert.equal(c.object, 'text_completion');
    assert.equal(c.choices[0].logprobs.tokens[0], ref.tokens[i].text);
    close(Math.exp(c.choices[0].logprobs.token_logprobs[0]), ref.tokens[i].prob, `chunk ${i}`);
    assert.equal(c.choices[0].finish_reason, i === chunks.length - 1 ? 'length' : null);
  });
});

test('OpenAI /v1/models lists the served model; an unknown model is a 404 with vLLM’s error body', async () => {
  const s = await started(startOpenAiServer, {});
  const models = await (await fetch(`${s.url}/v1/models`)).json();
  assert.equal(models.object, 'list');
  assert.equal(models.data[0].id, 'gpt2-code');
  assert.equal(models.data[0].object, 'model');
  assert.equal(models.data[0].max_model_len, 512);
  const res = await post(`${s.url}/v1/completions`, { model: 'nope', prompt: 'x' });
  assert.equal(res.status, 404);
  assert.deepEqual(await res.json(), { error: { message: 'The model `nope` does not exist.', type: 'NotFoundError', param: 'model', code: 404 } });
});

test('OpenAI request validation answers 400 as vLLM’s CompletionRequest validators do', async () => {
  const s = await started(startOpenAiServer, {});
  const res = await post(`${s.url}/v1/completions`, { model: 'gpt2-code', prompt: 'x', stream: true, prompt_logprobs: 2 });
  assert.equal(res.status, 400);
  const { error } = await res.json();
  assert.equal(error.code, 400);
  assert.equal(error.param, 'prompt_logprobs');
  assert.equal(error.message, '`prompt_logprobs` are not available when `stream=True`.');
  assert.equal((await post(`${s.url}/v1/completions`, { model: 'gpt2-code', prompt: 'x', logprobs: -1 })).status, 400);
  assert.equal((await (await post(`${s.url}/v1/completions`, { model: 'gpt2-code', prompt: '' })).json()).error.message, 'Either prompt or prompt_embeds must be provided and non-empty.');
  const zero = await (await post(`${s.url}/v1/completions`, { model: 'gpt2-code', prompt: 'x', max_tokens: 0 })).json();
  assert.deepEqual(zero, { error: { message: 'max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)', type: 'BadRequestError', param: 'max_tokens', code: 400 } });
  const long = await post(`${s.url}/v1/completions`, { model: 'gpt2-code', prompt: 'x', max_tokens: 512 });
  assert.equal(long.status, 400);
  assert.equal((await long.json()).error.param, 'max_tokens');
  assert.equal(s.generations.length, 0);
});

test('API key: 401 without it in each engine’s error body, 200 with it; public paths stay open', async () => {
  const o = await started(startOpenAiServer, { apiKey: 'sk-test' });
  let res = await post(`${o.url}/v1/completions`, { model: 'gpt2-code', prompt: 'x', max_tokens: 1 });
  assert.equal(res.status, 401);
  assert.deepEqual(await res.json(), { error: 'Unauthorized' });
  res = await post(`${o.url}/v1/completions`, { model: 'gpt2-code', prompt: 'x', max_tokens: 1, temperature: 0 }, { Authorization: 'Bearer sk-test' });
  assert.equal(res.status, 200);
  // vLLM checks the key on /v1 paths only.
  assert.equal((await fetch(`${o.url}/v1/models`)).status, 401);
  assert.equal((await fetch(`${o.url}/health`)).status, 200);

  const l = await started(startLlamaCppServer, { apiKey: 'sk-test' });
  res = await post(`${l.url}/completion`, { prompt: 'x', n_predict: 1 }, { Authorization: 'Bearer wrong' });
  assert.equal(res.status, 401);
  assert.deepEqual(await res.json(), { error: { code: 401, message: 'Invalid API Key', type: 'authentication_error' } });
  assert.equal((await fetch(`${l.url}/health`)).status, 200);
  res = await post(`${l.url}/completion`, { prompt: 'x', n_predict: 1, temperature: 0 }, { Authorization: 'Bearer sk-test' });
  assert.equal(res.status, 200);

  const m = await started(startOllamaServer, { apiKey: 'sk-test' });
  res = await post(`${m.url}/api/generate`, { model: 'gpt2-code', prompt: 'x', stream: false });
  assert.equal(res.status, 401);
  assert.deepEqual(await res.json(), { error: 'unauthorized' });
});

test('fail: the first n requests get the given status, then requests succeed', async () => {
  const o = await started(startOpenAiServer, { fail: { status: 503, times: 2 } });
  const body = { model: 'gpt2-code', prompt: 'x', max_tokens: 1, temperature: 0 };
  for (let i = 0; i < 2; i++) {
    const res = await post(`${o.url}/v1/completions`, body);
    assert.equal(res.status, 503);
    assert.equal((await res.json()).error.code, 503);
  }
  assert.equal((await post(`${o.url}/v1/completions`, body)).status, 200);

  const m = await started(startOllamaServer, { fail: { status: 429, times: 1 } });
  const res = await post(`${m.url}/api/generate`, { model: 'gpt2-code', prompt: 'x', stream: false, options: { num_predict: 1, temperature: 0 } });
  assert.equal(res.status, 429);
  assert.equal(typeof (await res.json()).error, 'string');
  assert.equal((await post(`${m.url}/api/generate`, { model: 'gpt2-code', prompt: 'x', stream: false, options: { num_predict: 1, temperature: 0 } })).status, 200);

  const l = await started(startLlamaCppServer, { fail: { status: 500, times: 1 } });
  const lr = await post(`${l.url}/completion`, { prompt: 'x', n_predict: 1 });
  assert.equal(lr.status, 500);
  assert.equal((await lr.json()).error.type, 'server_error');
});

/** Reads `n` chunks of a streamed reply, then aborts the request. */
async function readThenAbort(url, body, n) {
  const controller = new AbortController();
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal: controller.signal });
  const reader = res.body.getReader();
  let seen = 0;
  while (seen < n) {
    const { done } = await reader.read();
    if (done) break;
    seen++;
  }
  controller.abort();
  await reader.cancel().catch(() => undefined);
}

async function settled(server) {
  for (let i = 0; i < 200 && !(server.generations[0]?.finishReason && server.generations[0]?.cancelled); i++) await new Promise((r) => setTimeout(r, 25));
  return server.generations[0];
}

test('a client abort stops the generation (OpenAI, llama.cpp and Ollama streams)', async () => {
  const cases = [
    [startOpenAiServer, '/v1/completions', { model: 'gpt2-code', prompt: PROMPT, max_tokens: 400, temperature: 0, stream: true }],
    [startLlamaCppServer, '/completion', { prompt: PROMPT, n_predict: 400, temperature: 0, stream: true }],
    [startOllamaServer, '/api/generate', { model: 'gpt2-code', prompt: PROMPT, options: { num_predict: 400, temperature: 0 } }],
  ];
  for (const [start, path, body] of cases) {
    const s = await started(start, { delayMs: 40 });
    await readThenAbort(`${s.url}${path}`, body, 2);
    const g = await settled(s);
    assert.equal(g.cancelled, true, path);
    assert.equal(g.finishReason, 'cancelled', `${path}: the engine was stopped`);
    assert.ok(g.engineTokens < 400, `${path}: ${g.engineTokens} tokens generated`);
    assert.ok(g.sentTokens < 10, `${path}: ${g.sentTokens} tokens sent`);
  }
});

test('aborting a non-streamed request stops its generation too', async () => {
  const s = await started(startOpenAiServer, { delayMs: 1 });
  const body = JSON.stringify({ model: 'gpt2-code', prompt: PROMPT, max_tokens: 400, temperature: 0 });
  const controller = new AbortController();
  const aborted = fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, signal: controller.signal });
  setTimeout(() => controller.abort(), 150);
  await assert.rejects(aborted);
  for (let i = 0; i < 200 && !s.generations[0]?.finishReason; i++) await new Promise((r) => setTimeout(r, 25));
  const [g] = s.generations;
  assert.equal(g.cancelled, true);
  assert.equal(g.finishReason, 'cancelled');
  assert.ok(g.engineTokens < 400, `${g.engineTokens} tokens generated`);
  // The same request, not aborted, runs to the end.
  assert.equal((await post(`${s.url}/v1/completions`, JSON.parse(body))).status, 200);
  assert.equal(s.generations[1].finishReason, 'length');
  assert.equal(s.generations[1].engineTokens, 400);
});

// ----------------------------------------------------------------------------------------- llama.cpp

test('llama.cpp /completion: content and completion_probabilities are the engine’s', async () => {
  const s = await started(startLlamaCppServer, {});
  const ref = await reference(PROMPT, 5, 4);
  const res = await post(`${s.url}/completion`, { prompt: PROMPT, n_predict: 5, temperature: 0, n_probs: 4, return_tokens: true });
  const body = await res.json();
  assert.equal(body.content, ref.text);
  assert.equal(body.stop, true);
  assert.equal(body.stop_type, 'limit');
  assert.deepEqual(body.tokens, ref.tokens.map((t) => t.id));
  assert.equal(body.timings.predicted_n, 5);
  assert.equal(body.timings.prompt_n, ref.inputIds.length);
  assert.equal(body.completion_probabilities.length, ref.tokens.length);
  body.completion_probabilities.forEach((p, i) => {
    const t = ref.tokens[i];
    assert.equal(p.id, t.id);
    assert.equal(p.token, t.text);
    assert.deepEqual(p.bytes, [...Buffer.from(t.text, 'utf8')]);
    close(Math.exp(p.logprob), t.prob, `token ${i}`);
    assert.equal(p.top_logprobs.length, 4);
    p.top_logprobs.forEach((alt, j) => {
      assert.equal(alt.id, t.top[j].id);
      assert.equal(alt.token, t.top[j].text);
      close(Math.exp(alt.logprob), t.top[j].prob, `token ${i} alt ${j}`);
    });
  });
});

test('llama.cpp stream: one event per token with its probabilities, then a stop event', async () => {
  const s = await started(startLlamaCppServer, {});
  const ref = await reference(PROMPT, 4, 2);
  const res = await post(`${s.url}/completion`, { prompt: PROMPT, n_predict: 4, temperature: 0, n_probs: 2, stream: true });
  const events = sseEvents(await res.text()).map((e) => JSON.parse(e));
  const tokens = events.filter((e) => !e.stop);
  assert.equal(tokens.length, ref.tokens.length);
  assert.equal(tokens.map((e) => e.content).join(''), ref.text);
  tokens.forEach((e, i) => {
    assert.equal(e.completion_probabilities.length, 1);
    assert.deepEqual(e.tokens, [ref.tokens[i].id]);
    close(Math.exp(e.completion_probabilities[0].logprob), ref.tokens[i].prob, `event ${i}`);
  });
  const last = events.at(-1);
  assert.equal(last.stop, true);
  assert.equal(last.stop_type, 'limit');
  assert.equal(last.timings.predicted_n, 4);
});

test('llama.cpp post_sampling_probs: prob and top_probs; greedy gives the chosen token 1', async () => {
  const s = await started(startLlamaCppServer, {});
  const body = await (await post(`${s.url}/completion`, { prompt: PROMPT, n_predict: 3, temperature: 0, n_probs: 5, post_sampling_probs: true })).json();
  for (const p of body.completion_probabilities) {
    assert.equal(p.prob, 1);
    assert.equal('logprob' in p, false);
    assert.equal(p.top_probs[0].id, p.id);
    assert.ok(p.top_probs.length <= 5);
    for (const alt of p.top_probs.slice(1)) assert.equal(alt.prob, 0);
  }
});

test('llama.cpp /tokenize, /health, /v1/models and /infill', async () => {
  const s = await started(startLlamaCppServer, {});
  const engine = await sharedEngine();
  const { tokenizer } = await engine.load(MODEL);
  const tok = await (await post(`${s.url}/tokenize`, { content: PROMPT })).json();
  assert.deepEqual(tok.tokens, Array.from(tokenizer.encode(PROMPT)));
  const pieces = await (await post(`${s.url}/tokenize`, { content: 'def f', with_pieces: true })).json();
  assert.deepEqual(pieces.tokens.map((t) => t.piece).join(''), 'def f');
  // A token that is part of a multi-byte character comes back as its bytes.
  const emoji = await (await post(`${s.url}/tokenize`, { content: ' 🤗', with_pieces: true })).json();
  const bytes = emoji.tokens.flatMap((t) => (typeof t.piece === 'string' ? [...Buffer.from(t.piece, 'utf8')] : t.piece));
  assert.deepEqual(bytes, [...Buffer.from(' 🤗', 'utf8')]);
  assert.ok(emoji.tokens.some((t) => Array.isArray(t.piece)));
  assert.deepEqual(await (await fetch(`${s.url}/health`)).json(), { status: 'ok' });
  const models = await (await fetch(`${s.url}/v1/models`)).json();
  assert.equal(models.data[0].owned_by, 'llamacpp');
  const ref = await reference(PROMPT, 4, 1);
  const infill = await (await post(`${s.url}/infill`, { input_prefix: PROMPT, input_suffix: '\n\nprint(add(1, 2))\n', n_predict: 4, temperature: 0 })).json();
  assert.equal(infill.content, ref.text);
});

// ----------------------------------------------------------------------------------------- Ollama

test('Ollama /api/generate stream: NDJSON, one line per token with its logprobs, then the done line', async () => {
  const s = await started(startOllamaServer, {});
  const ref = await reference(PROMPT, 5, 3);
  const res = await post(`${s.url}/api/generate`, { model: 'gpt2-code', prompt: PROMPT, options: { num_predict: 5, temperature: 0 }, logprobs: true, top_logprobs: 3 });
  assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
  const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
  const done = lines.pop();
  assert.equal(lines.length, ref.tokens.length);
  assert.equal(lines.map((l) => l.response).join(''), ref.text);
  lines.forEach((l, i) => {
    assert.equal(l.done, false);
    assert.equal(l.model, 'gpt2-code');
    assert.ok(!Number.isNaN(Date.parse(l.created_at)));
    const [lp] = l.logprobs;
    assert.equal(lp.token, ref.tokens[i].text);
    close(Math.exp(lp.logprob), ref.tokens[i].prob, `line ${i}`);
    assert.equal(lp.top_logprobs.length, 3);
    lp.top_logprobs.forEach((alt, j) => close(Math.exp(alt.logprob), ref.tokens[i].top[j].prob, `line ${i} alt ${j}`));
  });
  assert.equal(done.done, true);
  assert.equal(done.done_reason, 'length');
  assert.equal(done.response, '');
  assert.equal(done.eval_count, 5);
  assert.equal(done.prompt_eval_count, ref.inputIds.length);
  assert.deepEqual(done.context, [...ref.inputIds, ...ref.tokens.map((t) => t.id)]);
});

test('Ollama non-stream: one object with the whole response and all logprobs; noLogprobs leaves them out', async () => {
  const s = await started(startOllamaServer, {});
  const ref = await reference(PROMPT, 4, 1);
  const body = await (await post(`${s.url}/api/generate`, { model: 'gpt2-code:latest', prompt: PROMPT, stream: false, options: { num_predict: 4, temperature: 0 }, logprobs: true })).json();
  assert.equal(body.response, ref.text);
  assert.equal(body.done, true);
  assert.equal(body.logprobs.length, 4);
  body.logprobs.forEach((lp, i) => {
    close(Math.exp(lp.logprob), ref.tokens[i].prob, `token ${i}`);
    assert.equal('top_logprobs' in lp, false);
  });
  const plain = await started(startOllamaServer, { noLogprobs: true });
  const b2 = await (await post(`${plain.url}/api/generate`, { model: 'gpt2-code', prompt: PROMPT, stream: false, options: { num_predict: 4, temperature: 0 }, logprobs: true })).json();
  assert.equal(b2.response, ref.text);
  assert.equal('logprobs' in b2, false);
});

test('Ollama /api/tags, unknown model and bad top_logprobs', async () => {
  const s = await started(startOllamaServer, {});
  const tags = await (await fetch(`${s.url}/api/tags`)).json();
  assert.equal(tags.models[0].name, 'gpt2-code:latest');
  assert.equal(tags.models[0].model, 'gpt2-code:latest');
  assert.match(tags.models[0].digest, /^[0-9a-f]{64}$/);
  let res = await post(`${s.url}/api/generate`, { model: 'llama3.2', prompt: 'x' });
  assert.equal(res.status, 404);
  assert.deepEqual(await res.json(), { error: "model 'llama3.2' not found" });
  res = await post(`${s.url}/api/generate`, { model: 'gpt2-code', prompt: 'x', logprobs: true, top_logprobs: 21 });
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), { error: 'top_logprobs must be between 0 and 20' });
});

test('Ollama suffix: refused for a model without insert; with `insert` the middle is the prompt’s continuation', async () => {
  const s = await started(startOllamaServer, {});
  const body = { model: 'gpt2-code', prompt: PROMPT, suffix: '\n\nprint(add(1, 2))\n', stream: false, options: { num_predict: 3, temperature: 0 } };
  const res = await post(`${s.url}/api/generate`, body);
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), { error: 'gpt2-code:latest does not support insert' });
  const fim = await started(startOllamaServer, { insert: true });
  const ref = await reference(PROMPT, 3, 1);
  const reply = await (await post(`${fim.url}/api/generate`, body)).json();
  assert.equal(reply.response, ref.text);
  assert.equal(fim.requests[0].body.suffix, body.suffix);
});

test('stop strings end the text in each API’s terms (vLLM stop_reason, llama.cpp stop_type word, Ollama done_reason stop)', async () => {
  const prompt = 'def add(a, b):';
  const engine = await sharedEngine();
  const ref = await engine.generate({ model: MODEL, prompt, options: { strategy: 'greedy', maxNewTokens: 12, topAlternatives: 1, repetitionPenalty: 1, stopStrings: [' self'] } });
  assert.equal(ref.finishReason, 'stop-string');
  assert.ok(!ref.text.includes(' self'));
  const o = await started(startOpenAiServer, {});
  const oc = (await (await post(`${o.url}/v1/completions`, { model: 'gpt2-code', prompt, max_tokens: 12, temperature: 0, stop: ' self', logprobs: 0 })).json()).choices[0];
  assert.equal(oc.text, ref.text);
  assert.equal(oc.finish_reason, 'stop');
  assert.equal(oc.stop_reason, ' self');
  assert.equal(oc.logprobs.tokens.length, ref.tokens.length);
  const l = await started(startLlamaCppServer, {});
  const lc = await (await post(`${l.url}/completion`, { prompt, n_predict: 12, temperature: 0, stop: [' self'] })).json();
  assert.equal(lc.content, ref.text);
  assert.equal(lc.stop_type, 'word');
  assert.equal(lc.stopping_word, ' self');
  const m = await started(startOllamaServer, {});
  const mc = await (await post(`${m.url}/api/generate`, { model: 'gpt2-code', prompt, stream: false, options: { num_predict: 12, temperature: 0, stop: [' self'] } })).json();
  assert.equal(mc.response, ref.text);
  assert.equal(mc.done_reason, 'stop');
});

test('sampling parameters reach the engine: a seeded sample equals the engine’s own seeded run', async () => {
  const engine = await sharedEngine();
  const ref = await engine.generate({ model: MODEL, prompt: PROMPT, options: { strategy: 'sample', maxNewTokens: 8, temperature: 0.7, topP: 0.9, topK: 20, seed: 7, topAlternatives: 2, repetitionPenalty: 1 } });
  const o = await started(startOpenAiServer, {});
  const oc = (await (await post(`${o.url}/v1/completions`, { model: 'gpt2-code', prompt: PROMPT, max_tokens: 8, temperature: 0.7, top_p: 0.9, top_k: 20, seed: 7, logprobs: 2 })).json()).choices[0];
  assert.equal(oc.text, ref.text);
  ref.tokens.forEach((t, i) => close(Math.exp(oc.logprobs.token_logprobs[i]), t.prob, `sampled token ${i}`));
  const m = await started(startOllamaServer, {});
  const mc = await (await post(`${m.url}/api/generate`, { model: 'gpt2-code', prompt: PROMPT, stream: false, options: { num_predict: 8, temperature: 0.7, top_p: 0.9, top_k: 20, seed: 7 } })).json();
  assert.equal(mc.response, ref.text);
});

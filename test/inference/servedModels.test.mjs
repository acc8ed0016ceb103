// Serving engines as model sources (vLLM's OpenAI-compatible API, llama.cpp's server, Ollama): the
// engine, the worker and the CLI against test servers on 127.0.0.1 that speak each documented wire
// format with the bundled model's real probabilities (test/servers/servingEngines.mjs).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { InferenceClient, newEngine, rejectsWithCode, root } from '../helpers.mjs';
import { startLlamaCppServer, startOllamaServer, startOpenAiServer, sharedEngine } from '../servers/servingEngines.mjs';

const engine = newEngine();
const PROMPT = 'def add(a, b):\n    ';
const servers = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function started(start, opts = {}) {
  const server = await start(opts);
  servers.push(server);
  return server;
}

const APIS = [
  { api: 'openai', start: startOpenAiServer, base: (s) => `${s.url}/v1` },
  { api: 'llama.cpp', start: startLlamaCppServer, base: (s) => s.url },
  { api: 'ollama', start: startOllamaServer, base: (s) => s.url },
];

/** The engine's own greedy run of the bundled model: what every server computed. */
async function reference(prompt, maxNewTokens, topAlternatives) {
  const local = await sharedEngine();
  return local.generate({ model: { source: 'gpt2-code' }, prompt, options: { strategy: 'greedy', maxNewTokens, topAlternatives, repetitionPenalty: 1 } });
}

for (const { api, start, base } of APIS) {
  test(`${api}: a streamed greedy generation has the server's text, and per token exp(logprob), rank and the top alternatives of the real distribution`, async () => {
    const server = await started(start);
    const model = { source: 'gpt2-code', endpoint: { url: base(server), api } };
    const info = await engine.info(model);
    assert.deepEqual(info.served, { url: api === 'openai' ? base(server) : server.url, api });
    assert.match(info.attentionUnavailable, /never leaves a serving engine/);
    const streamed = [];
    const r = await engine.generate({ model, prompt: PROMPT, stream: true, options: { strategy: 'greedy', maxNewTokens: 8, topAlternatives: 5 } }, { isCancelled: () => false, onToken: (t, delta) => streamed.push(delta) });
    const ref = await reference(PROMPT, 8, 5);
    assert.equal(r.text, ref.text);
    assert.equal(streamed.join(''), r.text, 'the streamed deltas add up to the text');
    assert.equal(r.tokens.length, ref.tokens.length);
    assert.equal(r.finishReason, ref.finishReason);
    r.tokens.forEach((t, i) => {
      const e = ref.tokens[i];
      assert.ok(Math.abs(t.prob - e.prob) < 1e-6, `token ${i}: p ${t.prob} vs ${e.prob}`);
      assert.equal(t.rank, e.rank <= 5 ? e.rank : 6, `token ${i}: rank (beyond the top 5: 6)`);
      assert.equal(t.topN, 5);
      assert.deepEqual(t.top.map((a) => a.prob.toFixed(6)), e.top.slice(0, 5).map((a) => a.prob.toFixed(6)), `token ${i}: the top 5, most probable first`);
      if (api === 'llama.cpp') assert.equal(t.id, e.id, 'llama.cpp gives token ids');
      // The entropy of the top 5 and the rest as one outcome is at most the true entropy.
      assert.ok(t.entropy <= e.entropy + 1e-9, `token ${i}: estimated entropy ${t.entropy} ≤ ${e.entropy}`);
    });
  });

  test(`${api}: cancelling aborts the request at once (the server sees the client go), and the text so far is returned`, async () => {
    const server = await started(start, { delayMs: 40 });
    let cancelled = false;
    let count = 0;
    const r = await engine.generate(
      { model: { source: 'gpt2-code', endpoint: { url: base(server), api } }, prompt: PROMPT, stream: true, options: { strategy: 'greedy', maxNewTokens: 200 } },
      { isCancelled: () => cancelled, onToken: () => (cancelled = ++count >= 3) },
    );
    assert.equal(r.finishReason, 'cancelled');
    assert.ok(r.tokens.length >= 3 && r.tokens.length < 20, `stopped after ${r.tokens.length} tokens`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(server.generations.at(-1).cancelled, true, 'the server stopped generating');
  });

  test(`${api}: a server without log-probabilities still gives the text, and says why there is no trace`, async () => {
    const server = await started(start, { noLogprobs: true });
    const r = await engine.generate({ model: { source: 'gpt2-code', endpoint: { url: base(server), api } }, prompt: PROMPT, options: { strategy: 'greedy', maxNewTokens: 6 } });
    assert.equal(r.text, (await reference(PROMPT, 6, 1)).text);
    assert.equal(r.tokens.length, 0);
    assert.match(r.traceUnavailable, /returned no log-probabilities/);
  });

  test(`${api}: an API key is sent as a bearer token; a missing one is refused with the server's reason`, async () => {
    const server = await started(start, { apiKey: 'sekret' });
    const endpoint = { url: base(server), api };
    await rejectsWithCode(engine.generate({ model: { source: 'gpt2-code', endpoint }, prompt: PROMPT, options: { maxNewTokens: 2 } }), 'server-error', /refused the request \((401|403)[^)]*\)\. Check the API key/);
    const r = await engine.generate({ model: { source: 'gpt2-code', endpoint: { ...endpoint, apiKey: 'sekret' } }, prompt: PROMPT, options: { maxNewTokens: 2 } });
    assert.equal(r.text.length > 0, true);
    assert.equal(server.requests.at(-1).headers.authorization, 'Bearer sekret');
  });
}

test('openai (vLLM): score echoes the text and gives every token after the first its log-probability, as the engine scores it', async () => {
  const server = await started(startOpenAiServer);
  const text = 'def add(a, b):\n    return a + b\n';
  const served = await engine.score({ model: { source: 'gpt2-code', endpoint: { url: `${server.url}/v1` } }, text, topAlternatives: 5 });
  const local = await (await sharedEngine()).score({ model: { source: 'gpt2-code' }, text, topAlternatives: 5 });
  assert.deepEqual(served.tokens.map((t) => t.text), local.tokens.map((t) => t.text));
  served.tokens.forEach((t, i) => assert.ok(Math.abs(t.logprob - local.tokens[i].logprob) < 1e-6, `token ${i}`));
  assert.ok(Math.abs(served.perplexity - local.perplexity) < 1e-4);
  assert.equal(server.requests.at(-1).body.echo, true);
});

test('llama.cpp and Ollama cannot score a given text: the message says so and names what can', async () => {
  for (const [api, start] of [['llama.cpp', startLlamaCppServer], ['ollama', startOllamaServer]]) {
    const server = await started(start);
    await rejectsWithCode(engine.score({ model: { source: 'gpt2-code', endpoint: { url: server.url, api } }, text: 'return a + b' }), 'server-error', /only for the tokens it generates.*vLLM/);
  }
});

test('errors: an unknown model lists what the server has; 503 and 429 are reported, not retried; a closed port is unreachable; branching is refused (beam search: servedDecoding.test.mjs)', async () => {
  const server = await started(startOpenAiServer);
  await rejectsWithCode(engine.info({ source: 'gpt-5', endpoint: { url: `${server.url}/v1` } }), 'model-not-found', /serves no model "gpt-5"; it serves: gpt2-code/);
  for (const status of [503, 429]) {
    const failing = await started(startOpenAiServer, { fail: { status, times: 1 } });
    await rejectsWithCode(engine.generate({ model: { source: 'gpt2-code', endpoint: { url: `${failing.url}/v1` } }, prompt: PROMPT }), 'server-error', status === 429 ? /limiting requests \(429/ : /server failed \(503/);
    assert.equal(failing.requests.length, 1, 'an HTTP error is not retried');
  }
  const port = await new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = probe.address();
      probe.close(() => resolve(p));
    });
  });
  await rejectsWithCode(engine.generate({ model: { source: 'gpt2-code', endpoint: { url: `http://127.0.0.1:${port}/v1` } }, prompt: PROMPT }), 'server-unreachable', /Could not reach .*ECONNREFUSED.*is the server running/);
  await rejectsWithCode(engine.generate({ model: { source: 'gpt2-code', endpoint: { url: `${server.url}/v1` } }, prompt: PROMPT, forcedPrefixIds: [5] }), 'bad-request', /append the alternative's text/);
  await rejectsWithCode(engine.generate({ model: { source: 'gpt2-code', endpoint: { url: 'ftp://x' } }, prompt: PROMPT }), 'bad-request', /http:\/\/ or https:\/\//);
});

test('through the worker: servedModels lists the models, a generation streams, and a malformed endpoint is refused by validation', async () => {
  const server = await started(startOllamaServer);
  const client = new InferenceClient({ workerPath: join(root, 'dist', 'worker.js'), bundledModelsDir: join(root, 'models') });
  try {
    assert.deepEqual(await client.servedModels({ url: server.url, api: 'ollama' }), ['gpt2-code:latest']);
    let streamed = 0;
    const r = await client.generate({ model: { source: 'gpt2-code', endpoint: { url: server.url, api: 'ollama' } }, prompt: PROMPT, stream: true, options: { maxNewTokens: 5, strategy: 'greedy' } }, { onToken: () => streamed++ });
    assert.equal(streamed, r.tokens.length);
    await assert.rejects(client.generate({ model: { source: 'gpt2-code', endpoint: { url: 'file:///etc/passwd' } }, prompt: PROMPT }), /endpoint\.url must be an http:\/\/ or https:\/\/ URL/);
    await assert.rejects(client.servedModels({ url: server.url, api: 'vllm' }), /api/);
  } finally {
    await client.dispose();
  }
});

test('CLI: generate --endpoint --model --json prints the server\'s text with prob = exp(logprob), top and rank per token', async () => {
  const server = await started(startOpenAiServer);
  const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'dist', 'cli.js'), 'generate', '--endpoint', `${server.url}/v1`, '--model', 'gpt2-code', '--prompt', PROMPT, '--max-new-tokens', '6', '--strategy', 'greedy', '--top', '3', '--json']);
  const r = JSON.parse(stdout);
  const ref = await reference(PROMPT, 6, 3);
  assert.equal(r.text, ref.text);
  r.tokens.forEach((t, i) => {
    assert.ok(Math.abs(t.prob - Math.exp(t.logprob)) < 1e-12);
    assert.ok(Math.abs(t.prob - ref.tokens[i].prob) < 1e-6);
    assert.equal(t.top.length, 3);
    assert.ok(t.top[0].prob >= t.top[1].prob && t.top[1].prob >= t.top[2].prob, 'most probable first');
    if (ref.tokens[i].rank === 1) assert.equal(t.rank, 1);
  });
  assert.match(r.device, /^openai server at 127\.0\.0\.1:/);
});

test("the engine process trusts the system's certificate bundle (NODE_EXTRA_CA_CERTS), unless one is already chosen", async () => {
  const { systemCertificatesEnv } = await import(join(root, 'dist', 'inference.js'));
  assert.deepEqual(systemCertificatesEnv({}, (p) => p === '/etc/pki/tls/certs/ca-bundle.crt'), { NODE_EXTRA_CA_CERTS: '/etc/pki/tls/certs/ca-bundle.crt' });
  assert.deepEqual(systemCertificatesEnv({}, (p) => p === '/etc/ssl/certs/ca-certificates.crt' || p === '/etc/ssl/cert.pem'), { NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt' }, 'the first that exists');
  assert.deepEqual(systemCertificatesEnv({ NODE_EXTRA_CA_CERTS: '/mine.pem' }, () => true), {});
  assert.deepEqual(systemCertificatesEnv({}, () => false), {});
});

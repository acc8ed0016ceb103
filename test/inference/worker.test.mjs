// The worker host: streaming, concurrency, cancellation within a step, crash and restart.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceClient, modelPath, modelsDir, newEngine, rejectsWithCode, root } from '../helpers.mjs';

const client = new InferenceClient({ workerPath: join(root, 'dist', 'worker.js'), bundledModelsDir: modelsDir, hub: { offline: true } });
after(() => client.dispose());
const model = { source: modelPath('tiny-llama-gqa') };
const prompt = 'def __init__(self';

test('loads a model in the worker and reports it', async () => {
  const info = await client.load(model);
  assert.equal(info.modelType, 'llama');
  assert.equal(info.architecture, 'causal-lm');
  assert.equal(info.numLayers, 2);
});

test('streams tokens as they come, ending with the same text as the result', async () => {
  const streamed = [];
  const r = await client.generate({ model, prompt, options: { maxNewTokens: 10 } }, { onToken: (t, text) => streamed.push([t.id, text]) });
  assert.equal(streamed.length, r.tokens.length);
  assert.deepEqual(streamed.map(([id]) => id), r.tokens.map((t) => t.id));
  assert.equal(streamed.at(-1)[1], r.text);
});

test('a short request does not wait behind a long one', async () => {
  const order = [];
  const long = client.generate({ model, prompt, options: { maxNewTokens: 400 } }).then(() => order.push('long'));
  const short = client.generate({ model, prompt: 'x', options: { maxNewTokens: 3 } }).then(() => order.push('short'));
  await Promise.all([long, short]);
  assert.deepEqual(order, ['short', 'long']);
});

test('the engine stops within one decode step of a cancellation and returns what it had', async () => {
  const engine = newEngine();
  let seen = 0;
  let streamed = '';
  let cancelled = false;
  const r = await engine.generate({ model, prompt, stream: true, options: { maxNewTokens: 400 } }, {
    isCancelled: () => cancelled,
    onToken: (_token, delta) => {
      streamed += delta;
      if (++seen === 5) cancelled = true;
    },
  });
  assert.equal(seen, 5, 'no step runs after the cancellation is seen');
  assert.equal(r.finishReason, 'cancelled');
  assert.equal(r.tokens.length, 5, 'the partial trace is kept');
  assert.equal(r.text, streamed, 'the partial text is the streamed deltas');
  await engine.unload();
});

test('a beam search stopped midway returns its best hypothesis so far', async () => {
  const engine = newEngine();
  let steps = 0;
  const r = await engine.generate({ model, prompt, options: { maxNewTokens: 40, strategy: 'beam', numBeams: 3 } }, { isCancelled: () => ++steps > 6 });
  assert.equal(r.finishReason, 'cancelled');
  assert.ok(r.tokens.length > 0 && r.tokens.length < 40, `${r.tokens.length} tokens`);
  await engine.unload();
});

test('cancelling through the worker resolves with the partial result and the worker keeps serving', async () => {
  const controller = new AbortController();
  let seen = 0;
  let streamed = '';
  const r = await client.generate({ model, prompt, options: { maxNewTokens: 400 } }, {
    signal: controller.signal,
    onToken: (_token, text) => {
      streamed = text;
      if (++seen === 5) controller.abort();
    },
  });
  const tokensAtAnswer = seen;
  assert.ok(seen < 400, `stopped after ${seen} of 400 tokens`);
  assert.equal(r.finishReason, 'cancelled');
  assert.equal(r.tokens.length, seen, 'every streamed token is in the result');
  assert.equal(r.text, streamed);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(seen, tokensAtAnswer, 'no tokens arrive after the call is answered');
  const again = await client.generate({ model, prompt, options: { maxNewTokens: 2 } });
  assert.equal(again.tokens.length, 2, 'the worker keeps serving after a cancel');
});

test('a killed worker fails its callers and is restarted for the next request', async () => {
  // A request that waits in the worker without running onnxruntime: a Hub download from a server that never answers.
  const requests = [];
  const server = createServer((req) => requests.push(req));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const hubClient = new InferenceClient({
    workerPath: join(root, 'dist', 'worker.js'),
    bundledModelsDir: modelsDir,
    hub: { cacheDir: mkdtempSync(join(tmpdir(), 'hub-')), remoteHost: `http://127.0.0.1:${server.address().port}/` },
  });
  try {
    const pending = hubClient.load({ source: 'test-org/never-answers' });
    while (requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    await hubClient.crashForTesting();
    await rejectsWithCode(pending, 'worker-crashed', /restarts/);
    const r = await hubClient.generate({ model, prompt, options: { maxNewTokens: 3 } });
    assert.equal(r.tokens.length, 3, 'the next request runs on a new worker');
  } finally {
    for (const req of requests) req.socket.destroy();
    server.close();
    await hubClient.dispose();
  }
});

test('dispose lets a running generation finish its step, then stops the worker', async () => {
  const other = new InferenceClient({ workerPath: join(root, 'dist', 'worker.js'), bundledModelsDir: modelsDir });
  let seen = 0;
  const pending = other.generate({ model, prompt, options: { maxNewTokens: 400 } }, { onToken: () => seen++ });
  while (seen < 3) await new Promise((r) => setTimeout(r, 1));
  await other.dispose();
  const r = await pending;
  assert.equal(r.finishReason, 'cancelled', 'the running generation was stopped, and answered with what it had');
  assert.ok(r.tokens.length >= 3 && r.tokens.length < 400);
  assert.equal(other.running, false);
  await rejectsWithCode(other.generate({ model, prompt }), 'cancelled', /disposed/);
});

test('errors from the worker keep their code', async () => {
  await rejectsWithCode(client.generate({ model: { source: '/no/such/folder' }, prompt }), 'model-not-found');
});

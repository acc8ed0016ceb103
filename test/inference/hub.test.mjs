// Hub downloads through transformers.js's hub utilities, tested against a local server in the Hub's URL layout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, modelPath, modelsDir, rejectsWithCode } from '../helpers.mjs';

const served = modelPath('tiny-llama-gqa');
const requests = [];
let server;
let host;

before(async () => {
  server = createServer((req, res) => {
    requests.push(req.url);
    // /{owner}/{name}/resolve/{revision}/{file}
    const m = /^\/test-org\/tiny-llama\/resolve\/[^/]+\/(.+)$/.exec(decodeURIComponent(req.url ?? ''));
    const file = m && join(served, m[1]);
    if (!file || !file.startsWith(served) || !existsSync(file) || statSync(file).isDirectory()) {
      res.writeHead(404).end('not found');
      return;
    }
    const body = readFileSync(file);
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') return res.end();
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `http://127.0.0.1:${server.address().port}/`;
});
after(() => server.close());

test('downloads a Hub model with progress, then reuses the cache without network, and refuses offline', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'hub-cache-'));
  const progress = [];
  const engine = new Engine(modelsDir, { cacheDir, remoteHost: host });
  const r = await engine.generate({ model: { source: 'test-org/tiny-llama' } , prompt: 'def __init__(self', options: { maxNewTokens: 5 } }, { isCancelled: () => false, onProgress: (p) => progress.push(p) });
  assert.equal(r.tokens.length, 5);
  assert.ok(existsSync(join(cacheDir, 'test-org', 'tiny-llama', 'onnx', 'model.onnx')), 'cached in Hub layout');
  assert.ok(progress.some((p) => p.file.endsWith('model.onnx') && p.status === 'done'), 'progress for the weights');
  assert.ok(requests.some((u) => u.endsWith('/onnx/model.onnx')));
  const reference = JSON.parse(readFileSync(join(served, 'reference.json'), 'utf8'));
  assert.deepEqual(r.tokens.map((t) => t.id), reference.prompts[0].greedy_ids.slice(0, 5), 'the downloaded model is the served one');

  const before = requests.length;
  const cachedProgress = [];
  const offline = new Engine(modelsDir, { cacheDir, remoteHost: host, offline: true });
  await offline.generate({ model: { source: 'test-org/tiny-llama' }, prompt: 'x', options: { maxNewTokens: 2 } }, { isCancelled: () => false, onProgress: (p) => cachedProgress.push(p) });
  assert.equal(requests.length, before, 'no request for a cached model');
  assert.equal(cachedProgress[0].status, 'cached');

  const empty = new Engine(modelsDir, { cacheDir: mkdtempSync(join(tmpdir(), 'hub-empty-')), remoteHost: host, offline: true });
  await rejectsWithCode(empty.generate({ model: { source: 'test-org/tiny-llama' }, prompt: 'x' }), 'offline', /offline mode/);
  assert.equal(requests.length, before, 'offline mode sends nothing');
});

test('an unknown Hub model is reported as not found', async () => {
  const engine = new Engine(modelsDir, { cacheDir: mkdtempSync(join(tmpdir(), 'hub-cache-')), remoteHost: host });
  await rejectsWithCode(engine.generate({ model: { source: 'test-org/missing' }, prompt: 'x' }), 'model-not-found', /test-org\/missing/);
});

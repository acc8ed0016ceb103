// Hub downloads, tested against a local server in the Hub's URL layout (/api/models/{id}/revision/{rev},
// /{id}/resolve/{rev}/{file}): exactly the files a dtype needs, per-file progress, resume, the cache, errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { gzipSync } from 'node:zlib';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Engine, modelPath, modelsDir, rejectsWithCode } from '../helpers.mjs';

/** Repos served: id → fixture folder. */
const repos = {
  'test-org/tiny-llama': modelPath('tiny-llama-gqa'),
  'test-org/qwen2': modelPath('hub-qwen2'),
  'test-org/qwen2-external': modelPath('hub-qwen2-external'),
  'test-org/marian': modelPath('hub-marian-merged'),
  'test-org/pytorch-only': modelPath('hub-qwen2'), // served without its onnx/ folder
};
const SERVED = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'README.md', 'reference.json', 'onnx'];

function listFiles(dir, id) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  for (const top of SERVED) {
    if (!existsSync(join(dir, top))) continue;
    if (statSync(join(dir, top)).isDirectory()) walk(join(dir, top));
    else out.push(top);
  }
  return id === 'test-org/pytorch-only' ? [...out.filter((f) => !f.startsWith('onnx/')), 'model.safetensors'] : out;
}

/** Every request: { url, range, encoding, sent } (sent: the body bytes the server wrote). */
const requests = [];
/** file URL suffix → bytes after which the connection is dropped, once. */
const dropAfter = new Map();
/** file URL suffix → bytes after which the server goes silent (keeps the connection, sends nothing more), once. */
const stallAfter = new Map();
/** Repos the API answers 401 for, as the Hub does for a gated or private repo without a token. */
const gated = new Set(['test-org/gated']);
/** When set, the server ignores Range headers and answers 200 with the whole file, as some mirrors do. */
let ignoreRange = false;
const stalled = [];
let server;
let host;

before(async () => {
  server = createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '');
    const entry = { url, range: req.headers.range, encoding: req.headers['accept-encoding'], sent: 0 };
    requests.push(entry);
    const write = res.write.bind(res);
    const end = res.end.bind(res);
    const count = (chunk) => { if (chunk && typeof chunk !== 'function') entry.sent += Buffer.byteLength(chunk); };
    res.write = (chunk, ...rest) => (count(chunk), write(chunk, ...rest));
    res.end = (chunk, ...rest) => (count(chunk), end(chunk, ...rest));
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url);
    if (api && api[1] === 'test-org/silent') return stalled.push(res); // headers never come
    if (api && gated.has(api[1])) return res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"Access to model test-org/gated is restricted."}');
    if (api) {
      if (!repos[api[1]]) return res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Repository not found"}');
      const body = JSON.stringify({ id: api[1], sha: 'abc', siblings: listFiles(repos[api[1]], api[1]).map((rfilename) => ({ rfilename })) });
      return res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    }
    const m = /^\/([^/]+\/[^/]+)\/resolve\/[^/]+\/(.+)$/.exec(url);
    const dir = m && repos[m[1]];
    const file = dir && join(dir, m[2]);
    if (!file || !listFiles(dir, m[1]).includes(m[2]) || !existsSync(file)) return res.writeHead(404).end('not found');
    const body = readFileSync(file);
    const range = ignoreRange ? null : /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    // As a CDN does: a client that accepts gzip gets JSON compressed, with the compressed length.
    if (!range && file.endsWith('.json') && /gzip/.test(req.headers['accept-encoding'] ?? '')) {
      const zipped = gzipSync(body);
      return res.writeHead(200, { 'content-length': zipped.length, 'content-encoding': 'gzip', 'content-type': 'application/json' }).end(zipped);
    }
    const start = range ? Number(range[1]) : 0;
    if (start >= body.length && body.length > 0) return res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
    const slice = body.subarray(start);
    res.writeHead(range ? 206 : 200, { 'content-length': slice.length, 'content-type': 'application/octet-stream', ...(range ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
    const drop = [...dropAfter.entries()].find(([suffix]) => url.endsWith(suffix));
    if (drop) {
      dropAfter.delete(drop[0]);
      res.write(slice.subarray(0, drop[1]), () => res.destroy());
      return;
    }
    const stall = [...stallAfter.entries()].find(([suffix]) => url.endsWith(suffix));
    if (stall) {
      stallAfter.delete(stall[0]);
      stalled.push(res);
      res.write(slice.subarray(0, stall[1]));
      return;
    }
    res.end(slice);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `http://127.0.0.1:${server.address().port}/`;
});
after(() => {
  for (const res of stalled) res.destroy();
  server.close();
});

const hooks = (progress) => ({ isCancelled: () => false, onProgress: (p) => progress.push(p) });
const fileRequests = (from, id) => requests.slice(from).filter((r) => r.url.startsWith(`/${id}/resolve/`)).map((r) => r.url.replace(/^.*\/resolve\/[^/]+\//, ''));
const newCache = () => mkdtempSync(join(tmpdir(), 'hub-cache-'));

test('a dtype downloads exactly its files, with progress per file, and generates as the local folder does', async (t) => {
  const cacheDir = newCache();
  const engine = new Engine(modelsDir, { cacheDir, remoteHost: host });
  const from = requests.length;
  const progress = [];
  const r = await engine.generate({ model: { source: 'test-org/qwen2', dtype: 'q4' }, prompt: 'Hello, how are you today?', options: { strategy: 'greedy', maxNewTokens: 12 } }, hooks(progress));
  const fetched = fileRequests(from, 'test-org/qwen2').sort();
  // The server gzips JSON for clients that accept it; sizes and ranges are only right uncompressed.
  assert.ok(requests.slice(from).filter((r) => r.url.includes('/resolve/')).every((r) => r.encoding === 'identity'), 'files are asked for uncompressed');
  assert.deepEqual(fetched, ['config.json', 'generation_config.json', 'onnx/model_q4.onnx', 'tokenizer.json', 'tokenizer_config.json']);
  const reference = JSON.parse(readFileSync(join(repos['test-org/qwen2'], 'reference.json'), 'utf8'));
  assert.deepEqual(r.tokens.map((t) => t.id), reference.dtypes.q4.prompts[0].greedy_ids, 'the downloaded q4 file gives transformers.js ids');
  for (const file of fetched) {
    const done = progress.find((p) => p.file === file && p.status === 'done');
    assert.ok(done, `progress for ${file}`);
    assert.equal(done.total, statSync(join(repos['test-org/qwen2'], file)).size, `${file}: total from Content-Length`);
    assert.equal(done.loaded, done.total);
  }
  const q4Bytes = fetched.reduce((s, f) => s + statSync(join(repos['test-org/qwen2'], f)).size, 0);
  const allBytes = listFiles(repos['test-org/qwen2']).reduce((s, f) => s + statSync(join(repos['test-org/qwen2'], f)).size, 0);
  assert.ok(q4Bytes < allBytes / 3, `a q4 download moves ${q4Bytes} of the repo's ${allBytes} bytes`);
  // On the wire: each needed file once, whole, plus the file list.
  const wire = requests.slice(from).filter((r) => r.url.includes('/resolve/')).reduce((s, r) => s + r.sent, 0);
  assert.equal(wire, q4Bytes, 'the file bytes sent are exactly the needed files');
  t.diagnostic(`q4: ${wire} file bytes sent (+${requests.slice(from).filter((r) => r.url.startsWith('/api/')).reduce((s, r) => s + r.sent, 0)} for the file list) of the repo's ${allBytes}`);

  // The same ids and log-probabilities as the fixture read as a local folder.
  const local = await engine.generate({ model: { source: repos['test-org/qwen2'], dtype: 'q4' }, prompt: 'Hello, how are you today?', options: { strategy: 'greedy', maxNewTokens: 12 } });
  assert.deepEqual(r.tokens.map((t) => [t.id, t.logprob]), local.tokens.map((t) => [t.id, t.logprob]), 'downloaded = local folder');

  // Asking for fp16 later fetches only the fp16 graph.
  const before16 = requests.length;
  const info = await engine.info({ source: 'test-org/qwen2', dtype: 'fp16' });
  assert.deepEqual(fileRequests(before16, 'test-org/qwen2'), ['onnx/model_fp16.onnx']);
  assert.equal(info.dtype, 'fp16');
});

test('dtype auto chooses from the repo file list as for a local folder; external data comes along', async () => {
  const cacheDir = newCache();
  const engine = new Engine(modelsDir, { cacheDir, remoteHost: host });
  let from = requests.length;
  assert.equal((await engine.info({ source: 'test-org/qwen2' })).dtype, 'q4');
  assert.ok(fileRequests(from, 'test-org/qwen2').includes('onnx/model_q4.onnx'));
  from = requests.length;
  const external = await engine.info({ source: 'test-org/qwen2-external' });
  assert.deepEqual(fileRequests(from, 'test-org/qwen2-external').filter((f) => f.startsWith('onnx/')).sort(), ['onnx/model.onnx', 'onnx/model.onnx_data']);
  assert.deepEqual(external.onnxFiles, ['onnx/model.onnx', 'onnx/model.onnx_data']);
  from = requests.length;
  const marian = await engine.info({ source: 'test-org/marian' });
  assert.deepEqual(fileRequests(from, 'test-org/marian').filter((f) => f.startsWith('onnx/')).sort(), ['onnx/decoder_model_merged.onnx', 'onnx/encoder_model.onnx']);
  assert.deepEqual(marian.tasks, ['translation_en_to_de']);
});

test('an interrupted download resumes from where it stopped, with a range request, to the identical file', async () => {
  const cacheDir = newCache();
  const engine = new Engine(modelsDir, { cacheDir, remoteHost: host });
  const cut = 100_000;
  dropAfter.set('/onnx/model.onnx_data', cut);
  const first = requests.length;
  await rejectsWithCode(engine.info({ source: 'test-org/qwen2-external' }), 'download-failed', /model\.onnx_data.*(interrupted|stopped).*resumes/);
  assert.ok(existsSync(join(cacheDir, 'test-org/qwen2-external/onnx/model.onnx_data.incomplete')), 'the partial file is kept');
  assert.ok(!existsSync(join(cacheDir, 'test-org/qwen2-external/onnx/model.onnx_data')), 'and not taken for a whole one');
  const kept = statSync(join(cacheDir, 'test-org/qwen2-external/onnx/model.onnx_data.incomplete')).size;
  assert.ok(kept > 0 && kept <= cut, `the bytes received are kept (${kept})`);
  const second = requests.length;
  const progress = [];
  await engine.info({ source: 'test-org/qwen2-external' }, hooks(progress));
  const retry = requests.slice(second).find((r) => r.url.endsWith('/onnx/model.onnx_data'));
  assert.equal(retry.range, `bytes=${kept}-`, 'the retry asks only for the rest');
  const whole = statSync(join(repos['test-org/qwen2-external'], 'onnx/model.onnx_data')).size;
  assert.equal(retry.sent, whole - kept, 'only the rest is sent');
  // The file's progress series goes on from the bytes kept, toward the whole file's size.
  const series = progress.filter((p) => p.file === 'onnx/model.onnx_data');
  assert.deepEqual([series[0].loaded, series[0].total, series[0].status], [kept, whole, 'download']);
  assert.deepEqual([series.at(-1).loaded, series.at(-1).total, series.at(-1).status], [whole, whole, 'done']);
  assert.ok(series.every((p, i) => i === 0 || p.loaded >= series[i - 1].loaded), 'loaded never goes back');
  assert.ok(readFileSync(join(cacheDir, 'test-org/qwen2-external/onnx/model.onnx_data')).equals(readFileSync(join(repos['test-org/qwen2-external'], 'onnx/model.onnx_data'))), 'byte-identical');
  assert.equal(requests.slice(first, second).filter((r) => r.url.endsWith('/onnx/model.onnx')).length, 1, 'files already complete are not fetched again');
  assert.equal(requests.slice(second).filter((r) => r.url.endsWith('/onnx/model.onnx')).length, 0);
});

test('a cancelled download keeps what it received and the next load resumes from there', async () => {
  const cacheDir = newCache();
  const partial = join(cacheDir, 'test-org/qwen2-external/onnx/model.onnx_data.incomplete');
  const cancelInData = {
    onProgress: () => {},
    // Cancel once part of the external data has been written (asked per chunk and on a timer).
    isCancelled: () => existsSync(partial) && statSync(partial).size > 0,
  };
  await rejectsWithCode(new Engine(modelsDir, { cacheDir, remoteHost: host }).info({ source: 'test-org/qwen2-external' }, cancelInData), 'cancelled', /resumes where it stopped/);
  const kept = statSync(partial).size;
  const whole = statSync(join(repos['test-org/qwen2-external'], 'onnx/model.onnx_data')).size;
  assert.ok(kept > 0 && kept < whole, `part of the file is kept (${kept} of ${whole})`);
  const from = requests.length;
  await new Engine(modelsDir, { cacheDir, remoteHost: host }).info({ source: 'test-org/qwen2-external' });
  assert.deepEqual(requests.slice(from).filter((r) => r.url.includes('/resolve/')).map((r) => [r.url.replace(/^.*\//, ''), r.range]), [['model.onnx_data', `bytes=${kept}-`]]);
});

test('the cache survives restarts: a new engine, online or offline, sends nothing; offline without it says what is missing', async () => {
  const cacheDir = newCache();
  await new Engine(modelsDir, { cacheDir, remoteHost: host }).info({ source: 'test-org/tiny-llama' });
  const before = requests.length;
  const progress = [];
  const again = new Engine(modelsDir, { cacheDir, remoteHost: host });
  const r = await again.generate({ model: { source: 'test-org/tiny-llama' }, prompt: 'def __init__(self', options: { maxNewTokens: 5 } }, hooks(progress));
  const reference = JSON.parse(readFileSync(join(repos['test-org/tiny-llama'], 'reference.json'), 'utf8'));
  assert.deepEqual(r.tokens.map((t) => t.id), reference.prompts[0].greedy_ids.slice(0, 5));
  assert.equal(progress[0].status, 'cached');
  await new Engine(modelsDir, { cacheDir, remoteHost: host, offline: true }).info({ source: 'test-org/tiny-llama' });
  assert.equal(requests.length, before, 'no request for a cached model');

  const offline = new Engine(modelsDir, { cacheDir, remoteHost: host, offline: true });
  await rejectsWithCode(offline.info({ source: 'test-org/tiny-llama', dtype: 'q8' }), 'offline', /not complete in the cache.*missing onnx\/model_quantized\.onnx.*offline mode is on/s);
  await rejectsWithCode(new Engine(modelsDir, { cacheDir: newCache(), offline: true }).info({ source: 'test-org/tiny-llama' }), 'offline', /nothing downloaded yet/);
  assert.equal(requests.length, before, 'offline mode sends nothing');

  // A cache without its remembered file list (written by an older version) costs one file-list request, no file.
  rmSync(join(cacheDir, 'test-org/tiny-llama/.hub-files.json'));
  await new Engine(modelsDir, { cacheDir, remoteHost: host }).info({ source: 'test-org/tiny-llama' });
  assert.deepEqual(requests.slice(before).map((r) => r.url), ['/api/models/test-org/tiny-llama/revision/main']);
});

test('auto and a dtype preference choose from the repo as remembered, not from whatever dtype the cache holds', async () => {
  const cacheDir = newCache();
  await new Engine(modelsDir, { cacheDir, remoteHost: host }).info({ source: 'test-org/qwen2', dtype: 'fp32' });
  // The repo has q4, which auto prefers on a CPU: an fp32 already cached is not taken instead.
  let from = requests.length;
  assert.equal((await new Engine(modelsDir, { cacheDir, remoteHost: host }).info({ source: 'test-org/qwen2' })).dtype, 'q4');
  assert.deepEqual(fileRequests(from, 'test-org/qwen2'), ['onnx/model_q4.onnx']);
  // A preference the repo can meet (the editor's lmLens.dtype) is downloaded, with no note that the model lacks it.
  from = requests.length;
  const q8 = await new Engine(modelsDir, { cacheDir, remoteHost: host }).info({ source: 'test-org/qwen2', dtype: 'q8', dtypeFallback: true });
  assert.equal(q8.dtype, 'q8');
  assert.equal(q8.dtypeNote, undefined);
  assert.deepEqual(fileRequests(from, 'test-org/qwen2'), ['onnx/model_quantized.onnx']);
  // Once complete, each choice is answered from the cache without a request, the file list included.
  from = requests.length;
  for (const dtype of ['auto', 'fp32', 'q4', 'q8']) await new Engine(modelsDir, { cacheDir, remoteHost: host }).info({ source: 'test-org/qwen2', dtype });
  assert.equal(requests.length, from);
  // Offline, auto takes what the cache has; a dtype it lacks is named by file.
  const fp32Only = newCache();
  await new Engine(modelsDir, { cacheDir: fp32Only, remoteHost: host }).info({ source: 'test-org/qwen2', dtype: 'fp32' });
  const offline = new Engine(modelsDir, { cacheDir: fp32Only, offline: true });
  assert.equal((await offline.info({ source: 'test-org/qwen2' })).dtype, 'fp32');
  await rejectsWithCode(offline.info({ source: 'test-org/qwen2', dtype: 'q4f16' }), 'offline', /test-org\/qwen2.*missing onnx\/model_q4f16\.onnx.*offline mode is on/s);
});

test('loads of one model at once, by one engine or two, share each download', async () => {
  const cacheDir = newCache();
  const from = requests.length;
  const engine = new Engine(modelsDir, { cacheDir, remoteHost: host });
  const infos = await Promise.all([
    engine.info({ source: 'test-org/qwen2-external' }),
    engine.info({ source: 'test-org/qwen2-external' }),
    new Engine(modelsDir, { cacheDir, remoteHost: host }).info({ source: 'test-org/qwen2-external' }),
  ]);
  assert.deepEqual(infos.map((i) => i.dtype), ['fp32', 'fp32', 'fp32']);
  const fetched = fileRequests(from, 'test-org/qwen2-external');
  assert.deepEqual(fetched.sort(), [...new Set(fetched)].sort(), `each file is fetched once (${fetched.join(', ')})`);
  assert.ok(readFileSync(join(cacheDir, 'test-org/qwen2-external/onnx/model.onnx_data')).equals(readFileSync(join(repos['test-org/qwen2-external'], 'onnx/model.onnx_data'))));
});

test('clear messages: unknown repo, a repo without ONNX files, a dtype the repo lacks, an unreachable host', async () => {
  const engine = new Engine(modelsDir, { cacheDir: newCache(), remoteHost: host });
  await rejectsWithCode(engine.info({ source: 'test-org/missing' }), 'model-not-found', /no model "test-org\/missing"/);
  await rejectsWithCode(engine.info({ source: 'test-org/gated' }), 'model-not-found', /no model "test-org\/gated" \(or it is private or gated: HTTP 401\)/);
  await rejectsWithCode(engine.info({ source: 'test-org/pytorch-only' }), 'model-not-found', /has no onnx\/ folder: it is not exported for transformers\.js.*Xenova\/ or onnx-community\//);
  await rejectsWithCode(engine.info({ source: 'test-org/marian', dtype: 'q4' }), 'model-not-found', /the Hub repo "test-org\/marian" has no q4 file for encoder_model.*It has: fp32/);
  const unreachable = new Engine(modelsDir, { cacheDir: newCache(), remoteHost: 'http://127.0.0.1:9/' });
  await rejectsWithCode(unreachable.info({ source: 'test-org/qwen2' }), 'download-failed', /Could not reach 127\.0\.0\.1:9/);
});

test('a partial file is checked against the size the server states when it has nothing left to send (416)', async () => {
  const cacheDir = newCache();
  const folder = join(cacheDir, 'test-org/tiny-llama');
  const repo = repos['test-org/tiny-llama'];
  mkdirSync(join(folder, 'onnx'), { recursive: true });
  // A whole file whose rename was interrupted is kept; a partial file longer than the file is started over.
  writeFileSync(join(folder, 'config.json.incomplete'), readFileSync(join(repo, 'config.json')));
  writeFileSync(join(folder, 'tokenizer_config.json.incomplete'), Buffer.concat([readFileSync(join(repo, 'tokenizer_config.json')), Buffer.from('garbage')]));
  const from = requests.length;
  await new Engine(modelsDir, { cacheDir, remoteHost: host }).info({ source: 'test-org/tiny-llama' });
  for (const file of ['config.json', 'tokenizer_config.json']) {
    assert.ok(readFileSync(join(folder, file)).equals(readFileSync(join(repo, file))), `${file} is byte-identical`);
  }
  const tc = requests.slice(from).filter((r) => r.url.endsWith('/tokenizer_config.json'));
  const longer = statSync(join(repo, 'tokenizer_config.json')).size + 'garbage'.length;
  assert.deepEqual(tc.map((r) => r.range), [`bytes=${longer}-`, undefined], 'the over-long partial file is fetched again whole');
});

test('a server that ignores the range request sends the whole file, and the partial one is started over', async () => {
  const cacheDir = newCache();
  const repo = repos['test-org/qwen2-external'];
  const partial = join(cacheDir, 'test-org/qwen2-external/onnx/model.onnx_data.incomplete');
  mkdirSync(join(cacheDir, 'test-org/qwen2-external/onnx'), { recursive: true });
  writeFileSync(partial, readFileSync(join(repo, 'onnx/model.onnx_data')).subarray(0, 50_000));
  ignoreRange = true;
  const from = requests.length;
  try {
    await new Engine(modelsDir, { cacheDir, remoteHost: host }).info({ source: 'test-org/qwen2-external' });
  } finally {
    ignoreRange = false;
  }
  const data = requests.slice(from).filter((r) => r.url.endsWith('/onnx/model.onnx_data'));
  assert.deepEqual(data.map((r) => r.range), ['bytes=50000-'], 'asked for the rest, once');
  assert.ok(readFileSync(join(cacheDir, 'test-org/qwen2-external/onnx/model.onnx_data')).equals(readFileSync(join(repo, 'onnx/model.onnx_data'))), 'the 200 answer replaced the partial file, not appended to it');
});

test('a download that stalls can be cancelled, and one silent too long fails; both resume later', async () => {
  const cacheDir = newCache();
  const partial = join(cacheDir, 'test-org/qwen2-external/onnx/model.onnx_data.incomplete');
  const cut = 70_000;
  // The server sends part of the file, then nothing, without closing: no chunk arrives to check the cancel on.
  stallAfter.set('/onnx/model.onnx_data', cut);
  let cancel = false;
  const load = new Engine(modelsDir, { cacheDir, remoteHost: host }).info({ source: 'test-org/qwen2-external' }, { onProgress: () => {}, isCancelled: () => cancel });
  while (!(existsSync(partial) && statSync(partial).size === cut)) await new Promise((r) => setTimeout(r, 20));
  cancel = true;
  const asked = Date.now();
  await rejectsWithCode(load, 'cancelled', /resumes where it stopped/);
  assert.ok(Date.now() - asked < 3000, `the cancel is honoured while nothing arrives (${Date.now() - asked} ms)`);
  assert.equal(statSync(partial).size, cut);

  // Silence longer than the stall limit ends the try with a message; the next one resumes.
  process.env.LMLENS_HUB_STALL_MS = '300';
  stallAfter.set('/onnx/model.onnx_data', 30_000);
  try {
    await rejectsWithCode(new Engine(modelsDir, { cacheDir, remoteHost: host }).info({ source: 'test-org/qwen2-external' }), 'download-failed', /model\.onnx_data.*sent nothing for 0\.3 s.*resumes/);
    assert.equal(statSync(partial).size, cut + 30_000);
    // The file list too: a Hub that never answers is named, not waited on.
    await rejectsWithCode(new Engine(modelsDir, { cacheDir: newCache(), remoteHost: host }).info({ source: 'test-org/silent' }), 'download-failed', /127\.0\.0\.1:\d+ sent nothing for 0\.3 s when asked for the file list of "test-org\/silent"/);
  } finally {
    delete process.env.LMLENS_HUB_STALL_MS;
  }
  const from = requests.length;
  await new Engine(modelsDir, { cacheDir, remoteHost: host }).info({ source: 'test-org/qwen2-external' });
  assert.deepEqual(requests.slice(from).filter((r) => r.url.includes('/resolve/')).map((r) => r.range), [`bytes=${cut + 30_000}-`]);
  assert.ok(readFileSync(join(cacheDir, 'test-org/qwen2-external/onnx/model.onnx_data')).equals(readFileSync(join(repos['test-org/qwen2-external'], 'onnx/model.onnx_data'))));
});

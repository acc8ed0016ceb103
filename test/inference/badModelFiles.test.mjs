// Broken model files through the two front doors a user has, the extension's client (engine in its
// own process) and the CLI: each gives an error whose code and message name the problem, within a
// bounded time (no hang), and the client keeps serving the good model afterwards.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, openSync, closeSync, ftruncateSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceClient, modelPath, modelsDir, root } from '../helpers.mjs';

const llama = modelPath('tiny-llama-gqa');
const client = new InferenceClient({ workerPath: join(root, 'dist', 'worker.js'), bundledModelsDir: modelsDir, hub: { offline: true } });
after(() => client.dispose());

/** A copy of the llama fixture whose onnx/model.onnx is replaced by `make(path)`. */
function brokenCopy(make) {
  const dir = mkdtempSync(join(tmpdir(), 'bad-model-'));
  cpSync(llama, dir, { recursive: true });
  const file = join(dir, 'onnx', 'model.onnx');
  make(file);
  return dir;
}

function seeded(n, seed) {
  const out = Buffer.alloc(n);
  let a = seed;
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out[i] = a >>> 24;
  }
  return out;
}

const CASES = [
  ['random bytes', (f) => writeFileSync(f, seeded(200_000, 9)), 'model-corrupt', /model\.onnx.*corrupt or truncated/],
  ['zero bytes', (f) => writeFileSync(f, Buffer.alloc(0)), 'model-corrupt', /model\.onnx.*(corrupt or truncated|empty)/],
  ['a truncated graph', (f) => writeFileSync(f, readFileSync(f).subarray(0, 5000)), 'model-corrupt', /model\.onnx/],
  ['a graph of another model (an encoder)', (f) => cpSync(join(modelPath('tiny-bart-random'), 'onnx', 'encoder_model.onnx'), f), 'unsupported-model', /model\.onnx|past_key_values|logits|input/],
  ['a symbolic-link loop', (f) => { rmSync(f); symlinkSync(f, f); }, 'model-corrupt', /model\.onnx.*(loop|ELOOP|symbolic)/i],
  ['weights larger than free memory (a sparse 4 TiB file)', (f) => { const fd = openSync(f, 'w'); ftruncateSync(fd, 4 * 1024 ** 4); closeSync(fd); }, 'out-of-memory', /too big for this machine: its weights take 4\d{3}\.\d GiB/],
];

for (const [name, make, code, message] of CASES) {
  test(`${name}: the client and the CLI name the problem (${code}), nothing hangs`, { timeout: 60_000 }, async () => {
    const dir = brokenCopy(make);
    try {
      const err = await client.generate({ model: { source: dir }, prompt: 'x', options: { maxNewTokens: 2 } }).then(
        () => assert.fail('a broken model generated'),
        (e) => e,
      );
      assert.equal(err.code, code, err.message);
      assert.match(err.message, message);
      const cli = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'generate', '--model', dir, '--prompt', 'x', '--max-new-tokens', '2'], { encoding: 'utf8', timeout: 45_000 });
      assert.notEqual(cli.signal, 'SIGTERM', 'the CLI hung');
      assert.notEqual(cli.status, 0);
      assert.match(cli.stderr, message, cli.stderr);
      assert.doesNotMatch(cli.stderr, /^\s+at .+:\d+:\d+\)?$/m, 'no stack trace');
      // The engine is still there for the good model.
      const ok = await client.generate({ model: { source: llama }, prompt: 'x', options: { maxNewTokens: 2 } });
      assert.equal(ok.tokens.length, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

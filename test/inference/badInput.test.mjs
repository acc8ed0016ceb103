// Bad input gets an error whose code and message name the problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelPath, newEngine, rejectsWithCode, root } from '../helpers.mjs';

const { tapAttention } = await import(join(root, 'dist', 'inference.js'));
const { onnx } = await import('onnx-proto').then((m) => m.default ?? m);
const engine = newEngine();
const llama = modelPath('tiny-llama-gqa');
const bart = modelPath('tiny-bart-random');

function copyOf(folder) {
  const dir = mkdtempSync(join(tmpdir(), 'model-'));
  cpSync(folder, dir, { recursive: true });
  return dir;
}

test('a missing model folder', async () => {
  await rejectsWithCode(engine.generate({ model: { source: '/no/such/model' }, prompt: 'x' }), 'model-not-found', /\/no\/such\/model/);
});

test('a corrupt ONNX file', async () => {
  const dir = copyOf(llama);
  writeFileSync(join(dir, 'onnx', 'model.onnx'), 'this is not a protobuf');
  await rejectsWithCode(engine.generate({ model: { source: dir }, prompt: 'x' }), 'model-corrupt', /corrupt or truncated/);
});

test('a truncated ONNX file', async () => {
  const dir = copyOf(llama);
  const file = join(dir, 'onnx', 'model.onnx');
  const bytes = readFileSync(file);
  writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await rejectsWithCode(engine.generate({ model: { source: dir }, prompt: 'x' }), 'model-corrupt', /model\.onnx/);
});

test('a config.json that is not JSON', async () => {
  const dir = copyOf(llama);
  writeFileSync(join(dir, 'config.json'), '{ "model_type": ');
  await rejectsWithCode(engine.generate({ model: { source: dir }, prompt: 'x' }), 'model-corrupt', /config\.json/);
});

test('an unknown model type', async () => {
  const dir = copyOf(llama);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'perceiver-xl' }));
  await rejectsWithCode(engine.generate({ model: { source: dir }, prompt: 'x' }), 'unsupported-model', /perceiver-xl/);
});

test('a prompt longer than the context, and the truncating option', async () => {
  const long = 'word '.repeat(700);
  await rejectsWithCode(engine.generate({ model: { source: llama }, prompt: long }), 'context-overflow', /context of 512 tokens/);
  const r = await engine.generate({ model: { source: llama }, prompt: long, truncatePrompt: true, options: { maxNewTokens: 4 } });
  assert.equal(r.tokens.length, 4);
  assert.ok(r.inputIds.length <= 508);
  // the fixture's tokenizer reads 'word ' as two tokens
  assert.deepEqual(r.inputTruncated, { tokens: 1400, kept: r.inputIds.length }, 'the result says what was cut');
  const short = await engine.generate({ model: { source: llama }, prompt: long.slice(0, 50), truncatePrompt: true, options: { maxNewTokens: 2 } });
  assert.equal(short.inputTruncated, undefined);
});

test('a Seq2Seq source longer than the encoder keeps its start and says so', async () => {
  const source = Array.from({ length: 120 }, (_, i) => `w${i}`).join(' ');
  const r = await engine.generate({ model: { source: bart }, prompt: source, truncatePrompt: true, task: { kind: 'summarize' }, options: { maxNewTokens: 2 } });
  assert.equal(r.inputIds.length, 64, 'the encoder length of the fixture');
  assert.ok(r.inputTruncated && r.inputTruncated.tokens > 64, JSON.stringify(r.inputTruncated));
  assert.equal(r.inputTruncated.kept, 64);
  assert.equal(r.inputTokens[1], 'summarize', 'the task prefix (the start) is kept');
  assert.equal(r.inputIds.at(-1), 2, 'and the closing </s>');
});

test('an unsupported or unavailable device', async () => {
  await rejectsWithCode(engine.generate({ model: { source: llama, device: 'tpu' }, prompt: 'x' }), 'unsupported-device', /tpu/);
  // Forcing WebGPU fails clearly where there is no GPU adapter (as on CI), and runs on it where there is one.
  try {
    const r = await engine.generate({ model: { source: llama, device: 'webgpu' }, prompt: 'x', options: { maxNewTokens: 2 } });
    assert.equal(r.device, 'webgpu');
  } catch (err) {
    assert.equal(err.code, 'unsupported-device');
    assert.match(err.message, /webgpu/i);
  }
});

test('auto device falls back to CPU and says why the GPU providers were not used', async () => {
  const info = await engine.info({ source: llama });
  assert.ok(['cpu', 'webgpu', 'cuda'].includes(info.device));
  if (info.device === 'cpu') {
    assert.ok(info.deviceNotes.length >= 1);
    assert.ok(info.deviceNotes.some((n) => /^webgpu: /.test(n)), info.deviceNotes.join('; '));
  }
});

test('translate and summarize on a GPT, an unknown target language, a source longer than the encoder', async () => {
  await rejectsWithCode(engine.generate({ model: { source: llama }, prompt: 'Open file', task: { kind: 'translate', to: 'de' } }), 'unsupported-task', /declares no translation task/);
  await rejectsWithCode(engine.generate({ model: { source: llama }, prompt: 'Open file', task: { kind: 'summarize' } }), 'unsupported-task', /declares no summarization task/);
  await rejectsWithCode(engine.generate({ model: { source: bart }, prompt: 'Open file', task: { kind: 'translate', to: 'xx' } }), 'unsupported-task', /"xx".*de \(German\)/);
  await rejectsWithCode(engine.generate({ model: { source: bart }, prompt: 'word '.repeat(200), task: { kind: 'summarize' } }), 'context-overflow', /encoder/);
});

test('a model whose attention is fused gets a clear message, not an empty map', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fused-'));
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
    graph: {
      name: 'fused',
      // onnxruntime's packed Attention: its kernel has no output for the probabilities.
      node: [{ opType: 'Attention', domain: 'com.microsoft', input: ['x', 'w', 'b'], output: ['y'], name: '/model/layers.0/attn/Attention' }],
      input: ['x', 'w', 'b'].map((name) => ({ name, type: { tensorType: { elemType: 1 } } })),
      output: [{ name: 'y', type: { tensorType: { elemType: 1 } } }],
    },
  });
  const file = join(dir, 'model.onnx');
  writeFileSync(file, onnx.ModelProto.encode(model).finish());
  const tapped = tapAttention(file, 'causal');
  assert.equal(tapped.bytes, null);
  assert.match(tapped.unavailable, /fused into com\.microsoft\.Attention nodes, which do not expose their weights/);
});

test('score: a text longer than the context fails, or with truncate scores its start', async () => {
  const long = 'word '.repeat(700);
  await rejectsWithCode(engine.score({ model: { source: llama }, text: long }), 'context-overflow', /context of 512 tokens/);
  const r = await engine.score({ model: { source: llama }, text: long, truncate: true });
  assert.equal(r.truncated, true);
  assert.ok(long.startsWith(r.text) && r.text.length < long.length);
  assert.ok(r.tokens.length >= 500 && r.tokens.length <= 512);
  const short = await engine.score({ model: { source: llama }, text: 'def f(x): return x', truncate: true });
  assert.equal(short.truncated, false);
  await rejectsWithCode(engine.score({ model: { source: bart }, source: 'word '.repeat(200), text: 'Wort', attentions: false }), 'context-overflow', /at most 64/);
});

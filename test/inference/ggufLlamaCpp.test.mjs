// The GGUF converter (models/recipes/gguf_from_onnx.py) writes gpt2-code so that llama.cpp computes
// what this engine computes: the bench's llama.cpp peer runs the same model, not a near one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelPath, newEngine, root } from '../helpers.mjs';
import { LlamaCppModel, openLlamaCpp } from '../../bench/llamaCppPeer.mjs';

// `npm ci` installs node-llama-cpp (a dev dependency) with its prebuilt CPU binary: a peer that does not
// load is a broken install, and fails here rather than skipping.
const peer = await openLlamaCpp();
const engine = newEngine();
const prompts = ['def __init__(self', 'import os\n', 'export function f('];

/** gpt2-code converted into a fresh folder; the files are removed after the test. */
function convert(t, types) {
  const dir = mkdtempSync(join(tmpdir(), 'gguf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('/usr/bin/python3', [join(root, 'models', 'recipes', 'gguf_from_onnx.py'), modelPath('gpt2-code'), dir, `--types=${types.join(',')}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  return Object.fromEntries(types.map((type) => [type, join(dir, `gpt2-code-${type}.gguf`)]));
}

/** The largest |log p| difference over the engine's 50 most probable next tokens, and whether the top token agrees. */
async function compare(model, prompt) {
  const r = await engine.generate({ model: { source: 'gpt2-code' }, prompt, options: { maxNewTokens: 1, topAlternatives: 50 } });
  const llama = (await model.logProbs(r.inputIds)).at(-1);
  const { vocab_size: vocabSize } = JSON.parse(readFileSync(join(modelPath('gpt2-code'), 'config.json'), 'utf8'));
  assert.equal(llama.length, vocabSize, `llama.cpp scores the whole ${vocabSize}-token vocabulary`);
  const worst = Math.max(...r.tokens[0].top.map((a) => Math.abs(Math.log(a.prob) - llama[a.id])));
  const theirTop = llama.indexOf(Math.max(...llama));
  // How far below the engine's top token llama.cpp's top token is, by the engine's fp32 log-probabilities.
  const top = r.tokens[0].top;
  const mine = top.find((a) => a.id === theirTop);
  const topGap = mine ? Math.log(top[0].prob) - Math.log(mine.prob) : Infinity;
  return { worst, sameTop: theirTop === r.tokens[0].id, topGap, inputIds: r.inputIds };
}

test('the f32 GGUF of gpt2-code: llama.cpp\'s next-token log-probabilities and greedy ids equal the engine\'s', async (t) => {
  assert.ok(!peer.reason, `llama.cpp peer unavailable: ${peer.reason}`);
  const files = convert(t, ['f32']);
  const header = readFileSync(files.f32);
  // llama.cpp runs with an F32 KV cache and no flash attention: what is left is ggml's CPU GELU,
  // which looks its result up by the input rounded to fp16. A numpy forward pass with that rounding
  // reproduced llama.cpp's log-probabilities to 1e-4; the exact GELU differs by up to 1.02e-3 on
  // these prompts. A transposed matrix, a wrong q/k/v order or a missing bias moves them by > 0.1.
  assert.equal(header.subarray(0, 4).toString(), 'GGUF');
  assert.equal(header.readUInt32LE(4), 3, 'GGUF version 3');
  assert.equal(Number(header.readBigUInt64LE(8)), 2 + 4 * 12 + 2, 'tensors: 2 embeddings, 12 per block, the final norm\'s 2');
  const llama = await LlamaCppModel.open(peer.llama, files.f32, { threads: 1, exact: true });
  t.after(() => llama.dispose());
  for (const prompt of prompts) {
    const { worst, sameTop, inputIds } = await compare(llama, prompt);
    assert.ok(worst <= 2e-3, `${JSON.stringify(prompt)}: log-probabilities differ by up to ${worst.toExponential(2)}`);
    assert.ok(sameTop, `${JSON.stringify(prompt)}: same most probable token`);
    const ours = await engine.generate({ model: { source: 'gpt2-code' }, prompt, options: { maxNewTokens: 24, promptLookupTokens: 0, topAlternatives: 0 } });
    const theirs = await llama.greedy(inputIds, 24);
    assert.deepEqual(theirs.ids, ours.tokens.map((x) => x.id), `${JSON.stringify(prompt)}: greedy ids`);
  }
});

test('the q8_0 and q4_0 GGUFs of gpt2-code stay as close to the engine\'s fp32 as their bits allow', async (t) => {
  assert.ok(!peer.reason, `llama.cpp peer unavailable: ${peer.reason}`);
  // Measured when written, over the top 50 of 3 prompts: q8_0 up to 0.056, q4_0 up to 0.47, the top
  // token the same but for one near tie. Blocks read in the wrong order or scaled wrongly give several nats.
  const files = convert(t, ['q8_0', 'q4_0']);
  for (const [type, tolerance] of [['q8_0', 0.15], ['q4_0', 1.0]]) {
    const llama = await LlamaCppModel.open(peer.llama, files[type], { threads: 1, exact: true });
    for (const prompt of prompts) {
      const { worst, sameTop, topGap } = await compare(llama, prompt);
      assert.ok(worst <= tolerance, `${type}, ${JSON.stringify(prompt)}: log-probabilities differ by up to ${worst.toFixed(3)} (tolerance ${tolerance})`);
      // Quantized weights may swap a near tie (gpt2-code after "export function f(": 'obj' 0.0495, 'this' 0.0483).
      assert.ok(sameTop || topGap <= 0.05, `${type}, ${JSON.stringify(prompt)}: the same most probable token, or one within 0.05 nats of it (${topGap.toFixed(3)})`);
    }
    await llama.dispose();
  }
});

test('the converter refuses a model that is not GPT-2, naming what it found', () => {
  const out = mkdtempSync(join(tmpdir(), 'gguf-'));
  try {
    assert.throws(
      () => execFileSync('/usr/bin/python3', [join(root, 'models', 'recipes', 'gguf_from_onnx.py'), modelPath('bart-translate-summarize'), out], { stdio: ['ignore', 'pipe', 'pipe'] }),
      (err) => /model_type 'bart', this converter writes GPT-2 only/.test(err.stderr.toString()),
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

// The CLI: generate, translate, summarize and score with --json, and errors with exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { assertRowsSumToOne, modelPath, root } from '../helpers.mjs';

const run = promisify(execFile);
const cli = join(root, 'dist', 'cli.js');
const llama = modelPath('tiny-llama-gqa');
const bart = modelPath('tiny-bart-random');
const rnn = 'rnn-attention-seq2seq'; // a bundled model, by name

async function json(args) {
  const { stdout } = await run(process.execPath, [cli, ...args, '--json']);
  return JSON.parse(stdout);
}

test('generate --json has text, traced tokens, device and timings', async () => {
  const r = await json(['generate', '--model', llama, '--prompt', 'def __init__(self', '--max-new-tokens', '6', '--top', '4']);
  assert.equal(typeof r.text, 'string');
  assert.equal(r.tokens.length, 6);
  for (const t of r.tokens) {
    for (const key of ['id', 'text', 'prob', 'logprob', 'rank', 'entropy']) assert.ok(key in t, `token has ${key}`);
    assert.equal(t.top.length, 4);
    assert.deepEqual(Object.keys(t.top[0]).sort(), ['id', 'prob', 'text']);
  }
  assert.equal(r.device, 'cpu');
  for (const key of ['load_ms', 'first_token_ms', 'tokens_per_s']) assert.ok(r.timings[key] >= 0, key);
});

test('beam search --json returns the n best sequences with scores', async () => {
  const r = await json(['generate', '--model', llama, '--prompt', 'x = ', '--strategy', 'beam', '--num-beams', '3', '--num-return-sequences', '3', '--max-new-tokens', '5']);
  assert.equal(r.sequences.length, 3);
  assert.ok(r.sequences[0].score >= r.sequences[1].score && r.sequences[1].score >= r.sequences[2].score);
  assert.equal(r.text, r.sequences[0].text);
});

test('translate without --model uses the BART, the better bundled translator', async () => {
  const r = await json(['translate', '--to', 'de', '--text', 'Open file']);
  assert.equal(r.text, 'Datei öffnen');
});

test('translate with the RNN returns its alignment', async () => {
  const r = await json(['translate', '--model', rnn, '--to', 'de', '--text', 'File not found', '--attentions']);
  assert.deepEqual(r.attentions.map((a) => a.kind), ['alignment']);
  assert.equal(r.text, 'Datei nicht gefunden');
});

test('translate --attentions on a Seq2Seq model returns encoder, decoder and cross maps with token labels', async () => {
  const r = await json(['translate', '--model', bart, '--to', 'de', '--text', 'Open file', '--max-new-tokens', '5', '--attentions']);
  const kinds = r.attentions.map((a) => a.kind).sort();
  assert.deepEqual(kinds, ['cross', 'decoder', 'encoder']);
  const cross = r.attentions.find((a) => a.kind === 'cross');
  assert.equal(cross.keyTokens.length, r.inputIds.length);
  assert.equal(cross.weights.length, 2, 'layers from the config');
  assert.equal(cross.weights[0].length, 4, 'heads from the config');
  assert.equal(cross.weights[0][0].length, cross.queryTokens.length);
  assertRowsSumToOne(cross.weights);
});

test('score --json gives every token a probability and rank, and a perplexity', async () => {
  const r = await json(['score', '--model', llama, '--text', 'def __init__(self, name):']);
  assert.ok(r.tokens.length >= 3);
  assert.ok(r.perplexity > 1);
  assert.ok(r.tokens.every((t) => t.rank >= 1 && t.prob > 0));
});

test('errors exit with status 1 and name the problem', async () => {
  await assert.rejects(run(process.execPath, [cli, 'translate', '--model', llama, '--to', 'de', '--text', 'Open file']), (err) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr, /unsupported-task.*declares no translation task/);
    return true;
  });
  await assert.rejects(run(process.execPath, [cli, 'generate', '--model', llama, '--prompt', 'x', '--temperature', 'hot']), /--temperature must be a number/);
});

test('translate without --to names the languages the model offers (T5-style prefixes and a Marian pair)', async () => {
  const cases = [
    [bart, /"[^"]*tiny-bart-random" translates to: de \(German\), fr \(French\)/],
    [modelPath('hub-marian-merged'), /"[^"]*hub-marian-merged" translates to: de \(German\)\./],
  ];
  for (const [model, expected] of cases) {
    await assert.rejects(run(process.execPath, [cli, 'translate', '--model', model, '--text', 'Open file']), (err) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /translate needs --to LANG\./);
      assert.match(err.stderr, expected);
      return true;
    });
  }
});

test('--logit-lens: generate and score --json give every token a lens, one entry per layer, the last equal to the model', async () => {
  const g = await json(['generate', '--model', llama, '--prompt', 'def __init__(self', '--max-new-tokens', '3', '--logit-lens']);
  const s = await json(['score', '--model', 'gpt2-code', '--text', 'return a + b', '--logit-lens']);
  for (const [r, layers] of [[g, 2], [s, 4]]) {
    for (const t of r.tokens) {
      assert.equal(t.lens.length, layers);
      assert.deepEqual(Object.keys(t.lens[0]).sort(), ['layer', 'prob', 'rank', 'top']);
      assert.deepEqual(Object.keys(t.lens[0].top[0]).sort(), ['id', 'prob', 'text']);
      assert.equal(t.lens.at(-1).rank, t.rank);
      assert.ok(Math.abs(t.lens.at(-1).prob - t.prob) < 1e-7);
    }
  }
  const { stdout } = await run(process.execPath, [cli, 'score', '--model', 'gpt2-code', '--text', 'return a', '--logit-lens']);
  assert.match(stdout, /logit lens: the chosen token's rank after each layer/);
});

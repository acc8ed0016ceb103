// Streaming and cancellation in the engine: each token's delta, and the partial result of a stopped generation.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { modelPath, newEngine } from '../helpers.mjs';

const engine = newEngine();
after(() => engine.unload());
const llama = { source: modelPath('tiny-llama-gqa') };
const bart = { source: modelPath('tiny-bart-random') };
const prompt = 'def __init__(self';

/** Generates with streaming, cancelling once `cancelAfter` tokens were streamed (never when undefined). */
async function streamed(request, cancelAfter) {
  const deltas = [];
  const ids = [];
  const r = await engine.generate({ ...request, stream: true }, {
    isCancelled: () => cancelAfter !== undefined && deltas.length >= cancelAfter,
    onToken: (token, delta) => {
      ids.push(token.id);
      deltas.push(delta);
    },
  });
  return { r, ids, text: deltas.join('') };
}

for (const [name, model] of [['a causal LM', llama], ['an encoder-decoder', bart]]) {
  test(`${name}: a generation cancelled after N streamed tokens returns them, with the streamed text`, async () => {
    const request = { model, prompt, options: { maxNewTokens: 30, promptLookupTokens: 0 } };
    const full = await streamed(request);
    assert.notEqual(full.r.finishReason, 'cancelled');
    assert.equal(full.text, full.r.text, 'the deltas concatenate to the text');
    for (const n of [0, 1, 7]) {
      const { r, ids, text } = await streamed(request, n);
      assert.equal(r.finishReason, 'cancelled', `cancelled after ${n}`);
      assert.equal(r.tokens.length, n, 'no token is chosen after the cancellation is seen');
      assert.deepEqual(r.tokens.map((t) => t.id), ids, 'the result holds the streamed tokens');
      assert.deepEqual(ids, full.r.tokens.slice(0, n).map((t) => t.id), 'the same tokens as the full run');
      assert.equal(r.text, text, 'the partial text is the concatenated deltas');
      assert.ok(full.r.text.startsWith(r.text));
      assert.equal(r.inputIds.length, full.r.inputIds.length);
    }
  });
}

test('prompt-lookup drafting streams the same tokens and deltas, and a cancelled run stops where the one-token-per-pass run does', async () => {
  const base = { model: llama, prompt: 'a = 1\nb = 2\na = 1\nb = 2\na = 1\n', options: { maxNewTokens: 40 } };
  const plain = await streamed({ ...base, options: { ...base.options, promptLookupTokens: 0 } });
  const drafted = await streamed(base);
  assert.deepEqual(drafted.ids, plain.ids);
  assert.equal(drafted.text, plain.text);
  const cut = await streamed(base, 9);
  assert.equal(cut.r.finishReason, 'cancelled');
  assert.deepEqual(cut.ids, plain.ids.slice(0, 9));
  assert.equal(cut.r.text, cut.text);
});

test('sampling: the cancelled result is the start of the same seeded run', async () => {
  const request = { model: llama, prompt, options: { strategy: 'sample', seed: 11, temperature: 1.5, maxNewTokens: 20 } };
  const full = await streamed(request);
  const { r, text } = await streamed(request, 6);
  assert.equal(r.finishReason, 'cancelled');
  assert.deepEqual(r.tokens.map((t) => t.id), full.r.tokens.slice(0, 6).map((t) => t.id));
  assert.equal(r.text, text);
});

test('a stop string across two tokens: the deltas still concatenate to the cut text', async () => {
  const full = await streamed({ model: llama, prompt, options: { maxNewTokens: 24 } });
  const texts = full.r.tokens.map((t) => t.text);
  const i = texts.findIndex((t, j) => j > 0 && t.length > 0 && texts[j + 1]?.length > 0);
  assert.ok(i > 0, 'two neighbouring tokens with text');
  const stop = texts[i].slice(-1) + texts[i + 1][0];
  const { r, text } = await streamed({ model: llama, prompt, options: { maxNewTokens: 24, stopStrings: [stop] } });
  assert.equal(r.finishReason, 'stop-string');
  assert.equal(r.text, full.r.text.slice(0, full.r.text.indexOf(stop)));
  assert.equal(text, r.text, 'the start of the stop string was held back, not streamed');
});

test('the EOS token is streamed too, with an empty delta', async () => {
  const { r, ids, text } = await streamed({ model: llama, prompt, options: { maxNewTokens: 5, allowedTokenIds: [0] } });
  assert.equal(r.finishReason, 'eos');
  assert.deepEqual(ids, [0]);
  assert.equal(text, '');
  assert.equal(r.text, '');
});

test('beam search stopped between steps returns the best hypothesis so far', async () => {
  const options = { strategy: 'beam', numBeams: 3, numReturnSequences: 2, maxNewTokens: 12 };
  let polls = 0;
  const r = await engine.generate({ model: llama, prompt, options }, { isCancelled: () => ++polls > 4 });
  assert.equal(r.finishReason, 'cancelled');
  assert.equal(r.sequences.length, 2);
  assert.equal(r.text, r.sequences[0].text);
  assert.equal(r.tokens.length, r.sequences[0].ids.length);
  assert.ok(r.tokens.length <= 4, `${r.tokens.length} tokens after 4 steps`);
  assert.ok(r.sequences[0].score >= r.sequences[1].score);
});

test('scoring still throws when cancelled', async () => {
  await assert.rejects(engine.score({ model: llama, text: prompt }, { isCancelled: () => true }), (err) => err.code === 'cancelled');
});

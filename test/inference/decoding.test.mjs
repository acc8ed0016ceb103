// The decoding loop: trace consistency, sampling determinism, processors, and beam search checked
// against a brute-force search computed with onnxruntime directly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { modelPath, newEngine, root } from '../helpers.mjs';

const require = createRequire(join(root, 'package.json'));
const ort = require('onnxruntime-node');
const { logSoftmax, topKIndices, repetitionPenalty, noRepeatNgram, topK, topP, SeededRandom, resolveGenerationConfig } = await import(join(root, 'dist', 'inference.js'));

const engine = newEngine();
const llama = modelPath('tiny-llama-gqa');
const prompt = 'def __init__(self';

function assertConsistentTrace(tokens, { greedy }) {
  for (const t of tokens) {
    assert.ok(t.prob > 0 && t.prob <= 1, 'probability in (0, 1]');
    assert.ok(Math.abs(Math.log(t.prob) - t.logprob) < 1e-9, 'prob = exp(logprob)');
    assert.ok(t.entropy >= 0, 'entropy is not negative');
    assert.ok(t.rank >= 1, 'rank starts at 1');
    for (let i = 1; i < t.top.length; i++) assert.ok(t.top[i - 1].prob >= t.top[i].prob, 'alternatives sorted');
    assert.ok(t.top.reduce((a, b) => a + b.prob, 0) <= 1 + 1e-9, 'alternatives sum to at most 1');
    const listed = t.top.findIndex((a) => a.id === t.id);
    if (listed >= 0) {
      assert.equal(t.top[listed].prob, t.prob);
      assert.equal(t.rank, t.top.filter((a) => a.prob > t.prob).length + 1, 'rank agrees with the alternatives');
    }
    if (greedy) {
      assert.equal(t.top[0].id, t.id, 'greedy picks the most probable token');
      assert.equal(t.rank, 1);
    }
  }
}

test('trace probability, rank and entropy equal those of the full distribution from onnxruntime', async () => {
  const r = await engine.generate({ model: { source: llama }, prompt, options: { maxNewTokens: 1, strategy: 'sample', seed: 5, temperature: 3 } });
  const session = await ort.InferenceSession.create(join(llama, 'onnx', 'model.onnx'));
  const ids = r.inputIds;
  const feeds = { input_ids: int64(ids), attention_mask: int64(ids.map(() => 1)), position_ids: int64(ids.map((_, i) => i)) };
  for (const name of session.inputNames.filter((n) => n.startsWith('past_key_values.'))) feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, 24]);
  const out = await session.run(feeds);
  const vocab = out.logits.dims[2];
  const lp = renormalised(out.logits.data.subarray((ids.length - 1) * vocab, ids.length * vocab), null);
  const t = r.tokens[0];
  const expectedEntropy = [...lp.values()].reduce((h, l) => h - Math.exp(l) * l, 0);
  assert.ok(Math.abs(t.entropy - expectedEntropy) < 1e-4, `entropy ${t.entropy} vs ${expectedEntropy}`);
  assert.ok(Math.abs(t.logprob - lp.get(t.id)) < 1e-4);
  assert.equal(t.rank, [...lp.values()].filter((l) => l > lp.get(t.id)).length + 1);
  await session.release();
});

test('greedy trace is consistent: top-1 is the choice, rank 1, alternatives sorted, sums <= 1', async () => {
  const r = await engine.generate({ model: { source: llama }, prompt, options: { maxNewTokens: 12, topAlternatives: 10 } });
  assert.equal(r.tokens.length, 12);
  assert.ok(r.tokens.every((t) => t.top.length === 10));
  assertConsistentTrace(r.tokens, { greedy: true });
  assert.equal(r.finishReason, 'length');
});

test('sampling: the same seed gives the same text, another seed another text', async () => {
  const run = (seed) => engine.generate({ model: { source: llama }, prompt, options: { strategy: 'sample', seed, maxNewTokens: 16, temperature: 1.5 } });
  const [a, b, c] = [await run(7), await run(7), await run(8)];
  assert.deepEqual(a.tokens.map((t) => t.id), b.tokens.map((t) => t.id));
  assert.notDeepEqual(a.tokens.map((t) => t.id), c.tokens.map((t) => t.id));
  assertConsistentTrace(a.tokens, { greedy: false });
  assert.ok(a.tokens.some((t) => t.rank > 1), 'sampling does not always take the top token');
});

test('top-k sampling only picks among the k most probable tokens', async () => {
  const r = await engine.generate({ model: { source: llama }, prompt, options: { strategy: 'sample', seed: 3, topK: 3, temperature: 2, maxNewTokens: 20 } });
  assert.ok(r.tokens.every((t) => t.rank <= 3));
});

test('stop strings end generation and are cut from the text', async () => {
  const full = await engine.generate({ model: { source: llama }, prompt, options: { maxNewTokens: 12 } });
  const stop = full.tokens[3].text.trim() || full.tokens[3].text;
  const r = await engine.generate({ model: { source: llama }, prompt, options: { maxNewTokens: 12, stopStrings: [stop] } });
  assert.equal(r.finishReason, 'stop-string');
  assert.ok(!r.text.includes(stop));
  assert.ok(full.text.startsWith(r.text));
});

test('forced prefix (branching) continues from the chosen alternative', async () => {
  const first = await engine.generate({ model: { source: llama }, prompt, options: { maxNewTokens: 4 } });
  const alternative = first.tokens[1].top[2].id;
  const branched = await engine.generate({ model: { source: llama }, prompt, forcedPrefixIds: [first.tokens[0].id, alternative], options: { maxNewTokens: 4 } });
  assert.deepEqual(branched.tokens.slice(0, 2).map((t) => t.id), [first.tokens[0].id, alternative]);
  assert.equal(branched.tokens[1].rank, 3);
});

test('repetition penalty and no-repeat n-gram processors', () => {
  const scores = Float32Array.from([2, -2, 1, 0.5]);
  repetitionPenalty(2).apply(scores, [0, 1]);
  assert.deepEqual(Array.from(scores), [1, -4, 1, 0.5]);
  const s2 = Float32Array.from([0, 0, 0, 0]);
  noRepeatNgram(2).apply(s2, [1, 2, 3, 1]);
  assert.deepEqual(Array.from(s2), [0, 0, -Infinity, 0]);
  const s3 = Float32Array.from([1, 4, 3, 2]);
  topK(2).apply(s3, []);
  assert.deepEqual(Array.from(s3), [-Infinity, 4, 3, -Infinity]);
  const s4 = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.2)]);
  topP(0.7).apply(s4, []);
  assert.equal(s4[2], -Infinity);
  assert.ok(s4[1] > -Infinity);
});

test('distribution helpers: log-softmax normalises, top-k keeps order, the seeded RNG is uniform', () => {
  const logits = Float32Array.from([1, 3, 2, 3]);
  const lp = logSoftmax(logits);
  assert.ok(Math.abs(lp.reduce((a, v) => a + Math.exp(v), 0) - 1) < 1e-12);
  assert.deepEqual(topKIndices(lp, 3), [1, 3, 2]);
  const rng = new SeededRandom(1);
  const xs = Array.from({ length: 1000 }, () => rng.next());
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.ok(Math.abs(xs.reduce((a, b) => a + b) / xs.length - 0.5) < 0.05);
});

test('invalid decoding options are refused with a message naming the option', () => {
  assert.throws(() => resolveGenerationConfig({ temperature: 0 }), /temperature/);
  assert.throws(() => resolveGenerationConfig({ topP: 1.5 }), /topP/);
  assert.throws(() => resolveGenerationConfig({ strategy: 'beam', numBeams: 2, numReturnSequences: 3 }), /numReturnSequences/);
});

// ---- Beam search against brute force ---------------------------------------------------------

/** Every sequence over `allowed` up to `maxLen` tokens, ending at EOS or at the limit, with its normalised score. */
async function bruteForce(next, allowed, eos, maxLen, forcedEos) {
  const candidates = [];
  async function expand(seq, sum) {
    const lp = await next(seq);
    for (const [id, l] of lp) {
      // A model whose generation config forces EOS at the length limit ends every sequence with it;
      // as in transformers, the forced token is the only one left, so it adds log 1 = 0 to the score.
      const forced = forcedEos && seq.length === maxLen - 1;
      if (forced && id !== eos) continue;
      const ids = [...seq, id];
      if (id === eos || ids.length === maxLen) candidates.push({ ids, score: (sum + (forced ? 0 : l)) / ids.length });
      else await expand(ids, sum + l);
    }
  }
  await expand([], 0);
  return candidates.sort((a, b) => b.score - a.score);
}

async function checkBeamAgainstBruteForce(source, promptText, next, eos, forcedEos = false) {
  const first = await next([], null);
  const words = [...first.entries()].filter(([id]) => id !== eos).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([id]) => id);
  const allowed = [...words, eos];
  const maxLen = 3;
  const candidates = await bruteForce((seq) => next(seq, allowed), allowed, eos, maxLen, forcedEos);
  const r = await engine.generate({ model: { source }, prompt: promptText, options: { strategy: 'beam', numBeams: 16, numReturnSequences: 3, maxNewTokens: maxLen, allowedTokenIds: allowed, lengthPenalty: 1 } });
  assert.equal(r.sequences.length, 3);
  assert.deepEqual(r.sequences[0].ids, candidates[0].ids, 'beam search finds the brute-force optimum');
  r.sequences.forEach((s, i) => assert.ok(Math.abs(s.score - candidates[i].score) < 1e-4, `n-best ${i} has the brute-force score`));
  const narrow = await engine.generate({ model: { source }, prompt: promptText, options: { strategy: 'beam', numBeams: 2, maxNewTokens: maxLen, allowedTokenIds: allowed } });
  const found = candidates.find((c) => c.ids.join() === narrow.sequences[0].ids.join());
  assert.ok(found, 'a narrow beam returns a real candidate');
  assert.ok(Math.abs(found.score - narrow.sequences[0].score) < 1e-4, 'and scores it as brute force does');
}

/** Log-softmax of `last` over `allowed` (all tokens when null). */
function renormalised(last, allowed) {
  const ids = allowed ?? [...last.keys()];
  const max = Math.max(...ids.map((a) => last[a]));
  const z = ids.reduce((s, a) => s + Math.exp(last[a] - max), 0);
  return new Map(ids.map((a) => [a, last[a] - max - Math.log(z)]));
}

const int64 = (ids) => new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);

test('beam search on a GPT returns the best length-normalised sequence that brute force finds', async () => {
  const session = await ort.InferenceSession.create(join(llama, 'onnx', 'model.onnx'));
  const promptIds = (await engine.generate({ model: { source: llama }, prompt, options: { maxNewTokens: 1 } })).inputIds;
  const next = async (seq, allowed) => {
    const ids = [...promptIds, ...seq];
    const feeds = { input_ids: int64(ids), attention_mask: int64(ids.map(() => 1)), position_ids: int64(ids.map((_, i) => i)) };
    for (const name of session.inputNames.filter((n) => n.startsWith('past_key_values.'))) feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, 24]);
    const out = await session.run(feeds);
    const vocab = out.logits.dims[2];
    return renormalised(out.logits.data.subarray((ids.length - 1) * vocab, ids.length * vocab), allowed);
  };
  await checkBeamAgainstBruteForce(llama, prompt, next, 0);
  await session.release();
});

test('beam search on a Seq2Seq model returns the best sequence that brute force finds', async () => {
  const bart = modelPath('tiny-bart-random');
  const encoder = await ort.InferenceSession.create(join(bart, 'onnx', 'encoder_model.onnx'));
  const decoder = await ort.InferenceSession.create(join(bart, 'onnx', 'decoder_model.onnx'));
  const source = 'translate English to German: Open file';
  const sourceIds = (await engine.generate({ model: { source: bart }, prompt: source, options: { maxNewTokens: 1 } })).inputIds;
  const mask = int64(sourceIds.map(() => 1));
  const { last_hidden_state } = await encoder.run({ input_ids: int64(sourceIds), attention_mask: mask });
  const next = async (seq, allowed) => {
    const ids = [2, ...seq]; // decoder_start_token_id
    const out = await decoder.run({ input_ids: int64(ids), encoder_attention_mask: mask, encoder_hidden_states: last_hidden_state });
    const vocab = out.logits.dims[2];
    return renormalised(out.logits.data.subarray((ids.length - 1) * vocab, ids.length * vocab), allowed);
  };
  await checkBeamAgainstBruteForce(bart, source, next, 2, true); // forced_eos_token_id = 2
  await Promise.all([encoder.release(), decoder.release()]);
});

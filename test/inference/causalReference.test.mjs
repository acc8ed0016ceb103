// Decoder-only models reproduce the reference outputs their recipe computed in PyTorch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { assertClose, assertTop5, assertRowsSumToOne, mergedLayout, modelPath, newEngine, reference } from '../helpers.mjs';

const cases = ['gpt2-code', 'tiny-llama-gqa'].filter((m) => existsSync(join(modelPath(m), 'reference.json'))).map((name) => ({ name, label: name, source: modelPath(name) }));
if (existsSync(join(modelPath('tiny-llama-gqa'), 'onnx', 'decoder_model_merged.onnx'))) {
  cases.push({ name: 'tiny-llama-gqa', label: 'tiny-llama-gqa (decoder_model_merged layout)', source: mergedLayout(modelPath('tiny-llama-gqa')) });
}
const engine = newEngine();

for (const { name, label, source } of cases) {
  const ref = reference(name);

  test(`${label}: greedy ids and top-5 log-probabilities equal the PyTorch reference`, async () => {
    for (const p of ref.prompts) {
      const r = await engine.generate({ model: { source }, prompt: p.text, options: { maxNewTokens: p.greedy_ids.length, topAlternatives: 10 } });
      assert.deepEqual(r.inputIds, p.input_ids, `tokenization of ${JSON.stringify(p.text)}`);
      assert.deepEqual(r.tokens.map((t) => t.id), p.greedy_ids, `greedy ids for ${JSON.stringify(p.text)}`);
      assertTop5(r.tokens, p.top5);
    }
  });

  test(`${label}: score gives the reference log-probability of every token`, async () => {
    for (const p of ref.prompts) {
      const r = await engine.score({ model: { source }, text: p.text });
      const logprobs = r.tokens.map((t) => t.logprob);
      // The reference scores tokens after the first; with a BOS the engine also scores the first.
      assertClose(logprobs.slice(logprobs.length - p.score_logprobs.length), p.score_logprobs, 1e-4, `score of ${JSON.stringify(p.text)}`);
      assert.ok(r.perplexity > 1, 'perplexity above 1');
    }
  });

  test(`${label}: captured attention equals the reference, rows sum to 1, causal zeros`, async () => {
    const r = await engine.score({ model: { source, attentions: true }, text: ref.attention.text, attentions: true });
    const self = r.attentions.find((a) => a.kind === 'self');
    assert.ok(self, 'self-attention returned');
    // The reference runs the prompt ids as given; compare the square block the two runs share.
    const expected = ref.attention.layers;
    assert.equal(self.weights.length, expected.length, 'layers');
    const n = expected[0][0].length;
    // Every token of the text has its row, the last one included (it was once cut off).
    assert.equal(self.queryTokens.length, n, 'one query row per token of the text');
    assert.equal(self.weights[0][0].length, n, 'rows');
    assert.deepEqual(self.keyTokens, self.queryTokens);
    expected.forEach((layer, l) => layer.forEach((head, h) => assertClose(self.weights[l][h], head, 1e-4, `layer ${l} head ${h}`)));
    assertRowsSumToOne(self.weights);
    for (const head of self.weights[0]) head.forEach((row, i) => row.forEach((v, j) => { if (j > i) assert.equal(v, 0, 'no attention to the future'); }));
  });
}

test('a quantized export (model_quantized.onnx) loads when asked and stays close to fp32', async () => {
  const source = modelPath('tiny-llama-gqa');
  const fp32 = await engine.generate({ model: { source }, prompt: 'def __init__(self', options: { maxNewTokens: 3 } });
  const info = await engine.info({ source, quantized: true });
  assert.deepEqual(info.onnxFiles, ['onnx/model_quantized.onnx']);
  const q8 = await engine.generate({ model: { source, quantized: true }, prompt: 'def __init__(self', options: { maxNewTokens: 3 } });
  assert.equal(q8.tokens[0].id, fp32.tokens[0].id, 'same first token');
  assert.ok(Math.abs(q8.tokens[0].logprob - fp32.tokens[0].logprob) < 0.1, 'close log-probability');
  assert.notEqual(q8.tokens[0].logprob, fp32.tokens[0].logprob, 'but computed by another graph');
});

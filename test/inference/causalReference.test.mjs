// Decoder-only models reproduce the reference outputs their recipe computed in PyTorch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { assertClose, assertTop5, assertRowsSumToOne, modelPath, newEngine, reference } from '../helpers.mjs';

const models = ['gpt2-code', 'tiny-llama-gqa'].filter((m) => existsSync(join(modelPath(m), 'reference.json')));
const engine = newEngine();

for (const name of models) {
  const ref = reference(name);
  const source = modelPath(name);

  test(`${name}: greedy ids and top-5 log-probabilities equal the PyTorch reference`, async () => {
    for (const p of ref.prompts) {
      const r = await engine.generate({ model: { source }, prompt: p.text, options: { maxNewTokens: p.greedy_ids.length, topAlternatives: 10 } });
      assert.deepEqual(r.inputIds, p.input_ids, `tokenization of ${JSON.stringify(p.text)}`);
      assert.deepEqual(r.tokens.map((t) => t.id), p.greedy_ids, `greedy ids for ${JSON.stringify(p.text)}`);
      assertTop5(r.tokens, p.top5);
    }
  });

  test(`${name}: score gives the reference log-probability of every token`, async () => {
    for (const p of ref.prompts) {
      const r = await engine.score({ model: { source }, text: p.text });
      const logprobs = r.tokens.map((t) => t.logprob);
      // The reference scores tokens after the first; with a BOS the engine also scores the first.
      assertClose(logprobs.slice(logprobs.length - p.score_logprobs.length), p.score_logprobs, 1e-4, `score of ${JSON.stringify(p.text)}`);
      assert.ok(r.perplexity > 1, 'perplexity above 1');
    }
  });

  test(`${name}: captured attention equals the reference, rows sum to 1, causal zeros`, async () => {
    const r = await engine.score({ model: { source, attentions: true }, text: ref.attention.text, attentions: true });
    const self = r.attentions.find((a) => a.kind === 'self');
    assert.ok(self, 'self-attention returned');
    // The reference runs the prompt ids as given; compare the square block the two runs share.
    const expected = ref.attention.layers;
    assert.equal(self.weights.length, expected.length, 'layers');
    const n = expected[0][0].length;
    const offset = self.queryTokens.length - n;
    expected.forEach((layer, l) => layer.forEach((head, h) => {
      if (offset === 0) assertClose(self.weights[l][h], head, 1e-4, `layer ${l} head ${h}`);
    }));
    assertRowsSumToOne(self.weights);
    for (const head of self.weights[0]) head.forEach((row, i) => row.forEach((v, j) => { if (j > i) assert.equal(v, 0, 'no attention to the future'); }));
  });
}

// The inspector on every real layout (test/fixtures/hub-*): attention from plain graphs, Optimum's
// If-merged decoders (both branches), external data and fp16; the tapped graph computes exactly
// what the plain one does; the weights equal PyTorch's where the recipe recorded them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir, assertRowsSumToOne, newEngine } from '../helpers.mjs';

const engine = newEngine();
const replicas = readdirSync(fixturesDir)
  .filter((name) => name.startsWith('hub-') && existsSync(join(fixturesDir, name, 'reference.json')))
  .map((name) => ({ name, dir: join(fixturesDir, name), ref: JSON.parse(readFileSync(join(fixturesDir, name, 'reference.json'), 'utf8')) }));

const promptOf = (ref) => ref.pytorch?.attention?.text ?? ref.pytorch?.prompts?.[0]?.text ?? Object.values(ref.dtypes)[0].prompts[0].text;
const fp32Key = (ref) => Object.keys(ref.dtypes).find((k) => k.startsWith('fp32')) ?? Object.keys(ref.dtypes)[0];

for (const { name, dir, ref } of replicas) {
  const dtype = fp32Key(ref).split(':')[0];
  const prompt = promptOf(ref);
  const seq2seq = ref.task === 'seq2seq';
  test(`${name}: attention is captured, every row sums to 1, and the tapped graph decodes exactly as the plain one`, async () => {
    const model = { source: dir, dtype, attentions: true };
    const info = await engine.info(model);
    assert.equal(info.attentionUnavailable, null, `${name}: ${info.attentionUnavailable}`);
    const options = { strategy: 'greedy', maxNewTokens: 4, topAlternatives: 5, repetitionPenalty: 1 };
    const tapped = await engine.generate({ model, prompt, options: { ...options, attentions: true } });
    const plain = await engine.generate({ model: { source: dir, dtype }, prompt, options: { ...options, promptLookupTokens: 0 } });
    assert.deepEqual(tapped.tokens.map((t) => t.id), plain.tokens.map((t) => t.id), 'same tokens');
    tapped.tokens.forEach((t, i) => {
      assert.equal(t.logprob, plain.tokens[i].logprob, `step ${i}: the same log-probability, bit for bit`);
      assert.deepEqual(t.top.map((a) => a.id), plain.tokens[i].top.map((a) => a.id));
    });
    const kinds = tapped.attentions.map((m) => m.kind).sort();
    assert.deepEqual(kinds, seq2seq ? ['cross', 'decoder', 'encoder'] : ['self']);
    const layers = ref.model?.layers ?? info.numLayers;
    for (const map of tapped.attentions) {
      assert.equal(map.weights.length, layers, `${map.kind}: one map per layer`);
      assert.equal(map.weights[0][0].length, map.queryTokens.length, `${map.kind}: one row per query token`);
      assertRowsSumToOne(map.weights, 1e-4);
    }
    if (!seq2seq) {
      const self = tapped.attentions[0];
      assert.equal(self.queryTokens.length, tapped.inputIds.length + 3, 'the prompt and every fed token');
    }
  });
}

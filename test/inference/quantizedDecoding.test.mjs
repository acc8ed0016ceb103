// The q8 (MatMulInteger) and q4 (MatMulNBits) files that models/recipes/quantize_decoder.py writes for this
// project's GPT exports: the engine loads each through its dtype, takes transformers.js's greedy ids on the
// same file with the same log-probability gaps, and stays near the fp32 file's distribution.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixturesDir, newEngine, transformersSteps } from '../helpers.mjs';
import { join } from 'node:path';

const NAME = 'tiny-gpt-quantized';
const dir = join(fixturesDir, NAME);
const engine = newEngine();
const PROMPTS = ['def add(a, b):', 'import os\nimport sys\n', 'The quick brown fox'];
const NEW_TOKENS = 12;
const GAP_TOLERANCE = 2e-4;

const ours = (dtype, prompt, extra = {}) =>
  engine.generate({ model: { source: dir, dtype }, prompt, options: { strategy: 'greedy', maxNewTokens: NEW_TOKENS, repetitionPenalty: 1, topAlternatives: 5, ...extra } });

for (const [dtype, file] of [['q8', 'onnx/model_quantized.onnx'], ['int8', 'onnx/model_int8.onnx'], ['q4', 'onnx/model_q4.onnx']]) {
  test(`${NAME} ${dtype}: loads ${file} and decodes transformers.js's greedy ids with its log-probability gaps`, async () => {
    const info = await engine.info({ source: dir, dtype });
    assert.equal(info.dtype, dtype);
    assert.deepEqual(info.onnxFiles, [file]);
    for (const prompt of PROMPTS) {
      const where = `${dtype} ${JSON.stringify(prompt)}`;
      const theirs = await transformersSteps(dir, dtype, true, prompt, NEW_TOKENS);
      // One token per pass and with prompt-lookup drafting (the default): the same ids either way.
      for (const result of [await ours(dtype, prompt, { promptLookupTokens: 0 }), await ours(dtype, prompt)]) {
        assert.deepEqual(result.tokens.map((t) => t.id), theirs.ids, `${where}: greedy ids`);
        theirs.rows.forEach((row, i) => {
          const top = result.tokens[i].top[0];
          assert.equal(top.id, theirs.ids[i], `${where} step ${i}: our top alternative is the chosen token`);
          for (const alt of result.tokens[i].top) {
            const gap = Math.log(alt.prob) - Math.log(top.prob);
            assert.ok(Math.abs(gap - (row[alt.id] - row[top.id])) <= GAP_TOLERANCE, `${where} step ${i} token ${alt.id}: gap ${gap} vs transformers.js ${row[alt.id] - row[top.id]}`);
          }
        });
      }
    }
  });
}

/**
 * Quantization error, on the first step of each prompt (the same context in every file). q8 (per-column
 * int8): fp32's top-5 tokens keep their log-probabilities within 0.08 (measured up to 0.062). q4 (16 levels
 * per block of 32; the LM head at 8 bits) moves this 32-wide random model's flat distribution much more (the fp32 graph with the
 * same weights dequantized differs from fp32 by up to 1.05 nats, from MatMulNBits by 0.1), so only fp32's
 * greedy token is held to 0.5 (measured up to 0.43). A wrong packing or scale is a different random model:
 * its log-probabilities move by nats and the token leaves the top 50 of 512.
 */
for (const [dtype, tokens, bound] of [['q8', 5, 0.08], ['q4', 1, 0.5]]) {
  test(`${NAME} ${dtype}: the first step's log-probabilities of fp32's top ${tokens} stay within ${bound} of fp32`, async () => {
    for (const prompt of PROMPTS) {
      const [full, quantized] = [await ours('fp32', prompt, { maxNewTokens: 1 }), await ours(dtype, prompt, { maxNewTokens: 1, topAlternatives: 50 })];
      const quantizedTop = new Map(quantized.tokens[0].top.map((a) => [a.id, Math.log(a.prob)]));
      for (const { id, prob } of full.tokens[0].top.slice(0, tokens)) {
        assert.ok(quantizedTop.has(id), `${dtype} ${JSON.stringify(prompt)}: fp32's token ${id} is among ${dtype}'s top 50`);
        const diff = Math.abs(quantizedTop.get(id) - Math.log(prob));
        assert.ok(diff <= bound, `${dtype} ${JSON.stringify(prompt)} token ${id}: log-prob ${quantizedTop.get(id)} vs fp32 ${Math.log(prob)}`);
      }
    }
  });
}

// Encoder-decoder and RNN Seq2Seq models reproduce their recipe's PyTorch reference outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { assertClose, assertTop5, assertRowsSumToOne, modelPath, newEngine, reference, splitLayout } from '../helpers.mjs';

const engine = newEngine();

const cases = [];
for (const name of ['bart-translate-summarize', 'tiny-bart-random', 'rnn-attention-seq2seq']) {
  const folder = modelPath(name);
  if (!existsSync(join(folder, 'reference.json'))) continue;
  cases.push({ label: name, folder, ref: reference(name) });
  if (existsSync(join(folder, 'onnx', 'decoder_with_past_model.onnx'))) cases.push({ label: `${name} (split layout)`, folder: splitLayout(folder), ref: reference(name) });
}

for (const { label, folder, ref } of cases) {
  test(`${label}: greedy ids and top-5 log-probabilities equal the PyTorch reference`, async () => {
    for (const ex of ref.examples) {
      // One more step than the reference so that a forced EOS at the length limit does not apply.
      const r = await engine.generate({ model: { source: folder }, prompt: ex.source, options: { strategy: 'greedy', maxNewTokens: ex.greedy_ids.length + 1, topAlternatives: 10 } });
      assert.deepEqual(r.inputIds, ex.input_ids, `encoder ids of ${JSON.stringify(ex.source)}`);
      assert.deepEqual(r.tokens.map((t) => t.id).slice(0, ex.greedy_ids.length), ex.greedy_ids, `greedy ids of ${JSON.stringify(ex.source)}`);
      assertTop5(r.tokens, ex.top5);
    }
  });

  test(`${label}: captured attention equals the reference and every row sums to 1`, async () => {
    const a = ref.attention;
    const generated = a.decoder_input_ids.slice(1);
    const r = await engine.generate({
      model: { source: folder, attentions: true },
      prompt: a.source,
      options: { strategy: 'greedy', maxNewTokens: generated.length + 1, attentions: true },
    });
    assert.equal(r.attentionUnavailable, undefined);
    const byKind = Object.fromEntries(r.attentions.map((m) => [m.kind, m]));
    const rows = generated.length; // the decoder fed start + all but the last generated token
    const kinds = a.alignment ? { alignment: [[a.alignment]] } : { encoder: a.encoder, decoder: a.decoder, cross: a.cross };
    for (const [kind, expected] of Object.entries(kinds)) {
      const map = byKind[kind];
      assert.ok(map, `${kind} attention returned`);
      assert.equal(map.weights.length, expected.length, `${kind}: layers`);
      assert.equal(map.weights[0].length, expected[0].length, `${kind}: heads`);
      assertRowsSumToOne(map.weights);
      expected.forEach((layer, l) => layer.forEach((head, h) => {
        const n = kind === 'encoder' ? head.length : Math.min(rows, head.length);
        // Compare the block both runs computed (the reference also fed the final EOS).
        const keys = Math.min(map.keyTokens.length, head[0].length);
        assertClose(map.weights[l][h].slice(0, n).map((row) => row.slice(0, keys)), head.slice(0, n).map((row) => row.slice(0, keys)), 1e-4, `${kind} layer ${l} head ${h}`);
      }));
      if (kind === 'decoder') for (const head of map.weights[0]) head.forEach((row, i) => row.forEach((v, j) => { if (j > i) assert.equal(v, 0); }));
    }
  });
}

test('scoring a target with attentions gives every target token its decoder and cross-attention row', async () => {
  const folder = modelPath('bart-translate-summarize');
  const plain = await engine.score({ model: { source: folder }, source: 'Open the file', text: 'Öffne die Datei' });
  const r = await engine.score({ model: { source: folder, attentions: true }, source: 'Open the file', text: 'Öffne die Datei', attentions: true });
  const byKind = Object.fromEntries(r.attentions.map((m) => [m.kind, m]));
  // The decoder start token, then each scored token: the last one (" Datei") was once missing.
  assert.equal(byKind.decoder.queryTokens.length, r.tokens.length + 1);
  assert.equal(byKind.decoder.queryTokens.at(-1), ' Datei');
  assert.equal(byKind.cross.queryTokens.length, r.tokens.length + 1);
  assert.equal(byKind.cross.weights[0][0].length, r.tokens.length + 1, 'cross-attention rows');
  assertRowsSumToOne(byKind.cross.weights);
  // Feeding the last token for its attention leaves the scores as they were.
  assertClose(r.tokens.map((t) => t.logprob), plain.tokens.map((t) => t.logprob), 1e-5, 'log-probabilities');
});

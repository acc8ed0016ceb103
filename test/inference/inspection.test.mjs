// The inspector on every real layout (test/fixtures/hub-*): attention from plain graphs, Optimum's
// If-merged decoders (both branches), external data and fp16; the tapped graph computes exactly
// what the plain one does; the weights equal PyTorch's where the recipe recorded them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir, assertRowsSumToOne, newEngine, root } from '../helpers.mjs';

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
    // A fused kernel asked for its probabilities (GroupQueryAttention's output_qk) takes another code path: equal within 1e-5.
    const tolerance = name === 'hub-qwen2-gqa' ? 1e-5 : 0;
    tapped.tokens.forEach((t, i) => {
      assert.ok(Math.abs(t.logprob - plain.tokens[i].logprob) <= tolerance, `step ${i}: the same log-probability (${t.logprob} vs ${plain.tokens[i].logprob})`);
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
      assert.equal(self.queryTokens.length, tapped.inputIds.length + 4, 'the prompt and every generated token, the last one included');
    }
  });
}

// ---- Logit lens ------------------------------------------------------------------------------

/** Every model the lens applies to, in every dtype file it ships (quantized heads included). */
const lensCases = [
  { name: 'gpt2-code', source: 'gpt2-code', dtypes: ['auto'], text: 'def add(a, b):\n    return a + b\n' },
  ...replicas.map(({ name, dir, ref }) => ({
    name,
    source: dir,
    dtypes: [...new Set(Object.keys(ref.dtypes).map((k) => k.split(':')[0]))],
    text: ref.task === 'seq2seq' ? 'Das Haus ist wunderbar.' : promptOf(ref),
    source_text: ref.task === 'seq2seq' ? promptOf(ref) : undefined,
  })),
];

for (const c of lensCases) {
  test(`${c.name}: the logit lens's last layer is the model's own distribution (${c.dtypes.join(', ')}), every layer in order`, async () => {
    for (const dtype of c.dtypes) {
      const model = { source: c.source, dtype, attentions: true };
      const info = await engine.info(model);
      assert.equal(info.lensUnavailable, null, `${c.name} ${dtype}: ${info.lensUnavailable}`);
      const r = await engine.score({ model, text: c.text, source: c.source_text, logitLens: true, topAlternatives: 5 });
      const tolerance = /16/.test(dtype) ? 1e-4 : 1e-7;
      for (const t of r.tokens) {
        assert.equal(t.lens.length, info.numLayers, 'one entry per layer');
        assert.deepEqual(t.lens.map((l) => l.layer), [...t.lens.keys()], 'first to last');
        const last = t.lens.at(-1);
        assert.ok(Math.abs(last.prob - t.prob) <= tolerance, `${dtype} "${t.text}": last layer p=${last.prob} vs the model's ${t.prob}`);
        if (tolerance < 1e-6) {
          assert.equal(last.rank, t.rank, `${dtype} "${t.text}": rank`);
          assert.deepEqual(last.top.map((a) => a.id), t.top.map((a) => a.id), `${dtype} "${t.text}": top tokens`);
        } else {
          // float16 logits from a separate session differ in their last bits (probabilities within 1e-4), so near-ties may swap one place.
          assert.ok(Math.abs(last.rank - t.rank) <= 1, `${dtype} "${t.text}": rank ${last.rank} vs ${t.rank}`);
          last.top.forEach((a, i) => assert.ok(Math.abs(a.prob - t.top[i].prob) <= tolerance, `${dtype}: top ${i} probability ${a.prob} vs ${t.top[i].prob}`));
        }
        for (const l of t.lens) {
          assert.ok(l.rank >= 1 && l.prob >= 0 && l.prob <= 1);
          assert.equal(l.top.length, 5);
          if (l.rank === 1) assert.equal(l.top[0].id, t.id, 'rank 1 means the chosen token leads');
        }
      }
    }
  });
}

test('logit lens while generating: greedy and sampling carry it per token, beam search says why not, a model without inspection says why', async () => {
  const model = { source: 'gpt2-code', attentions: true };
  const greedy = await engine.generate({ model, prompt: 'def add(a, b):', options: { strategy: 'greedy', maxNewTokens: 5, logitLens: true } });
  assert.equal(greedy.lensUnavailable, undefined);
  for (const t of greedy.tokens) assert.equal(t.lens.at(-1).prob, t.prob);
  const plain = await engine.generate({ model: { source: 'gpt2-code' }, prompt: 'def add(a, b):', options: { strategy: 'greedy', maxNewTokens: 5 } });
  assert.deepEqual(greedy.tokens.map((t) => t.id), plain.tokens.map((t) => t.id), 'the lens changes nothing of the output');
  const sampled = await engine.generate({ model, prompt: 'def add(a, b):', options: { strategy: 'sample', seed: 3, maxNewTokens: 4, logitLens: true } });
  assert.ok(sampled.tokens.every((t) => t.lens.length === 4));
  const beam = await engine.generate({ model, prompt: 'def add(a, b):', options: { strategy: 'beam', numBeams: 2, maxNewTokens: 3, logitLens: true } });
  assert.match(beam.lensUnavailable, /not for beam search/);
  assert.ok(beam.tokens.every((t) => t.lens === undefined));
  const uninspected = await engine.score({ model: { source: 'gpt2-code' }, text: 'return a', logitLens: true });
  assert.match(uninspected.lensUnavailable, /loaded without inspection/);
  const rnn = await engine.info({ source: 'rnn-attention-seq2seq', attentions: true });
  assert.match(rnn.lensUnavailable, /needs a transformer decoder; this model is an RNN/);
});

// ---- Fused attention ---------------------------------------------------------------------------

test("onnxruntime's fused GroupQueryAttention gives its probabilities (output_qk after softmax), equal to softmax(QKᵀ/√d) with the causal mask, and the same output", async () => {
  const { onnx } = await import('onnx-proto').then((m) => m.default ?? m);
  const ort = await import('onnxruntime-node').then((m) => m.default ?? m);
  const { tapAttentionInModel } = await import(join(root, 'dist', 'inference.js'));
  const [heads, kvHeads, dim, S] = [4, 2, 8, 5];
  const F = onnx.TensorProto.DataType;
  const info = (name, elemType) => ({ name, type: { tensorType: { elemType } } });
  const model = () =>
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
      graph: {
        name: 'gqa',
        node: [{ opType: 'GroupQueryAttention', domain: 'com.microsoft', name: '/model/layers.3/attn/GroupQueryAttention', input: ['q', 'k', 'v', 'pk', 'pv', 'seqlens_k', 'total'], output: ['y', 'present_key', 'present_value'], attribute: [{ name: 'num_heads', type: 2, i: heads }, { name: 'kv_num_heads', type: 2, i: kvHeads }] }],
        input: [info('q', F.FLOAT), info('k', F.FLOAT), info('v', F.FLOAT), info('pk', F.FLOAT), info('pv', F.FLOAT), info('seqlens_k', F.INT32), info('total', F.INT32)],
        output: [info('y', F.FLOAT), info('present_key', F.FLOAT), info('present_value', F.FLOAT)],
      },
    });
  const tappedModel = model();
  const tap = tapAttentionInModel(tappedModel, 'causal');
  assert.equal(tap.unavailable, null);
  assert.deepEqual(tap.outputs.map(({ kind, layer }) => ({ kind, layer })), [{ kind: 'self', layer: 3 }]);
  const values = (n, seed) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.3 + seed));
  const q = values(S * heads * dim, 0.1);
  const k = values(S * kvHeads * dim, 0.7);
  const feeds = {
    q: new ort.Tensor('float32', q, [1, S, heads * dim]),
    k: new ort.Tensor('float32', k, [1, S, kvHeads * dim]),
    v: new ort.Tensor('float32', values(S * kvHeads * dim, 1.9), [1, S, kvHeads * dim]),
    pk: new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, dim]),
    pv: new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, dim]),
    seqlens_k: new ort.Tensor('int32', Int32Array.of(S - 1), [1]),
    total: new ort.Tensor('int32', Int32Array.of(S), []),
  };
  const plain = await (await ort.InferenceSession.create(onnx.ModelProto.encode(model()).finish())).run(feeds);
  const tapped = await (await ort.InferenceSession.create(onnx.ModelProto.encode(tappedModel).finish())).run(feeds);
  const maxDiff = Math.max(...plain.y.data.map((x, i) => Math.abs(x - tapped.y.data[i])));
  assert.ok(maxDiff <= 1e-6, `the attention output is unchanged (max |Δ| ${maxDiff})`);
  const probs = tapped[tap.outputs[0].name];
  assert.deepEqual(probs.dims, [1, heads, S, S]);
  for (let h = 0; h < heads; h++) {
    const kv = Math.floor(h / (heads / kvHeads));
    for (let i = 0; i < S; i++) {
      const scores = Array.from({ length: i + 1 }, (_, j) => {
        let dot = 0;
        for (let x = 0; x < dim; x++) dot += q[(i * heads + h) * dim + x] * k[(j * kvHeads + kv) * dim + x];
        return dot / Math.sqrt(dim);
      });
      const max = Math.max(...scores);
      const sum = scores.reduce((a, s) => a + Math.exp(s - max), 0);
      for (let j = 0; j < S; j++) {
        const expected = j <= i ? Math.exp(scores[j] - max) / sum : 0;
        const got = probs.data[(h * S + i) * S + j];
        assert.ok(Math.abs(got - expected) <= 1e-6, `head ${h} row ${i} key ${j}: ${got} vs ${expected}`);
      }
    }
  }
});

test("onnxruntime's fused MultiHeadAttention gives its scores (output_qk); their row softmax is the probabilities the kernel applied to V", async () => {
  const { onnx } = await import('onnx-proto').then((m) => m.default ?? m);
  const ort = await import('onnxruntime-node').then((m) => m.default ?? m);
  const { tapAttentionInModel, attentionBlock } = await import(join(root, 'dist', 'inference.js'));
  const [heads, dim, S] = [2, 4, 5];
  const F = onnx.TensorProto.DataType;
  const info = (name) => ({ name, type: { tensorType: { elemType: F.FLOAT } } });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
    graph: {
      name: 'mha',
      node: [{ opType: 'MultiHeadAttention', domain: 'com.microsoft', name: '/decoder/layers.1/self_attn/MultiHeadAttention', input: ['q', 'k', 'v'], output: ['y'], attribute: [{ name: 'num_heads', type: 2, i: heads }, { name: 'unidirectional', type: 2, i: 1 }] }],
      input: [info('q'), info('k'), info('v')],
      output: [info('y')],
    },
  });
  const tap = tapAttentionInModel(model, 'causal');
  assert.equal(tap.unavailable, null);
  assert.equal(tap.outputs[0].scores, true);
  const values = (seed) => Float32Array.from({ length: S * heads * dim }, (_, i) => Math.sin(i * 0.9 + seed));
  const v = values(2.2);
  const feeds = { q: new ort.Tensor('float32', values(0.3), [1, S, heads * dim]), k: new ort.Tensor('float32', values(1.1), [1, S, heads * dim]), v: new ort.Tensor('float32', v, [1, S, heads * dim]) };
  const out = await (await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish())).run(feeds);
  const block = attentionBlock(tap.outputs[0], out[tap.outputs[0].name]);
  assert.deepEqual(block.dims, [1, heads, S, S]);
  // The kernel's own output is these probabilities times V: so they are the weights it used.
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < S; i++) {
      const row = block.data.subarray((h * S + i) * S, (h * S + i + 1) * S);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-6, 'the row sums to 1');
      for (let j = i + 1; j < S; j++) assert.equal(row[j], 0, 'no attention to the future');
      for (let x = 0; x < dim; x++) {
        const expected = row.reduce((sum, p, j) => sum + p * v[(j * heads + h) * dim + x], 0);
        const got = out.y.data[(i * heads + h) * dim + x];
        assert.ok(Math.abs(got - expected) < 1e-5, `head ${h} position ${i}: output ${got} vs probabilities · V ${expected}`);
      }
    }
  }
});

// ---- Against PyTorch (the recipes' references) -------------------------------------------------

/** Top-5 lists equal within `tol`: probabilities in order, and ids wherever a probability is not tied with a neighbour. */
function assertSameTop(ours, theirs, tol, where) {
  theirs.forEach((expected, i) => {
    assert.ok(Math.abs(ours[i].prob - expected.prob) <= tol, `${where} top ${i}: p ${ours[i].prob} vs ${expected.prob}`);
    const tied = [theirs[i - 1], theirs[i + 1]].some((n) => n && Math.abs(n.prob - expected.prob) <= 2 * tol);
    if (!tied) assert.equal(ours[i].id, expected.id, `${where} top ${i}: id`);
  });
}

/** The map's first `count` query rows. */
const firstRows = (map, count) => ({ ...map, weights: map.weights.map((layer) => layer.map((head) => head.slice(0, count))) });

/** Our map's rows (those recorded) equal PyTorch's `[layer][head][query][key]` within 1e-4. */
function assertSameMap(map, expected, where) {
  assert.equal(map.weights.length, expected.length, `${where}: layers`);
  map.weights.forEach((layer, l) =>
    layer.forEach((head, h) =>
      head.forEach((row, q) => row.forEach((w, k) => assert.ok(Math.abs(w - (expected[l][h][q]?.[k] ?? 0)) <= 1e-4, `${where} layer ${l} head ${h} [${q}][${k}]: ${w} vs ${expected[l][h][q]?.[k]}`))),
    ),
  );
}

for (const { name, dir, ref } of replicas.filter((r) => r.ref.pytorch?.attention)) {
  const attention = ref.pytorch.attention;
  const dtype = fp32Key(ref).split(':')[0];
  test(`${name}: the attention of a greedy generation (both passes of the cache) equals PyTorch's within 1e-4`, async () => {
    const r = await engine.generate({ model: { source: dir, dtype, attentions: true }, prompt: attention.text, options: { strategy: 'greedy', maxNewTokens: 4, attentions: true } });
    const byKind = Object.fromEntries(r.attentions.map((m) => [m.kind, m]));
    if (ref.task === 'seq2seq') {
      assert.deepEqual(r.inputIds, attention.source_ids, 'the same source ids');
      // The first 3 tokens are the reference's (Marian and BART force EOS as the 4th at this length): their rows are compared.
      assert.deepEqual(r.tokens.slice(0, 3).map((t) => t.id), attention.decoder_ids.slice(1, 4), 'the same greedy ids');
      assertSameMap(byKind.encoder, attention.encoder, `${name} encoder`);
      assertSameMap(firstRows(byKind.decoder, 4), attention.decoder, `${name} decoder self-attention`);
      assertSameMap(firstRows(byKind.cross, 4), attention.cross, `${name} cross-attention`);
    } else {
      assert.deepEqual([...r.inputIds, ...r.tokens.map((t) => t.id)], attention.ids, 'the same prompt and greedy ids');
      assertSameMap(byKind.self, attention.self ?? attention.layers, `${name} self-attention`);
    }
  });
}

for (const { name, dir, ref } of replicas.filter((r) => r.ref.pytorch?.lens)) {
  const lens = ref.pytorch.lens;
  const dtype = fp32Key(ref).split(':')[0];
  test(`${name}: every layer's logit lens equals PyTorch's (final norm and head on the residual stream), top-5 within 1e-4`, async () => {
    const seq2seq = ref.task === 'seq2seq';
    const r = await engine.generate({ model: { source: dir, dtype, attentions: true }, prompt: lens.text, options: { strategy: 'greedy', maxNewTokens: 4, logitLens: true, topAlternatives: 5 } });
    // Token t was chosen after decoder position t (Seq2Seq: decoder start first) or prompt position length - 1 + t.
    const first = seq2seq ? 0 : r.inputIds.length - 1;
    assert.deepEqual(r.tokens.map((t) => t.id), lens.ids.slice(first + 1, first + 5), 'the same greedy ids');
    r.tokens.forEach((t, i) => t.lens.forEach((layer, l) => assertSameTop(layer.top, lens.layers[l][first + i].top, 1e-4, `${name} token ${i} layer ${l}`)));
  });
}

test('gpt2-code and tiny-llama-gqa: the logit lens of every scored position and layer equals PyTorch\'s, top-5 within 1e-4', async () => {
  const cases = [
    ['gpt2-code', JSON.parse(readFileSync(join(fixturesDir, 'lens-reference', 'gpt2-code.json'), 'utf8'))],
    [join(fixturesDir, 'tiny-llama-gqa'), JSON.parse(readFileSync(join(fixturesDir, 'tiny-llama-gqa', 'reference.json'), 'utf8')).lens],
  ];
  for (const [source, lens] of cases) {
    const r = await engine.score({ model: { source, attentions: true }, text: lens.text, logitLens: true, topAlternatives: 5 });
    // Scored token i is ids[i + 1], chosen after position i.
    assert.deepEqual(r.tokens.map((t) => t.id), lens.ids.slice(1), `${source}: the same ids`);
    assert.equal(r.tokens[0].lens.length, lens.layers.length);
    r.tokens.forEach((t, i) => t.lens.forEach((layer, l) => assertSameTop(layer.top, lens.layers[l][i].top, 1e-4, `${source} position ${i} layer ${l}`)));
  }
});

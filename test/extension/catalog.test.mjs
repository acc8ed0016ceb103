// Pick Model's catalog: the recommended Hub models are well formed, and the role check accepts and
// refuses models by what they are.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModule } from './bundle.mjs';

const { RECOMMENDED_MODELS, recommendedFor, knownDtypes, formatSize, sizeSummary } = await loadModule('src/catalog/recommendedModels.ts');
const { roleMismatch } = await loadModule('src/catalog/roleFit.ts');
const { DTYPES } = await loadModule('src/inference/models/dtype.ts');

test('every role has recommended models; entries are Hub ids with known dtypes and sizes that shrink with the dtype', () => {
  for (const role of ['completion', 'summarization', 'translation']) assert.ok(recommendedFor(role).length >= 2, role);
  const ids = new Set();
  for (const m of RECOMMENDED_MODELS) {
    assert.match(m.id, /^[\w.-]+\/[\w.-]+$/);
    assert.ok(!ids.has(m.id), `${m.id} once`);
    ids.add(m.id);
    const dtypes = knownDtypes(m);
    assert.ok(dtypes.length > 0 && dtypes.every((d) => DTYPES.includes(d)), `${m.id} dtypes`);
    for (const d of dtypes) assert.ok(Number.isFinite(m.sizes[d].mb) && m.sizes[d].mb > 0, `${m.id} ${d} size`);
    // Full precision is the largest download wherever a repo ships it; half precision halves it.
    if (m.sizes.fp32) assert.equal(dtypes.at(-1), 'fp32', m.id);
    if (m.sizes.fp32 && m.sizes.fp16) assert.ok(Math.abs(m.sizes.fp16.mb / m.sizes.fp32.mb - 0.5) < 0.05, `${m.id} fp16 ≈ half of fp32`);
  }
  assert.equal(sizeSummary(RECOMMENDED_MODELS.find((m) => m.id === 'Xenova/distilgpt2')), '85 MB q8 … 330 MB fp32');
  assert.equal(sizeSummary(RECOMMENDED_MODELS.find((m) => m.id === 'Xenova/distilbart-cnn-6-6')), '≈ 340 MB q8 … ≈ 1.13 GB fp32');
  assert.equal(formatSize({ mb: 1990 }), '1.99 GB');
  assert.equal(formatSize({ mb: 2000 }), '2 GB');
  assert.deepEqual(knownDtypes(RECOMMENDED_MODELS.find((m) => m.id === 'HuggingFaceTB/SmolLM2-135M-Instruct')), ['q4f16', 'q4', 'fp16', 'fp32'], 'the dtypes its repo ships');
});

test('role fit: completion needs a prompt continuer; summarization and translation need the task', () => {
  const gpt = { architecture: 'causal-lm', modelType: 'gpt2', tasks: ['text-generation'] };
  const marian = { architecture: 'encoder-decoder', modelType: 'marian', tasks: ['translation_en_to_de'] };
  const bartCnn = { architecture: 'encoder-decoder', modelType: 'bart', tasks: ['summarization'] };
  const t5 = { architecture: 'encoder-decoder', modelType: 't5', tasks: ['summarization', 'translation_en_to_de'] };
  assert.equal(roleMismatch('completion', gpt), null);
  assert.match(roleMismatch('completion', marian), /marian \(encoder-decoder\).*continues its prompt/);
  assert.match(roleMismatch('summarization', gpt), /continues a prompt; summarization needs an encoder-decoder/);
  assert.equal(roleMismatch('summarization', bartCnn), null);
  assert.match(roleMismatch('summarization', marian), /declares no summarization task/);
  assert.equal(roleMismatch('translation', marian), null);
  assert.equal(roleMismatch('translation', t5), null);
  assert.match(roleMismatch('translation', bartCnn), /declares no translation/);
  assert.equal(roleMismatch('translation', { architecture: 'rnn-seq2seq', modelType: 'rnn-attention-seq2seq', tasks: ['translation_en_to_de'] }), null);
});

test('a served model setting (API+URL#MODEL) parses back to its parts, and nothing else parses as one', async () => {
  const { parseServedSource, formatServedSource, servedLabel, apiKeySecret } = await loadModule('src/catalog/servedSource.ts');
  const cases = [
    { api: 'ollama', url: 'http://127.0.0.1:11434', model: 'qwen2.5-coder:1.5b' },
    { api: 'openai', url: 'https://gpu-box.lan:8000/v1', model: 'Qwen/Qwen2.5-Coder-7B-Instruct' },
    { api: 'llama.cpp', url: 'http://localhost:8080', model: 'model.gguf' },
  ];
  for (const c of cases) assert.deepEqual(parseServedSource(formatServedSource(c)), c);
  assert.equal(formatServedSource({ api: 'openai', url: 'http://h:8000/v1/', model: 'm' }), 'openai+http://h:8000/v1#m');
  assert.equal(servedLabel(cases[1]), 'Qwen/Qwen2.5-Coder-7B-Instruct @ gpu-box.lan:8000');
  assert.equal(apiKeySecret('http://h:8000/v1/'), 'lmLens.apiKey:http://h:8000/v1');
  for (const other of ['gpt2-code', 'Xenova/distilgpt2', '/home/me/models/x', './models#x', 'vllm+http://h#m', 'ollama+ftp://h#m', 'ollama+http://h#', 'ollama+http://h']) {
    assert.equal(parseServedSource(other), undefined, other);
  }
});

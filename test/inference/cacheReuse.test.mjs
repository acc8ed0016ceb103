// Beam search and prompt-lookup drafting reorder and cut the KV cache in place (no copy where the
// rows stay, a cut compacted inside its own buffer, the encoder's rows shared across beams): the
// results must be bit-identical to the copying implementation. test/fixtures/loop-traces.json holds
// the ids, every log-probability, rank, entropy, alternative probability and beam score that the
// copying engine (main at 8a74c54) gave for these cases (the text follows from the ids); regenerate it only with a build known to copy:
//   LOOP_TRACES_ENGINE=/path/to/that/dist/inference.js node test/inference/cacheReuse.test.mjs --record
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir, modelPath, modelsDir } from '../helpers.mjs';

const record = process.argv.includes('--record');
const { Engine } = await import(record ? process.env.LOOP_TRACES_ENGINE : join(fixturesDir, '..', '..', 'dist', 'inference.js'));
const engine = new Engine(modelsDir, { offline: true });
after(() => engine.unload());

const repetitive = 'a = 1\nb = 2\nc = 3\na = 1\nb = 2\nc = 3\na = 1\n';
const CASES = [
  ['gpt2-code', 'beam', { prompt: 'def __init__(self', options: { strategy: 'beam', numBeams: 4, numReturnSequences: 4, maxNewTokens: 48 } }],
  ['gpt2-code', 'beam, length penalty, early stop', { prompt: 'import os\n', options: { strategy: 'beam', numBeams: 3, numReturnSequences: 2, maxNewTokens: 40, lengthPenalty: 0.5, earlyStopping: true } }],
  ['gpt2-code', 'prompt lookup', { prompt: repetitive, options: { strategy: 'greedy', maxNewTokens: 96 } }],
  ['gpt2-code', 'prompt lookup, code', { prompt: 'def __init__(self', options: { strategy: 'greedy', maxNewTokens: 128, promptLookupTokens: 9 } }],
  ['tiny-llama-gqa', 'beam', { prompt: 'def __init__(self', options: { strategy: 'beam', numBeams: 4, numReturnSequences: 3, maxNewTokens: 30 } }],
  ['tiny-llama-gqa', 'prompt lookup', { prompt: repetitive, options: { strategy: 'greedy', maxNewTokens: 60 } }],
  ['hub-bigcode', 'beam ([batch, past, 2·head] cache)', { dtype: 'fp32', prompt: 'def fib(n):', options: { strategy: 'beam', numBeams: 4, numReturnSequences: 2, maxNewTokens: 24 } }],
  ['hub-bigcode', 'prompt lookup ([batch, past, 2·head] cache)', { dtype: 'fp32', prompt: repetitive, forcePrompt: true, options: { strategy: 'greedy', maxNewTokens: 48 } }],
  ['hub-qwen2', 'beam', { prompt: 'Hello, how are you', options: { strategy: 'beam', numBeams: 4, numReturnSequences: 4, maxNewTokens: 24 } }],
  ['hub-qwen2', 'prompt lookup', { prompt: repetitive, forcePrompt: true, options: { strategy: 'greedy', maxNewTokens: 48 } }],
  ['hub-qwen2-gqa', 'prompt lookup (GroupQueryAttention)', { prompt: repetitive, forcePrompt: true, options: { strategy: 'greedy', maxNewTokens: 40 } }],
  ['bart-translate-summarize', 'beam, translate', { prompt: 'Open the file and save your changes before closing the window.', task: { kind: 'translate', to: 'de' }, options: { strategy: 'beam', numBeams: 4, numReturnSequences: 4, maxNewTokens: 40 } }],
  ['bart-translate-summarize', 'prompt lookup, translate', { prompt: 'Open the file and save your changes.', task: { kind: 'translate', to: 'de' }, options: { strategy: 'greedy', maxNewTokens: 40 } }],
  ['tiny-bart-random', 'beam', { prompt: 'Save changes?', options: { strategy: 'beam', numBeams: 3, numReturnSequences: 3, maxNewTokens: 20 } }],
  ['hub-t5', 'beam (If-merged decoder)', { prompt: 'translate English to German: The house is wonderful.', options: { strategy: 'beam', numBeams: 4, numReturnSequences: 2, maxNewTokens: 20 } }],
  ['hub-t5', 'prompt lookup (If-merged decoder)', { dtype: 'fp32', prompt: 'translate English to German: The house is wonderful. The house is wonderful.', forcePrompt: true, options: { strategy: 'greedy', maxNewTokens: 30 } }],
  ['hub-bart-cnn', 'beam, its generation config', { prompt: 'GNU Wget is a free utility for non-interactive download of files from the Web.', options: { maxNewTokens: 20 } }],
  ['rnn-attention-seq2seq', 'beam (RNN state)', { prompt: 'Open the file.', task: { kind: 'translate', to: 'fr' }, options: { strategy: 'beam', numBeams: 4, numReturnSequences: 2, maxNewTokens: 20 } }],
];

/**
 * Everything a run's numbers are: compared with `deepStrictEqual`, so floats must match bit for bit.
 * `forcePrompt`: the output is forced to start with the prompt's first tokens, so that a random-weight
 * model's drafts are first confirmed, then cut back where it goes its own way. `dtype: 'fp32'` where the
 * default file is q8, whose several-token passes are not exact (drafting is off for it).
 */
async function trace(name, { forcePrompt, dtype, ...request }) {
  const model = { source: modelPath(name), ...(dtype ? { dtype } : {}) };
  const forcedPrefixIds = forcePrompt ? (await engine.load(model)).tokenizer.encode(request.prompt, { add_special_tokens: false }).slice(0, 24) : undefined;
  const r = await engine.generate({ model, ...request, forcedPrefixIds, options: { topAlternatives: 5, ...request.options } });
  // The text is left out: it follows from the ids (detokenizer.test.mjs checks it against a full decoding).
  return {
    finishReason: r.finishReason,
    passes: r.timings.decoder_passes,
    tokens: r.tokens.map((t) => [t.id, t.logprob, t.rank, t.entropy, t.top.map((a) => [a.id, a.prob])]),
    sequences: r.sequences?.map((s) => [s.ids, s.logprob, s.score]) ?? null,
  };
}

const path = join(fixturesDir, 'loop-traces.json');
if (record) {
  const out = {};
  for (const [name, label, request] of CASES) out[`${name}: ${label}`] = await trace(name, request);
  writeFileSync(path, JSON.stringify(out) + '\n');
  console.log(`wrote ${Object.keys(out).length} traces to ${path}`);
} else {
  const expected = JSON.parse(readFileSync(path, 'utf8'));
  for (const [name, label, request] of CASES) {
    test(`${name}, ${label}: the same ids, log-probs, alternatives and scores as the copying cache`, async () => {
      const want = expected[`${name}: ${label}`];
      assert.ok(want, 'a recorded trace');
      const got = await trace(name, request);
      assert.ok(got.tokens.length > 0);
      assert.deepStrictEqual(got, want);
    });
  }
  test('the cases exercise what they name: drafts that are cut back, beams that reorder', () => {
    for (const [key, want] of Object.entries(expected)) {
      if (key.includes('prompt lookup') && !key.includes('bart-translate')) assert.ok(want.passes < want.tokens.length, `${key}: drafted (${want.passes} passes for ${want.tokens.length} tokens)`);
      if (key.includes('beam') && !key.includes('bart-cnn')) assert.ok(want.sequences.length >= 2 && new Set(want.sequences.map((s) => JSON.stringify(s[0]))).size === want.sequences.length, `${key}: distinct beams`);
    }
  });
}

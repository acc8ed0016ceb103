// generation_config.json as transformers merges and applies it: the precedence of model, task and
// request, and each logits processor against transformers.js's own on the same scores and histories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { root } from '../helpers.mjs';

const { resolveGenerationSettings, buildProcessors, modelGenerationDefaults, SeededRandom } = await import(join(root, 'dist', 'inference.js'));
const tjs = await import('@huggingface/transformers');

test('precedence: config.json < generation_config.json < task parameters < request, each reported with its source', () => {
  const model = modelGenerationDefaults(
    { model_type: 'bart', no_repeat_ngram_size: 2, num_beams: 2, forced_bos_token_id: 0, min_length: 3, vocab_size: 10 },
    { no_repeat_ngram_size: 3, num_beams: 4, bad_words_ids: [[1]], max_length: 142 },
  );
  assert.deepEqual(model, { no_repeat_ngram_size: 3, num_beams: 4, forced_bos_token_id: 0, min_length: 3, bad_words_ids: [[1]] });
  const { config, report } = resolveGenerationSettings({ lengthPenalty: 1.5 }, model, { length_penalty: 2, max_length: 56, num_beams: 6 });
  assert.equal(config.strategy, 'beam');
  assert.equal(config.numBeams, 6);
  assert.deepEqual(report.num_beams, { value: 6, from: 'task' });
  assert.deepEqual(report.length_penalty, { value: 1.5, from: 'request' });
  assert.deepEqual(report.no_repeat_ngram_size, { value: 3, from: 'model' });
  assert.equal(config.maxNewTokens, 55, 'a task max_length counts the decoder start token');
  assert.deepEqual(report.temperature, { value: 1, from: 'default' });
  const greedy = resolveGenerationSettings({ strategy: 'greedy' }, model);
  assert.equal(greedy.config.strategy, 'greedy');
  assert.deepEqual(greedy.report.strategy, { value: 'greedy', from: 'request' });
  const sampled = resolveGenerationSettings({}, { do_sample: true, temperature: 0.7 });
  assert.equal(sampled.config.strategy, 'sample');
  assert.equal(sampled.config.temperature, 0.7);
  // Malformed values in a model's files are ignored, not obeyed.
  const odd = resolveGenerationSettings({}, { bad_words_ids: 'pad', min_length: '5', forced_eos_token_id: [2, 'x'] });
  assert.deepEqual([odd.config.badWordsIds, odd.config.minLength, odd.config.forcedEosTokenIds], [[], 0, []]);
});

/** Runs transformers.js's processor on one row: `history` as its input ids. */
function theirs(processor, scores, history) {
  const logits = new tjs.Tensor('float32', Float32Array.from(scores), [1, scores.length]);
  const out = processor([history.map(BigInt)], logits);
  return Array.from(out.data);
}

function ours(settings, startLength, eos, scores, history) {
  const { config } = resolveGenerationSettings({ strategy: 'greedy', maxNewTokens: settings.max_new_tokens ?? 8 }, settings);
  const row = Float32Array.from(scores);
  for (const p of buildProcessors(config, startLength, eos)) p.apply(row, history);
  return Array.from(row);
}

test('each processor edits the scores exactly as transformers.js does, at every length', () => {
  const rng = new SeededRandom(7);
  const V = 12;
  const eos = [2, 5];
  const cases = [
    { settings: { repetition_penalty: 1.3 }, make: () => new tjs.RepetitionPenaltyLogitsProcessor(1.3) },
    { settings: { no_repeat_ngram_size: 2 }, make: () => new tjs.NoRepeatNGramLogitsProcessor(2) },
    { settings: { no_repeat_ngram_size: 3 }, make: () => new tjs.NoRepeatNGramLogitsProcessor(3) },
    { settings: { bad_words_ids: [[7], [3, 4], [1, 3, 9]] }, make: () => new tjs.NoBadWordsLogitsProcessor([[7], [3, 4], [1, 3, 9]], eos) },
    { settings: { min_length: 6 }, make: () => new tjs.MinLengthLogitsProcessor(6, eos) },
    { settings: { min_new_tokens: 3 }, make: (start) => new tjs.MinNewTokensLengthLogitsProcessor(start, 3, eos) },
    { settings: { forced_bos_token_id: 0 }, make: () => new tjs.ForcedBOSTokenLogitsProcessor(0) },
    { settings: { forced_eos_token_id: [2, 5], max_new_tokens: 4 }, make: (start) => new tjs.ForcedEOSTokenLogitsProcessor(start + 4, [2, 5]) },
    { settings: { suppress_tokens: [4, 8] }, make: () => new tjs.SuppressTokensLogitsProcessor([4, 8]) },
    { settings: { begin_suppress_tokens: [3] }, make: (start) => new tjs.SuppressTokensAtBeginLogitsProcessor([3], start) },
  ];
  let checked = 0;
  let changed = 0;
  for (const c of cases) {
    for (const start of [1, 3]) {
      const history = Array.from({ length: start }, () => Math.floor(rng.next() * V));
      for (let step = 0; step < 7; step++) {
        const scores = Array.from({ length: V }, () => rng.next() * 6 - 3);
        const expected = theirs(c.make(start), scores, history);
        const actual = ours(c.settings, start, eos, scores, history);
        assert.deepEqual(actual.map((x) => Math.fround(x)), expected.map((x) => Math.fround(x)), `${JSON.stringify(c.settings)} start ${start} history ${history}`);
        if (expected.some((x, i) => Math.fround(x) !== Math.fround(scores[i]))) changed++;
        checked++;
        history.push(history.length % 3 === 0 ? history[0] : Math.floor(rng.next() * V)); // some repeats, for the n-gram and bad-word rules
      }
    }
  }
  assert.ok(checked === cases.length * 14 && changed > checked / 3, `the cases exercise the processors (${changed} of ${checked} rows changed)`);
});

test('tasks: task_specific_params (T5), a Marian pair from the model name, and multi-target Marian >>xx<< tokens', async () => {
  const { modelTasks } = await import(join(root, 'dist', 'inference.js'));
  const t5 = modelTasks({ model_type: 't5', task_specific_params: { summarization: { prefix: 'summarize: ', max_length: 200 }, translation_en_to_de: { prefix: 'translate English to German: ' } } }, ['Xenova/t5-small'], () => []);
  assert.deepEqual([...t5.keys()], ['summarization', 'translation_en_to_de']);
  assert.equal(t5.get('translation_en_to_de').prefix, 'translate English to German: ');
  const pair = modelTasks({ model_type: 'marian' }, ['', 'Xenova/opus-mt-en-fr', '/cache/Xenova/opus-mt-en-fr'], () => ['▁the', '</s>']);
  assert.deepEqual([...pair.entries()], [['translation_en_to_fr', { prefix: '', params: {} }]]);
  const multi = modelTasks({ model_type: 'marian' }, ['Helsinki-NLP/opus-mt-en-ROMANCE'], () => ['>>fr<<', '>>es<<', '>>pt_BR<<', '▁a']);
  assert.deepEqual([...multi.keys()], ['translation_en_to_fr', 'translation_en_to_es', 'translation_en_to_pt_br']);
  assert.equal(multi.get('translation_en_to_fr').prefix, '>>fr<< ');
  assert.equal(multi.get('translation_en_to_pt_br').prefix, '>>pt_BR<< ');
  assert.equal(modelTasks({ model_type: 'marian' }, ['my-translator'], () => []).size, 0, 'no pair known: no task claimed');
  assert.equal(modelTasks({ model_type: 'bart' }, ['facebook/opus-mt-en-de-like'], () => []).size, 0, 'only Marian models read their name');
});

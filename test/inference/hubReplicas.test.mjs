// Every Hub-layout replica (test/fixtures/hub-*) gives transformers.js's greedy ids and top-5
// log-probabilities through the engine, the worker and the CLI, in every dtype file it ships, with
// prompt-lookup drafting on (the default).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir, InferenceClient, assertRowsSumToOne, newEngine, root, transformersSteps } from '../helpers.mjs';


const TOLERANCE = 1e-4;
const engine = newEngine();

const replicas = readdirSync(fixturesDir)
  .filter((name) => name.startsWith('hub-') && existsSync(join(fixturesDir, name, 'reference.json')))
  .map((name) => ({ name, dir: join(fixturesDir, name), ref: JSON.parse(readFileSync(join(fixturesDir, name, 'reference.json'), 'utf8')) }));

/** The reference's dtype keys are `q8` or `fp32:decoder_model_merged` (a model_file_name given to transformers.js). */
const dtypeOf = (key) => key.split(':')[0];

/**
 * Our greedy run and transformers.js's incremental run of the same file take the same tokens, and
 * every alternative we report has the log-probability gap to our top token that their logits have
 * (gaps, not log-probabilities: their rows come after processors that set banned tokens to -inf).
 */
async function assertSameSteps(dir, key, ref, text, where) {
  const maxNewTokens = ref.generate_options.max_new_tokens;
  const theirs = await transformersSteps(dir, key, ref.task === 'causal', text, maxNewTokens);
  const ours = await engine.generate({ model: { source: dir, dtype: dtypeOf(key) }, prompt: text, options: { strategy: 'greedy', maxNewTokens, repetitionPenalty: 1, topAlternatives: 5 } });
  assert.deepEqual(ours.tokens.map((t) => t.id), theirs.ids, `${where}: greedy ids without repetition penalty`);
  theirs.rows.forEach((row, i) => {
    const top = ours.tokens[i].top[0];
    if (!Number.isFinite(row[top.id])) return;
    for (const alt of ours.tokens[i].top) {
      if (!Number.isFinite(row[alt.id])) continue;
      const gap = Math.log(alt.prob) - Math.log(top.prob);
      assert.ok(Math.abs(gap - (row[alt.id] - row[top.id])) <= 2 * TOLERANCE, `${where} incremental step ${i} token ${alt.id}: gap ${gap} vs ${row[alt.id] - row[top.id]}`);
    }
  });
}

/** What transformers.js was asked: greedy (`do_sample: false`, one beam) for the reference's number of tokens. */
function options(ref) {
  return { strategy: 'greedy', maxNewTokens: ref.generate_options.max_new_tokens };
}

/**
 * The reference's top-5 log-probabilities come from one forward pass over prompt + output. Step 0 is
 * the prompt pass in both; later steps equal the incremental decoding's only where a pass over several
 * tokens equals one pass per token, which the engine measures (`draftingUnavailable`).
 */
function assertTop5(result, prompt, allSteps, where) {
  prompt.steps.forEach((step, i) => {
    if (i > 0 && !allSteps) return;
    for (const expected of step.top5) {
      const ours = result.tokens[i].top.find((a) => a.id === expected.id);
      assert.ok(ours, `${where} step ${i}: token ${expected.id} is among our alternatives`);
      const lp = Math.log(ours.prob);
      assert.ok(Math.abs(lp - expected.logprob) <= TOLERANCE, `${where} step ${i} token ${expected.id}: logprob ${lp} vs ${expected.logprob}`);
    }
  });
}

assert.ok(replicas.length >= 3, 'the Hub-layout replicas are present');

for (const { name, dir, ref } of replicas) {
  for (const [key, entry] of Object.entries(ref.dtypes)) {
    const dtype = dtypeOf(key);
    test(`${name} ${key}: greedy ids and top-5 log-probabilities equal transformers.js`, async () => {
      const info = await engine.info({ source: dir, dtype });
      assert.equal(info.dtype, dtype, 'the file of the asked dtype was loaded');
      for (const f of info.onnxFiles.filter((f) => f.endsWith('.onnx'))) assert.match(f, dtype === 'fp32' ? /^onnx\/[a-z_]+\.onnx$/ : new RegExp(`_${dtype === 'q8' ? 'quantized' : dtype}\\.onnx$`));
      for (const prompt of entry.prompts) {
        const where = `${name} ${key} ${JSON.stringify(prompt.text)}`;
        const result = await engine.generate({ model: { source: dir, dtype }, prompt: prompt.text, options: options(ref) });
        if (prompt.input_ids) assert.deepEqual(result.inputIds, prompt.input_ids, `${where}: prompt ids`);
        assert.deepEqual(result.tokens.map((t) => t.id), prompt.greedy_ids, `${where}: greedy ids`);
        if (info.draftingUnavailable === null) {
          assertTop5(result, prompt, true, where);
        } else {
          // The reference's one forward pass over the whole output is not what generate() saw for such
          // a file (a dynamically quantized pass depends on all its tokens): compare every step with
          // transformers.js's own incremental run instead.
          await assertSameSteps(dir, key, ref, prompt.text, where);
        }
        if (info.draftingUnavailable !== null) {
          // Drafting off: one pass per token (the first pass also reads the prompt).
          assert.equal(result.timings.decoder_passes, result.tokens.length, `${where}: one pass per token`);
        }
      }
    });
  }
}

test('drafting is measured per model: off for the If-merged Marian decoder and dynamically quantized files, on for the others', async () => {
  const marian = await engine.info({ source: join(fixturesDir, 'hub-marian-merged') });
  assert.match(marian.draftingUnavailable, /drafting is off.*max \|Δlogit\|/);
  const q8 = await engine.info({ source: join(fixturesDir, 'hub-qwen2'), dtype: 'q8' });
  assert.match(q8.draftingUnavailable, /drafting is off/);
  const fp32 = await engine.info({ source: join(fixturesDir, 'hub-qwen2'), dtype: 'fp32' });
  assert.equal(fp32.draftingUnavailable, null);
  // Where it is on, a repetitive output takes fewer passes than tokens and is the same as without drafting.
  const prompt = 'Once upon a time there was';
  const model = { source: join(fixturesDir, 'hub-qwen2'), dtype: 'fp32' };
  const drafted = await engine.generate({ model, prompt, options: { strategy: 'greedy', maxNewTokens: 40 } });
  const plain = await engine.generate({ model, prompt, options: { strategy: 'greedy', maxNewTokens: 40, promptLookupTokens: 0 } });
  assert.deepEqual(drafted.tokens.map((t) => t.id), plain.tokens.map((t) => t.id));
  for (let i = 0; i < plain.tokens.length; i++) assert.ok(Math.abs(drafted.tokens[i].logprob - plain.tokens[i].logprob) <= TOLERANCE);
});

test('dtype auto: the declared dtype, else the smallest that runs well on a CPU', async () => {
  assert.equal((await engine.info({ source: join(fixturesDir, 'hub-qwen2') })).dtype, 'q4');
  assert.equal((await engine.info({ source: join(fixturesDir, 'tiny-llama-gqa') })).dtype, 'fp32', 'config.json declares fp32');
  assert.equal((await engine.info({ source: join(fixturesDir, 'hub-qwen2'), quantized: true })).dtype, 'q8', 'quantized is q8');
  const info = await engine.info({ source: join(fixturesDir, 'hub-qwen2'), dtype: 'fp16' });
  assert.deepEqual(info.onnxFiles, ['onnx/model_fp16.onnx']);
  assert.ok(info.availableDtypes.includes('q4f16') && info.availableDtypes.includes('fp32'));
});

test('a dtype the folder lacks is refused with the dtypes it has', async () => {
  await assert.rejects(engine.info({ source: join(fixturesDir, 'hub-marian-merged'), dtype: 'q4f16' }), (err) => {
    assert.equal(err.code, 'model-not-found');
    assert.match(err.message, /no q4f16 file for encoder_model \(expected onnx\/encoder_model_q4f16\.onnx\)\. It has: fp32/);
    return true;
  });
  // As a preference (the editor's one setting for every model), it loads the auto choice and says so.
  const info = await engine.info({ source: join(fixturesDir, 'hub-marian-merged'), dtype: 'q4f16', dtypeFallback: true });
  assert.equal(info.dtype, 'fp32');
  assert.match(info.dtypeNote, /has no q4f16 files \(it has fp32\); loaded fp32 instead/);
  assert.equal((await engine.info({ source: join(fixturesDir, 'hub-qwen2'), dtype: 'q4f16', dtypeFallback: true })).dtypeNote, undefined);
});

test('external data and fp16 graphs load with attention capture: every attention row sums to 1', async () => {
  for (const [dir, dtype] of [['hub-qwen2-external', 'fp32'], ['hub-qwen2', 'fp16']]) {
    const model = { source: join(fixturesDir, dir), dtype, attentions: true };
    const info = await engine.info(model);
    assert.equal(info.attentionUnavailable, null, `${dir} ${dtype}: attention can be captured`);
    const result = await engine.generate({ model, prompt: 'Hello, how are you today?', options: { strategy: 'greedy', maxNewTokens: 4, attentions: true } });
    assert.ok(result.attentions.length > 0);
    for (const map of result.attentions) assertRowsSumToOne(map.weights, dtype === 'fp16' ? 2e-3 : 1e-4);
    const plain = await engine.generate({ model: { source: join(fixturesDir, dir), dtype }, prompt: 'Hello, how are you today?', options: { strategy: 'greedy', maxNewTokens: 4 } });
    assert.deepEqual(result.tokens.map((t) => t.id), plain.tokens.map((t) => t.id), 'the tapped graph computes the same tokens');
  }
});

test('Marian: generation_config is honoured (bad_words_ids bans <pad>, forced EOS at the limit) and the trace names each setting', async () => {
  const dir = join(fixturesDir, 'hub-marian-merged');
  const result = await engine.generate({ model: { source: dir }, prompt: 'Hello world, how are you?', options: { strategy: 'greedy', maxNewTokens: 12 } });
  assert.deepEqual(result.generationSettings.bad_words_ids, { value: [[442]], from: 'model' });
  assert.deepEqual(result.generationSettings.forced_eos_token_id, { value: 0, from: 'model' });
  assert.deepEqual(result.generationSettings.max_new_tokens, { value: 12, from: 'request' });
  assert.ok(!result.tokens.some((t) => t.id === 442), 'no <pad> is generated');
  assert.equal(result.tokens.at(-1).id, 0, 'the last token is the forced EOS');
  // Without a strategy, the model's num_beams 4 applies, as in transformers.
  const beams = await engine.generate({ model: { source: dir }, prompt: 'Hello world, how are you?', options: { maxNewTokens: 6 } });
  assert.deepEqual(beams.generationSettings.num_beams, { value: 4, from: 'model' });
  assert.equal(beams.sequences.length, 1);
});

test('Marian translation: the language pair comes from the model name; other targets are refused with the list', async () => {
  const dir = join(fixturesDir, 'hub-marian-merged');
  const info = await engine.info({ source: dir });
  assert.deepEqual(info.tasks, ['translation_en_to_de']);
  const result = await engine.generate({ model: { source: dir }, prompt: 'Hello world, how are you?', task: { kind: 'translate', to: 'de' }, options: { strategy: 'greedy', maxNewTokens: 12 } });
  const reference = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')).dtypes.fp32.prompts[0];
  assert.deepEqual(result.inputIds, reference.input_ids, 'no prefix is added for Marian');
  await assert.rejects(engine.generate({ model: { source: dir }, prompt: 'Hi', task: { kind: 'translate', to: 'fr' } }), /It translates to: de \(German\)/);
});

test('through the worker process: the same ids and log-probabilities as the engine', async () => {
  const client = new InferenceClient({ workerPath: join(root, 'dist', 'worker.js'), bundledModelsDir: join(root, 'models'), hub: { offline: true } });
  try {
    for (const { name, dir, ref } of replicas) {
      const [key, entry] = Object.entries(ref.dtypes).find(([k]) => dtypeOf(k) === 'fp16') ?? Object.entries(ref.dtypes)[0];
      const prompt = entry.prompts[0];
      const result = await client.generate({ model: { source: dir, dtype: dtypeOf(key) }, prompt: prompt.text, options: options(ref) });
      assert.deepEqual(result.tokens.map((t) => t.id), prompt.greedy_ids, `${name} ${key} through the worker`);
      assertTop5(result, prompt, false, `${name} ${key} (worker)`);
    }
  } finally {
    await client.dispose();
  }
});

test('through the CLI: --dtype selects the file and the ids equal transformers.js, for every replica', () => {
  const cli = (args) => JSON.parse(execFileSync(process.execPath, [join(root, 'dist', 'cli.js'), 'generate', ...args, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  for (const { name, dir, ref } of replicas) {
    // The smallest dtype file of each replica, and fp16 where there is one.
    const keys = Object.keys(ref.dtypes).filter((k, i, all) => k.startsWith('fp16') || i === all.length - 1);
    for (const key of keys) {
      const prompt = ref.dtypes[key].prompts.at(-1);
      const out = cli(['--model', dir, '--dtype', dtypeOf(key), '--strategy', 'greedy', '--max-new-tokens', String(ref.generate_options.max_new_tokens), '--prompt', prompt.text]);
      assert.deepEqual(out.tokens.map((t) => t.id), prompt.greedy_ids, `CLI ${name} --dtype ${dtypeOf(key)}`);
    }
  }
  const bad = (() => {
    try {
      execFileSync(process.execPath, [join(root, 'dist', 'cli.js'), 'generate', '--model', replicas[0].dir, '--dtype', 'int4', '--prompt', 'x'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      return err;
    }
  })();
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--dtype must be one of auto, fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4/);
});

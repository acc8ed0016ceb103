// Mutated protocol messages into the engine's boundary (the same dispatcher the engine process
// runs, with a real Engine on the tiny llama fixture): every message with a usable id gets exactly
// one answer, nothing throws, every mutation that breaks the message's types is refused as a bad
// request naming the field, and every accepted request reaches the engine within the limits.
// Seeded; `npm run stress` sends more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, modelPath, modelsDir } from '../helpers.mjs';
import { REMOVE, paths, random, valueAt as get, withValue as set, wrongType } from '../fuzz.mjs';

const { createDispatcher, validateRequest, DECODING_LIMITS, MAX_TEXT_CHARS } = await import('../../dist/inference.js');

const COUNT = process.env.LMLENS_STRESS === '1' ? 50_000 : 10_000;
const model = { source: modelPath('tiny-llama-gqa') };


test(`${COUNT} mutated protocol messages: one answer each, no crash, every broken message refused naming its field`, async () => {
  const engine = new Engine(modelsDir, { offline: true });
  // A prompt that fills the context but for a few tokens, so that no accepted request can generate long.
  const ids = (await engine.generate({ model, prompt: 'x = 1\n'.repeat(100), options: { maxNewTokens: 1 } })).inputIds.length;
  const prompt = 'x = 1\n'.repeat(Math.floor((100 * (512 - 6)) / ids));
  const answers = new Map();
  let posted = 0;
  const dispatch = createDispatcher(engine, (msg) => {
    posted++;
    if (msg.type === 'result' || msg.type === 'error') answers.set(msg.id, [...(answers.get(msg.id) ?? []), msg]);
  }, () => Promise.reject(new Error('no faults here')));

  const bases = [
    { type: 'load', params: model },
    { type: 'generate', params: { model, prompt, options: { maxNewTokens: 3, numBeams: 2, strategy: 'beam', temperature: 0.7, topK: 5, topP: 0.9, seed: 3, repetitionPenalty: 1.2, noRepeatNgramSize: 2, stopStrings: ['\n\n'], topAlternatives: 3 }, task: { kind: 'generate' }, stream: true } },
    { type: 'generate', params: { model, prompt: 'def f(', forcedPrefixIds: [5, 6], options: { maxNewTokens: 2, allowedTokenIds: [5, 6, 7] } } },
    { type: 'score', params: { model, text: 'def main():\n    return 1', topAlternatives: 2, truncate: true } },
    { type: 'ping', params: {} },
    { type: 'unload', params: { source: 'nothing-loaded' } },
  ];
  const rnd = random(1205);
  const expectRefusal = new Map();
  let kinds = { broken: 0, clamped: 0, extra: 0, intact: 0 };
  const limits = new Map(Object.entries(DECODING_LIMITS));
  for (let i = 0; i < COUNT; i++) {
    const id = i + 1;
    let msg = { ...structuredClone(bases[Math.floor(rnd() * bases.length)]), id };
    const r = rnd();
    const leaves = paths(msg).filter((p) => p[0] === 'params' || p[0] === 'type');
    const path = leaves[Math.floor(rnd() * leaves.length)];
    const value = get(msg, path);
    const optionLimit = path.length === 3 && path[1] === 'options' ? limits.get(path[2]) : undefined;
    if (r < 0.55) {
      // Break a field's type, or drop a required one, or use an unknown request type, or oversize a text.
      const how = rnd();
      if (how < 0.7) msg = set(msg, path, wrongType(value, rnd));
      else if (how < 0.8) msg = set(msg, ['type'], ['lod', 'GENERATE', '', 'cancel2'][Math.floor(rnd() * 4)]);
      else if (how < 0.9 && msg.type === 'generate') msg = set(msg, ['params', 'prompt'], 'x'.repeat(MAX_TEXT_CHARS + 1));
      else if (msg.type === 'load' || msg.type === 'unload') msg = set(msg, ['params', 'source'], REMOVE);
      else if (msg.type === 'generate' || msg.type === 'score') msg = set(msg, ['params', 'model'], REMOVE);
      else msg = set(msg, ['type'], 'pong');
      // A ping's params are not read, so a broken ping param is no broken message.
      const refused = !(msg.type === 'ping' && path[0] === 'params' && how < 0.7);
      if (refused) expectRefusal.set(id, path.join('.'));
      kinds.broken += refused ? 1 : 0;
      kinds.intact += refused ? 0 : 1;
    } else if (r < 0.8 && optionLimit) {
      msg = set(msg, path, [1e9, -1e9, 1e300, -0.5, optionLimit.max + 1, optionLimit.min - 1][Math.floor(rnd() * 6)]);
      kinds.clamped++;
    } else if (r < 0.9) {
      msg = set(msg, ['params', `unknown${i % 7}`], { deep: [1, 2, 3] });
      kinds.extra++;
    } else {
      kinds.intact++;
    }
    // What the engine gets is within the limits, and validating it again changes nothing.
    let accepted;
    try {
      accepted = validateRequest(msg);
    } catch {
      accepted = undefined;
    }
    if (accepted?.type === 'generate' && accepted.params.options) {
      for (const [key, limit] of limits) {
        const v = accepted.params.options[key];
        if (v !== undefined) assert.ok(v >= limit.min && v <= limit.max && Number.isFinite(v), `${key} = ${v} reached the engine`);
      }
      assert.deepEqual(validateRequest(accepted), accepted);
    }
    assert.doesNotThrow(() => dispatch(msg));
    if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve)); // let the engine run
  }
  // Every request answered exactly once.
  const deadline = Date.now() + 120_000;
  while (answers.size < COUNT && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(answers.size, COUNT, `${COUNT - answers.size} requests were never answered`);
  let refused = 0;
  for (const [id, list] of answers) {
    assert.equal(list.length, 1, `request ${id} was answered ${list.length} times`);
    const field = expectRefusal.get(id);
    if (field) {
      assert.equal(list[0].type, 'error', `request ${id} (broken ${field}) was accepted`);
      assert.equal(list[0].error.code, 'bad-request', `request ${id}: ${list[0].error.message}`);
      assert.match(list[0].error.message, /^(message|generate|score|load|unload|configure|fault|cancel)[\w.[\]]*/, list[0].error.message);
      refused++;
    }
  }
  console.log(`# fuzzed messages: ${COUNT} (${kinds.broken} broken → ${refused} refused, ${kinds.clamped} out of range → clamped, ${kinds.extra} with unknown fields, ${kinds.intact} intact); ${posted} responses; 0 crashes`);
  assert.equal(refused, kinds.broken);
  await engine.unload();
});

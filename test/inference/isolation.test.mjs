// The engine runs in its own process: an abort, an exit, an uncaught exception, a hung event loop
// or an exhausted heap inside it fail the pending callers with `worker-crashed` and the next request
// restarts it; this test process (standing in for the extension host) survives every one. Kills and
// cancellations at seeded random points answer every caller. `npm run stress` runs more of them.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { InferenceClient, modelPath, modelsDir, rejectsWithCode, root } from '../helpers.mjs';
import { random } from '../fuzz.mjs';

const STRESS = process.env.LMLENS_STRESS === '1';
const KILLS = STRESS ? 50 : 8;
const CANCELS = STRESS ? 200 : 40;
const model = { source: modelPath('tiny-llama-gqa') };
const prompt = 'def __init__(self';
const workerPath = join(root, 'dist', 'worker.js');

function faultyClient(extra = {}) {
  return new InferenceClient({ workerPath, bundledModelsDir: modelsDir, hub: { offline: true }, engineEnv: { LMLENS_ENGINE_FAULTS: '1' }, ...extra });
}


async function stillServes(client) {
  const r = await client.generate({ model, prompt, options: { maxNewTokens: 4 } });
  assert.equal(r.tokens.length, 4);
}

for (const [how, extra, expected] of [
  ['abort', {}, /signal SIGABRT/],
  ['exit', {}, /exit code 70/],
  ['uncaught', {}, /exit code 1/],
  ['heap', { maxHeapMb: 48 }, /signal SIGABRT|signal SIGKILL|signal SIGTRAP|exit code/],
  ['hang', { heartbeatMs: 100, hungAfterMs: 1500 }, /answered nothing for \d+ s/],
]) {
  test(`${how}: a fault inside the engine fails its callers, not the host, and the next request restarts it`, async () => {
    const logs = [];
    const withLog = faultyClient({ ...extra, onLog: (level, message) => logs.push(`${level}: ${message}`) });
    try {
      await withLog.load(model);
      const running = withLog.generate({ model, prompt, options: { maxNewTokens: 400 } });
      const faulted = withLog.request('fault', { how });
      const err = await running.then(
        () => assert.fail('the generation finished although its engine failed'),
        (e) => e,
      );
      assert.equal(err.code, 'worker-crashed', err.message);
      assert.match(err.message, expected);
      await faulted.catch(() => undefined); // an uncaught exception is thrown after the call returned
      assert.ok(logs.some((l) => /Inference engine stopped unexpectedly/.test(l)), logs.join('\n'));
      if (how === 'uncaught') assert.ok(logs.some((l) => /fault injected: uncaught exception/.test(l)), `the engine's last words are logged:\n${logs.join('\n')}`);
      await stillServes(withLog);
    } finally {
      await withLog.dispose();
    }
  });
}

test('an engine started without fault injection refuses it as a bad request', async () => {
  const client = new InferenceClient({ workerPath, bundledModelsDir: modelsDir, hub: { offline: true } });
  after(() => client.dispose());
  await rejectsWithCode(client.request('fault', { how: 'abort' }), 'bad-request', /Fault injection is off/);
  await stillServes(client);
});

test(`${KILLS} kills at random points of a generation: every caller is answered and the next request succeeds`, async () => {
  const client = faultyClient();
  after(() => client.dispose());
  const next = random(20261205);
  const outcomes = { crashed: 0, finished: 0 };
  for (let i = 0; i < KILLS; i++) {
    const killAfter = Math.floor(next() * 60);
    let seen = 0;
    let killing;
    const running = client.generate({ model, prompt, options: { maxNewTokens: 48 } }, {
      onToken: () => {
        if (++seen === killAfter) killing = client.crashForTesting();
      },
    });
    const settled = await running.then(
      () => 'finished',
      (err) => {
        assert.equal(err.code, 'worker-crashed', err.message);
        return 'crashed';
      },
    );
    outcomes[settled]++;
    await killing;
    await stillServes(client);
  }
  console.log(`# kills: ${KILLS} (${outcomes.crashed} mid-generation, ${outcomes.finished} after it finished); host alive`);
  assert.ok(outcomes.crashed >= KILLS / 2, JSON.stringify(outcomes));
});

test(`${CANCELS} cancellations at random points: every caller is answered, the engine keeps serving`, async () => {
  const client = new InferenceClient({ workerPath, bundledModelsDir: modelsDir, hub: { offline: true } });
  after(() => client.dispose());
  const next = random(7);
  let answered = 0;
  const calls = [];
  for (let i = 0; i < CANCELS; i++) {
    const controller = new AbortController();
    const cancelAfter = Math.floor(next() * 20);
    let seen = 0;
    if (cancelAfter === 0) controller.abort();
    calls.push(
      client
        .generate({ model, prompt, options: { maxNewTokens: 24 } }, {
          signal: controller.signal,
          onToken: () => {
            if (++seen === cancelAfter) controller.abort();
          },
        })
        .then(
          (r) => assert.ok(['length', 'eos', 'cancelled', 'stop-string'].includes(r.finishReason)),
          (err) => assert.equal(err.code, 'cancelled', err.message),
        )
        .then(() => answered++),
    );
    if (i % 8 === 7) await Promise.all(calls.splice(0)); // a few at a time, as a typing user would cause
  }
  await Promise.all(calls);
  console.log(`# cancellations: ${CANCELS}, answered ${answered}`);
  assert.equal(answered, CANCELS);
  await stillServes(client);
});

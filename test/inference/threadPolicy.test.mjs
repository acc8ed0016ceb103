// The thread policy: one intra-op thread for small graphs, the pool without spinning for larger ones,
// in options the onnxruntime-node binding accepts (its `extra` entries must be strings).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { SINGLE_THREAD_BELOW_BYTES, threadOptions } from '../../dist/inference.js';
import { modelPath } from '../helpers.mjs';

test('small graphs get one thread; larger ones the pool with spinning off', () => {
  assert.equal(SINGLE_THREAD_BELOW_BYTES, 64 * 1024 * 1024);
  assert.deepEqual(threadOptions(10 * 2 ** 20), { intraOpNumThreads: 1 });
  assert.deepEqual(threadOptions(SINGLE_THREAD_BELOW_BYTES), { extra: { session: { intra_op: { allow_spinning: '0' } } } });
  assert.deepEqual(threadOptions(500 * 2 ** 20), { extra: { session: { intra_op: { allow_spinning: '0' } } } });
});

test('a session with either policy runs and gives the logits of a default session', async () => {
  const file = join(modelPath('gpt2-code'), 'onnx', 'model.onnx');
  const feeds = (session) => {
    const f = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from([10n, 20n, 30n]), [1, 3]),
      attention_mask: new ort.Tensor('int64', BigInt64Array.from([1n, 1n, 1n]), [1, 3]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from([0n, 1n, 2n]), [1, 3]),
    };
    for (const m of session.inputMetadata) if (m.name.startsWith('past_key_values.')) f[m.name] = new ort.Tensor('float32', new Float32Array(0), [1, m.shape[1], 0, m.shape[3]]);
    return f;
  };
  const reference = await ort.InferenceSession.create(file);
  const expected = (await reference.run(feeds(reference), ['logits'])).logits.data;
  for (const bytes of [10 * 2 ** 20, 500 * 2 ** 20]) {
    const session = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'all', ...threadOptions(bytes) });
    const got = (await session.run(feeds(session), ['logits'])).logits.data;
    assert.equal(got.length, expected.length);
    let maxDiff = 0;
    for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
    assert.ok(maxDiff < 1e-4, `policy for ${bytes} bytes: max |Δlogit| ${maxDiff}`);
    await session.release();
  }
  await reference.release();
});

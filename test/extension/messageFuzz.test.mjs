// Mutated panel messages into the webview validators, both directions: none throws, every mutation
// that breaks a field's type (or drops a required field) is refused, and the unbroken ones (an
// unknown extra field, an optional field left out) still pass. Seeded; `npm run stress` sends more.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModule } from './bundle.mjs';
import { REMOVE, paths as leaves, random, valueAt, withValue as mutate, wrongType } from '../fuzz.mjs';

const messages = await loadModule('src/webviews/messages.ts');
const COUNT = process.env.LMLENS_STRESS === '1' ? 50_000 : 10_000;


const tok = (id, text, rank = 1, prob = 0.5) => ({ id, text, prob, logprob: Math.log(prob), rank, entropy: 1.5, top: [{ id, text, prob }, { id: id + 100, text: `${text}'`, prob: prob / 2 }] });
const lens = [{ layer: 0, rank: 3, prob: 0.1, top: [{ id: 4, text: ' =', prob: 0.4 }] }, { layer: 1, rank: 1, prob: 0.5, top: [{ id: 1, text: 'def', prob: 0.5 }] }];
const sequence = { id: 1, parent: { sequenceId: 0, tokenIndex: 1, alternative: { id: 7, text: ' x', prob: 0.1 } }, tokens: [{ ...tok(1, 'def'), lens }, tok(2, ' f', 12, 0.01)], prompt: 'p', forcedIds: [7], status: 'done', error: 'none' };
const map = (kind) => ({ kind, queryTokens: ['a', 'b'], keyTokens: ['a', 'b'], weights: [[[[1, 0], [0.5, 0.5]]], [[[1, 0], [0.3, 0.7]]]] });
const packed = (kind) => ({ kind, queryTokens: ['a', 'b'], keyTokens: ['a', 'b'], shape: { layers: 2, heads: 1, queries: 2, keys: 2 }, weights: new Float32Array([1, 0, 0.5, 0.5, 1, 0, 0.3, 0.7]) });

/** [validator, a valid message, the fields that may be left out] */
const CASES = [
  [messages.isTokenWebviewMessage, { type: 'branch', sequenceId: 0, tokenIndex: 3, alternativeId: 42 }, []],
  [messages.isAttentionWebviewMessage, { type: 'exportJson', mapIndex: 2 }, []],
  [messages.isAttentionWebviewMessage, { type: 'exportPng', dataUrl: 'data:image/png;base64,AAAA', name: 'attention.png' }, []],
  [messages.isTokenHostMessage, { type: 'sequence', sequence }, ['sequence.parent', 'sequence.error', 'sequence.tokens.0.lens']],
  [
    messages.isTokenHostMessage,
    { type: 'show', data: { title: 't', model: 'gpt2-code', mode: 'generate', prompt: 'x', sequences: [sequence], branchUnavailable: 'why', branchModel: 'gpt2-code', task: { kind: 'translate', to: 'de' }, device: 'cpu', lensUnavailable: 'why not' } },
    ['data.branchUnavailable', 'data.sequences.0.parent', 'data.sequences.0.error', 'data.sequences.0.tokens.0.lens', 'data.lensUnavailable'],
  ],
  [messages.isAttentionHostMessage, { type: 'show', data: { title: 't', model: 'm', maps: [packed('self'), packed('cross')], attentionUnavailable: 'why', outputStart: 1, sourceText: 's', targetText: 't' } }, ['data.attentionUnavailable', 'data.sourceText', 'data.targetText']],
  [messages.isAttentionPanelData, { title: 't', model: 'm', maps: [map('self'), map('cross')], attentionUnavailable: 'why', outputStart: 1 }, ['attentionUnavailable']],
];

test(`${COUNT} mutated panel messages: no validator throws, every broken one is refused, unbroken ones pass`, () => {
  const rnd = random(42);
  const tally = { broken: 0, refused: 0, unbroken: 0, passed: 0 };
  for (const [valid, message] of CASES) assert.ok(valid(message), `the base message is valid: ${JSON.stringify(message).slice(0, 80)}`);
  for (let i = 0; i < COUNT; i++) {
    const [valid, message, optional] = CASES[Math.floor(rnd() * CASES.length)];
    const paths = leaves(message);
    const path = paths[Math.floor(rnd() * paths.length)];
    // A Float32Array converts whatever is written into it to a number: no wrong type can be stored there.
    if (ArrayBuffer.isView(valueAt(message, path.slice(0, -1)))) continue;
    const r = rnd();
    let candidate;
    let broken;
    if (r < 0.75) {
      const value = valueAt(message, path);
      // A number inside the attention weights must be finite; an extra type-mismatch anywhere breaks it.
      candidate = mutate(message, path, wrongType(value, rnd));
      broken = true;
    } else if (r < 0.9) {
      candidate = mutate(message, path, REMOVE);
      // Dropping an array element shifts the rest: still broken for fixed-shape weights, so count only named fields.
      broken = !optional.includes(path.join('.')) && !/^\d+$/.test(path.at(-1));
      if (/^\d+$/.test(path.at(-1))) continue;
    } else {
      candidate = mutate(message, [`extra${i % 5}`], { anything: [i] });
      broken = false;
    }
    let accepted;
    assert.doesNotThrow(() => {
      accepted = valid(candidate);
    }, `${path.join('.')}`);
    if (broken) {
      tally.broken++;
      assert.equal(accepted, false, `broken ${path.join('.')} was accepted: ${JSON.stringify(candidate).slice(0, 200)}`);
      tally.refused++;
    } else {
      tally.unbroken++;
      assert.equal(accepted, true, `unbroken ${path.join('.')} was refused`);
      tally.passed++;
    }
  }
  console.log(`# fuzzed panel messages: ${COUNT}; ${tally.broken} broken, all refused; ${tally.unbroken} unbroken, all accepted; 0 throws`);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModule } from './bundle.mjs';

const { confidenceCut, sureContinuation, DEFAULT_MIN_MEAN_LOGPROB } = await loadModule('src/completion/confidenceCut.ts');

/** A hand-made trace: [text, prob] pairs (log-probability from the probability; rank and entropy unused here). */
const trace = (...steps) => steps.map(([text, prob], i) => ({ id: i, text, prob, logprob: Math.log(prob), rank: 1, entropy: 0, top: [] }));

test('cuts before the first token below the threshold', () => {
  const tokens = trace([' self', 0.9], ['.name', 0.6], [' =', 0.3], [' name', 0.05], ['\n', 0.8]);
  const r = confidenceCut(' self.name = name', tokens, { minConfidence: 0.1 });
  assert.equal(r.text, ' self.name =');
  assert.equal(r.tokens, 3);
  assert.deepEqual(r.cutAt, { index: 3, prob: 0.05 });
  assert.ok(Math.abs(r.meanLogprob - (Math.log(0.9) + Math.log(0.6) + Math.log(0.3)) / 3) < 1e-12);
});

test('keeps the whole text when every token is sure enough, and only the tokens inside the shown text count', () => {
  // The text was shortened after generation (the stop string and the line's end): the last token is not shown.
  const tokens = trace(['return', 0.5], [' a', 0.4], [' +', 0.7], [' b', 0.9], ['\n\n', 0.01]);
  const r = confidenceCut('return a + b', tokens, { minConfidence: 0.3 });
  assert.equal(r.text, 'return a + b');
  assert.equal(r.tokens, 4);
  assert.equal(r.cutAt, undefined);
});

test('a threshold of 0 never cuts', () => {
  const r = confidenceCut('foo(bar)', trace(['foo', 0.001], ['(', 0.002], ['bar', 0.003], [')', 0.004]), { minConfidence: 0 });
  assert.equal(r.text, 'foo(bar)');
  assert.equal(r.tokens, 4);
});

test('trailing whitespace before the cut is dropped, and its token no longer counts', () => {
  const tokens = trace(['x', 0.9], ['.y', 0.9], [' ', 0.8], ['==', 0.02]);
  const r = confidenceCut('x.y ==', tokens, { minConfidence: 0.1 });
  assert.equal(r.text, 'x.y');
  assert.equal(r.tokens, 2);
  assert.ok(Math.abs(r.meanLogprob - Math.log(0.9)) < 1e-12);
});

test('hides a suggestion left with fewer than two non-space characters', () => {
  const tokens = trace([' (', 0.7], ['self', 0.08], [')', 0.9]);
  const r = confidenceCut(' (self)', tokens, { minConfidence: 0.1 });
  assert.equal(r.text, undefined);
  assert.equal(r.reason, 'too-short');
  assert.deepEqual(r.cutAt, { index: 1, prob: 0.08 });
  assert.equal(r.message, '1 non-space character left, fewer than 2 (cut before token 2, probability 0.080 < 0.1)');
  // The first token already unsure: nothing left at all.
  const none = confidenceCut('import os', trace(['import', 0.05], [' os', 0.9]), { minConfidence: 0.1 });
  assert.equal(none.text, undefined);
  assert.equal(none.reason, 'too-short');
  assert.equal(none.message, '0 non-space characters left, fewer than 2 (cut before token 1, probability 0.050 < 0.1)');
  // A larger minimum.
  const short = confidenceCut('ab', trace(['ab', 0.9]), { minConfidence: 0.1, minChars: 3 });
  assert.equal(short.text, undefined);
  assert.equal(short.message, '2 non-space characters left, fewer than 3');
});

test('hides a suggestion whose mean log-probability is below the floor', () => {
  const tokens = trace(['def', 0.2], [' main', 0.2], ['():', 0.9]);
  const mean = (2 * Math.log(0.2) + Math.log(0.9)) / 3;
  const r = confidenceCut('def main():', tokens, { minConfidence: 0.1, minMeanLogprob: -1 });
  assert.equal(r.text, undefined);
  assert.equal(r.reason, 'low-mean');
  assert.equal(r.message, `mean log-probability ${mean.toFixed(3)} of 3 tokens is below -1`);
  const kept = confidenceCut('def main():', tokens, { minConfidence: 0.1, minMeanLogprob: -1.2 });
  assert.equal(kept.text, 'def main():');
  assert.ok(Math.abs(kept.meanLogprob - mean) < 1e-12);
});

test('the measured floor: a mean probability around 0.2 per token is the edge', () => {
  assert.equal(DEFAULT_MIN_MEAN_LOGPROB, -1.5);
  const o = { minConfidence: 0.1, minMeanLogprob: DEFAULT_MIN_MEAN_LOGPROB };
  // exp(-1.5) ≈ 0.223: every token at 0.21 is hidden, every token at 0.24 is shown.
  assert.equal(confidenceCut('a.b(c)', trace(['a', 0.21], ['.b', 0.21], ['(c)', 0.21]), o).reason, 'low-mean');
  assert.equal(confidenceCut('a.b(c)', trace(['a', 0.24], ['.b', 0.24], ['(c)', 0.24]), o).text, 'a.b(c)');
  // The cut raises the mean: an unsure tail goes, the sure start stays.
  const cut = confidenceCut('items.append(x)', trace(['items', 0.5], ['.append', 0.4], ['(x', 0.11], [')', 0.02]), o);
  assert.equal(cut.text, 'items.append(x');
  assert.equal(cut.reason, undefined);
});

test('a trace that does not spell the text (no log-probabilities) leaves the text unjudged', () => {
  assert.deepEqual(confidenceCut('a + b', [], { minConfidence: 0.5 }), { text: 'a + b', tokens: 0, meanLogprob: 0, unscored: true });
  assert.deepEqual(confidenceCut('a + b', trace(['c', 0.01]), { minConfidence: 0.5 }), { text: 'a + b', tokens: 0, meanLogprob: 0, unscored: true });
});

test('a token whose bytes end a character later (empty text) does not move the cut', () => {
  // "é" split over two byte tokens: the first decodes to nothing, the second to the character.
  const tokens = trace(['caf', 0.8], ['', 0.7], ['é', 0.6], ['!', 0.01]);
  const r = confidenceCut('café!', tokens, { minConfidence: 0.1 });
  assert.equal(r.text, 'café');
  assert.equal(r.tokens, 3);
  const early = confidenceCut('café!', trace(['caf', 0.8], ['', 0.05], ['é', 0.6]), { minConfidence: 0.1 });
  assert.equal(early.text, 'caf');
  assert.equal(early.tokens, 1);
});

test('Continue at Cursor\'s cut (lmLens.continue.minConfidence): before the first unsure token however short, whole when sure, off at 0, whole when unscored', () => {
  const tokens = trace(['    return', 0.6], [' a', 0.5], [' +', 0.04], [' b', 0.9], ['\n', 0.9]);
  assert.deepEqual(sureContinuation('    return a + b\n', tokens, 0.1), { text: '    return a', cutAt: { index: 2, prob: 0.04 } });
  assert.deepEqual(sureContinuation('    return a + b\n', tokens, 0.03), { text: '    return a + b\n' }, 'every token sure enough: the text whole, its newline kept');
  assert.deepEqual(sureContinuation('    return a + b\n', tokens, 0), { text: '    return a + b\n' });
  // The very first token unsure: nothing is written (the inline rule would hide under two characters; Continue writes what is sure).
  assert.deepEqual(sureContinuation('x = 1', trace(['x', 0.01], [' = 1', 0.9]), 0.1), { text: '', cutAt: { index: 0, prob: 0.01 } });
  assert.deepEqual(sureContinuation('x', trace(['y', 0.01]), 0.5), { text: 'x' }, 'a trace that does not spell the text is not judged');
  assert.deepEqual(sureContinuation('ab', trace(['a', 0.9], ['b', 0.2]), 0.5), { text: 'a', cutAt: { index: 1, prob: 0.2 } }, 'one character is kept');
});

// The arithmetic behind the attention inspector's views: rollout, token labels, the head view's
// lines and the visible window of a large heatmap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModule } from './bundle.mjs';

const { attentionRollout, withResidual, rolloutApplies } = await loadModule('src/analysis/attentionRollout.ts');
const { tokenLabels, visibleToken } = await loadModule('src/analysis/tokenLabels.ts');
const { headViewLines, headColour } = await loadModule('src/analysis/headView.ts');
const { visibleSpan, fitCell, nextZoom } = await loadModule('src/analysis/viewport.ts');
const { weightColor, rampColor, matrixToRgba } = await loadModule('src/analysis/heatmap.ts');

const close = (actual, expected, tol = 1e-12) => {
  assert.equal(actual.length, expected.length);
  actual.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - expected[i][j]) <= tol, `[${i}][${j}] ${v} vs ${expected[i][j]}`)));
};

test('rollout: residual added and rows renormalised per layer', () => {
  close(withResidual([[1, 0], [0.5, 0.5]]), [[1, 0], [0.25, 0.75]]);
});

test('rollout of two layers, computed by hand: heads averaged, Â2 · Â1', () => {
  // Layer 1: heads average to [[0,1],[0,1]]; + I and renormalised: [[0.5,0.5],[0,1]].
  // Layer 2: [[1,0],[1,0]] → [[1,0],[0.5,0.5]].
  // Â2 · Â1 = [[0.5,0.5],[0.25,0.75]] (the other order would give [[0.75,0.25],[0.5,0.5]]).
  const weights = [
    [[[0, 1], [0, 1]], [[0, 1], [0, 1]]],
    [[[1, 0], [0.8, 0.2]], [[1, 0], [1.2, -0.2]]],
  ];
  close(attentionRollout(weights, 0), [[0.5, 0.5], [0, 1]]);
  close(attentionRollout(weights), [[0.5, 0.5], [0.25, 0.75]]);
  close(attentionRollout(weights, 1), attentionRollout(weights));
  assert.deepEqual(attentionRollout([]), []);
});

test('rollout rows sum to 1 for a random causal map', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const n = 9;
  const head = () => Array.from({ length: n }, (_, q) => {
    const row = Array.from({ length: n }, (_, k) => (k <= q ? rand() : 0));
    const s = row.reduce((a, b) => a + b, 0);
    return row.map((v) => v / s);
  });
  const weights = Array.from({ length: 4 }, () => Array.from({ length: 3 }, head));
  const r = attentionRollout(weights);
  r.forEach((row, q) => {
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-12, `row ${q} sums to 1`);
    row.forEach((v, k) => { if (k > q) assert.equal(v, 0, 'still causal'); });
  });
  assert.ok(rolloutApplies({ kind: 'self', queryTokens: ['a'], keyTokens: ['a'] }));
  assert.ok(!rolloutApplies({ kind: 'cross', queryTokens: ['a'], keyTokens: ['a'] }), 'target × source has no rollout');
});

test('byte-level tokens that split a character are labelled with the character and its bytes', () => {
  // "Öffne": Ö (C3 96) is two byte tokens, each decoding to U+FFFD alone.
  const labels = tokenLabels(['</s>', '\uFFFD', '\uFFFD', 'ff', 'ne', ' die'], 'Öffne die');
  assert.deepEqual(labels.map((l) => l.text), ['</s>', 'Ö 1/2', 'Ö 2/2', 'ff', 'ne', ' die']);
  assert.match(labels[1].title, /byte C3 of “Ö” \(UTF-8 C3 96\)/);
  assert.match(labels[2].title, /byte 96 of “Ö”/);
  // Three bytes over two tokens: which byte is whose is not known, the character is.
  const dash = tokenLabels(['a', '\uFFFD', '\uFFFD', 'b'], 'a—b');
  assert.deepEqual(dash.map((l) => l.text), ['a', '— 1/2', '— 2/2', 'b']);
  assert.match(dash[1].title, /one of the bytes E2 80 94/);
  // At the end of the text, and a second run later on.
  assert.deepEqual(tokenLabels(['x', '\uFFFD', ' y', '\uFFFD', '\uFFFD'], 'xé yü').map((l) => l.text), ['x', 'é', ' y', 'ü 1/2', 'ü 2/2']);
  // Without the text the bytes are unknown: the token stays as decoded, and says so.
  const unknown = tokenLabels(['a', '\uFFFD'], undefined);
  assert.equal(unknown[1].text, '\uFFFD');
  assert.match(unknown[1].title, /not known/);
  assert.deepEqual(tokenLabels(['a\n', '\t', ''], 'x').map((l) => l.text), ['a↵', '→', '∅']);
  assert.equal(visibleToken(''), '∅');
});

test('head view: one line per shown head and key of the query, faint ones left out, heaviest last', () => {
  const h0 = [[1, 0, 0], [0.5, 0.5, 0], [0.2, 0.001, 0.799]];
  const h1 = [[1, 0, 0], [0.9, 0.1, 0], [0.1, 0.3, 0.6]];
  const lines = headViewLines([h0, h1], [0, 1], [2]);
  assert.deepEqual(lines.map((l) => [l.head, l.key, l.weight]), [[1, 0, 0.1], [0, 0, 0.2], [1, 1, 0.3], [1, 2, 0.6], [0, 2, 0.799]]);
  assert.deepEqual(headViewLines([h0, h1], [1], [0]).map((l) => [l.head, l.query, l.key]), [[1, 0, 0]], 'only the shown head');
  assert.notEqual(headColour(0), headColour(1));
  assert.equal(headColour(10), headColour(0), 'colours cycle');
});

test('only the visible window of a large heatmap is drawn', () => {
  // 500 rows of 12 px, a 600 px window scrolled to 1200 px: rows 100..150, ±2 rows.
  assert.deepEqual(visibleSpan(1200, 600, 12, 500), { first: 98, end: 152 });
  assert.deepEqual(visibleSpan(0, 600, 12, 500, 0), { first: 0, end: 50 });
  assert.deepEqual(visibleSpan(5990, 600, 12, 500, 0), { first: 499, end: 500 }, 'clamped at the end');
  assert.deepEqual(visibleSpan(0, 600, 12, 0), { first: 0, end: 0 });
  assert.equal(fitCell(600, 500), 1.2);
  assert.equal(fitCell(600, 5), 32, 'a small map is not blown up past the largest cell');
  assert.equal(nextZoom(4, 1), 6);
  assert.equal(nextZoom(4, -1), 3);
  assert.equal(nextZoom(1.2, -1), 1);
  assert.equal(nextZoom(0.3, -1), 0.25, 'below a pixel per token for narrow panels');
  assert.equal(nextZoom(32, 1), 32);
});

test('the legend’s colours are the heatmap’s colours', () => {
  assert.deepEqual(weightColor(0.5, 0.5), rampColor(1));
  assert.deepEqual(weightColor(0, 0.5), rampColor(0));
  const px = matrixToRgba([[0.5, 0.125]], { scale: 0.5 });
  assert.deepEqual([...px.slice(0, 3)], weightColor(0.5, 0.5));
  assert.deepEqual([...px.slice(4, 7)], weightColor(0.125, 0.5), 'gamma 0.5: a quarter of the maximum is half-way up the ramp');
});

test('thumbnails of long maps keep each block’s strongest weight', async () => {
  const { maxPool, averageHeads } = await loadModule('src/analysis/heatmap.ts');
  const m = Array.from({ length: 4 }, (_, q) => Array.from({ length: 4 }, (_, k) => (q === 3 && k === 0 ? 0.9 : 0.1 * q + 0.01 * k)));
  assert.deepEqual(maxPool(m, 2).map((r) => r.map((v) => Math.round(v * 100) / 100)), [[0.11, 0.13], [0.9, 0.33]]);
  assert.equal(maxPool(m, 4), m, 'small enough: unchanged');
  assert.deepEqual(maxPool([[1, 2, 3]], 2), [[2, 3]]);
  assert.deepEqual(averageHeads([[[1, 0], [0.5, 0.5]], [[0, 1], [0.1, 0.9]]]), [[0.5, 0.5], [0.3, 0.7]]);
});

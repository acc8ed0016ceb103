// The logit lens view's arithmetic on hand-built traces: grid shape, cells, colours, visible columns, rank per layer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModule } from './bundle.mjs';

const lens = await loadModule('src/analysis/logitLens.ts');

const entry = (layer, rank, prob, top) => ({ layer, rank, prob, top: top.map(([id, text, p]) => ({ id, text, prob: p })) });
// The token " b" (id 7): layer 0 thinks " =", layer 1 already " b", layer 2 " +" again, the last layer " b".
const token = {
  id: 7,
  text: ' b',
  lens: [
    entry(0, 12, 0.01, [[3, ' =', 0.4], [4, '(', 0.2]]),
    entry(1, 1, 0.5, [[7, ' b', 0.5], [3, ' =', 0.1]]),
    entry(2, 2, 0.3, [[9, ' +', 0.35], [7, ' b', 0.3]]),
    entry(3, 1, 0.8, [[7, ' b', 0.8], [9, ' +', 0.05]]),
  ],
};

test('the grid has a row per layer of the longest lens', () => {
  assert.equal(lens.lensLayerCount([token, { lens: token.lens.slice(0, 2) }, {}]), 4);
  assert.equal(lens.lensLayerCount([{}, { lens: undefined }]), 0);
});

test('a cell shows the layer’s top-1 and where the chosen token stands', () => {
  assert.deepEqual(lens.lensCell(token, 0), { layer: 0, top1: { id: 3, text: ' =', prob: 0.4 }, rank: 12, prob: 0.01, hit: false });
  assert.deepEqual(lens.lensCell(token, 3), { layer: 3, top1: { id: 7, text: ' b', prob: 0.8 }, rank: 1, prob: 0.8, hit: true });
  assert.equal(lens.lensCell(token, 4), undefined);
  assert.equal(lens.lensCell({ id: 1 }, 0), undefined);
});

test('rank per layer and the layer the token settles at', () => {
  assert.deepEqual(lens.rankByLayer(token), [
    { layer: 0, rank: 12, prob: 0.01 },
    { layer: 1, rank: 1, prob: 0.5 },
    { layer: 2, rank: 2, prob: 0.3 },
    { layer: 3, rank: 1, prob: 0.8 },
  ]);
  assert.equal(lens.settledLayer(token), 3, 'top-1 at layer 1, lost at 2, top-1 again from 3 on');
  assert.equal(lens.settledLayer({ lens: [entry(0, 1, 0.9, []), entry(1, 1, 0.9, [])] }), 0);
  assert.equal(lens.settledLayer({ lens: [entry(0, 2, 0.1, []), entry(1, 3, 0.1, [])] }), undefined);
  assert.deepEqual(lens.rankByLayer({}), []);
});

test('cell colours: the heatmap ramp with readable text', () => {
  assert.deepEqual(lens.lensCellColors(1), { background: 'rgb(253, 231, 37)', foreground: '#000' });
  assert.deepEqual(lens.lensCellColors(0), { background: 'rgb(68, 1, 84)', foreground: '#fff' });
  assert.deepEqual(lens.lensCellColors(NaN), lens.lensCellColors(0));
  assert.deepEqual(lens.lensCellColors(7), lens.lensCellColors(1));
});

test('only the columns in view (and a few beside them) are drawn', () => {
  assert.deepEqual(lens.visibleColumns(300, 200, 50, 100, 2), { start: 4, end: 12 });
  assert.deepEqual(lens.visibleColumns(0, 1000, 50, 5), { start: 0, end: 5 });
  assert.deepEqual(lens.visibleColumns(4900, 400, 50, 100, 0), { start: 98, end: 100 });
  assert.deepEqual(lens.visibleColumns(-20, 100, 50, 100, 0), { start: 0, end: 2 });
  assert.deepEqual(lens.visibleColumns(0, 100, 50, 0), { start: 0, end: 0 });
});

test('each layer keeps its first alternatives only, the rest of the trace unchanged', () => {
  const wide = { ...token, lens: token.lens.map((e) => ({ ...e, top: [...e.top, ...[10, 11, 12, 13, 14].map((id) => ({ id, text: `t${id}`, prob: 0.001 }))] })) };
  const [trimmed, plain] = lens.trimLens([wide, { id: 1, text: 'a' }], 3);
  assert.deepEqual(trimmed.lens.map((e) => e.top.length), [3, 3, 3, 3]);
  assert.deepEqual(trimmed.lens[0].top.map((a) => a.id), [3, 4, 10]);
  assert.deepEqual(trimmed.lens.map((e) => [e.layer, e.rank, e.prob]), token.lens.map((e) => [e.layer, e.rank, e.prob]));
  assert.equal(trimmed.text, ' b');
  assert.deepEqual(plain, { id: 1, text: 'a' });
  assert.equal(wide.lens[0].top.length, 7, 'the input is not changed');
  assert.equal(lens.trimLens([token])[0], token, 'a lens within the limit is passed through');
});

// GLTR's histograms (rank buckets with adjustable thresholds, frac(p), entropy): counts computed by hand.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModule } from './bundle.mjs';

const h = await loadModule('src/analysis/gltrHistograms.ts');
const counts = (hist) => hist.bins.map((b) => b.count);

test('rank buckets follow the thresholds the user sets', () => {
  const tokens = [1, 3, 5, 6, 20, 150, 2000].map((rank) => ({ rank }));
  assert.deepEqual(h.rankHistogram(tokens, h.DEFAULT_THRESHOLDS), { top10: 4, top100: 1, top1000: 1, beyond: 1 });
  const t = { top10: 5, top100: 100, top1000: 1000 };
  assert.deepEqual(h.rankHistogram(tokens, t), { top10: 3, top100: 2, top1000: 1, beyond: 1 });
  assert.equal(h.bucketOf(5, t), 'top10');
  assert.equal(h.bucketOf(6, t), 'top100');
  assert.equal(h.bucketOf(1001, t), 'beyond');
  assert.deepEqual(h.rankHistogram(tokens, { top10: 1, top100: 2, top1000: 3 }), { top10: 1, top100: 0, top1000: 1, beyond: 5 });
  assert.deepEqual(h.bucketLabels(t), { top10: 'rank ≤ 5', top100: '6–100', top1000: '101–1000', beyond: '> 1000' });
});

test('thresholds are made whole, at least 1 and strictly increasing', () => {
  assert.deepEqual(h.normalizeThresholds(undefined), { top10: 10, top100: 100, top1000: 1000 });
  assert.deepEqual(h.normalizeThresholds({ top10: 50, top100: 20, top1000: 'x' }), { top10: 50, top100: 51, top1000: 1000 });
  assert.deepEqual(h.normalizeThresholds({ top10: 0, top100: 2.7, top1000: 3 }), { top10: 1, top100: 2, top1000: 3 });
  assert.deepEqual(h.normalizeThresholds({ top10: 5, top100: 5, top1000: 5 }), { top10: 5, top100: 6, top1000: 7 });
  assert.deepEqual(h.normalizeThresholds({ top10: NaN, top100: Infinity, top1000: -4 }), { top10: 10, top100: 100, top1000: 101 });
});

test('frac(p) = p(chosen) / p(top-1) in ten bins over 0..1', () => {
  const top1 = [{ id: 0, text: 'a', prob: 0.6 }];
  const tokens = [
    { rank: 1, prob: 0.6, top: top1 }, // 1 → last bin
    { rank: 2, prob: 0.3, top: top1 }, // 0.5 → bin 5
    { rank: 3, prob: 0.15, top: top1 }, // 0.25 → bin 2
    { rank: 9, prob: 0.03, top: top1 }, // 0.05 → bin 0
    { rank: 1, prob: 0.9, top: [] }, // the top token without alternatives: 1
    { rank: 5, prob: 0.1, top: [] }, // no top-1 probability: skipped
  ];
  const hist = h.fracPHistogram(tokens);
  assert.deepEqual(counts(hist), [1, 0, 1, 0, 0, 1, 0, 0, 0, 2]);
  assert.equal(hist.skipped, 1);
  assert.equal(hist.bins[0].from, 0);
  assert.equal(hist.bins[9].to, 1);
  // 0.3 lands in [0.3, 0.4), not one bin low (0.3 / 0.1 is 2.999… in floating point).
  assert.deepEqual(counts(h.fracPHistogram([{ rank: 2, prob: 0.3, top: [{ id: 0, text: 'a', prob: 1 }] }])), [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
});

test('entropy bins span the observed range', () => {
  const hist = h.entropyHistogram([0.5, 1.0, 1.5, 2.5, 2.5, NaN].map((entropy) => ({ entropy })), 4);
  assert.deepEqual(counts(hist), [1, 1, 1, 2]);
  assert.deepEqual(hist.bins.map((b) => [b.from, b.to]), [[0.5, 1], [1, 1.5], [1.5, 2], [2, 2.5]]);
  assert.equal(hist.skipped, 1);
  const flat = h.entropyHistogram([{ entropy: 2 }, { entropy: 2 }], 2);
  assert.deepEqual(counts(flat), [2, 0]);
  assert.deepEqual(flat.bins.map((b) => [b.from, b.to]), [[2, 2.5], [2.5, 3]]);
  assert.deepEqual(h.entropyHistogram([]), { bins: [], skipped: 0 });
});

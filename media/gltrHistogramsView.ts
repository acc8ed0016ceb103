/**
 * GLTR's three histograms as small bar charts (webview side): tokens per rank bucket in the
 * buckets' colours, frac(p) = p(chosen) / p(top-1), and the entropy of each step. The counting is
 * in src/analysis/gltrHistograms.ts; this file only draws.
 *
 * For tests: `[data-testid=gltr-histograms]` holds `[data-testid=hist-rank|hist-frac|hist-entropy]`,
 * each with `[data-testid=hist-bar][data-count][data-from][data-to]` (rank bars: `[data-bucket]`).
 */
import { RANK_BUCKETS } from '../src/analysis/gltr';
import { bucketLabels, entropyHistogram, fracPHistogram, rankHistogram, type Bin, type RankThresholds } from '../src/analysis/gltrHistograms';
import type { TokenTrace } from '../src/inference/protocol';
import { el } from './vscodeApi';

interface Bar {
  readonly label: string;
  readonly count: number;
  readonly title: string;
  readonly className?: string;
  readonly data: Record<string, string | number>;
}

function chart(testId: string, heading: string, axis: string, bars: readonly Bar[], note?: string): HTMLElement {
  const max = Math.max(1, ...bars.map((b) => b.count));
  const plot = el('div', { class: 'hist-plot', role: 'img', 'aria-label': `${heading}: ${bars.map((b) => `${b.label} ${b.count}`).join(', ')}` });
  for (const b of bars) {
    const bar = el('div', { class: `hist-bar${b.className ? ` ${b.className}` : ''}` });
    bar.style.height = `${(100 * b.count) / max}%`;
    const attrs: Record<string, string | number> = { class: 'hist-col', 'data-testid': 'hist-bar', 'data-count': b.count, title: b.title };
    for (const [k, v] of Object.entries(b.data)) attrs[`data-${k}`] = v;
    plot.append(el('div', attrs, el('span', { class: 'hist-count', text: String(b.count) }), el('div', { class: 'hist-track' }, bar)));
  }
  const labels = el('div', { class: 'hist-labels', 'aria-hidden': 'true' });
  for (const b of bars) labels.append(el('span', { text: b.label }));
  return el('figure', { class: 'hist', 'data-testid': testId }, el('figcaption', { text: heading }), plot, labels, el('div', { class: 'muted hist-axis', text: note ? `${axis} · ${note}` : axis }));
}

const fmt = (v: number, digits: number): string => v.toFixed(digits);

/** Bars labelled by where each bin starts (one decimal fits under a narrow bar; the title has two). */
function binBars(bins: readonly Bin[], unit: string): Bar[] {
  return bins.map((b, i) => ({
    label: fmt(b.from, 1),
    count: b.count,
    title: `${fmt(b.from, 2)}${unit} ≤ x ${i === bins.length - 1 ? '≤' : '<'} ${fmt(b.to, 2)}${unit}: ${b.count} token${b.count === 1 ? '' : 's'}`,
    data: { from: fmt(b.from, 4), to: fmt(b.to, 4) },
  }));
}

export function renderHistograms(tokens: readonly TokenTrace[], thresholds: RankThresholds): HTMLElement {
  const counts = rankHistogram(tokens, thresholds);
  const labels = bucketLabels(thresholds);
  const rankBars: Bar[] = RANK_BUCKETS.map(({ bucket }) => ({
    label: labels[bucket],
    count: counts[bucket],
    title: `${labels[bucket]}: ${counts[bucket]} token${counts[bucket] === 1 ? '' : 's'}`,
    className: `b-${bucket}`,
    data: { bucket },
  }));
  const frac = fracPHistogram(tokens);
  const entropy = entropyHistogram(tokens);
  return el(
    'div',
    { class: 'histograms', 'data-testid': 'gltr-histograms', role: 'group', 'aria-label': 'GLTR histograms' },
    chart('hist-rank', 'Tokens per rank bucket', 'rank of the token that came', rankBars),
    chart('hist-frac', 'frac(p) = p(token) / p(top-1)', '0 (the model thought little of it) … 1 (its favourite)', binBars(frac.bins, ''), frac.skipped ? `${frac.skipped} without a top-1 probability` : undefined),
    entropy.bins.length
      ? chart('hist-entropy', 'Entropy of each step', 'nats, over the observed range', binBars(entropy.bins, ' nats'), entropy.skipped ? `${entropy.skipped} not finite` : undefined)
      : el('figure', { class: 'hist', 'data-testid': 'hist-entropy' }, el('figcaption', { text: 'Entropy of each step' }), el('p', { class: 'muted', text: 'No finite entropies.' })),
  );
}

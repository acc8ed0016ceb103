/**
 * The logit lens view (webview side), as the logit-lens notebooks draw it: layers as rows (the last
 * layer, the model's own output, at the top), tokens as columns, each cell the layer's top-1 token
 * coloured by its probability. Hovering a cell shows where the token that came stands in that layer
 * and the layer's top 5; the selected token's column is highlighted and its rank per layer is drawn
 * below. Only the columns in view are in the DOM, so long texts scroll sideways cheaply.
 *
 * For tests: `[data-testid=logit-lens][data-sequence][data-layers][data-columns][data-drawn-columns][data-selected]`,
 * `[data-testid=lens-cell][data-index][data-layer][data-rank][data-top1]`, `[data-testid=lens-head]`,
 * `[data-testid=lens-detail][data-index]`, `[data-testid=lens-legend]`, `[data-testid=lens-tooltip]`,
 * `[data-testid=lens-unavailable]`.
 */
import { displayToken, formatProb } from '../src/analysis/gltr';
import { rampColor } from '../src/analysis/heatmap';
import { LENS_TOP, lensCell, lensCellColors, lensLayerCount, rankByLayer, settledLayer, visibleColumns } from '../src/analysis/logitLens';
import type { TokenTrace } from '../src/inference/protocol';
import { el } from './vscodeApi';

const COL_W = 72;
const ROW_H = 22;
const SVG_NS = 'http://www.w3.org/2000/svg';

export interface LensViewOptions {
  readonly tokens: readonly TokenTrace[];
  /** Which tokens these are (`text`, `branch at token 12`) and the id of their sequence. */
  readonly title: string;
  readonly sequenceId: number;
  readonly selected: number;
  readonly scrollLeft: number;
  /** The user picked a column (click, arrow keys). */
  readonly onSelect: (index: number) => void;
  readonly onScroll: (scrollLeft: number) => void;
}

/** Shown instead of the grid: why there is no lens. */
export function lensUnavailableNotice(reason: string): HTMLElement {
  return el('section', { class: 'lens', 'data-testid': 'lens-unavailable' }, el('h2', { text: 'Logit lens' }), el('p', { class: 'muted', text: `Logit lens unavailable: ${reason}` }));
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, ...children: (Node | string)[]): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

/** The chosen token's rank after each layer: a line on a log scale, rank 1 at the top. */
function rankChart(token: TokenTrace): SVGSVGElement {
  const series = rankByLayer(token);
  const w = 320;
  const h = 130;
  const pad = { l: 44, r: 10, t: 10, b: 22 };
  const maxRank = Math.max(10, ...series.map((s) => s.rank));
  const top = Math.log10(maxRank);
  const x = (i: number): number => pad.l + (series.length > 1 ? (i * (w - pad.l - pad.r)) / (series.length - 1) : (w - pad.l - pad.r) / 2);
  const y = (rank: number): number => pad.t + (Math.log10(Math.max(1, rank)) / top) * (h - pad.t - pad.b);
  const chart = svg('svg', { class: 'lens-chart', width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: 'img', 'aria-label': `Rank per layer: ${series.map((s) => `layer ${s.layer} rank ${s.rank}`).join(', ')}` });
  chart.append(
    svg('line', { class: 'axis', x1: pad.l, y1: pad.t, x2: pad.l, y2: h - pad.b }),
    svg('line', { class: 'axis', x1: pad.l, y1: h - pad.b, x2: w - pad.r, y2: h - pad.b }),
    svg('text', { x: pad.l - 4, y: y(1) + 4, 'text-anchor': 'end' }, 'rank 1'),
    svg('text', { x: pad.l - 4, y: y(maxRank) + 4, 'text-anchor': 'end' }, String(maxRank)),
  );
  if (series.length) chart.append(svg('polyline', { class: 'series', points: series.map((s, i) => `${x(i)},${y(s.rank)}`).join(' ') }));
  series.forEach((s, i) => {
    chart.append(svg('circle', { class: s.rank === 1 ? 'hit' : 'miss', cx: x(i), cy: y(s.rank), r: 3.5 }, svg('title', {}, `layer ${s.layer}: rank ${s.rank}, p ${formatProb(s.prob)}`)));
    if (series.length <= 16 || i === 0 || i === series.length - 1) chart.append(svg('text', { x: x(i), y: h - 6, 'text-anchor': 'middle' }, `L${s.layer}`));
  });
  return chart;
}

/** The colour scale of the cells: the top-1 probability from 0 to 1. */
function legend(): HTMLElement {
  const bar = el('span', { class: 'ramp', 'aria-hidden': 'true' });
  const stops = [0, 0.25, 0.5, 0.75, 1].map((p) => `rgb(${rampColor(p).join(', ')}) ${p * 100}%`);
  bar.style.background = `linear-gradient(to right, ${stops.join(', ')})`;
  return el('div', { class: 'legend', 'data-testid': 'lens-legend', 'aria-label': 'Colour scale: probability of the top-1 token of the layer, 0 to 1' }, el('span', { text: 'top-1 probability' }), el('span', { text: '0' }), bar, el('span', { text: '1' }), el('span', { class: 'muted', text: '· bold outline: the layer’s top-1 is the token that came' }));
}

export class LogitLensView {
  readonly element: HTMLElement;
  private readonly scroll: HTMLElement;
  private readonly canvas: HTMLElement;
  private readonly detail: HTMLElement;
  private readonly tooltip: HTMLElement;
  private readonly layers: number;
  private readonly resize: ResizeObserver;
  private drawn = { start: -1, end: -1 };
  private selected: number;

  constructor(private readonly o: LensViewOptions) {
    this.layers = lensLayerCount(o.tokens);
    this.selected = Math.max(0, Math.min(o.tokens.length - 1, o.selected));
    const labels = el('div', { class: 'lens-labels', 'aria-hidden': 'true' }, el('div', { class: 'lens-label head', text: 'token →' }));
    for (let row = 0; row < this.layers; row++) {
      const layer = this.layerAtRow(row);
      labels.append(el('div', { class: 'lens-label', text: row === 0 ? `L${layer} output` : `L${layer}` }));
    }
    this.canvas = el('div', { class: 'lens-canvas' });
    this.canvas.style.width = `${o.tokens.length * COL_W}px`;
    this.canvas.style.height = `${(this.layers + 1) * ROW_H}px`;
    this.scroll = el('div', { class: 'lens-scroll', tabindex: 0, role: 'group', 'aria-label': 'Logit lens grid: left and right arrows select a token' }, this.canvas);
    this.detail = el('div', { class: 'lens-detail', 'data-testid': 'lens-detail', 'aria-live': 'polite' });
    this.tooltip = el('div', { class: 'tooltip lens-tooltip', role: 'tooltip', 'data-testid': 'lens-tooltip', hidden: true });
    this.element = el(
      'section',
      { class: 'lens', 'data-testid': 'logit-lens', 'data-sequence': o.sequenceId, 'data-layers': this.layers, 'data-columns': o.tokens.length, 'data-drawn-columns': 0, 'data-selected': this.selected },
      el('h2', { text: `Logit lens: ${o.title}` }),
      el('p', { class: 'muted', text: 'What the model would predict if it stopped after each layer: rows are layers (the last, the model’s own output, at the top), columns the tokens; each cell is the layer’s most probable token.' }),
      legend(),
      el('div', { class: 'lens-grid' }, labels, this.scroll),
      this.detail,
      this.tooltip,
    );
    this.scroll.addEventListener('scroll', () => {
      this.o.onScroll(this.scroll.scrollLeft);
      this.draw();
    });
    this.scroll.addEventListener('click', (e) => {
      const cell = (e.target as HTMLElement).closest<HTMLElement>('[data-index]');
      if (cell) this.o.onSelect(Number(cell.dataset.index));
    });
    this.scroll.addEventListener('keydown', (e) => {
      const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : e.key === 'End' ? Infinity : e.key === 'Home' ? -Infinity : 0;
      if (!step) return;
      e.preventDefault();
      this.o.onSelect(Math.max(0, Math.min(this.o.tokens.length - 1, this.selected + step)));
    });
    this.canvas.addEventListener('mouseover', (e) => {
      const cell = (e.target as HTMLElement).closest<HTMLElement>('[data-testid=lens-cell]');
      if (cell) this.showTooltip(cell);
    });
    this.canvas.addEventListener('mouseleave', () => (this.tooltip.hidden = true));
    this.resize = new ResizeObserver(() => this.draw());
    this.resize.observe(this.scroll);
    this.renderDetail();
  }

  /** Row 0 is the last layer. */
  private layerAtRow(row: number): number {
    const entry = this.o.tokens.find((t) => t.lens?.length === this.layers)?.lens?.[this.layers - 1 - row];
    return entry?.layer ?? this.layers - 1 - row;
  }

  /** Call once the element is in the document (its width is known then). */
  attach(): void {
    this.scroll.scrollLeft = this.o.scrollLeft;
    this.draw(true);
    this.reveal(this.selected);
  }

  dispose(): void {
    this.resize.disconnect();
  }

  select(index: number): void {
    this.selected = Math.max(0, Math.min(this.o.tokens.length - 1, index));
    this.element.dataset.selected = String(this.selected);
    this.canvas.querySelectorAll('.sel').forEach((n) => n.classList.remove('sel'));
    this.canvas.querySelectorAll(`[data-index="${this.selected}"]`).forEach((n) => n.classList.add('sel'));
    this.renderDetail();
    this.reveal(this.selected);
  }

  /** Scrolls the column into view when it is not. */
  private reveal(index: number): void {
    const left = index * COL_W;
    const view = this.scroll.clientWidth;
    if (view <= 0) return;
    if (left < this.scroll.scrollLeft) this.scroll.scrollLeft = left;
    else if (left + COL_W > this.scroll.scrollLeft + view) this.scroll.scrollLeft = left + COL_W - view;
  }

  private draw(force = false): void {
    const range = visibleColumns(this.scroll.scrollLeft, this.scroll.clientWidth, COL_W, this.o.tokens.length);
    if (!force && range.start === this.drawn.start && range.end === this.drawn.end) return;
    this.drawn = range;
    const frag = document.createDocumentFragment();
    for (let i = range.start; i < range.end; i++) {
      const token = this.o.tokens[i]!;
      const head = el('div', { class: `lens-head${i === this.selected ? ' sel' : ''}`, 'data-testid': 'lens-head', 'data-index': i, title: `token ${i + 1}: ${JSON.stringify(token.text)}`, text: displayToken(token.text) });
      this.place(head, i, 0);
      frag.append(head);
      for (let row = 0; row < this.layers; row++) {
        const cell = lensCell(token, this.layers - 1 - row);
        const node = el('div', {
          class: `lens-cell${cell?.hit ? ' hit' : ''}${i === this.selected ? ' sel' : ''}`,
          'data-testid': 'lens-cell',
          'data-index': i,
          'data-layer': cell?.layer ?? '',
          'data-rank': cell?.rank ?? '',
          'data-top1': cell?.top1?.text ?? '',
          text: cell?.top1 ? displayToken(cell.top1.text) : '',
        });
        if (cell) {
          const colors = lensCellColors(cell.top1?.prob ?? 0);
          node.style.backgroundColor = colors.background;
          node.style.color = colors.foreground;
        }
        this.place(node, i, row + 1);
        frag.append(node);
      }
    }
    this.canvas.replaceChildren(frag);
    this.element.dataset.drawnColumns = String(range.end - range.start);
  }

  private place(node: HTMLElement, column: number, row: number): void {
    node.style.left = `${column * COL_W}px`;
    node.style.top = `${row * ROW_H}px`;
  }

  private showTooltip(node: HTMLElement): void {
    const token = this.o.tokens[Number(node.dataset.index)];
    const entry = token?.lens?.find((e) => String(e.layer) === node.dataset.layer);
    if (!token || !entry) {
      this.tooltip.hidden = true;
      return;
    }
    const list = el('ol', { 'aria-label': `Top 5 after layer ${entry.layer}` });
    for (const alt of entry.top.slice(0, LENS_TOP)) {
      const bar = el('div', { class: 'bar' });
      bar.style.width = `${Math.max(1, Math.round(alt.prob * 100))}%`;
      list.append(el('li', { class: alt.id === token.id ? 'actual' : undefined }, el('span', { text: JSON.stringify(alt.text) }), el('span', { text: formatProb(alt.prob) }), bar));
    }
    this.tooltip.replaceChildren(
      el('div', { text: `Layer ${entry.layer}${entry.layer === this.layerAtRow(0) ? ' (output)' : ''}` }),
      el('div', { class: 'stats' }, el('span', { class: 'muted', text: `${JSON.stringify(token.text)} rank` }), el('span', { 'data-testid': 'lens-tooltip-rank', text: String(entry.rank) }), el('span', { class: 'muted', text: 'probability' }), el('span', { text: formatProb(entry.prob) })),
      list,
    );
    this.tooltip.hidden = false;
    const r = node.getBoundingClientRect();
    const w = this.tooltip.offsetWidth;
    const h = this.tooltip.offsetHeight;
    this.tooltip.style.left = `${Math.max(4, Math.min(window.innerWidth - w - 4, r.left))}px`;
    this.tooltip.style.top = `${r.bottom + 4 + h > window.innerHeight ? Math.max(4, r.top - h - 4) : r.bottom + 4}px`;
  }

  private renderDetail(): void {
    const token = this.o.tokens[this.selected];
    this.detail.dataset.index = String(this.selected);
    if (!token) {
      this.detail.replaceChildren();
      return;
    }
    const settled = settledLayer(token);
    const last = token.lens?.[token.lens.length - 1];
    // Each layer's top tokens as text too: what the cells' tooltips show, for the keyboard and screen readers.
    const layers = el('ol', { class: 'lens-layers', reversed: true, 'aria-label': 'Top tokens per layer, last layer first' });
    for (const e of [...(token.lens ?? [])].reverse()) {
      layers.append(el('li', { value: e.layer }, el('span', { class: 'muted', text: `L${e.layer}: rank ${e.rank} · ` }), e.top.slice(0, LENS_TOP).map((a) => `${JSON.stringify(a.text)} ${formatProb(a.prob)}`).join(', ')));
    }
    this.detail.replaceChildren(
      el('div', {}, el('b', { text: `Token ${this.selected + 1}: ${JSON.stringify(token.text)}` }), el('span', { class: 'muted', text: last ? ` · rank ${last.rank} at the output · ${settled === undefined ? 'never the top-1 through the last layer' : `the top-1 from layer ${settled} on`}` : ' · no lens for this token' })),
      el('div', { class: 'lens-detail-body' }, rankChart(token), layers),
    );
  }
}

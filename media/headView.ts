/**
 * bertviz's head view: the query tokens in a left column, the key tokens in a right one, and lines
 * between them for one layer, one colour per head, each line as strong (opacity and width) as that
 * head's attention. Hovering a query token shows its lines; clicking (or Enter) keeps it chosen; a
 * short text with none chosen shows every token's lines, as bertviz does. Colour swatches toggle
 * heads (double-click: only that head), a selector picks the layer.
 *
 * DOM for tests: `[data-testid=head-view][data-layer][data-query][data-line-count]`,
 * `[data-testid=head-swatch][data-head][aria-pressed]`, `[data-testid=head-view-layer]`,
 * `[data-testid=head-view-query][data-index]`, `[data-testid=head-view-key][data-index]`.
 */
import { headColour, headViewLines } from '../src/analysis/headView';
import type { Matrix } from '../src/analysis/heatmap';
import type { TokenLabel } from '../src/analysis/tokenLabels';
import { el } from './vscodeApi';

export interface HeadViewModel {
  /** The layers × heads × queries × keys weights. */
  readonly weights: readonly (readonly Matrix[])[];
  readonly layer: number;
  /** The heads drawn. */
  readonly heads: readonly number[];
  /** The chosen query token; undefined: none (all tokens' lines for a short text, else the last). */
  readonly query?: number;
  readonly queryLabels: readonly TokenLabel[];
  readonly keyLabels: readonly TokenLabel[];
  readonly queryTitle: string;
  readonly keyTitle: string;
}

export interface HeadViewCallbacks {
  onLayer(layer: number): void;
  onHeads(heads: number[]): void;
  onQuery(query: number | undefined): void;
}

/** Up to this many tokens, every token's lines are drawn while none is chosen (as bertviz does). */
export const ALL_LINES_UP_TO = 48;
const ROW = 18;
const GAP = 140;

/** `scrollTop`: where the token columns were scrolled in the view this one replaces, if any. */
export function headView(model: HeadViewModel, callbacks: HeadViewCallbacks, scrollTop?: number): HTMLElement {
  const layers = model.weights.length;
  const headCount = model.weights[0]?.length ?? 0;
  const queries = model.queryLabels.length;
  const keys = model.keyLabels.length;
  const shown = new Set(model.heads);

  const select = el('select', { 'data-testid': 'head-view-layer', 'aria-label': 'Layer' });
  for (let l = 0; l < layers; l++) select.append(el('option', { value: l, text: `Layer ${l + 1}`, selected: l === model.layer }));
  select.addEventListener('change', () => callbacks.onLayer(Number(select.value)));

  const swatches = el('div', { class: 'swatches', role: 'group', 'aria-label': 'Heads shown' });
  for (let h = 0; h < headCount; h++) {
    const swatch = el('button', {
      class: 'head-swatch',
      'data-testid': 'head-swatch',
      'data-head': h,
      'aria-pressed': String(shown.has(h)),
      title: `Head ${h + 1}: click to show or hide, double-click to show only this head`,
      text: `H${h + 1}`,
    });
    swatch.style.setProperty('--swatch', headColour(h));
    swatches.append(swatch);
  }
  if (headCount > 1) swatches.append(el('button', { 'data-testid': 'head-swatch-all', 'data-all': 'true', text: 'All' }));
  let clickTimer: ReturnType<typeof setTimeout> | undefined;
  swatches.addEventListener('click', (e) => {
    const target = e.target as HTMLElement;
    if (target.closest('[data-all]')) return callbacks.onHeads(Array.from({ length: headCount }, (_, i) => i));
    const h = Number(target.closest<HTMLElement>('[data-head]')?.dataset.head ?? NaN);
    if (Number.isNaN(h)) return;
    // A double-click shows only this head; wait for it before toggling.
    clearTimeout(clickTimer);
    if (e.detail > 1) return callbacks.onHeads([h]);
    clickTimer = setTimeout(() => {
      const next = shown.has(h) ? model.heads.filter((x) => x !== h) : [...model.heads, h].sort((a, b) => a - b);
      callbacks.onHeads(next);
    }, 220);
  });

  const column = (labels: readonly TokenLabel[], side: 'query' | 'key'): HTMLElement => {
    const col = el('div', { class: `hv-col ${side}`, role: side === 'query' ? 'listbox' : undefined, 'aria-label': side === 'query' ? model.queryTitle : model.keyTitle, tabindex: side === 'query' ? 0 : undefined });
    labels.forEach((l, i) =>
      col.append(
        el('span', {
          class: 'hv-token',
          'data-testid': `head-view-${side}`,
          'data-index': i,
          role: side === 'query' ? 'option' : undefined,
          'aria-selected': side === 'query' ? String(i === model.query) : undefined,
          title: l.title,
          text: l.text,
        }),
      ),
    );
    return col;
  };
  const left = column(model.queryLabels, 'query');
  const right = column(model.keyLabels, 'key');
  const height = Math.max(queries, keys) * ROW;
  const canvas = el('canvas', { class: 'hv-lines', 'aria-hidden': 'true' });
  const dpr = window.devicePixelRatio || 1;
  canvas.width = GAP * dpr;
  canvas.height = Math.max(1, height * dpr);
  canvas.style.width = `${GAP}px`;
  canvas.style.height = `${height}px`;
  const root = el(
    'section',
    { class: 'head-view', 'data-testid': 'head-view', 'data-layer': model.layer, 'aria-label': 'Head view' },
    el('h2', { text: 'Head view' }),
    el('div', { class: 'toolbar' }, select, swatches),
    el('div', { class: 'hv-titles' }, el('span', { text: model.queryTitle }), el('span', { text: model.keyTitle })),
    el('div', { class: 'hv-body' }, el('div', { class: 'hv-inner' }, left, canvas, right)),
  );

  const defaultQueries = (): number[] => {
    if (model.query !== undefined) return [model.query];
    if (queries <= ALL_LINES_UP_TO) return Array.from({ length: queries }, (_, i) => i);
    return queries ? [queries - 1] : [];
  };
  const draw = (qs: number[]): void => {
    const ctx = canvas.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, GAP, height);
    const lines = headViewLines(model.weights[model.layer] ?? [], model.heads, qs);
    // With every token's lines drawn, each is fainter, as in bertviz.
    const strength = qs.length > 1 ? 0.6 : 1;
    for (const line of lines) {
      ctx.strokeStyle = headColour(line.head);
      ctx.globalAlpha = Math.min(1, line.weight * strength);
      ctx.lineWidth = 1 + 2.5 * line.weight;
      ctx.beginPath();
      ctx.moveTo(2, line.query * ROW + ROW / 2);
      ctx.lineTo(GAP - 2, line.key * ROW + ROW / 2);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    root.dataset.query = qs.length === 1 ? String(qs[0]) : 'all';
    root.dataset.lineCount = String(lines.length);
    for (const t of left.children) (t as HTMLElement).classList.toggle('active', qs.length === 1 && Number((t as HTMLElement).dataset.index) === qs[0]);
    // The keys of a single query are tinted by their strongest shown head's weight.
    const tint = new Map<number, { weight: number; head: number }>();
    if (qs.length === 1) for (const l of lines) if ((tint.get(l.key)?.weight ?? 0) < l.weight) tint.set(l.key, { weight: l.weight, head: l.head });
    for (const t of right.children) {
      const span = t as HTMLElement;
      const w = tint.get(Number(span.dataset.index));
      span.style.setProperty('--hv-tint', w ? headColour(w.head) : 'transparent');
      span.style.setProperty('--hv-alpha', w ? String(Math.round(w.weight * 100)) + '%' : '0%');
    }
  };
  const initial = defaultQueries();
  draw(initial);
  // A re-render keeps the columns where they were; a new view brings the chosen (or the last)
  // token of a long text, which may be far down, into view.
  const body = root.querySelector<HTMLElement>('.hv-body')!;
  if (scrollTop !== undefined) requestAnimationFrame(() => (body.scrollTop = scrollTop));
  else if (initial.length === 1) requestAnimationFrame(() => (body.scrollTop = Math.max(0, initial[0]! * ROW - body.clientHeight / 2)));

  left.addEventListener('mouseover', (e) => {
    const i = (e.target as HTMLElement).closest<HTMLElement>('[data-index]')?.dataset.index;
    if (i !== undefined) draw([Number(i)]);
  });
  left.addEventListener('mouseleave', () => draw(defaultQueries()));
  left.addEventListener('click', (e) => {
    const i = (e.target as HTMLElement).closest<HTMLElement>('[data-index]')?.dataset.index;
    if (i === undefined) return;
    callbacks.onQuery(Number(i) === model.query ? undefined : Number(i));
  });
  left.addEventListener('keydown', (e) => {
    const current = model.query ?? -1;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const next = Math.min(queries - 1, Math.max(0, current + (e.key === 'ArrowDown' ? 1 : -1)));
      callbacks.onQuery(next);
    } else if (e.key === 'Escape') callbacks.onQuery(undefined);
  });
  return root;
}

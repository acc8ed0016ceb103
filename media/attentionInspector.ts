/**
 * Attention inspector (webview side): tabs per attention kind, a layer × head grid of small
 * heatmaps (plus the average of each layer's heads when there are several), the selected head as
 * a large heatmap (see heatmapView.ts) with the average's rollout as an option, bertviz's head view
 * beside it (headView.ts), a step slider that walks through the queries (generation steps), and
 * PNG / JSON export.
 *
 * For tests the DOM carries: `#attention-panel[data-state][data-map-count][data-kind][data-layers]
 * [data-heads][data-queries][data-keys][data-thumb-count][data-render-ms]`, `[data-testid=tab-<kind>]`,
 * `[data-testid=head-thumb][data-layer][data-head]`, `[data-testid=layer-average]`,
 * `[data-testid=rollout]`, `[data-testid=heatmap]` (heatmapView.ts), `[data-testid=head-view]`
 * (headView.ts), `[data-testid=step-slider]`, `[data-testid=export-png]`, `[data-testid=export-json]`.
 * `data-render-ms` is the time from receiving the maps to the first frame painted with them,
 * `data-complete-ms` until the grid's thumbnails are painted too (`data-thumbnails="painted"`).
 */
import type { AttentionKind } from '../src/inference/protocol';
import { attentionRollout, rolloutApplies } from '../src/analysis/attentionRollout';
import { mapShape, matrixMax, matrixToRgba, maxPool, selectMatrix, type Matrix } from '../src/analysis/heatmap';
import { nestedMap, unpackMap, type AttentionMatrices } from '../src/analysis/packedAttention';
import { tokenLabels, type TokenLabel } from '../src/analysis/tokenLabels';
import { isAttentionHostMessage, isAttentionPanelData, type AttentionPanelData, type AttentionWebviewMessage } from '../src/webviews/messages';
import { heatmapPng } from './heatmapPng';
import { HeatmapView } from './heatmapView';
import { headView } from './headView';
import { el, vscodeApi } from './vscodeApi';

interface View {
  readonly mapIndex: number;
  readonly layer: number;
  readonly head: number | 'avg';
  /** With `head` 'avg': the rollout through the layer instead of the layer's average. */
  readonly rollout?: boolean;
  /** Query rows shown (the step); undefined: all. */
  readonly step?: number;
  readonly cell?: { readonly q: number; readonly k: number };
  /** Pixels per token of the large heatmap; undefined: fit to width. */
  readonly zoom?: number;
  /** Heads drawn in the head view; undefined: all. */
  readonly headViewHeads?: readonly number[];
  /** The query token chosen in the head view. */
  readonly headViewQuery?: number;
}

interface PanelState {
  /** Kept only when small enough to store; otherwise the host sends it again. */
  readonly data?: AttentionPanelData;
  readonly view: View;
}

/** What the panel shows: the maps readable as nested rows (views of the packed weights, or restored arrays). */
type Shown = Omit<AttentionPanelData, 'maps'> & { readonly maps: readonly AttentionMatrices[] };

/** Thumbnails are drawn at most this many pixels a side (44 CSS px at up to 2× device pixels). */
const THUMB_PIXELS = 88;

/** Above this many weights the data is not stored in the webview state (the host resends it while it lives). */
const MAX_STORED_WEIGHTS = 400_000;

const KIND_LABEL: Record<AttentionKind, string> = {
  self: 'Self-attention',
  encoder: 'Encoder self-attention',
  decoder: 'Decoder self-attention',
  cross: 'Cross-attention',
  alignment: 'RNN alignment',
};

/** What each axis is, per kind: queries attend, keys are attended to. */
const AXIS_TITLES: Record<AttentionKind, { rows: string; cols: string }> = {
  self: { rows: 'query (attending)', cols: 'key (attended to)' },
  encoder: { rows: 'query (attending)', cols: 'key (attended to)' },
  decoder: { rows: 'query (attending)', cols: 'key (attended to)' },
  cross: { rows: 'target (attending)', cols: 'source (attended to)' },
  alignment: { rows: 'target (output token)', cols: 'source (attended to)' },
};

const api = vscodeApi<AttentionWebviewMessage, PanelState>();
const root = document.getElementById('attention-panel')!;
const saved = api.getState();
let data: Shown | undefined = saved && isAttentionPanelData(saved.data) ? saved.data : undefined;
/** `data` as plain arrays for the saved state, when small enough to keep there. */
let stored: AttentionPanelData | undefined = saved && isAttentionPanelData(saved.data) ? saved.data : undefined;
let view: View = saved?.view ?? { mapIndex: 0, layer: 0, head: 'avg' };
let playTimer: ReturnType<typeof setInterval> | undefined;
let heatmap: HeatmapView | undefined;
/** Averages, rollouts and thumbnails of the current data, computed once. */
let matrices = new Map<string, Matrix>();
let thumbnails = new Map<string, HTMLCanvasElement>();
let labels = new Map<string, { query: TokenLabel[]; key: TokenLabel[] }>();

function weightCount(d: Shown): number {
  let n = 0;
  for (const m of d.maps) {
    const s = mapShape(m);
    n += s.layers * s.heads * s.queries * s.keys;
  }
  return n;
}

function save(): void {
  api.setState({ data: stored, view });
}

function currentMap(): AttentionMatrices | undefined {
  return data?.maps[view.mapIndex];
}

/** The view a new inspection opens on: cross-attention for a Seq2Seq run, a lone head itself. */
function initialView(d: Shown): View {
  const cross = d.maps.findIndex((m) => m.kind === 'cross');
  const mapIndex = cross >= 0 ? cross : 0;
  const map = d.maps[mapIndex];
  return { mapIndex, layer: 0, head: map && mapShape(map).heads === 1 ? 0 : 'avg' };
}

function clampView(): void {
  const map = currentMap();
  if (!map) {
    view = { mapIndex: 0, layer: 0, head: 'avg' };
    return;
  }
  const s = mapShape(map);
  const layer = Math.min(Math.max(0, view.layer), s.layers - 1);
  // One head: that head, no average.
  const head = s.heads === 1 ? 0 : view.head === 'avg' || view.head < s.heads ? view.head : 'avg';
  const step = view.step === undefined ? undefined : Math.min(Math.max(1, view.step), s.queries);
  const cell = view.cell && view.cell.q < s.queries && view.cell.k < s.keys ? view.cell : undefined;
  const rollout = head === 'avg' && view.rollout === true && rolloutApplies(map);
  const headViewHeads = view.headViewHeads?.filter((h) => h < s.heads);
  const headViewQuery = view.headViewQuery !== undefined && view.headViewQuery < s.queries ? view.headViewQuery : undefined;
  view = { ...view, layer, head, step, cell, rollout, headViewHeads, headViewQuery };
}

function forgetComputed(): void {
  pendingThumbnails = [];
  matrices = new Map();
  thumbnails = new Map();
  labels = new Map();
}

function matrixOf(map: AttentionMatrices, layer: number, head: number | 'avg', rollout = false): Matrix {
  if (typeof head === 'number') return selectMatrix(map, layer, head);
  const key = `${view.mapIndex}:${layer}:${rollout ? 'rollout' : 'avg'}`;
  let m = matrices.get(key);
  if (!m) matrices.set(key, (m = rollout ? attentionRollout(map.weights, layer) : selectMatrix(map, layer, 'avg')));
  return m;
}

/** The texts the tokens of each axis spell, to label byte-level tokens that split a character. */
function labelsOf(map: AttentionMatrices): { query: TokenLabel[]; key: TokenLabel[] } {
  const key = String(view.mapIndex);
  let l = labels.get(key);
  if (!l) {
    const source = data?.sourceText;
    const target = data?.targetText;
    const queryText = map.kind === 'encoder' ? source : target;
    const keyText = map.kind === 'encoder' || map.kind === 'cross' || map.kind === 'alignment' ? source : target;
    labels.set(key, (l = { query: tokenLabels(map.queryTokens, queryText), key: tokenLabels(map.keyTokens, keyText) }));
  }
  return l;
}

/** Thumbnails waiting to be painted, after the first frame (a long map's grid is the slow part). */
let pendingThumbnails: (() => void)[] = [];
let thumbnailTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * A thumbnail: the matrix max-pooled to at most THUMB_PIXELS a side, scaled by CSS. Returned at once
 * and painted soon after, a few per task, so that the selected heatmap shows first.
 */
function thumbnail(map: AttentionMatrices, layer: number, head: number | 'avg'): HTMLCanvasElement {
  const key = `${view.mapIndex}:${layer}:${head}:${view.step ?? 'all'}`;
  let canvas = thumbnails.get(key);
  if (canvas) return canvas;
  const step = view.step;
  const target = (canvas = el('canvas', { width: 1, height: 1 }));
  thumbnails.set(key, canvas);
  pendingThumbnails.push(() => {
    const full = matrixOf(map, layer, head);
    const m = maxPool(full, THUMB_PIXELS);
    const rows = m.length;
    const cols = m[0]?.length ?? 0;
    // The step in pooled rows: a pooled row is faint when all the rows it covers are.
    const rowsShown = step === undefined ? undefined : Math.ceil((step * rows) / Math.max(1, full.length));
    target.width = Math.max(1, cols);
    target.height = Math.max(1, rows);
    if (rows && cols) target.getContext('2d')!.putImageData(new ImageData(matrixToRgba(m, { rowsShown, scale: matrixMax(full) || 1 }) as Uint8ClampedArray<ArrayBuffer>, cols, rows), 0, 0);
  });
  return canvas;
}

/** Paints the pending thumbnails, about a frame's worth of work per task; `done` when none is left. */
function paintThumbnails(done?: () => void): void {
  if (thumbnailTimer !== undefined) clearTimeout(thumbnailTimer);
  const run = (): void => {
    const until = performance.now() + 12;
    while (pendingThumbnails.length && performance.now() < until) pendingThumbnails.shift()!();
    if (pendingThumbnails.length) thumbnailTimer = setTimeout(run, 0);
    else {
      thumbnailTimer = undefined;
      root.dataset.thumbnails = 'painted';
      done?.();
    }
  };
  root.dataset.thumbnails = 'pending';
  thumbnailTimer = setTimeout(run, 0);
}

function describeHead(layer: number, head: number | 'avg', rollout: boolean | undefined, heads: number): string {
  if (head !== 'avg') return heads === 1 ? `Layer ${layer + 1}` : `Layer ${layer + 1} · head ${head + 1}`;
  return rollout ? `Rollout of layers 1–${layer + 1}` : `Layer ${layer + 1} · average of heads`;
}

function render(): void {
  // The large heatmap keeps its scroll position across re-renders of the same map.
  const scroller = root.querySelector<HTMLElement>('[data-testid=heatmap-scroller]');
  const scroll = scroller ? { left: scroller.scrollLeft, top: scroller.scrollTop, mapIndex: Number(root.dataset.mapIndex) } : undefined;
  // So do the page and the head view's columns (the pointer stays over what it was over).
  const page = { x: window.scrollX, y: window.scrollY };
  const headViewScroll = root.querySelector<HTMLElement>('.hv-body')?.scrollTop;
  heatmap?.dispose();
  heatmap = undefined;
  root.replaceChildren();
  if (!data) {
    root.dataset.state = 'empty';
    root.append(el('p', { class: 'placeholder', text: 'Run “LM Lens: Show Attention” on a selection or after a generation.' }));
    return;
  }
  root.dataset.mapCount = String(data.maps.length);
  root.append(el('h2', { text: data.title || 'Attention' }), el('div', { class: 'muted', text: data.model }));
  if (data.maps.length === 0) {
    root.dataset.state = 'unavailable';
    root.append(el('p', { class: 'error', 'data-testid': 'attention-unavailable', text: `No attention to show: ${data.attentionUnavailable ?? 'the model returned none.'}` }));
    return;
  }
  clampView();
  const map = currentMap()!;
  const s = mapShape(map);
  const withAverage = s.heads > 1;
  Object.assign(root.dataset, {
    state: 'ready',
    kind: map.kind,
    mapIndex: String(view.mapIndex),
    layers: String(s.layers),
    heads: String(s.heads),
    queries: String(s.queries),
    keys: String(s.keys),
    thumbCount: String(s.layers * s.heads),
  });
  const axis = AXIS_TITLES[map.kind];
  const { query: queryLabels, key: keyLabels } = labelsOf(map);

  // Tabs, one per map.
  const tabs = el('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Attention kind' });
  data.maps.forEach((m, i) => {
    const sameKind = data!.maps.filter((x) => x.kind === m.kind).length > 1;
    tabs.append(
      el('button', {
        role: 'tab',
        'data-testid': `tab-${m.kind}`,
        'data-map-index': i,
        'aria-selected': String(i === view.mapIndex),
        tabindex: i === view.mapIndex ? 0 : -1,
        text: KIND_LABEL[m.kind] + (sameKind ? ` ${i + 1}` : ''),
      }),
    );
  });
  root.append(tabs);

  // Step slider and export.
  const step = view.step ?? s.queries;
  const slider = el('input', { type: 'range', min: 1, max: s.queries, value: step, 'data-testid': 'step-slider', 'aria-label': 'Step (query token)' });
  const stepLabel = el('span', { 'data-testid': 'step-label', text: `step ${step} / ${s.queries}: ${queryLabels[step - 1]?.text ?? ''}` });
  root.append(
    el(
      'div',
      { class: 'toolbar' },
      el('label', { class: 'step' }, el('span', { text: map.kind === 'cross' || map.kind === 'alignment' ? 'Output token' : 'Query token' }), slider, stepLabel),
      el('button', { 'data-testid': 'play', 'data-action': 'play', text: '▶ Play' }),
      el('span', { class: 'spacer' }),
      el('button', { 'data-testid': 'export-png', 'data-action': 'png', text: 'Export PNG' }),
      el('button', { 'data-testid': 'export-json', 'data-action': 'json', text: 'Export JSON' }),
    ),
  );

  // Layer × head grid of thumbnails, with each layer's average in the last column when there are several heads.
  const grid = el('div', { class: 'grid', role: 'grid', 'aria-label': 'Layers and heads', 'data-testid': 'head-grid' });
  grid.style.gridTemplateColumns = `auto repeat(${s.heads + (withAverage ? 1 : 0)}, 44px)`;
  grid.append(el('span', { class: 'label' }));
  for (let h = 0; h < s.heads; h++) grid.append(el('span', { class: 'label', text: `H${h + 1}` }));
  if (withAverage) grid.append(el('span', { class: 'label', text: 'avg' }));
  const columns: (number | 'avg')[] = [...Array.from({ length: s.heads }, (_, i) => i), ...(withAverage ? ['avg' as const] : [])];
  for (let l = 0; l < s.layers; l++) {
    grid.append(el('span', { class: 'label', text: `L${l + 1}` }));
    for (const h of columns) {
      const selected = view.layer === l && view.head === h;
      grid.append(
        el(
          'button',
          {
            class: `thumb${h === 'avg' ? ' avg' : ''}`,
            role: 'gridcell',
            'data-testid': h === 'avg' ? 'layer-average' : 'head-thumb',
            'data-layer': l,
            'data-head': h,
            'aria-pressed': String(selected),
            'aria-label': h === 'avg' ? `Layer ${l + 1}, average of heads` : `Layer ${l + 1}, head ${h + 1}`,
            tabindex: selected ? 0 : -1,
          },
          thumbnail(map, l, h),
        ),
      );
    }
  }

  // The selected head, large.
  const m = matrixOf(map, view.layer, view.head, view.rollout);
  const info = el('div', { class: 'cell-info', 'data-testid': 'cell-info', 'aria-live': 'polite' });
  const showCell = (q: number, k: number): void => {
    const w = m[q]?.[k];
    if (w === undefined) return;
    info.textContent = `${queryLabels[q]?.text ?? ''} → ${keyLabels[k]?.text ?? ''}: ${w.toFixed(4)}`;
  };
  if (view.cell) showCell(view.cell.q, view.cell.k);
  const what = describeHead(view.layer, view.head, view.rollout, s.heads);
  heatmap = new HeatmapView(
    {
      matrix: m,
      rowLabels: queryLabels,
      colLabels: keyLabels,
      rowsShown: view.step,
      currentRow: view.step !== undefined ? view.step - 1 : undefined,
      cell: view.cell,
      rowTitle: axis.rows,
      colTitle: axis.cols,
      scale: matrixMax(m) || 1,
      ariaLabel: `${what}: ${s.queries} × ${s.keys}. Arrow keys move between cells, + and − zoom, 0 fits the width.`,
    },
    view.zoom,
    {
      onZoom: (zoom) => setView({ zoom }, false),
      onCell: (q, k, sticky) => {
        showCell(q, k);
        if (sticky) setView({ cell: { q, k } }, false);
      },
      onLabel: (axisName, i) => {
        const l = axisName === 'row' ? queryLabels[i] : keyLabels[i];
        if (l) info.textContent = `${axisName === 'row' ? axis.rows : axis.cols} ${i + 1}: ${l.text} (${l.title})`;
      },
    },
  );
  const selectedHeading = el('div', { class: 'selected-heading' }, el('h2', { text: what }));
  if (view.head === 'avg' && rolloutApplies(map)) {
    const box = el('input', { type: 'checkbox', 'data-testid': 'rollout', checked: view.rollout === true });
    selectedHeading.append(
      el('label', { class: 'rollout', title: 'Attention rollout (Abnar & Zuidema): each layer’s average of heads plus the residual, multiplied through the layers' }, box, el('span', { text: 'rollout through this layer' })),
    );
  }

  const headsShown = view.headViewHeads ?? Array.from({ length: s.heads }, (_, i) => i);
  const hv = headView(
    { weights: map.weights, layer: view.layer, heads: headsShown, query: view.headViewQuery, queryLabels, keyLabels, queryTitle: axis.rows, keyTitle: axis.cols },
    {
      onLayer: (layer) => setView({ layer }),
      onHeads: (heads) => setView({ headViewHeads: heads }),
      onQuery: (q) => {
        setView({ headViewQuery: q });
        root.querySelector<HTMLElement>('.hv-col.query')?.focus({ preventScroll: true });
      },
    },
    scroll && scroll.mapIndex === view.mapIndex ? headViewScroll : undefined,
  );

  root.append(
    el(
      'div',
      { class: 'inspector' },
      el('div', { class: 'heads' }, el('h2', { text: s.heads === 1 ? 'Layers' : 'Heads' }), grid),
      el('div', { class: 'selected' }, selectedHeading, info, heatmap.element),
      hv,
    ),
  );
  heatmap.attach();
  if (scroll && scroll.mapIndex === view.mapIndex) heatmap.scrollTo(scroll.left, scroll.top);
  window.scrollTo(page.x, page.y);
}

function setView(next: Partial<View>, rerender = true): void {
  view = { ...view, ...next };
  save();
  if (rerender) {
    render();
    paintThumbnails();
  }
}

function stopPlaying(): void {
  if (playTimer) clearInterval(playTimer);
  playTimer = undefined;
}

function play(): void {
  const map = currentMap();
  if (!map) return;
  const n = mapShape(map).queries;
  let step = view.step && view.step < n ? view.step : 0;
  const start = Math.max(1, Math.min(n, (data?.outputStart ?? 0) + 1));
  if (step < start) step = start - 1;
  stopPlaying();
  playTimer = setInterval(() => {
    step++;
    if (step > n) stopPlaying();
    else setView({ step });
  }, 400);
}

function exportPng(map: AttentionMatrices): void {
  const s = mapShape(map);
  const rows = view.step ?? s.queries;
  const m = matrixOf(map, view.layer, view.head, view.rollout).slice(0, rows);
  const { query, key } = labelsOf(map);
  const axis = AXIS_TITLES[map.kind];
  const what = describeHead(view.layer, view.head, view.rollout, s.heads);
  const atStep = view.step !== undefined ? ` · step ${view.step} / ${s.queries}` : '';
  const dataUrl = heatmapPng({
    matrix: m,
    rowLabels: query.slice(0, rows),
    colLabels: key,
    rowTitle: axis.rows,
    colTitle: axis.cols,
    title: `${KIND_LABEL[map.kind]} · ${what}${atStep} · ${data?.model ?? ''}`,
    scale: matrixMax(m) || 1,
  });
  const head = view.head === 'avg' ? (view.rollout ? 'rollout' : 'avg') : `H${view.head + 1}`;
  api.postMessage({ type: 'exportPng', dataUrl, name: `attention-${map.kind}-L${view.layer + 1}-${head}${view.step !== undefined ? `-step${view.step}` : ''}` });
}

root.addEventListener('click', (e) => {
  const target = e.target as HTMLElement;
  if (!target.closest('[data-action=play]')) stopPlaying();
  const tab = target.closest<HTMLElement>('[role=tab]');
  if (tab) return setView({ mapIndex: Number(tab.dataset.mapIndex), layer: 0, head: 'avg', step: undefined, cell: undefined, zoom: undefined, headViewQuery: undefined });
  const thumb = target.closest<HTMLElement>('.thumb');
  if (thumb) {
    const head = thumb.dataset.head === 'avg' ? 'avg' : Number(thumb.dataset.head);
    setView({ layer: Number(thumb.dataset.layer), head });
    root.querySelector<HTMLElement>(`.thumb[data-layer="${thumb.dataset.layer}"][data-head="${thumb.dataset.head}"]`)?.focus();
    return;
  }
  const action = target.closest<HTMLElement>('[data-action]')?.dataset.action;
  const map = currentMap();
  if (action === 'play') play();
  else if (action === 'png' && map) exportPng(map);
  else if (action === 'json' && map) api.postMessage({ type: 'exportJson', mapIndex: view.mapIndex });
});

root.addEventListener('change', (e) => {
  const box = e.target as HTMLInputElement;
  if (box.dataset.testid !== 'rollout') return;
  setView({ rollout: box.checked });
  root.querySelector<HTMLInputElement>('[data-testid=rollout]')?.focus();
});

root.addEventListener('input', (e) => {
  const slider = e.target as HTMLInputElement;
  if (slider.dataset.testid !== 'step-slider') return;
  setView({ step: Number(slider.value) });
  root.querySelector<HTMLInputElement>('[data-testid=step-slider]')?.focus();
});

// Arrow keys move between tabs and between thumbnails.
root.addEventListener('keydown', (e) => {
  const target = e.target as HTMLElement;
  if (target.getAttribute('role') === 'tab' && (e.key === 'ArrowRight' || e.key === 'ArrowLeft')) {
    const n = data?.maps.length ?? 0;
    const i = (view.mapIndex + (e.key === 'ArrowRight' ? 1 : n - 1)) % Math.max(1, n);
    setView({ mapIndex: i, layer: 0, head: 'avg', step: undefined, cell: undefined, zoom: undefined, headViewQuery: undefined });
    root.querySelector<HTMLElement>(`[role=tab][data-map-index="${i}"]`)?.focus();
    e.preventDefault();
  } else if (target.classList.contains('thumb')) {
    const map = currentMap();
    if (!map) return;
    const s = mapShape(map);
    const last = s.heads > 1 ? s.heads : s.heads - 1; // the average's column, when there is one
    const headIndex = target.dataset.head === 'avg' ? s.heads : Number(target.dataset.head);
    let l = Number(target.dataset.layer);
    let h = headIndex;
    if (e.key === 'ArrowRight') h = Math.min(last, h + 1);
    else if (e.key === 'ArrowLeft') h = Math.max(0, h - 1);
    else if (e.key === 'ArrowDown') l = Math.min(s.layers - 1, l + 1);
    else if (e.key === 'ArrowUp') l = Math.max(0, l - 1);
    else return;
    e.preventDefault();
    const head = h === s.heads ? 'avg' : h;
    setView({ layer: l, head });
    root.querySelector<HTMLElement>(`.thumb[data-layer="${l}"][data-head="${head}"]`)?.focus();
  }
});

/**
 * Renders and records on the root how long it took, from `since` (the message's arrival): until
 * the first frame with the selected heatmap is painted (`data-render-ms`), and until the last
 * thumbnail of the grid is (`data-complete-ms`).
 */
function renderTimed(since: number): void {
  delete root.dataset.renderMs;
  delete root.dataset.completeMs;
  render();
  if (!data) return;
  const rendered = performance.now();
  requestAnimationFrame(() =>
    setTimeout(() => {
      root.dataset.renderMs = (performance.now() - since).toFixed(1);
      root.dataset.renderPhases = `received→rendered ${(rendered - since).toFixed(1)} ms, then painted`;
      paintThumbnails(() => (root.dataset.completeMs = (performance.now() - since).toFixed(1)));
    }, 0),
  );
}

window.addEventListener('message', (e: MessageEvent<unknown>) => {
  const received = performance.now();
  if (!isAttentionHostMessage(e.data)) return;
  const payload = e.data.data;
  const fresh: Shown = { ...payload, maps: payload.maps.map(unpackMap) };
  // A new inspection starts from the overview; a resend of the same data keeps the view.
  if (!data || data.title !== fresh.title || data.maps.length !== fresh.maps.length) view = initialView(fresh);
  data = fresh;
  stored = weightCount(fresh) <= MAX_STORED_WEIGHTS ? { ...fresh, maps: fresh.maps.map(nestedMap) } : undefined;
  forgetComputed();
  stopPlaying();
  save();
  renderTimed(received);
});

renderTimed(performance.now());
api.postMessage({ type: 'ready' });

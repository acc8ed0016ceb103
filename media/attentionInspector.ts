/**
 * Attention inspector (webview side): tabs per attention kind, a layer × head grid of small
 * heatmaps (plus the average of each layer's heads), the selected head as a large heatmap with
 * token labels on both axes, a step slider that walks through the queries (generation steps) one
 * by one, and PNG / JSON export.
 *
 * For tests the DOM carries: `#attention-panel[data-state][data-map-count][data-kind][data-layers]
 * [data-heads][data-queries][data-keys][data-thumb-count]`, `[data-testid=tab-<kind>]`,
 * `[data-testid=head-thumb][data-layer][data-head]`, `[data-testid=heatmap][data-cell-count]`,
 * `[data-testid=step-slider]`, `[data-testid=export-png]`, `[data-testid=export-json]`.
 */
import type { AttentionKind, AttentionMap } from '../src/inference/protocol';
import { mapShape, matrixToRgba, selectMatrix, type Matrix } from '../src/analysis/heatmap';
import { isAttentionHostMessage, isAttentionPanelData, type AttentionPanelData, type AttentionWebviewMessage } from '../src/webviews/messages';
import { el, vscodeApi } from './vscodeApi';

interface View {
  readonly mapIndex: number;
  readonly layer: number;
  readonly head: number | 'avg';
  /** Query rows shown (the step); undefined: all. */
  readonly step?: number;
  readonly cell?: { readonly q: number; readonly k: number };
}

interface PanelState {
  /** Kept only when small enough to store; otherwise the host sends it again. */
  readonly data?: AttentionPanelData;
  readonly view: View;
}

/** Above this many weights the data is not stored in the webview state (the host resends it while it lives). */
const MAX_STORED_WEIGHTS = 400_000;

const KIND_LABEL: Record<AttentionKind, string> = {
  self: 'Self-attention',
  encoder: 'Encoder self-attention',
  decoder: 'Decoder self-attention',
  cross: 'Cross-attention',
  alignment: 'RNN alignment',
};

const api = vscodeApi<AttentionWebviewMessage, PanelState>();
const root = document.getElementById('attention-panel')!;
const saved = api.getState();
let data: AttentionPanelData | undefined = saved && isAttentionPanelData(saved.data) ? saved.data : undefined;
let view: View = saved?.view ?? { mapIndex: 0, layer: 0, head: 'avg' };
let playTimer: ReturnType<typeof setInterval> | undefined;

function weightCount(d: AttentionPanelData): number {
  let n = 0;
  for (const m of d.maps) {
    const s = mapShape(m);
    n += s.layers * s.heads * s.queries * s.keys;
  }
  return n;
}

function save(): void {
  api.setState({ data: data && weightCount(data) <= MAX_STORED_WEIGHTS ? data : undefined, view });
}

function currentMap(): AttentionMap | undefined {
  return data?.maps[view.mapIndex];
}

function clampView(): void {
  const map = currentMap();
  if (!map) {
    view = { mapIndex: 0, layer: 0, head: 'avg' };
    return;
  }
  const s = mapShape(map);
  const layer = Math.min(Math.max(0, view.layer), s.layers - 1);
  const head = view.head === 'avg' || view.head < s.heads ? view.head : 'avg';
  const step = view.step === undefined ? undefined : Math.min(Math.max(1, view.step), s.queries);
  const cell = view.cell && view.cell.q < s.queries && view.cell.k < s.keys ? view.cell : undefined;
  view = { ...view, layer, head, step, cell };
}

/** Draws `m` into `canvas` at `cell` pixels per weight (1: native size, scaled by CSS). */
function draw(canvas: HTMLCanvasElement, m: Matrix, cell: number, rowsShown?: number, highlightRow?: number): void {
  const rows = m.length;
  const cols = m[0]?.length ?? 0;
  const small = document.createElement('canvas');
  small.width = Math.max(1, cols);
  small.height = Math.max(1, rows);
  const sctx = small.getContext('2d')!;
  if (rows && cols) sctx.putImageData(new ImageData(matrixToRgba(m, { rowsShown }) as Uint8ClampedArray<ArrayBuffer>, cols, rows), 0, 0);
  canvas.width = Math.max(1, cols * cell);
  canvas.height = Math.max(1, rows * cell);
  if (cell > 1) {
    // Fixed CSS size: layout must not squeeze the cells.
    canvas.style.width = `${canvas.width}px`;
    canvas.style.height = `${canvas.height}px`;
  }
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  if (highlightRow !== undefined && cell >= 2) {
    ctx.strokeStyle = getComputedStyle(document.body).getPropertyValue('--vscode-focusBorder') || '#3794ff';
    ctx.lineWidth = 1;
    ctx.strokeRect(0.5, highlightRow * cell + 0.5, canvas.width - 1, cell - 1);
  }
}

function tokenLabel(t: string): string {
  return t.replace(/\n/g, '↵').replace(/\t/g, '→') || '∅';
}

function render(): void {
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
  Object.assign(root.dataset, {
    state: 'ready',
    kind: map.kind,
    layers: String(s.layers),
    heads: String(s.heads),
    queries: String(s.queries),
    keys: String(s.keys),
    thumbCount: String(s.layers * s.heads),
  });

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
  const stepLabel = el('span', { 'data-testid': 'step-label', text: `step ${step} / ${s.queries}: ${tokenLabel(map.queryTokens[step - 1] ?? '')}` });
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

  // Layer × head grid of thumbnails, with each layer's average in the last column.
  const grid = el('div', { class: 'grid', role: 'grid', 'aria-label': 'Layers and heads', 'data-testid': 'head-grid' });
  grid.style.gridTemplateColumns = `auto repeat(${s.heads + 1}, 44px)`;
  grid.append(el('span', { class: 'label' }));
  for (let h = 0; h < s.heads; h++) grid.append(el('span', { class: 'label', text: `H${h + 1}` }));
  grid.append(el('span', { class: 'label', text: 'avg' }));
  for (let l = 0; l < s.layers; l++) {
    grid.append(el('span', { class: 'label', text: `L${l + 1}` }));
    for (const h of [...Array.from({ length: s.heads }, (_, i) => i), 'avg' as const]) {
      const selected = view.layer === l && view.head === h;
      const canvas = el('canvas');
      draw(canvas, selectMatrix(map, l, h), 1, view.step);
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
          canvas,
        ),
      );
    }
  }

  // The selected head, large, with labels.
  const m = selectMatrix(map, view.layer, view.head);
  const cell = Math.max(2, Math.min(24, Math.floor(560 / Math.max(s.queries, s.keys, 1))));
  const big = el('canvas', {
    'data-testid': 'heatmap',
    'data-rows': s.queries,
    'data-cols': s.keys,
    'data-cell-count': s.queries * s.keys,
    tabindex: 0,
    role: 'img',
    'aria-label': `Attention of layer ${view.layer + 1}, ${view.head === 'avg' ? 'average of heads' : `head ${view.head + 1}`}: ${s.queries} queries × ${s.keys} keys. Arrow keys move between cells.`,
  });
  draw(big, m, cell, view.step, view.step !== undefined ? view.step - 1 : undefined);
  const fontSize = Math.min(11, cell);
  const ylabels = el('div', { class: 'ylabels', 'aria-hidden': 'true' });
  map.queryTokens.forEach((t, i) => {
    const span = el('span', { class: view.step !== undefined && i === view.step - 1 ? 'current' : undefined, text: cell >= 6 ? tokenLabel(t) : '' });
    span.style.height = `${cell}px`;
    span.style.lineHeight = `${cell}px`;
    span.style.fontSize = `${fontSize}px`;
    ylabels.append(span);
  });
  const xlabels = el('div', { class: 'xlabels', 'aria-hidden': 'true' });
  map.keyTokens.forEach((t) => {
    const span = el('span', { text: cell >= 6 ? tokenLabel(t) : '' });
    span.style.width = `${cell}px`;
    span.style.lineHeight = `${cell}px`;
    span.style.fontSize = `${fontSize}px`;
    xlabels.append(span);
  });
  const info = el('div', { class: 'cell-info', 'data-testid': 'cell-info', 'aria-live': 'polite' });
  const showCell = (q: number, k: number): void => {
    const w = m[q]?.[k];
    if (w === undefined) return;
    info.textContent = `${tokenLabel(map.queryTokens[q] ?? '')} → ${tokenLabel(map.keyTokens[k] ?? '')}: ${w.toFixed(4)}`;
  };
  if (view.cell) showCell(view.cell.q, view.cell.k);
  big.addEventListener('mousemove', (e) => {
    const r = big.getBoundingClientRect();
    const k = Math.floor(((e.clientX - r.left) / r.width) * s.keys);
    const q = Math.floor(((e.clientY - r.top) / r.height) * s.queries);
    showCell(q, k);
  });
  big.addEventListener('keydown', (e) => {
    const c = view.cell ?? { q: 0, k: 0 };
    const moves: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    const d = moves[e.key];
    if (!d) return;
    e.preventDefault();
    view = { ...view, cell: { q: Math.min(s.queries - 1, Math.max(0, c.q + d[0])), k: Math.min(s.keys - 1, Math.max(0, c.k + d[1])) } };
    save();
    showCell(view.cell!.q, view.cell!.k);
  });
  const bigBox = el('div', { class: 'big' }, ylabels, el('div', { class: 'plot' }, big, xlabels));
  const heading = el('h2', { text: `Layer ${view.layer + 1} · ${view.head === 'avg' ? 'average of heads' : `head ${view.head + 1}`}` });
  root.append(el('div', { class: 'inspector' }, el('div', { class: 'heads' }, el('h2', { text: 'Heads' }), grid), el('div', { class: 'selected' }, heading, info, bigBox)));
}

function setView(next: Partial<View>, rerender = true): void {
  view = { ...view, ...next };
  save();
  if (rerender) render();
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

root.addEventListener('click', (e) => {
  const target = e.target as HTMLElement;
  if (!target.closest('[data-action=play]')) stopPlaying();
  const tab = target.closest<HTMLElement>('[role=tab]');
  if (tab) return setView({ mapIndex: Number(tab.dataset.mapIndex), layer: 0, head: 'avg', step: undefined, cell: undefined });
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
  else if (action === 'png' && map) {
    const canvas = root.querySelector<HTMLCanvasElement>('[data-testid=heatmap]');
    if (canvas) api.postMessage({ type: 'exportPng', dataUrl: canvas.toDataURL('image/png'), name: `attention-${map.kind}-L${view.layer + 1}-${view.head === 'avg' ? 'avg' : `H${view.head + 1}`}` });
  } else if (action === 'json' && map) api.postMessage({ type: 'exportJson', mapIndex: view.mapIndex });
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
    setView({ mapIndex: i, layer: 0, head: 'avg', step: undefined, cell: undefined });
    root.querySelector<HTMLElement>(`[role=tab][data-map-index="${i}"]`)?.focus();
    e.preventDefault();
  } else if (target.classList.contains('thumb')) {
    const map = currentMap();
    if (!map) return;
    const s = mapShape(map);
    const headIndex = target.dataset.head === 'avg' ? s.heads : Number(target.dataset.head);
    let l = Number(target.dataset.layer);
    let h = headIndex;
    if (e.key === 'ArrowRight') h = Math.min(s.heads, h + 1);
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

window.addEventListener('message', (e: MessageEvent<unknown>) => {
  if (!isAttentionHostMessage(e.data)) return;
  const fresh = e.data.data;
  // A new inspection starts from the overview; a resend of the same data keeps the view.
  if (!data || data.title !== fresh.title || data.maps.length !== fresh.maps.length) view = { mapIndex: 0, layer: 0, head: 'avg' };
  data = fresh;
  stopPlaying();
  save();
  render();
});

render();
api.postMessage({ type: 'ready' });

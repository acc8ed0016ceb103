/**
 * The large heatmap of the attention inspector: one canvas the size of the visible window, inside
 * a scroller whose spacer has the size of the whole map. Only the visible cells and the labels of
 * the visible rows and columns are drawn, so a map of hundreds of tokens scrolls and zooms without
 * building thousands of elements. Labels stay at the left and top edges (sticky) while the cells
 * scroll; a legend gives the colour scale, axis titles say which axis is which.
 *
 * Zoom: the − / + / Fit width buttons, Ctrl+wheel (around the pointer). Pan: scrollbars, the wheel,
 * dragging. The DOM carries `[data-testid=heatmap][data-rows][data-cols][data-cell-count]
 * [data-cell-size][data-drawn-rows][data-drawn-cols][data-row-end][data-col-end]` for tests (the
 * drawn window: its size and one past its last row and column).
 */
import { FUTURE_ALPHA, matrixToRgba, weightColor, type Matrix } from '../src/analysis/heatmap';
import type { TokenLabel } from '../src/analysis/tokenLabels';
import { fitCell, nextZoom, visibleSpan, type Span } from '../src/analysis/viewport';
import { el } from './vscodeApi';

export interface HeatmapModel {
  readonly matrix: Matrix;
  readonly rowLabels: readonly TokenLabel[];
  readonly colLabels: readonly TokenLabel[];
  /** Rows from here on are drawn faint (the step view); undefined: all rows. */
  readonly rowsShown?: number;
  /** The row of the current step, outlined. */
  readonly currentRow?: number;
  /** The cell chosen with the keyboard, outlined. */
  readonly cell?: { readonly q: number; readonly k: number };
  readonly rowTitle: string;
  readonly colTitle: string;
  /** The weight drawn brightest (the matrix maximum). */
  readonly scale: number;
  readonly ariaLabel: string;
}

export interface HeatmapCallbacks {
  /** The cell size the user zoomed to (undefined: fit to width). */
  onZoom(cell: number | undefined): void;
  /** A cell under the pointer or chosen with the arrow keys; `sticky` for the keyboard. */
  onCell(q: number, k: number, sticky: boolean): void;
  /** The pointer is over a row (`axis` 'row') or column label. */
  onLabel(axis: 'row' | 'col', index: number): void;
}

/** Cells at least this big get token labels; smaller ones get index ticks. */
export const MIN_LABEL_CELL = 7;
const LABEL_WIDTH = 120;
const LABEL_HEIGHT = 84;
const TICK_MARGIN = 28;
const MAX_CELL = 32;

export function labelMargins(cell: number): { left: number; top: number } {
  return cell >= MIN_LABEL_CELL ? { left: LABEL_WIDTH, top: LABEL_HEIGHT } : { left: TICK_MARGIN, top: TICK_MARGIN };
}

/** Below one pixel per token a narrow panel still shows the whole map, its cells averaged. */
const MIN_CELL = 0.25;

/** The largest cell at which `count` columns and their labels fit into `width` px. */
export function fitWidthCell(width: number, count: number): number {
  const withLabels = fitCell(width - LABEL_WIDTH, count, MIN_CELL, MAX_CELL);
  if (withLabels >= MIN_LABEL_CELL) return Math.floor(withLabels * 100) / 100;
  return Math.floor(Math.min(MIN_LABEL_CELL - 0.01, fitCell(width - TICK_MARGIN, count, MIN_CELL, MAX_CELL)) * 100) / 100;
}

/** Index ticks every 1, 2, 5, 10, 20, 50… tokens, at least `minGap` px apart. */
function tickStep(cell: number, minGap = 32): number {
  for (let decade = 1; ; decade *= 10) for (const m of [1, 2, 5]) if (m * decade * cell >= minGap) return m * decade;
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** `text` cut with an ellipsis to `max` px in the context's font. */
export function fitText(ctx: CanvasRenderingContext2D, text: string, max: number): string {
  if (ctx.measureText(text).width <= max) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(`${text.slice(0, mid)}…`).width <= max) lo = mid;
    else hi = mid - 1;
  }
  return `${text.slice(0, lo)}…`;
}

/** The colour scale: a ramp from 0 to the maximum, as the cells are coloured. */
export function legend(scale: number): HTMLElement {
  const bar = el('canvas', { class: 'legend-bar', width: 120, height: 10, 'aria-hidden': 'true' });
  const ctx = bar.getContext('2d')!;
  for (let x = 0; x < 120; x++) {
    const [r, g, b] = weightColor((x / 119) * scale, scale);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(x, 0, 1, 10);
  }
  return el(
    'div',
    { class: 'legend', 'data-testid': 'legend', 'data-min': 0, 'data-max': scale.toFixed(4), role: 'img', 'aria-label': `Colour scale from 0 to ${scale.toFixed(3)}` },
    el('span', { text: '0' }),
    bar,
    el('span', { text: scale.toFixed(3) }),
    el('span', { class: 'muted', text: '(square-root scale)' }),
  );
}

export class HeatmapView {
  readonly element: HTMLElement;
  private readonly scroller: HTMLDivElement;
  private readonly spacer: HTMLDivElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly zoomLabel: HTMLElement;
  private readonly offscreen = document.createElement('canvas');
  private cell = 1;
  private fit: boolean;
  private frame = 0;
  private resize?: ResizeObserver;
  private drag?: { x: number; y: number; left: number; top: number; moved: boolean };
  private drawn: { rows: Span; cols: Span } = { rows: { first: 0, end: 0 }, cols: { first: 0, end: 0 } };

  constructor(
    private model: HeatmapModel,
    zoom: number | undefined,
    private readonly callbacks: HeatmapCallbacks,
  ) {
    this.fit = zoom === undefined;
    if (zoom !== undefined) this.cell = zoom;
    const rows = model.matrix.length;
    const cols = model.matrix[0]?.length ?? 0;
    this.canvas = el('canvas', {
      'data-testid': 'heatmap',
      'data-rows': rows,
      'data-cols': cols,
      'data-cell-count': rows * cols,
      tabindex: 0,
      role: 'img',
      'aria-label': model.ariaLabel,
    });
    this.spacer = el('div', { class: 'heatmap-spacer' }, this.canvas);
    this.scroller = el('div', { class: 'heatmap-scroller', 'data-testid': 'heatmap-scroller' }, this.spacer);
    this.zoomLabel = el('span', { class: 'muted', 'data-testid': 'zoom-level' });
    const toolbar = el(
      'div',
      { class: 'heatmap-toolbar' },
      el('button', { 'data-testid': 'zoom-out', 'data-zoom': 'out', title: 'Zoom out (Ctrl+wheel)', 'aria-label': 'Zoom out', text: '−' }),
      el('button', { 'data-testid': 'zoom-in', 'data-zoom': 'in', title: 'Zoom in (Ctrl+wheel)', 'aria-label': 'Zoom in', text: '+' }),
      el('button', { 'data-testid': 'zoom-fit', 'data-zoom': 'fit', title: 'Fit the map to the width of the panel', text: 'Fit width' }),
      this.zoomLabel,
      el('span', { class: 'spacer' }),
      legend(model.scale),
    );
    const frame = el(
      'div',
      { class: 'heatmap-frame' },
      el('span', { class: 'axis-title x', 'data-testid': 'axis-x', text: `${model.colTitle} →` }),
      el('span', { class: 'axis-title y', 'data-testid': 'axis-y', text: `← ${model.rowTitle}` }),
      this.scroller,
    );
    this.element = el('div', { class: 'heatmap-view' }, toolbar, frame);
    this.wire(toolbar);
  }

  /** Call once the element is in the document: sizes the canvas to the window and draws. */
  attach(): void {
    if (this.fit) this.cell = fitWidthCell(this.scroller.clientWidth, this.cols);
    this.layout();
    this.draw();
    this.resize = new ResizeObserver(() => {
      if (this.fit) {
        const cell = fitWidthCell(this.scroller.clientWidth, this.cols);
        if (cell !== this.cell) {
          this.cell = cell;
          this.layout();
        }
      }
      this.schedule();
    });
    this.resize.observe(this.scroller);
  }

  dispose(): void {
    this.resize?.disconnect();
    cancelAnimationFrame(this.frame);
  }

  /** Scrolls the map (after a re-render of the same map) and redraws. */
  scrollTo(left: number, top: number): void {
    this.scroller.scrollLeft = left;
    this.scroller.scrollTop = top;
    this.draw();
  }

  focus(): void {
    this.canvas.focus();
  }

  private get rows(): number {
    return this.model.matrix.length;
  }

  private get cols(): number {
    return this.model.matrix[0]?.length ?? 0;
  }

  private layout(): void {
    const { left, top } = labelMargins(this.cell);
    this.spacer.style.width = `${Math.ceil(left + this.cols * this.cell)}px`;
    this.spacer.style.height = `${Math.ceil(top + this.rows * this.cell)}px`;
    this.canvas.dataset.cellSize = String(this.cell);
    this.zoomLabel.textContent = `${this.fit ? 'fit · ' : ''}${Math.round(this.cell * 100) / 100} px per token`;
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  /** Zooms to `cell` keeping the point (`x`, `y`) of the window (default: its centre) in place. */
  zoomTo(cell: number | undefined, anchor?: { x: number; y: number }): void {
    const old = this.cell;
    const oldMargins = labelMargins(old);
    this.fit = cell === undefined;
    this.cell = cell ?? fitWidthCell(this.scroller.clientWidth, this.cols);
    const margins = labelMargins(this.cell);
    const ax = anchor?.x ?? this.scroller.clientWidth / 2;
    const ay = anchor?.y ?? this.scroller.clientHeight / 2;
    // The content coordinate (in cells) under the anchor stays under it.
    const cx = (this.scroller.scrollLeft + ax - oldMargins.left) / old;
    const cy = (this.scroller.scrollTop + ay - oldMargins.top) / old;
    this.layout();
    this.scroller.scrollLeft = Math.max(0, cx * this.cell + margins.left - ax);
    this.scroller.scrollTop = Math.max(0, cy * this.cell + margins.top - ay);
    this.draw();
    this.callbacks.onZoom(this.fit ? undefined : this.cell);
  }

  private wire(toolbar: HTMLElement): void {
    toolbar.addEventListener('click', (e) => {
      const zoom = (e.target as HTMLElement).closest<HTMLElement>('[data-zoom]')?.dataset.zoom;
      if (zoom === 'in') this.zoomTo(nextZoom(this.cell, 1));
      else if (zoom === 'out') this.zoomTo(nextZoom(this.cell, -1));
      else if (zoom === 'fit') this.zoomTo(undefined);
    });
    this.scroller.addEventListener('scroll', () => this.schedule(), { passive: true });
    this.scroller.addEventListener(
      'wheel',
      (e) => {
        if (!e.ctrlKey && !e.metaKey) return;
        e.preventDefault();
        const r = this.scroller.getBoundingClientRect();
        this.zoomTo(nextZoom(this.cell, e.deltaY < 0 ? 1 : -1), { x: e.clientX - r.left, y: e.clientY - r.top });
      },
      { passive: false },
    );
    this.canvas.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      this.drag = { x: e.clientX, y: e.clientY, left: this.scroller.scrollLeft, top: this.scroller.scrollTop, moved: false };
      this.canvas.setPointerCapture(e.pointerId);
    });
    this.canvas.addEventListener('pointermove', (e) => {
      if (this.drag) {
        const dx = e.clientX - this.drag.x;
        const dy = e.clientY - this.drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) this.drag.moved = true;
        if (this.drag.moved) {
          this.scroller.scrollLeft = this.drag.left - dx;
          this.scroller.scrollTop = this.drag.top - dy;
          this.canvas.classList.add('panning');
          return;
        }
      }
      this.hover(e);
    });
    const endDrag = (): void => {
      this.drag = undefined;
      this.canvas.classList.remove('panning');
    };
    this.canvas.addEventListener('pointerup', endDrag);
    this.canvas.addEventListener('pointercancel', endDrag);
    this.canvas.addEventListener('keydown', (e) => {
      const moves: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
      const d = moves[e.key];
      if (d) {
        e.preventDefault();
        const c = this.model.cell ?? { q: 0, k: 0 };
        const q = Math.min(this.rows - 1, Math.max(0, c.q + d[0]));
        const k = Math.min(this.cols - 1, Math.max(0, c.k + d[1]));
        this.model = { ...this.model, cell: { q, k } };
        this.reveal(q, k);
        this.callbacks.onCell(q, k, true);
        this.draw();
      } else if (e.key === '+' || e.key === '=') this.zoomTo(nextZoom(this.cell, 1));
      else if (e.key === '-') this.zoomTo(nextZoom(this.cell, -1));
      else if (e.key === '0') this.zoomTo(undefined);
    });
  }

  /** Scrolls so that cell (q, k) is in view. */
  private reveal(q: number, k: number): void {
    const { left, top } = labelMargins(this.cell);
    const w = this.scroller.clientWidth - left;
    const h = this.scroller.clientHeight - top;
    const x = k * this.cell;
    const y = q * this.cell;
    if (x < this.scroller.scrollLeft) this.scroller.scrollLeft = x;
    else if (x + this.cell > this.scroller.scrollLeft + w) this.scroller.scrollLeft = x + this.cell - w;
    if (y < this.scroller.scrollTop) this.scroller.scrollTop = y;
    else if (y + this.cell > this.scroller.scrollTop + h) this.scroller.scrollTop = y + this.cell - h;
  }

  private hover(e: PointerEvent): void {
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    const { left, top } = labelMargins(this.cell);
    const k = Math.floor((x - left + this.scroller.scrollLeft) / this.cell);
    const q = Math.floor((y - top + this.scroller.scrollTop) / this.cell);
    if (x >= left && y >= top) {
      if (q < this.rows && k < this.cols) this.callbacks.onCell(q, k, false);
      this.canvas.title = '';
    } else if (x < left && y >= top && q < this.rows) {
      this.canvas.title = this.model.rowLabels[q]?.title ?? '';
      this.callbacks.onLabel('row', q);
    } else if (y < top && x >= left && k < this.cols) {
      this.canvas.title = this.model.colLabels[k]?.title ?? '';
      this.callbacks.onLabel('col', k);
    }
  }

  /** Draws the visible window: cells, then the sticky labels over the margins. */
  draw(): void {
    const dpr = window.devicePixelRatio || 1;
    const width = this.scroller.clientWidth;
    const height = Math.min(this.scroller.clientHeight, this.spacer.offsetHeight);
    if (width <= 0 || height <= 0) return;
    if (this.canvas.width !== Math.round(width * dpr) || this.canvas.height !== Math.round(height * dpr)) {
      this.canvas.width = Math.round(width * dpr);
      this.canvas.height = Math.round(height * dpr);
      this.canvas.style.width = `${width}px`;
      this.canvas.style.height = `${height}px`;
    }
    const ctx = this.canvas.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const background = cssVar('--vscode-editor-background', '#1e1e1e');
    const foreground = cssVar('--vscode-foreground', '#cccccc');
    const muted = cssVar('--vscode-descriptionForeground', '#999999');
    const focus = cssVar('--vscode-focusBorder', '#3794ff');
    ctx.fillStyle = background;
    ctx.fillRect(0, 0, width, height);
    const c = this.cell;
    const { left, top } = labelMargins(c);
    const sx = this.scroller.scrollLeft;
    const sy = this.scroller.scrollTop;
    const rows = visibleSpan(sy, height - top, c, this.rows, 1);
    const cols = visibleSpan(sx, width - left, c, this.cols, 1);
    this.drawn = { rows, cols };
    this.canvas.dataset.drawnRows = String(rows.end - rows.first);
    this.canvas.dataset.drawnCols = String(cols.end - cols.first);
    this.canvas.dataset.rowEnd = String(rows.end);
    this.canvas.dataset.colEnd = String(cols.end);

    // Cells of the window only.
    const m = this.model.matrix;
    const nr = rows.end - rows.first;
    const nc = cols.end - cols.first;
    if (nr > 0 && nc > 0) {
      const window = m.slice(rows.first, rows.end).map((row) => Array.prototype.slice.call(row, cols.first, cols.end) as number[]);
      const rowsShown = this.model.rowsShown === undefined ? undefined : Math.max(0, this.model.rowsShown - rows.first);
      this.offscreen.width = nc;
      this.offscreen.height = nr;
      const octx = this.offscreen.getContext('2d')!;
      octx.putImageData(new ImageData(matrixToRgba(window, { rowsShown, scale: this.model.scale }) as Uint8ClampedArray<ArrayBuffer>, nc, nr), 0, 0);
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, width - left, height - top);
      ctx.clip();
      // Sharp cells when magnified; averaged when a pixel covers several tokens.
      ctx.imageSmoothingEnabled = c < 1;
      ctx.drawImage(this.offscreen, left + cols.first * c - sx, top + rows.first * c - sy, nc * c, nr * c);
      ctx.strokeStyle = focus;
      ctx.lineWidth = 1;
      if (this.model.currentRow !== undefined && c >= 2) ctx.strokeRect(left - sx + 0.5, top + this.model.currentRow * c - sy + 0.5, this.cols * c - 1, c - 1);
      const cell = this.model.cell;
      if (cell) {
        ctx.lineWidth = 2;
        ctx.strokeRect(left + cell.k * c - sx, top + cell.q * c - sy, Math.max(2, c), Math.max(2, c));
      }
      ctx.restore();
    }

    // Sticky labels: the margins are painted over whatever scrolled under them.
    ctx.fillStyle = background;
    ctx.fillRect(0, 0, left, height);
    ctx.fillRect(0, 0, width, top);
    const font = getComputedStyle(document.body).getPropertyValue('--vscode-editor-font-family').trim() || 'monospace';
    if (c >= MIN_LABEL_CELL) {
      ctx.font = `${Math.min(12, Math.max(8, Math.floor(c - 1)))}px ${font}`;
      ctx.textBaseline = 'middle';
      ctx.save();
      ctx.beginPath();
      ctx.rect(0, top, left, height - top);
      ctx.clip();
      ctx.textAlign = 'right';
      for (let q = rows.first; q < rows.end; q++) {
        const faint = this.model.rowsShown !== undefined && q >= this.model.rowsShown;
        ctx.fillStyle = q === this.model.currentRow ? foreground : faint ? withAlpha(muted, FUTURE_ALPHA / 255 + 0.25) : muted;
        ctx.fillText(fitText(ctx, this.model.rowLabels[q]?.text ?? '', left - 8), left - 4, top + q * c - sy + c / 2);
      }
      ctx.restore();
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, 0, width - left, top);
      ctx.clip();
      ctx.textAlign = 'left';
      ctx.fillStyle = muted;
      for (let k = cols.first; k < cols.end; k++) {
        ctx.save();
        ctx.translate(left + k * c - sx + c / 2, top - 4);
        ctx.rotate(-Math.PI / 2);
        ctx.fillText(fitText(ctx, this.model.colLabels[k]?.text ?? '', top - 8), 0, 0);
        ctx.restore();
      }
      ctx.restore();
    } else {
      // Too small for token labels: token indices every few tokens.
      const step = tickStep(c);
      ctx.font = `10px ${font}`;
      ctx.fillStyle = muted;
      ctx.textBaseline = 'middle';
      ctx.textAlign = 'right';
      ctx.save();
      ctx.beginPath();
      ctx.rect(0, top, left, height - top);
      ctx.clip();
      for (let q = Math.ceil(rows.first / step) * step; q < rows.end; q += step) ctx.fillText(String(q + 1), left - 3, top + q * c - sy + c / 2);
      ctx.restore();
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, 0, width - left, top);
      ctx.clip();
      ctx.textAlign = 'center';
      for (let k = Math.ceil(cols.first / step) * step; k < cols.end; k += step) ctx.fillText(String(k + 1), left + k * c - sx + c / 2, top / 2);
      ctx.restore();
    }
  }

  /** For tests and the status line: the rows and columns drawn last. */
  get drawnWindow(): { rows: Span; cols: Span } {
    return this.drawn;
  }
}

function withAlpha(colour: string, alpha: number): string {
  const hex = /^#([0-9a-f]{6})$/i.exec(colour);
  if (!hex) return colour;
  const n = parseInt(hex[1]!, 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${Math.min(1, alpha).toFixed(2)})`;
}

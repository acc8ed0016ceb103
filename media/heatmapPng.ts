/**
 * The PNG export of a heatmap: the whole map (not the visible window) with its token labels, axis
 * titles, a title line and the colour scale, every row at full strength (the step view's fading is
 * a screen aid, not data). At a step, the rows up to that step are exported.
 */
import { matrixToRgba, weightColor, type Matrix } from '../src/analysis/heatmap';
import type { TokenLabel } from '../src/analysis/tokenLabels';
import { fitText } from './heatmapView';

export interface HeatmapPicture {
  readonly matrix: Matrix;
  readonly rowLabels: readonly TokenLabel[];
  readonly colLabels: readonly TokenLabel[];
  readonly rowTitle: string;
  readonly colTitle: string;
  readonly title: string;
  readonly scale: number;
}

/** Pixels per cell: labels stay legible up to ~600 tokens, the image below ~16k px a side. */
export function exportCell(count: number): number {
  if (count <= 0) return 16;
  return Math.max(2, Math.min(24, Math.floor(9000 / count), Math.max(12, Math.floor(900 / count))));
}

export function heatmapPng(p: HeatmapPicture): string {
  const rows = p.matrix.length;
  const cols = p.matrix[0]?.length ?? 0;
  const cell = exportCell(Math.max(rows, cols));
  const labels = cell >= 8;
  const font = `${Math.min(13, cell - 1)}px monospace`;
  const probe = document.createElement('canvas').getContext('2d')!;
  probe.font = font;
  const widest = (ls: readonly TokenLabel[]): number => Math.min(180, Math.max(0, ...ls.map((l) => probe.measureText(l.text).width)));
  const pad = 12;
  const titleH = 28;
  const axisTitle = 20;
  const rowLabelW = labels ? Math.ceil(widest(p.rowLabels)) + 8 : 0;
  const colLabelH = labels ? Math.ceil(widest(p.colLabels)) + 8 : 0;
  const legendW = 150;
  const left = pad + axisTitle + rowLabelW;
  const top = pad + titleH + axisTitle + colLabelH;
  const width = left + cols * cell + pad + legendW;
  const height = Math.max(top + rows * cell + pad, top + 80);
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = '#000000';
  ctx.textBaseline = 'middle';

  ctx.font = 'bold 14px sans-serif';
  ctx.fillText(p.title, pad, pad + titleH / 2);
  ctx.font = '12px sans-serif';
  ctx.textAlign = 'center';
  ctx.fillText(`${p.colTitle} →`, left + (cols * cell) / 2, pad + titleH + axisTitle / 2);
  ctx.save();
  ctx.translate(pad + axisTitle / 2, top + (rows * cell) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(`← ${p.rowTitle}`, 0, 0);
  ctx.restore();

  if (rows && cols) {
    const cells = document.createElement('canvas');
    cells.width = cols;
    cells.height = rows;
    cells.getContext('2d')!.putImageData(new ImageData(matrixToRgba(p.matrix, { scale: p.scale }) as Uint8ClampedArray<ArrayBuffer>, cols, rows), 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(cells, left, top, cols * cell, rows * cell);
  }

  if (labels) {
    ctx.font = font;
    ctx.fillStyle = '#333333';
    ctx.textAlign = 'right';
    p.rowLabels.forEach((l, q) => ctx.fillText(fitText(ctx, l.text, 180), left - 4, top + q * cell + cell / 2));
    ctx.textAlign = 'left';
    p.colLabels.forEach((l, k) => {
      ctx.save();
      ctx.translate(left + k * cell + cell / 2, top - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(fitText(ctx, l.text, 180), 0, 0);
      ctx.restore();
    });
  }

  // The colour scale.
  const lx = left + cols * cell + pad + 20;
  const barH = Math.max(60, Math.min(240, rows * cell));
  for (let y = 0; y < barH; y++) {
    const [r, g, b] = weightColor((1 - y / (barH - 1)) * p.scale, p.scale);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(lx, top + y, 14, 1);
  }
  ctx.fillStyle = '#000000';
  ctx.font = '11px sans-serif';
  ctx.textAlign = 'left';
  ctx.fillText(p.scale.toFixed(3), lx + 18, top + 5);
  ctx.fillText('0', lx + 18, top + barH - 5);
  ctx.fillText('weight', lx, top - 10);
  return canvas.toDataURL('image/png');
}

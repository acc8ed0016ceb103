// Writes media/icon.png (128×128): a small attention heatmap under a lens. Run: node media/make-icon.mjs
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const size = 128;
const ramp = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
const color = (v) => {
  const x = Math.min(0.999, Math.max(0, v)) * (ramp.length - 1);
  const i = Math.floor(x);
  const f = x - i;
  return ramp[i].map((a, c) => Math.round(a + (ramp[i + 1][c] - a) * f));
};
// A causal attention pattern: each row attends to itself and the first token, fading in between.
const n = 6;
const weight = (q, k) => (k > q ? -1 : k === q ? 1 : k === 0 ? 0.75 : 0.15 + 0.35 * (k / Math.max(1, q)));
const px = Buffer.alloc(size * size * 4);
const margin = 14;
const cell = (size - 2 * margin) / n;
for (let y = 0; y < size; y++) {
  for (let x = 0; x < size; x++) {
    const o = (y * size + x) * 4;
    // Rounded dark tile.
    const r = 20;
    const dx = Math.max(r - x, 0, x - (size - 1 - r));
    const dy = Math.max(r - y, 0, y - (size - 1 - r));
    if (dx * dx + dy * dy > r * r) continue;
    let rgb = [30, 30, 36];
    const gx = Math.floor((x - margin) / cell);
    const gy = Math.floor((y - margin) / cell);
    const inCell = (x - margin) % cell > 2 && (y - margin) % cell > 2;
    if (gx >= 0 && gy >= 0 && gx < n && gy < n && inCell) {
      const w = weight(gy, gx);
      rgb = w < 0 ? [48, 48, 56] : color(w);
    }
    // Lens ring.
    const cx = 84, cy = 80, d = Math.hypot(x - cx, y - cy);
    if (d > 24 && d < 31) rgb = [235, 235, 240];
    if (d >= 31 && d < 33) rgb = [30, 30, 36];
    const hx = x - cx, hy = y - cy;
    if (hx > 18 && hy > 18 && Math.abs(hx - hy) < 6 && hx < 44) rgb = [235, 235, 240];
    px.set([...rgb, 255], o);
  }
}
const raw = Buffer.alloc((size * 4 + 1) * size);
for (let y = 0; y < size; y++) px.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
const crcTable = Array.from({ length: 256 }, (_, k) => {
  let c = k;
  for (let i = 0; i < 8; i++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, body) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  const tb = Buffer.concat([Buffer.from(type), body]);
  const c = Buffer.alloc(4);
  c.writeUInt32BE(crc(tb));
  return Buffer.concat([len, tb, c]);
};
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(size, 0);
ihdr.writeUInt32BE(size, 4);
ihdr.set([8, 6, 0, 0, 0], 8);
const png = Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
writeFileSync(new URL('./icon.png', import.meta.url), png);

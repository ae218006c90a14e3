/** Painters of growing things: rows of pine or round trees, and meadow flowers. */
import { hex, mix, shade } from '../color';
import { f1, type Ctx } from './canvas';

function tree(x: number, y: number, h: number, col: string, round: boolean): string {
  if (round)
    return `<rect x="${f1(x - h * 0.04)}" y="${f1(y - h * 0.4)}" width="${f1(h * 0.08)}" height="${f1(h * 0.4)}" fill="${col}"/><circle cx="${f1(x)}" cy="${f1(y - h * 0.62)}" r="${f1(h * 0.3)}" fill="${col}"/>`;
  return `<path d="M${f1(x)} ${f1(y - h)} L${f1(x + h * 0.22)} ${f1(y - h * 0.3)} L${f1(x + h * 0.05)} ${f1(y - h * 0.3)} L${f1(x + h * 0.05)} ${f1(y)} L${f1(x - h * 0.05)} ${f1(y)} L${f1(x - h * 0.05)} ${f1(y - h * 0.3)} L${f1(x - h * 0.22)} ${f1(y - h * 0.3)} Z" fill="${col}"/>`;
}

export function forestLayer(c: Ctx): string {
  const p = c.spec.palette;
  const round = (c.spec.variation[8] ?? 0) < 0.35;
  let s = '';
  const rows = c.spec.composition === 'minimal' ? 1 : 3;
  for (let row = 0; row < rows; row++) {
    const t = rows === 1 ? 1 : row / (rows - 1);
    const col = hex(mix(mix(p.far, p.ground, 0.5), shade(p.near, -0.05), t));
    const y = c.hy + 40 + row * 70;
    const n = Math.round((c.spec.composition === 'minimal' ? 5 : 10) + c.spec.detail * 30 * (1 - t * 0.4));
    s += `<rect x="0" y="${f1(y - 5)}" width="${c.W}" height="${c.W}" fill="${col}"/>`;
    for (let i = 0; i < n; i++) {
      const x = (i + c.r() * 0.8) * (c.W / n);
      const h = (110 + c.r() * 90) * (0.7 + t * 0.8);
      s += tree(x, y, h, col, round);
    }
  }
  return s;
}

export function flowersLayer(c: Ctx): string {
  const p = c.spec.palette;
  const n = Math.round(8 + c.spec.detail * 70);
  const cols = [p.accent, p.accent2, shade(p.accent, 0.2), p.light];
  let s = '';
  const stem = hex(shade(p.ground, -0.08, 0.1));
  for (let i = 0; i < n; i++) {
    const depth = c.r();
    const y = c.W - 20 - depth * (c.W - c.hy - 60) * 0.9;
    const x = c.r() * c.W;
    const r = (6 + (1 - depth) * 22) * (c.spec.composition === 'minimal' ? 1.6 : 1);
    const col = hex(cols[Math.floor(c.r() * cols.length)]!);
    s += `<rect x="${f1(x - 1.5)}" y="${f1(y)}" width="3" height="${f1(r * 3)}" fill="${stem}"/>`;
    for (let k = 0; k < 5; k++) {
      const a = (k / 5) * Math.PI * 2;
      s += `<circle cx="${f1(x + Math.cos(a) * r * 0.6)}" cy="${f1(y + Math.sin(a) * r * 0.6)}" r="${f1(r * 0.5)}" fill="${col}"/>`;
    }
    s += `<circle cx="${f1(x)}" cy="${f1(y)}" r="${f1(r * 0.3)}" fill="${hex(shade(p.light, -0.1))}"/>`;
  }
  return s;
}

/** Painter of the city: two rows of buildings, lit windows and signs, and a wet street reflecting them. */
import { hex, mix, shade } from '../color';
import { f1, type Ctx } from './canvas';

export function cityLayer(c: Ctx): string {
  const p = c.spec.palette;
  const busy = c.spec.detail;
  let s = '';
  for (let row = 0; row < 2; row++) {
    const col = row === 0 ? mix(p.far, p.skyBottom, 0.2) : c.dark ? shade(p.near, -0.04) : p.near;
    const count = Math.round(6 + busy * 16) + row * 3;
    const baseY = c.hy + 60 + row * 50;
    let x = -20;
    const symmetric = c.spec.composition === 'symmetric' || c.spec.composition === 'centered';
    while (x < c.W) {
      const w = (c.W / count) * (0.6 + c.r() * 0.8);
      const center = symmetric ? 1 - Math.abs(x + w / 2 - c.W / 2) / (c.W / 2) : c.r();
      const h = (90 + center * 210 + c.r() * 80) * (row === 0 ? 1.1 : 0.8);
      s += `<rect x="${f1(x)}" y="${f1(baseY - h)}" width="${f1(w - 3)}" height="${f1(h + c.W)}" fill="${hex(col)}"/>`;
      if (row === 1 && busy > 0.25) {
        // windows
        const lit = c.dark ? (c.spec.lighting === 'neon' ? p.accent2 : { h: 45, s: 0.9, l: 0.65 }) : shade(col, 0.18);
        const cols = Math.max(1, Math.floor(w / 22));
        const rows = Math.floor(h / 30);
        for (let i = 0; i < cols; i++)
          for (let j = 0; j < rows; j++)
            if (c.r() < 0.25 + busy * 0.4)
              s += `<rect x="${f1(x + 6 + i * 22)}" y="${f1(baseY - h + 12 + j * 30)}" width="9" height="13" fill="${hex(lit)}"/>`;
      }
      if (c.spec.lighting === 'neon' && row === 1 && c.r() < 0.35) {
        s += `<rect x="${f1(x + 4)}" y="${f1(baseY - h + 20)}" width="${f1(w * 0.6)}" height="8" fill="${hex(p.accent)}"/>`;
      }
      x += w;
    }
  }
  const streetY = c.hy + 110;
  s += `<rect x="0" y="${f1(streetY)}" width="${c.W}" height="${c.W}" fill="${hex(c.dark ? shade(p.skyTop, 0.02) : shade(p.ground, -0.05))}"/>`;
  // Wet-street reflections of the lights.
  const refl = c.dark ? (c.spec.lighting === 'neon' ? [p.accent, p.accent2] : [{ h: 45, s: 0.9, l: 0.6 }]) : [shade(p.near, 0.1)];
  const nr = Math.round(5 + busy * 25);
  for (let i = 0; i < nr; i++) {
    const x = c.r() * c.W;
    s += `<rect x="${f1(x)}" y="${f1(streetY + 8 + c.r() * 40)}" width="${f1(4 + c.r() * 12)}" height="${f1(60 + c.r() * 200)}" fill="${hex(refl[i % refl.length]!)}" opacity="${f1(0.15 + c.r() * 0.3)}"/>`;
  }
  return s;
}

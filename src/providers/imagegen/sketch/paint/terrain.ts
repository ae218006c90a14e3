/**
 * Painters of the land below the horizon: mountain ridges, the sea with its light reflections, dunes,
 * plain rolling ground, and the synthwave grid floor that replaces the ground under neon lighting.
 */
import { clamp, hex, mix, shade } from '../color';
import { f1, type Ctx } from './canvas';

/** A ridge line as a closed path from x=0 to W, base at `base`, amplitude `amp`. */
function ridge(c: Ctx, base: number, amp: number, jag: number, fill: string, symmetricPeak: boolean): string {
  const steps = Math.round(8 + jag * 24);
  let d = `M0 ${c.W} L0 ${f1(base)}`;
  const phase = c.r() * 6.28;
  const peakX = c.focusX;
  for (let i = 0; i <= steps; i++) {
    const x = (i / steps) * c.W;
    const dist = Math.abs(x - peakX) / c.W;
    const envelope = symmetricPeak ? Math.max(0, 1 - dist * 2.2) : 0.5 + 0.5 * Math.sin(x / 170 + phase);
    const y = base - amp * envelope - (c.r() - 0.5) * amp * 0.35 * jag;
    d += ` L${f1(x)} ${f1(y)}`;
  }
  d += ` L${c.W} ${c.W} Z`;
  return `<path d="${d}" fill="${fill}"/>`;
}

export function mountainsLayer(c: Ctx): string {
  const p = c.spec.palette;
  const layers = c.spec.composition === 'minimal' ? 2 : c.spec.composition === 'busy' ? 5 : 3;
  let s = '';
  for (let i = 0; i < layers; i++) {
    const t = i / (layers - 1);
    const col = mix(p.far, p.near, t);
    const base = c.hy + i * 18;
    const amp = c.hy * 0.55 * (1 - t * 0.45);
    s += ridge(c, base, amp, 0.4 + c.spec.detail * 0.6, hex(col), i === 0 && c.spec.composition !== 'busy');
    if (i === 0 && !c.dark && c.spec.detail > 0.3 && c.spec.lighting !== 'golden') {
      // snow caps: a lighter copy clipped to the top of the first ridge
      s += `<g opacity="0.35">${ridge(c, base - amp * 0.55, amp * 0.3, 0.5, hex(shade(col, 0.3, -0.2)), true)}</g>`;
    }
  }
  return s;
}

export function seaLayer(c: Ctx): string {
  const p = c.spec.palette;
  const water = mix(p.skyTop, p.accent2, 0.3);
  c.defs.push(
    `<linearGradient id="sea" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${hex(mix(water, p.skyBottom, 0.4))}"/><stop offset="1" stop-color="${hex(shade(water, -0.18))}"/></linearGradient>`,
  );
  let s = `<rect x="0" y="${f1(c.hy)}" width="${c.W}" height="${f1(c.W - c.hy)}" fill="url(#sea)"/>`;
  const n = Math.round(6 + c.spec.detail * 40);
  const lineCol = hex(shade(p.skyBottom, 0.1));
  for (let i = 0; i < n; i++) {
    const y = c.hy + 10 + Math.pow(c.r(), 1.6) * (c.W - c.hy - 10);
    const x = c.r() * c.W;
    const w = 20 + c.r() * 90 * (y / c.W);
    s += `<rect x="${f1(x)}" y="${f1(y)}" width="${f1(w)}" height="${f1(1.5 + (y - c.hy) / 120)}" rx="2" fill="${lineCol}" opacity="0.55"/>`;
  }
  // light reflection column under the sun/moon
  if (c.spec.subjects.includes('sun') || c.spec.subjects.includes('moon') || c.spec.lighting === 'golden') {
    const cx =
      c.spec.composition === 'centered' || c.spec.composition === 'symmetric' ? c.W / 2 : c.W * (c.spec.variation[7]! < 0.5 ? 0.3 : 0.7);
    for (let i = 0; i < 10; i++) {
      const y = c.hy + 8 + i * ((c.W - c.hy) / 11);
      const w = 40 + i * 14;
      s += `<rect x="${f1(cx - w / 2 + (c.r() - 0.5) * 20)}" y="${f1(y)}" width="${f1(w)}" height="${f1(3 + i)}" fill="${hex(p.light)}" opacity="${f1(0.6 - i * 0.04)}"/>`;
    }
  }
  return s;
}

export function desertLayer(c: Ctx): string {
  const p = c.spec.palette;
  const sand = mix(p.ground, { h: 36, s: 0.6, l: c.dark ? 0.2 : 0.6 }, 0.6);
  let s = '';
  for (let i = 0; i < 3; i++) {
    const y = c.hy + i * 90;
    const col = hex(shade(sand, -i * 0.07));
    const a = c.r() * 400;
    s += `<path d="M0 ${f1(y + 40)} Q ${f1(250 + a)} ${f1(y - 70)} ${f1(600 + a / 2)} ${f1(y + 30)} T ${c.W} ${f1(y + 10)} L${c.W} ${c.W} L0 ${c.W} Z" fill="${col}"/>`;
  }
  return s;
}

/** Synthwave floor: a perspective grid in the accent color. */
export function neonGrid(c: Ctx): string {
  const { W, hy } = c;
  const col = hex(c.spec.palette.accent);
  let g = `<rect x="0" y="${f1(hy)}" width="${W}" height="${f1(W - hy)}" fill="${hex(shade(c.spec.palette.skyTop, -0.02))}"/>`;
  for (let i = -10; i <= 10; i++)
    g += `<line x1="${f1(W / 2 + i * 30)}" y1="${f1(hy)}" x2="${f1(W / 2 + i * 160)}" y2="${W}" stroke="${col}" stroke-width="2"/>`;
  for (let i = 1; i < 9; i++) {
    const y = hy + Math.pow(i / 8, 2) * (W - hy);
    g += `<line x1="0" y1="${f1(y)}" x2="${W}" y2="${f1(y)}" stroke="${col}" stroke-width="2"/>`;
  }
  return g;
}

export function groundLayer(c: Ctx): string {
  const p = c.spec.palette;
  if (c.spec.lighting === 'neon' && !c.spec.subjects.includes('flowers')) return neonGrid(c);
  // Meadows lean green unless a color word says otherwise.
  const base =
    c.spec.subjects.includes('flowers') && c.spec.colorWords.length < 2
      ? mix(p.ground, { h: 100, s: 0.5, l: clamp(p.ground.l, 0.25, 0.5) }, 0.85)
      : p.ground;
  c.defs.push(
    `<linearGradient id="ground" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${hex(mix(base, p.skyBottom, 0.3))}"/><stop offset="1" stop-color="${hex(shade(base, -0.12))}"/></linearGradient>`,
  );
  let s = `<rect x="0" y="${f1(c.hy)}" width="${c.W}" height="${f1(c.W - c.hy)}" fill="url(#ground)"/>`;
  // Rolling foreground hills so the lower half is not one flat field.
  const hills = c.spec.composition === 'minimal' ? 1 : 2;
  for (let i = 0; i < hills; i++) {
    const y = c.hy + (c.W - c.hy) * (0.35 + i * 0.3);
    const a = (c.r() - 0.5) * 500;
    s += `<path d="M0 ${f1(y + 30)} Q ${f1(300 + a)} ${f1(y - 90)} ${f1(650 + a / 2)} ${f1(y)} T ${c.W} ${f1(y - 20)} L${c.W} ${c.W} L0 ${c.W} Z" fill="${hex(shade(base, -0.07 * (i + 1)))}" opacity="0.9"/>`;
  }
  return s;
}

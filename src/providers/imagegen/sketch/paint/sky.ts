/**
 * Painters of the sky: the gradient behind everything, stars, the sun or moon with its glow, and
 * clouds — and `skyElements`, the one decision of which of them a scene shows.
 */
import { hex, mix, shade } from '../color';
import type { SceneSpec, Subject } from '../scene';
import { f1, type Ctx } from './canvas';

export function skyLayer(c: Ctx): string {
  const p = c.spec.palette;
  c.defs.push(
    `<linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${hex(p.skyTop)}"/><stop offset="${f1(c.hy / c.W)}" stop-color="${hex(p.skyBottom)}"/><stop offset="1" stop-color="${hex(mix(p.skyBottom, p.ground, 0.5))}"/></linearGradient>`,
  );
  return `<rect width="${c.W}" height="${c.W}" fill="url(#sky)"/>`;
}

export function starsLayer(c: Ctx): string {
  const n = Math.round(40 + c.spec.detail * 160);
  let s = '';
  for (let i = 0; i < n; i++) {
    const x = c.r() * c.W;
    const y = c.r() * c.hy * 0.95;
    const rad = 0.8 + c.r() * c.r() * 3.2;
    s += `<circle cx="${f1(x)}" cy="${f1(y)}" r="${f1(rad)}" fill="${hex(c.spec.palette.light)}" opacity="${f1(0.35 + c.r() * 0.65)}"/>`;
  }
  return s;
}

export function celestialLayer(c: Ctx, kind: 'sun' | 'moon'): string {
  const p = c.spec.palette;
  const comp = c.spec.composition;
  const cx = comp === 'centered' || comp === 'symmetric' ? c.W / 2 : c.W * (c.spec.variation[7]! < 0.5 ? 0.3 : 0.7);
  const low = c.spec.lighting === 'golden' || c.spec.lighting === 'dawn';
  const cy = low ? c.hy - 130 - c.r() * 60 : c.hy * (0.28 + c.r() * 0.2);
  const rad = comp === 'minimal' ? 150 : 70 + c.r() * 50;
  const col = kind === 'moon' ? { h: 50, s: 0.25, l: 0.9 } : c.spec.lighting === 'neon' ? p.accent : p.light;
  c.defs.push(
    `<radialGradient id="glow"><stop offset="0" stop-color="${hex(col)}" stop-opacity="0.75"/><stop offset="1" stop-color="${hex(col)}" stop-opacity="0"/></radialGradient>`,
  );
  let s = `<circle cx="${f1(cx)}" cy="${f1(cy)}" r="${f1(rad * 3)}" fill="url(#glow)"/>`;
  if (c.spec.lighting === 'neon' && kind === 'sun') {
    // Synthwave sun: stripes cut from the disc.
    c.defs.push(
      `<linearGradient id="sunG" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${hex(p.light)}"/><stop offset="1" stop-color="${hex(p.accent)}"/></linearGradient>`,
      `<clipPath id="sunClip"><circle cx="${f1(cx)}" cy="${f1(cy)}" r="${f1(rad)}"/></clipPath>`,
    );
    s += `<g clip-path="url(#sunClip)"><rect x="${f1(cx - rad)}" y="${f1(cy - rad)}" width="${f1(rad * 2)}" height="${f1(rad * 2)}" fill="url(#sunG)"/>`;
    for (let i = 0; i < 6; i++)
      s += `<rect x="${f1(cx - rad)}" y="${f1(cy + i * rad * 0.17)}" width="${f1(rad * 2)}" height="${f1(4 + i * 3)}" fill="${hex(p.skyBottom)}"/>`;
    s += '</g>';
  } else {
    s += `<circle cx="${f1(cx)}" cy="${f1(cy)}" r="${f1(rad)}" fill="${hex(col)}"/>`;
    if (kind === 'moon') {
      s += `<circle cx="${f1(cx - rad * 0.25)}" cy="${f1(cy - rad * 0.2)}" r="${f1(rad * 0.2)}" fill="${hex(shade(col, -0.1))}" opacity="0.5"/>`;
      s += `<circle cx="${f1(cx + rad * 0.3)}" cy="${f1(cy + rad * 0.25)}" r="${f1(rad * 0.13)}" fill="${hex(shade(col, -0.1))}" opacity="0.5"/>`;
    }
  }
  return s;
}

export function cloudsLayer(c: Ctx): string {
  const n = Math.round(2 + c.spec.detail * 7);
  const col = c.dark ? shade(c.spec.palette.skyBottom, 0.08) : shade(c.spec.palette.skyBottom, 0.12, -0.2);
  let s = `<g fill="${hex(col)}" opacity="${c.dark ? 0.5 : 0.85}">`;
  for (let i = 0; i < n; i++) {
    const x = c.r() * c.W;
    const y = 60 + c.r() * (c.hy - 160);
    const w = 90 + c.r() * 160;
    s += `<ellipse cx="${f1(x)}" cy="${f1(y)}" rx="${f1(w)}" ry="${f1(w * 0.22)}"/>`;
    s += `<ellipse cx="${f1(x - w * 0.3)}" cy="${f1(y - w * 0.12)}" rx="${f1(w * 0.45)}" ry="${f1(w * 0.25)}"/>`;
    s += `<ellipse cx="${f1(x + w * 0.25)}" cy="${f1(y - w * 0.17)}" rx="${f1(w * 0.38)}" ry="${f1(w * 0.3)}"/>`;
  }
  return s + '</g>';
}

/** Which sky elements a scene shows. */
export interface SkyElements {
  sun: boolean;
  moon: boolean;
  stars: boolean;
  clouds: boolean;
}

/**
 * What the renderer draws in the sky: the named subjects, plus what the lighting brings on its own (a
 * night sky has stars and a moon, golden hour a sun, overcast clouds). The one place this is decided:
 * buildSketchSvg draws from it, and the evaluations' hidden judge reads it, so "the picture shows a
 * moon" means the same thing to both.
 */
export function skyElements(spec: SceneSpec): SkyElements {
  const has = (s: Subject) => spec.subjects.includes(s);
  const dark = spec.lighting === 'night' || spec.lighting === 'neon';
  return {
    stars: has('stars') || spec.lighting === 'night',
    sun: has('sun') || (spec.lighting === 'golden' && !has('moon')) || (spec.lighting === 'neon' && !has('moon') && !has('city')),
    moon: has('moon') || (spec.lighting === 'night' && !has('sun')),
    clouds: has('clouds') || (spec.detail > 0.75 && !dark) || spec.lighting === 'overcast',
  };
}

/** Color arithmetic in HSL for the `sketch` generator: hue pulls, mixes, shades and SVG hex strings. */
import type { Hsl } from './scene';

export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

export function wrapHue(h: number): number {
  return ((h % 360) + 360) % 360;
}

/** Moves hue `h` toward `target` by fraction `t` along the shorter arc. */
export function pullHue(h: number, target: number, t: number): number {
  let d = wrapHue(target - h);
  if (d > 180) d -= 360;
  return wrapHue(h + d * t);
}

/** Warmth of a hue: +1 at orange (30°), −1 at blue (210°). */
export function hueWarmth(h: number): number {
  return Math.cos(((h - 30) * Math.PI) / 180);
}

export function hslToRgb(c: Hsl): [number, number, number] {
  const h = wrapHue(c.h) / 360;
  const s = clamp(c.s, 0, 1);
  const l = clamp(c.l, 0, 1);
  if (s === 0) return [l, l, l].map((x) => Math.round(x * 255)) as [number, number, number];
  const q = l < 0.5 ? l * (1 + s) : l + s - l * s;
  const p = 2 * l - q;
  const f = (t: number) => {
    if (t < 0) t += 1;
    if (t > 1) t -= 1;
    if (t < 1 / 6) return p + (q - p) * 6 * t;
    if (t < 1 / 2) return q;
    if (t < 2 / 3) return p + (q - p) * (2 / 3 - t) * 6;
    return p;
  };
  return [f(h + 1 / 3), f(h), f(h - 1 / 3)].map((x) => Math.round(x * 255)) as [number, number, number];
}

export function hex(c: Hsl): string {
  return (
    '#' +
    hslToRgb(c)
      .map((x) => x.toString(16).padStart(2, '0'))
      .join('')
  );
}

export function mix(a: Hsl, b: Hsl, t: number): Hsl {
  let d = wrapHue(b.h - a.h);
  if (d > 180) d -= 360;
  // Near-grey colors have meaningless hue: take the other one's.
  const h = a.s < 0.05 ? b.h : b.s < 0.05 ? a.h : a.h + d * t;
  return { h: wrapHue(h), s: a.s + (b.s - a.s) * t, l: a.l + (b.l - a.l) * t };
}

export function shade(c: Hsl, dl: number, ds = 0): Hsl {
  return { h: c.h, s: clamp(c.s + ds, 0, 1), l: clamp(c.l + dl, 0, 1) };
}

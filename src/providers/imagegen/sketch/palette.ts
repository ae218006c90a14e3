/**
 * The scene's eight colors, chosen from its color words, lighting and tone: the named colors lead,
 * lighting sets the sky, and the hash-derived variation picks the hues nothing named.
 */
import { clamp, pullHue, wrapHue } from './color';
import type { Hsl, Lighting, Medium, SceneSpec } from './scene';
import { COLOR_HUES } from './vocabulary';

export function buildPalette(p: {
  colorWords: string[];
  lighting: Lighting;
  warmth: number;
  brightness: number;
  saturation: number;
  medium: Medium;
  variation: number[];
  bluehour: boolean;
}): SceneSpec['palette'] {
  const v = (i: number) => p.variation[i] ?? 0.5;
  const c1 = p.colorWords[0] ? COLOR_HUES[p.colorWords[0]]! : undefined;
  const c2 = p.colorWords[1] ? COLOR_HUES[p.colorWords[1]]! : undefined;
  // Base hue: the first color word, else one drawn from the hash and then pulled by warmth.
  let base = c1 ? c1.h : wrapHue(v(5) * 360);
  if (!c1) base = pullHue(base, p.warmth >= 0 ? 30 : 212, Math.min(1, Math.abs(p.warmth) * 1.1));
  else base = pullHue(base, p.warmth >= 0 ? 30 : 212, Math.abs(p.warmth) * 0.15);
  const offsets = [150, 180, 35, -40, 120];
  let second = c2 ? c2.h : wrapHue(base + offsets[Math.floor(v(6) * offsets.length)]!);
  if (!c2) second = pullHue(second, p.warmth >= 0 ? 45 : 200, Math.abs(p.warmth) * 0.6);
  const S = p.saturation;
  const B = p.brightness;
  const L = (x: number) => clamp(x + B * 0.22, 0.04, 0.96);
  const sat = (x: number) => clamp(x * (0.25 + S * 1.05), 0, 1);
  const hsl = (h: number, s: number, l: number): Hsl => ({ h: wrapHue(h), s: clamp(s, 0, 1), l: clamp(l, 0, 1) });

  let skyTop: Hsl, skyBottom: Hsl, light: Hsl;
  switch (p.lighting) {
    case 'golden':
      skyTop = hsl(pullHue(base, 25, 0.6) - 10, sat(0.75), L(0.52));
      skyBottom = hsl(pullHue(base, 45, 0.7), sat(0.9), L(0.72));
      light = hsl(48, 1, 0.75);
      break;
    case 'dawn':
      skyTop = p.bluehour ? hsl(225, sat(0.6), L(0.3)) : hsl(pullHue(base, 250, 0.5), sat(0.45), L(0.5));
      skyBottom = p.bluehour ? hsl(210, sat(0.5), L(0.55)) : hsl(pullHue(base, 20, 0.6), sat(0.65), L(0.74));
      light = hsl(35, 0.9, 0.8);
      break;
    case 'night':
      skyTop = hsl(pullHue(base, 230, 0.75), sat(0.55), clamp(0.06 + (B + 1) * 0.05, 0.03, 0.22));
      skyBottom = hsl(pullHue(base, 235, 0.6), sat(0.5), clamp(0.17 + (B + 1) * 0.07, 0.08, 0.38));
      light = hsl(52, 0.35, 0.9);
      break;
    case 'neon':
      skyTop = hsl(pullHue(base, 270, 0.5), sat(0.75), 0.09);
      skyBottom = hsl(pullHue(base, 310, 0.5), sat(0.85), 0.28);
      light = hsl(pullHue(second, 185, 0.6), 1, 0.6);
      break;
    case 'overcast':
      skyTop = hsl(pullHue(base, 215, 0.6), sat(0.15), L(0.58));
      skyBottom = hsl(pullHue(base, 215, 0.4), sat(0.12), L(0.74));
      light = hsl(50, 0.2, 0.88);
      break;
    default:
      skyTop = c1 && !c2 ? hsl(base, sat(0.55), L(0.55)) : hsl(pullHue(base, 210, 0.65), sat(0.6), L(0.6));
      skyBottom = hsl(pullHue(base, 200, 0.3), sat(0.45), L(0.82));
      light = hsl(50, 0.95, 0.72);
  }
  if (c1 && p.lighting !== 'night' && p.lighting !== 'neon') {
    // A named color dominates: tint the sky with it.
    skyTop = hsl(pullHue(skyTop.h, c1.h, 0.7), Math.max(skyTop.s, sat(c1.s * 0.8)), skyTop.l);
    skyBottom = hsl(pullHue(skyBottom.h, c1.h, 0.5), skyBottom.s, skyBottom.l);
  }
  const dark = p.lighting === 'night' || p.lighting === 'neon';
  const landHue = c2 ? c2.h : c1 ? pullHue(c1.h, second, 0.35) : second;
  const far = hsl(pullHue(landHue, skyBottom.h, 0.55), sat(0.35), dark ? clamp(skyBottom.l * 0.9, 0.05, 0.3) : L(0.6));
  const near = hsl(landHue, sat(0.6), dark ? clamp(skyTop.l * 0.9, 0.03, 0.2) : L(0.3));
  const ground = hsl(pullHue(landHue, base, 0.3), sat(0.55), dark ? 0.08 : L(0.38));
  const accent =
    p.lighting === 'neon'
      ? hsl(pullHue(base, 315, 0.5), 1, 0.58)
      : hsl(c1 ? c1.h : pullHue(base, second, 0.1), sat(c1 ? c1.s : 0.85), clamp(c1 ? c1.l : L(0.55), 0.25, 0.85));
  const accent2 = p.lighting === 'neon' ? hsl(pullHue(second, 185, 0.6), 1, 0.55) : hsl(second, sat(0.8), L(0.6));
  if (p.medium === 'ink') {
    const paper = hsl(40, 0.25, 0.9);
    const inkC = hsl(220, 0.1, 0.1);
    const mid = (t: number) => hsl(220, 0.05, 0.1 + t * 0.8);
    return dark
      ? {
          skyTop: mid(0.05),
          skyBottom: mid(0.25),
          far: mid(0.4),
          near: mid(0.7),
          ground: mid(0.85),
          accent: paper,
          accent2: mid(0.6),
          light: paper,
        }
      : { skyTop: paper, skyBottom: paper, far: mid(0.65), near: mid(0.25), ground: inkC, accent: inkC, accent2: mid(0.45), light: paper };
  }
  return { skyTop, skyBottom, far, near, ground, accent, accent2, light };
}

/**
 * Painters of the things and animals a prompt names (SceneSpec.props), as simple silhouettes in front
 * of the landscape: boats and fish on the water, birds in the sky, and lighthouses, houses, trees,
 * cats, dogs and horses standing on the land. The first named prop is the main one: it stands at the
 * focus and is drawn largest. A scene without props draws nothing here and draws no random number,
 * so every other scene keeps its exact picture.
 */
import { clamp, hex, mix, shade } from '../color';
import type { Hsl, Prop } from '../scene';
import { f1, type Ctx } from './canvas';
import { catShape, dogShape, horseShape } from './animals';

/** Props that stand on the ground (the rest float, swim or fly). */
const LAND_PROPS: readonly Prop[] = ['lighthouse', 'house', 'tree', 'cat', 'dog', 'horse'];

/** Height of a standing prop as the main one, in viewBox units (the rest are drawn smaller, further back). */
const MAIN_HEIGHT: Record<Prop, number> = {
  lighthouse: 380,
  house: 220,
  tree: 330,
  cat: 190,
  dog: 170,
  horse: 260,
  boat: 0,
  bird: 0,
  fish: 0,
};

export function propsLayer(c: Ctx): string {
  const props = c.spec.props;
  if (!props.length) return '';
  const p = c.spec.palette;
  const sea = c.spec.subjects.includes('sea');
  const land = props.filter((p) => LAND_PROPS.includes(p) && !(p === 'lighthouse' && sea));
  // On a sea scene, land props need a shore to stand on.
  const shoreTop = c.W - 120;
  let s = sea && land.length ? shore(c, shoreTop) : '';
  if (props.includes('fish')) s += fishLayer(c, props[0] === 'fish');
  if (props.includes('boat')) s += boatsLayer(c, inkAgainst(c, p.skyTop.l), props[0] === 'boat', sea && land.length ? shoreTop : c.W - 30);
  if (props.includes('lighthouse') && sea) s += headlandLighthouse(c, props[0] === 'lighthouse');
  const groundY = sea ? c.W - 60 : clamp(c.hy + (c.W - c.hy) * 0.62, c.hy + 70, c.W - 40);
  const slots = landSlots(c);
  const ink = inkAgainst(c, sea ? p.ground.l : Math.min(p.ground.l, p.near.l + 0.1));
  // A land prop is the main one only when it was named first (not after a boat or a bird).
  const landLeads = land[0] === props[0];
  land.forEach((prop, i) => {
    const main = i === 0 && landLeads;
    const scale = (main ? 1 : 0.62) * (c.spec.composition === 'minimal' ? 1.15 : 1);
    // Props further back stand a little higher, as if further away.
    const y = main ? groundY : groundY - (c.W - groundY) * 0.35 - 12;
    s += standingProp(c, prop, slots[i % slots.length]!, y, MAIN_HEIGHT[prop] * scale, ink);
  });
  if (props.includes('bird')) s += birdsLayer(c, inkAgainst(c, p.skyBottom.l), props[0] === 'bird');
  return s;
}

/**
 * The silhouette color for a backdrop of lightness `backdrop`: a near-black shape on a light one, a
 * pale, moonlit one on a dark one (night, a dark palette, an ink wash), so the shape never vanishes.
 */
function inkAgainst(c: Ctx, backdrop: number): Hsl {
  const p = c.spec.palette;
  if (!c.dark && backdrop > 0.32) return mix(shade(p.near, -0.3), { h: 220, s: 0.1, l: 0.08 }, 0.4);
  const pale = mix(p.light, p.skyBottom, 0.3);
  return { ...pale, l: Math.max(0.62, pale.l) };
}

/** Where standing props go: the focus first, then the other third, then the middle. */
function landSlots(c: Ctx): number[] {
  const other = c.focusX < c.W / 2 ? c.W * 0.76 : c.focusX > c.W / 2 ? c.W * 0.24 : c.W * 0.2;
  return [c.focusX, other, c.focusX === c.W / 2 ? c.W * 0.8 : c.W / 2];
}

function standingProp(c: Ctx, prop: Prop, x: number, y: number, h: number, ink: Hsl): string {
  const shadow = `<ellipse cx="${f1(x)}" cy="${f1(y)}" rx="${f1(h * 0.32)}" ry="${f1(h * 0.035)}" fill="#000" opacity="0.22"/>`;
  switch (prop) {
    case 'lighthouse':
      return shadow + lighthouse(c, x, y, h);
    case 'house':
      return shadow + house(c, x, y, h, ink);
    case 'tree':
      return shadow + tree(x, y, h, ink);
    case 'cat':
      return shadow + catShape(x, y, h, hex(ink));
    case 'dog':
      return shadow + dogShape(x, y, h, hex(ink));
    case 'horse':
      return shadow + horseShape(x, y, h, hex(ink));
    default:
      return '';
  }
}

function shore(c: Ctx, top: number): string {
  const g = shade(c.spec.palette.ground, -0.05);
  return `<path d="M0 ${f1(top + 15)} Q ${f1(c.W * 0.35)} ${f1(top - 25)} ${f1(c.W * 0.6)} ${f1(top + 5)} T ${c.W} ${f1(top)} L${c.W} ${c.W} L0 ${c.W} Z" fill="${hex(g)}"/>`;
}

/** A striped tower with a lamp room; after dark or at dusk its beam shines across the sky. */
function lighthouse(c: Ctx, x: number, base: number, h: number): string {
  const p = c.spec.palette;
  const bottom = h * 0.12;
  const top = h * 0.075;
  const at = (t: number) => bottom + (top - bottom) * t; // half-width at height fraction t
  const yAt = (t: number) => base - h * 0.8 * t;
  const wall = c.dark ? shade(p.light, -0.45) : { h: 40, s: 0.15, l: 0.92 };
  const band = c.spec.colorWords.length ? p.accent : { h: 2, s: 0.7, l: c.dark ? 0.3 : 0.45 };
  let s = `<path d="M${f1(x - at(0))} ${f1(yAt(0))} L${f1(x - at(1))} ${f1(yAt(1))} L${f1(x + at(1))} ${f1(yAt(1))} L${f1(x + at(0))} ${f1(yAt(0))} Z" fill="${hex(wall)}"/>`;
  for (const [t0, t1] of [
    [0.15, 0.3],
    [0.45, 0.6],
    [0.75, 0.9],
  ] as const) {
    s += `<path d="M${f1(x - at(t0))} ${f1(yAt(t0))} L${f1(x - at(t1))} ${f1(yAt(t1))} L${f1(x + at(t1))} ${f1(yAt(t1))} L${f1(x + at(t0))} ${f1(yAt(t0))} Z" fill="${hex(band)}"/>`;
  }
  const roomY = yAt(1);
  const lit = c.dark || c.spec.lighting === 'dawn' || c.spec.lighting === 'golden' || c.spec.lighting === 'overcast';
  const lamp = lit ? { h: 48, s: 0.95, l: 0.7 } : shade(wall, -0.25);
  if (lit) {
    const dir = x < c.W / 2 ? 1 : -1;
    s += `<path d="M${f1(x)} ${f1(roomY - h * 0.06)} L${f1(x + dir * c.W)} ${f1(roomY - h * 0.25)} L${f1(x + dir * c.W)} ${f1(roomY + h * 0.08)} Z" fill="${hex(lamp)}" opacity="0.3"/>`;
  }
  s += `<rect x="${f1(x - top * 1.3)}" y="${f1(roomY - 4)}" width="${f1(top * 2.6)}" height="8" fill="${hex(shade(band, -0.15))}"/>`;
  s += `<rect x="${f1(x - top * 0.8)}" y="${f1(roomY - h * 0.11)}" width="${f1(top * 1.6)}" height="${f1(h * 0.11)}" fill="${hex(lamp)}"/>`;
  s += `<path d="M${f1(x - top)} ${f1(roomY - h * 0.11)} Q ${f1(x)} ${f1(roomY - h * 0.2)} ${f1(x + top)} ${f1(roomY - h * 0.11)} Z" fill="${hex(shade(band, -0.15))}"/>`;
  return s;
}

/** On a sea scene the lighthouse stands on a rocky headland at the focus or the side. */
function headlandLighthouse(c: Ctx, main: boolean): string {
  const x = main ? c.focusX : c.focusX < c.W / 2 ? c.W * 0.8 : c.W * 0.2;
  const h = main ? 340 : 230;
  const base = main ? Math.min(c.W - 140, c.hy + 190) : c.hy + 70;
  const rock = hex(shade(c.spec.palette.near, c.dark ? -0.05 : -0.15));
  const w = h * 0.55;
  const headland = `<path d="M${f1(x - w)} ${f1(c.W)} L${f1(x - w * 0.8)} ${f1(base + 10)} Q ${f1(x - w * 0.3)} ${f1(base - 30)} ${f1(x)} ${f1(base - 8)} Q ${f1(x + w * 0.5)} ${f1(base - 20)} ${f1(x + w * 0.9)} ${f1(base + 25)} L${f1(x + w * 1.1)} ${f1(c.W)} Z" fill="${rock}"/>`;
  return headland + lighthouse(c, x, base, h);
}

/** A house outlined in the silhouette ink: walls, a pitched roof in the accent color, a door, and windows lit after dark. */
function house(c: Ctx, x: number, base: number, h: number, ink: Hsl): string {
  const p = c.spec.palette;
  const w = h * 0.95;
  const wallH = h * 0.55;
  const walls = c.dark ? shade(p.near, 0.05) : shade(mix(p.ground, { h: 35, s: 0.25, l: 0.75 }, 0.6), 0);
  const roof = shade(p.accent, -0.15);
  const win = c.dark || c.spec.lighting === 'dawn' ? { h: 45, s: 0.9, l: 0.65 } : shade(p.skyBottom, -0.1);
  // The outline keeps the house readable where walls and ground share a tone (an ink wash, a dark palette).
  const outline = `stroke="${hex(ink)}" stroke-width="${f1(h * 0.03)}" stroke-linejoin="round"`;
  let s = `<rect x="${f1(x - w / 2)}" y="${f1(base - wallH)}" width="${f1(w)}" height="${f1(wallH)}" fill="${hex(walls)}" ${outline}/>`;
  s += `<path d="M${f1(x - w * 0.6)} ${f1(base - wallH)} L${f1(x)} ${f1(base - h)} L${f1(x + w * 0.6)} ${f1(base - wallH)} Z" fill="${hex(roof)}" ${outline}/>`;
  s += `<rect x="${f1(x - w * 0.08)}" y="${f1(base - wallH * 0.55)}" width="${f1(w * 0.16)}" height="${f1(wallH * 0.55)}" fill="${hex(shade(walls, -0.35))}"/>`;
  for (const dx of [-0.3, 0.3])
    s += `<rect x="${f1(x + dx * w - w * 0.08)}" y="${f1(base - wallH * 0.75)}" width="${f1(w * 0.16)}" height="${f1(wallH * 0.25)}" fill="${hex(win)}"/>`;
  return s;
}

/** One big tree: a trunk and a round crown of a few overlapping circles. */
function tree(x: number, base: number, h: number, ink: Hsl): string {
  // A silhouette like the animals, with a hint of green so it reads as leaves.
  const leaves = mix(ink, { h: 110, s: 0.45, l: ink.l }, 0.35);
  let s = `<path d="M${f1(x - h * 0.05)} ${f1(base)} L${f1(x - h * 0.03)} ${f1(base - h * 0.55)} L${f1(x + h * 0.03)} ${f1(base - h * 0.55)} L${f1(x + h * 0.05)} ${f1(base)} Z" fill="${hex(ink)}"/>`;
  for (const [dx, dy, r] of [
    [0, -0.72, 0.24],
    [-0.2, -0.6, 0.18],
    [0.2, -0.6, 0.18],
    [-0.1, -0.86, 0.16],
    [0.12, -0.84, 0.15],
  ] as const)
    s += `<circle cx="${f1(x + dx * h)}" cy="${f1(base + dy * h)}" r="${f1(r * h)}" fill="${hex(leaves)}"/>`;
  return s;
}

/** Sailing boats on the water, smaller towards the horizon; the main one sails at the focus. */
function boatsLayer(c: Ctx, ink: Hsl, main: boolean, waterBottom: number): string {
  const n = (main ? 1 : 0) + 1 + Math.round(c.spec.detail * 3);
  const sail = c.dark ? shade(c.spec.palette.light, -0.3) : { h: 40, s: 0.2, l: 0.93 };
  let s = '';
  for (let i = 0; i < n; i++) {
    const big = main && i === 0;
    const depth = big ? 0.55 : c.r() * 0.8;
    const y = c.hy + 25 + depth * Math.max(20, waterBottom - c.hy - 60);
    const x = big ? c.focusX : 60 + c.r() * (c.W - 120);
    const w = big ? 220 : 50 + depth * 120;
    s += `<path d="M${f1(x - w / 2)} ${f1(y - w * 0.12)} L${f1(x + w / 2)} ${f1(y - w * 0.12)} L${f1(x + w * 0.36)} ${f1(y)} L${f1(x - w * 0.36)} ${f1(y)} Z" fill="${hex(ink)}"/>`;
    s += `<rect x="${f1(x - 2)}" y="${f1(y - w * 0.95)}" width="4" height="${f1(w * 0.83)}" fill="${hex(ink)}"/>`;
    s += `<path d="M${f1(x + 4)} ${f1(y - w * 0.92)} L${f1(x + w * 0.36)} ${f1(y - w * 0.18)} L${f1(x + 4)} ${f1(y - w * 0.18)} Z" fill="${hex(sail)}"/>`;
    s += `<path d="M${f1(x - 4)} ${f1(y - w * 0.75)} L${f1(x - w * 0.26)} ${f1(y - w * 0.18)} L${f1(x - 4)} ${f1(y - w * 0.18)} Z" fill="${hex(shade(sail, -0.08))}"/>`;
  }
  return s;
}

/** Birds in flight, as filled wing shapes; the main one is large at the focus. */
function birdsLayer(c: Ctx, ink: Hsl, main: boolean): string {
  const n = 3 + Math.round(c.spec.detail * 5);
  let s = '';
  for (let i = 0; i < n; i++) {
    const big = main && i === 0;
    const x = big ? c.focusX : c.r() * c.W;
    const y = big ? c.hy * 0.45 : 70 + c.r() * Math.max(40, c.hy - 220);
    const w = big ? 130 : 22 + c.r() * 34;
    s += `<path d="M${f1(x - w)} ${f1(y - w * 0.1)} Q ${f1(x - w * 0.5)} ${f1(y - w * 0.55)} ${f1(x)} ${f1(y)} Q ${f1(x + w * 0.5)} ${f1(y - w * 0.55)} ${f1(x + w)} ${f1(y - w * 0.1)} Q ${f1(x + w * 0.45)} ${f1(y - w * 0.2)} ${f1(x)} ${f1(y + w * 0.16)} Q ${f1(x - w * 0.45)} ${f1(y - w * 0.2)} ${f1(x - w)} ${f1(y - w * 0.1)} Z" fill="${hex(ink)}"/>`;
  }
  return s;
}

/** Fish leaping from the water in the accent color, each with a splash ring. */
function fishLayer(c: Ctx, main: boolean): string {
  const p = c.spec.palette;
  const n = (main ? 1 : 0) + 2 + Math.round(c.spec.detail * 2);
  let s = '';
  for (let i = 0; i < n; i++) {
    const big = main && i === 0;
    const x = big ? c.focusX : 80 + c.r() * (c.W - 160);
    const y = big ? c.hy + (c.W - c.hy) * 0.45 : c.hy + 40 + c.r() * (c.W - c.hy) * 0.5;
    const len = big ? 170 : 50 + c.r() * 50;
    const tilt = f1(big ? -25 : (c.r() - 0.5) * 60);
    const col = hex(i % 2 ? p.accent2 : p.accent);
    s += `<ellipse cx="${f1(x)}" cy="${f1(y + len * 0.3)}" rx="${f1(len * 0.5)}" ry="${f1(len * 0.08)}" fill="none" stroke="${hex(shade(p.skyBottom, 0.15))}" stroke-width="3" opacity="0.7"/>`;
    s += `<g transform="rotate(${tilt} ${f1(x)} ${f1(y)})"><ellipse cx="${f1(x)}" cy="${f1(y)}" rx="${f1(len * 0.5)}" ry="${f1(len * 0.2)}" fill="${col}"/>`;
    s += `<path d="M${f1(x + len * 0.42)} ${f1(y)} L${f1(x + len * 0.72)} ${f1(y - len * 0.2)} L${f1(x + len * 0.72)} ${f1(y + len * 0.2)} Z" fill="${col}"/>`;
    s += `<circle cx="${f1(x - len * 0.3)}" cy="${f1(y - len * 0.04)}" r="${f1(len * 0.035)}" fill="#111"/></g>`;
  }
  return s;
}

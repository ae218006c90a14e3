/**
 * Composes a scene's SVG from the painters, back to front: sky, land, subjects, props, marks, then the ink
 * medium's color filter and hatching. No <text> elements are ever emitted, so system fonts are never
 * needed (fast and reproducible).
 */
import { mulberry32 } from '../../../core/random';
import { type SceneSpec, type Subject, hashWords } from './scene';
import { f1, type Ctx } from './paint/canvas';
import { celestialLayer, cloudsLayer, skyElements, skyLayer, starsLayer } from './paint/sky';
import { desertLayer, groundLayer, mountainsLayer, neonGrid, seaLayer } from './paint/terrain';
import { cityLayer } from './paint/city';
import { flowersLayer, forestLayer } from './paint/plants';
import { abstractLayer, detailMarks, figureLayer } from './paint/overlays';
import { propsLayer } from './paint/props';

/** Builds the scene's SVG (viewBox 1000×1000, no text). Exposed for debugging and tests. */
export function buildSketchSvg(spec: SceneSpec, seed: number, size: number): string {
  const W = 1000;
  const seedHash = hashWords(`${spec.prompt}\u0000${seed >>> 0}`).readUInt32BE(0);
  const r = mulberry32(seedHash);
  const comp = spec.composition;
  const focusX = comp === 'centered' || comp === 'symmetric' || comp === 'minimal' ? W / 2 : W * (spec.variation[7]! < 0.5 ? 1 / 3 : 2 / 3);
  const c: Ctx = {
    spec,
    r,
    W,
    hy: spec.horizon * W + (r() - 0.5) * 30,
    defs: [],
    focusX,
    dark: spec.lighting === 'night' || spec.lighting === 'neon',
  };
  const has = (s: Subject) => spec.subjects.includes(s);
  const sky = skyElements(spec);
  const parts: string[] = [skyLayer(c)];
  if (sky.stars) parts.push(starsLayer(c));
  if (sky.sun) parts.push(celestialLayer(c, 'sun'));
  if (sky.moon) parts.push(celestialLayer(c, 'moon'));
  if (sky.clouds) parts.push(cloudsLayer(c));
  const onlyAbstract = has('abstract') && !['mountains', 'sea', 'city', 'forest', 'desert', 'flowers'].some((s) => has(s as Subject));
  if (!onlyAbstract) {
    if (has('mountains')) parts.push(mountainsLayer(c));
    if (has('desert')) parts.push(desertLayer(c));
    if (has('sea')) parts.push(seaLayer(c));
    else if (!has('desert') && !has('forest') && !has('city')) parts.push(groundLayer(c));
    if (has('city')) parts.push(cityLayer(c));
    if (has('forest')) parts.push(forestLayer(c));
    if (has('flowers')) parts.push(flowersLayer(c));
  } else if (spec.lighting === 'neon') {
    parts.push(neonGrid(c));
  }
  if (has('abstract')) parts.push(abstractLayer(c));
  if (has('figure')) parts.push(figureLayer(c));
  parts.push(propsLayer(c));
  parts.push(detailMarks(c));

  let body = parts.join('');
  const filters: string[] = [];
  // Symmetric scenes are NOT mirrored here: a clipped group reused through a mirrored <use> makes
  // @resvg/resvg-js 2.6.2 panic and abort the whole process (uncatchable) on some scenes. The mirror
  // is applied to the raster instead (mirrorLeftHalf in effects.ts).
  // Ink is a cheap color filter; watercolor and oil are raster post-processes (effects.ts):
  // resvg's feTurbulence costs ~40 ms per 512² layer, too slow for the budget.
  if (spec.medium === 'ink') {
    // userSpaceOnUse: resvg 2.6 can panic (abort the process) computing an objectBoundingBox filter region.
    filters.push(
      `<filter id="inkF" filterUnits="userSpaceOnUse" x="0" y="0" width="${W}" height="${W}"><feColorMatrix type="saturate" values="0"/><feComponentTransfer><feFuncR type="discrete" tableValues="0.08 0.35 0.65 0.93"/><feFuncG type="discrete" tableValues="0.08 0.35 0.64 0.91"/><feFuncB type="discrete" tableValues="0.09 0.34 0.6 0.86"/></feComponentTransfer></filter>`,
    );
    // cross-hatching over the lower half, drawn in ink
    let hatch = '';
    const n = Math.round(20 + spec.detail * 60);
    for (let i = 0; i < n; i++) {
      const x = r() * W;
      const y = c.hy + r() * (W - c.hy);
      hatch += `<line x1="${f1(x)}" y1="${f1(y)}" x2="${f1(x + 40)}" y2="${f1(y - 25)}" stroke="#1a1a1e" stroke-width="1.5" opacity="0.5"/>`;
    }
    body = `<g filter="url(#inkF)">${body}</g>${hatch}`;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${size}" height="${size}" viewBox="0 0 ${W} ${W}"><defs>${c.defs.join('')}${filters.join('')}</defs>${body}</svg>`;
}

/**
 * The hidden judge's view of a picture: the latent scene properties it reads straight from the
 * renderer's scene description (SceneSpec), never from pixels, features or embeddings. Shared by every
 * synthetic population (synthetic.ts v1, synthetic-v2.ts).
 */
import { skyElements, type SkyElements } from '../providers/imagegen/sketch/paint/sky';
import type { Composition, Lighting, Medium, SceneSpec, Subject } from '../providers/imagegen/sketch/scene';
// ---------------------------------------------------------------- the hidden judge's view

export const LIGHTINGS: Lighting[] = ['day', 'golden', 'night', 'neon', 'overcast', 'dawn'];
export const COMPOSITIONS: Composition[] = ['centered', 'symmetric', 'minimal', 'busy', 'balanced'];
export const MEDIA: Medium[] = ['flat', 'watercolor', 'ink', 'pixel', 'oil'];
export const SUBJECTS: Subject[] = [
  'mountains',
  'sea',
  'city',
  'forest',
  'figure',
  'abstract',
  'sun',
  'moon',
  'flowers',
  'stars',
  'clouds',
  'desert',
];

function isSkyElement(s: Subject): s is keyof SkyElements {
  return s === 'sun' || s === 'moon' || s === 'stars' || s === 'clouds';
}

/** Names of the judge's latent dimensions, in order (for reports). */
export const LATENT_NAMES: string[] = [
  'warmth',
  'brightness',
  'saturation',
  'detail',
  'horizon',
  'accent_cos',
  'accent_sin',
  ...LIGHTINGS.map((l) => `light:${l}`),
  ...COMPOSITIONS.map((c) => `comp:${c}`),
  ...MEDIA.map((m) => `medium:${m}`),
  ...SUBJECTS.map((s) => `subj:${s}`),
];
export const LATENT_DIM = LATENT_NAMES.length;

/**
 * What the judge looks at. 'drawn' (the default, and every reported figure): what the picture shows.
 * 'words': a judge that scores the prompt's sky words and mood numbers instead of the picture — kept
 * only as a diagnostic (`eval:piaa -- --judge words`) so the effect of judging the picture can be re-measured.
 */
export type JudgeView = 'drawn' | 'words';

/**
 * The latent scene properties the hidden judge sees: numbers straight from the renderer's scene
 * description. Deliberately takes a SceneSpec — never pixels, features or embeddings.
 * It scores what the picture shows, not what the prompt asked for: the sky elements are the ones the
 * renderer draws (`skyElements`, the renderer's own decision — a night sky has a moon whether or not the
 * word was there), and warmth / brightness are those of the palette (`paletteTone`). A judge that liked
 * the *word* "moon" would hold a taste no image model could ever learn from pixels.
 */
export function judgeLatents(spec: SceneSpec, view: JudgeView = 'drawn'): number[] {
  const accent = spec.palette.accent.h * (Math.PI / 180);
  const tone = sceneTone(spec, view);
  const drawn = view === 'drawn' ? skyElements(spec) : null;
  return [
    tone.warmth,
    tone.brightness,
    spec.saturation,
    spec.detail,
    spec.horizon,
    Math.cos(accent) * spec.palette.accent.s,
    Math.sin(accent) * spec.palette.accent.s,
    ...LIGHTINGS.map((l) => (spec.lighting === l ? 1 : 0)),
    ...COMPOSITIONS.map((c) => (spec.composition === c ? 1 : 0)),
    ...MEDIA.map((m) => (spec.medium === m ? 1 : 0)),
    ...SUBJECTS.map((s) => (drawn && isSkyElement(s) ? (drawn[s] ? 1 : 0) : spec.subjects.includes(s) ? 1 : 0)),
  ];
}

/**
 * Warmth and brightness of the colors the scene is painted in (its palette, weighted by roughly how
 * much of the picture each fills: sky above the horizon, land below), rather than of the mood words
 * that asked for them: a named color, the lighting or the medium can override what "warm" or "dark"
 * asked for, and a visual judge reacts to what is shown. Brightness on −1…+1 like SceneSpec's.
 */
export function paletteTone(spec: SceneSpec): { warmth: number; brightness: number } {
  const p = spec.palette;
  const sky = spec.horizon;
  const land = 1 - sky;
  const parts: [typeof p.skyTop, number][] = [
    [p.skyTop, sky / 2],
    [p.skyBottom, sky / 2],
    [p.far, land * 0.3],
    [p.near, land * 0.3],
    [p.ground, land * 0.4],
  ];
  let warmth = 0;
  let light = 0;
  for (const [c, w] of parts) {
    warmth += w * Math.cos(((c.h - 30) * Math.PI) / 180) * c.s;
    light += w * c.l;
  }
  return { warmth, brightness: 2 * light - 1 };
}

/** Warmth and brightness as the judge sees them (see JudgeView). */
export function sceneTone(spec: SceneSpec, view: JudgeView): { warmth: number; brightness: number } {
  return view === 'drawn' ? paletteTone(spec) : { warmth: spec.warmth, brightness: spec.brightness };
}

/** Standardization of latents over the pool, so every dimension weighs in on the same scale. */
export interface LatentScale {
  mean: number[];
  std: number[];
}

export function fitLatentScale(latents: number[][]): LatentScale {
  const d = latents[0]?.length ?? LATENT_DIM;
  const mean = new Array<number>(d).fill(0);
  const std = new Array<number>(d).fill(0);
  for (const z of latents) for (let j = 0; j < d; j++) mean[j]! += z[j]! / latents.length;
  for (const z of latents) for (let j = 0; j < d; j++) std[j]! += (z[j]! - mean[j]!) ** 2 / latents.length;
  // Dimensions that never vary in the pool get std 1 (they contribute nothing either way).
  return { mean, std: std.map((v) => (v > 1e-9 ? Math.sqrt(v) : 1)) };
}

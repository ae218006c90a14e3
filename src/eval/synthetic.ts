/**
 * The synthetic population behind `eval:piaa` and `eval:optimize`: offline, seeded, reproducible.
 *
 * - A pool of images rendered by the offline sketch renderer from varied prompts.
 * - Virtual people, each with a hidden taste = a shared community part + a personal part, observed
 *   only through noisy ratings quantized to 1–10.
 *
 * NO SELF-FULFILLING BENCHMARK. The hidden judge never sees what the model under test sees. Scorers
 * get image *embeddings* (the built-in pixel descriptors or CLIP); the judge gets the renderer's
 * *scene description* (`SceneSpec` from `parseSketchPrompt`: lighting, warmth, brightness, saturation,
 * detail, composition, medium, subjects, accent hue, horizon). A scorer can only do well by recovering
 * those latent scene properties from pixels, the way a real PIAA model must recover what people care
 * about from CLIP vectors. This module therefore never imports the embedder or `extractFeatures`;
 * `judgeLatents` and `trueTaste` take a `SceneSpec` and nothing else (a test checks both facts).
 *
 * Two populations (`population`): v2, the default, where taste is personal and structured (taste
 * types, interactions between scene properties, people using the scale differently: synthetic-v2.ts),
 * and v1, kept for comparison. v1's taste model (fixed a priori, not tuned to any scorer): a linear
 * preference over standardized scene latents (community weights shared by everyone + personal weights),
 * plus personal "ideal point" preferences on brightness and saturation (people like some brightness,
 * not the most), mapped to each person's own leniency (mean) and spread, plus per-person rating noise,
 * rounded and clipped to 1..10. What the judge reads of a scene: synthetic-latents.ts; how personal
 * and how linear a population's tastes turn out: synthetic-stats.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { createRng, type Rng } from '../core/random';
import { parseSketchPrompt } from '../providers/imagegen/sketch/parse';
import { renderSketch } from '../providers/imagegen/sketch/render';
import type { SceneSpec } from '../providers/imagegen/sketch/scene';
import { LATENT_DIM, fitLatentScale, judgeLatents, sceneTone, type JudgeView, type LatentScale } from './synthetic-latents';
import { createV2Tastes, drawScaleUse, interactionTerms, readScene, v2Parts, type V2Scales } from './synthetic-v2';

export { LATENT_DIM, LATENT_NAMES, judgeLatents, paletteTone, type JudgeView } from './synthetic-latents';

// ---------------------------------------------------------------- prompts

/** Words the prompt generator draws from. Known words move the scene; filler words only vary it. */
export const PROMPT_VOCAB = {
  moods: [
    'warm',
    'cozy',
    'cool',
    'cold',
    'icy',
    'winter',
    'autumn',
    'spring',
    'summer',
    'moody',
    'dark',
    'gloomy',
    'stormy',
    'misty',
    'foggy',
    'neon',
    'cyberpunk',
    'synthwave',
    'pastel',
    'soft',
    'dreamy',
    'bright',
    'sunny',
    'vibrant',
    'vivid',
    'colorful',
    'muted',
    'faded',
    'serene',
    'calm',
    'eerie',
    'sunset',
    'sunrise',
    'dawn',
    'dusk',
    'night',
    'midnight',
    'starry',
    'golden hour',
    'blue hour',
  ],
  colors: [
    'red',
    'crimson',
    'coral',
    'orange',
    'amber',
    'gold',
    'yellow',
    'ochre',
    'lime',
    'green',
    'emerald',
    'olive',
    'teal',
    'turquoise',
    'cyan',
    'blue',
    'azure',
    'navy',
    'indigo',
    'purple',
    'violet',
    'lavender',
    'magenta',
    'pink',
    'rose',
    'brown',
    'sepia',
    'beige',
    'black',
    'white',
    'silver',
  ],
  subjects: [
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
    'lake',
    'skyline',
    'meadow',
    'ocean',
    'dunes',
    'galaxy',
    'portrait',
    'trees',
  ],
  compositions: ['centered', 'symmetric', 'minimal', 'busy', 'balanced'],
  media: ['watercolor', 'ink', 'pixel art', 'oil painting', 'flat vector', 'charcoal', 'impressionist', 'poster'],
  filler: [
    'ancient',
    'quiet',
    'lonely',
    'grand',
    'tiny',
    'distant',
    'wild',
    'secret',
    'floating',
    'old',
    'endless',
    'hidden',
    'glass',
    'stone',
    'velvet',
    'electric',
  ],
} as const;

/** A random prompt: 1–2 subjects, optional moods, colors, composition, medium and a filler word. */
export function randomPrompt(rng: Rng): string {
  const v = PROMPT_VOCAB;
  const parts: string[] = [];
  const take = (list: readonly string[], p: number, max: number) => {
    let n = 0;
    while (n < max && rng.next() < p) {
      parts.push(rng.pick(list));
      n++;
    }
  };
  take(v.moods, 0.75, 2);
  take(v.colors, 0.6, 2);
  if (rng.next() < 0.3) parts.push(rng.pick(v.filler));
  parts.push(rng.pick(v.subjects));
  if (rng.next() < 0.4) parts.push('and', rng.pick(v.subjects));
  if (rng.next() < 0.55) parts.push(rng.pick(v.compositions));
  if (rng.next() < 0.65) parts.push(rng.pick(v.media));
  return parts.join(' ');
}

// ---------------------------------------------------------------- people

export interface TasteParams {
  /** Share of taste variance that is common to the community (0..1). */
  communityShare: number;
  /** Strength of the ideal-point (quadratic) terms relative to the linear part. */
  idealPointWeight: number;
  /** Range of per-person rating noise SD, on the 1..10 scale. */
  noiseSd: [number, number];
  /** Range of per-person spread (SD of the noise-free taste on the 1..10 scale). */
  spread: [number, number];
  /** Mean rating (leniency): community mean and person-to-person SD. */
  leniency: { mean: number; sd: number };
}

/** Chosen a priori (plausible for 1–10 aesthetic ratings), not tuned to any scorer. */
export const DEFAULT_TASTE: TasteParams = {
  communityShare: 0.6,
  idealPointWeight: 0.35,
  noiseSd: [0.6, 1.2],
  spread: [1.4, 2.2],
  leniency: { mean: 5.5, sd: 0.7 },
};

export interface VirtualPerson {
  id: string;
  /** Linear preference over standardized latents (community part + personal part). */
  weights: number[];
  /** Ideal brightness and saturation (in raw spec units) and how much they matter. */
  ideal: { brightness: number; saturation: number; strength: number };
  /** Mapping of raw taste to the 1..10 scale: rating = mean + spread · (raw − rawMean)/rawStd. */
  mean: number;
  spread: number;
  rawMean: number;
  rawStd: number;
  noiseSd: number;
  /** Population v2: weights of the interaction terms (synthetic-v2.ts), absent in v1. */
  interactions?: number[];
  /** Population v2: the taste type the person belongs to. */
  type?: number;
  /** The band the person rates in (v2: some use 1–10, some only e.g. 3–8); absent = 1..10. */
  scale?: { lo: number; hi: number };
}

/** Which synthetic population: v1 (shared, nearly linear taste) or v2 (personal, structured taste; the default). */
export type PopulationVersion = 'v1' | 'v2';
export const POPULATION_VERSIONS: readonly PopulationVersion[] = ['v1', 'v2'];

export interface HiddenJudge {
  population: PopulationVersion;
  scale: LatentScale;
  /** v1's community weights (empty in v2, whose shared parts live in its taste types). */
  community: number[];
  params: TasteParams;
  view: JudgeView;
  /** v2's scales of the latents and the interaction terms (absent in v1). */
  v2?: V2Scales;
}

function gaussianVector(rng: Rng, d: number, sd: number): number[] {
  return Array.from({ length: d }, () => rng.normal() * sd);
}

/** The person's taste before mapping to 1..10: linear + ideal-point terms over the scene (v2: + interactions). */
function rawTaste(person: Pick<VirtualPerson, 'weights' | 'ideal' | 'interactions'>, judge: HiddenJudge, spec: SceneSpec): number {
  if (judge.v2 && person.interactions) {
    const [lin, inter, ideal] = v2Parts({ ...person, interactions: person.interactions }, readScene(spec, judge.view, judge.v2));
    return lin + inter + ideal;
  }
  const z = judgeLatents(spec, judge.view);
  let s = 0;
  for (let j = 0; j < z.length; j++) s += person.weights[j]! * ((z[j]! - judge.scale.mean[j]!) / judge.scale.std[j]!);
  const db = sceneTone(spec, judge.view).brightness - person.ideal.brightness;
  const ds = spec.saturation - person.ideal.saturation;
  return s - person.ideal.strength * (db * db + 2 * ds * ds);
}

/** The noise-free taste of a person for a scene, on the 1..10 scale (not rounded; may leave 1..10). */
export function trueTaste(person: VirtualPerson, judge: HiddenJudge, spec: SceneSpec): number {
  return person.mean + (person.spread * (rawTaste(person, judge, spec) - person.rawMean)) / person.rawStd;
}

/** One observed rating: taste + the person's noise, rounded and clipped to the band they rate in (1..10 unless v2 says otherwise). */
export function noisyRating(person: VirtualPerson, taste: number, rng: Rng): number {
  const lo = person.scale?.lo ?? 1;
  const hi = person.scale?.hi ?? 10;
  const r = Math.round(taste + rng.normal() * person.noiseSd);
  return r < lo ? lo : r > hi ? hi : r;
}

/** Mean and SD of a raw taste over the calibration scenes: what maps it onto the person's scale. */
function rawCalibration(person: Pick<VirtualPerson, 'weights' | 'ideal' | 'interactions'>, judge: HiddenJudge, calibration: SceneSpec[]) {
  const raws = calibration.map((s) => rawTaste(person, judge, s));
  const rawMean = raws.reduce((a, b) => a + b, 0) / raws.length;
  const rawStd = Math.sqrt(raws.reduce((a, b) => a + (b - rawMean) ** 2, 0) / raws.length) || 1;
  return { rawMean, rawStd };
}

/** Population v2's people (synthetic-v2.ts): taste types, interactions, each with their own use of the scale. */
function createPeopleV2(rng: Rng, judge: HiddenJudge & { v2: V2Scales }, n: number, calibration: SceneSpec[]): VirtualPerson[] {
  const readings = calibration.map((s) => readScene(s, judge.view, judge.v2));
  return createV2Tastes(rng, n, readings).map((taste, i) => {
    const use = drawScaleUse(rng);
    const { rawMean, rawStd } = rawCalibration(taste, judge, calibration);
    return { id: `person-${i}`, ...taste, ...use, rawMean, rawStd };
  });
}

/** A community of people sharing `community` weights; each raw scale is calibrated on `calibration`. */
export function createPeople(rng: Rng, judge: HiddenJudge, n: number, calibration: SceneSpec[]): VirtualPerson[] {
  const d = judge.community.length;
  const p = judge.params;
  const wc = Math.sqrt(p.communityShare);
  const wp = Math.sqrt(1 - p.communityShare);
  const people: VirtualPerson[] = [];
  for (let i = 0; i < n; i++) {
    const personal = gaussianVector(rng, d, 1 / Math.sqrt(d));
    const weights = judge.community.map((c, j) => wc * c + wp * personal[j]!);
    const ideal = {
      brightness: rng.normal() * 0.4,
      saturation: 0.35 + rng.next() * 0.5,
      strength: p.idealPointWeight * (0.5 + rng.next()),
    };
    const { rawMean, rawStd } = rawCalibration({ weights, ideal }, judge, calibration);
    people.push({
      id: `person-${i}`,
      weights,
      ideal,
      mean: p.leniency.mean + rng.normal() * p.leniency.sd,
      spread: p.spread[0] + rng.next() * (p.spread[1] - p.spread[0]),
      rawMean,
      rawStd,
      noiseSd: p.noiseSd[0] + rng.next() * (p.noiseSd[1] - p.noiseSd[0]),
    });
  }
  return people;
}

// ---------------------------------------------------------------- pool + population

export interface PoolImage {
  prompt: string;
  seed: number;
  spec: SceneSpec;
  png: Buffer;
}

export interface PopulationOptions {
  seed: number;
  people: number;
  poolSize: number;
  /** Render size in px (small is fine: descriptors are scale-robust and renders are faster). */
  size?: number;
  taste?: Partial<TasteParams>;
  /** What the hidden judge looks at (default 'drawn'; 'words' is a diagnostic, see JudgeView). */
  judgeView?: JudgeView;
  /** Which population (default 'v2': taste that is personal; 'v1' for comparison). */
  population?: PopulationVersion;
  /** Folder for cached renders; default <os tmpdir>/tasteloop-eval-cache. `false` = no cache. */
  cacheDir?: string | false;
  onProgress?: (msg: string) => void;
}

export interface Population {
  seed: number;
  pool: PoolImage[];
  judge: HiddenJudge;
  people: VirtualPerson[];
  /** hidden[p][i]: noise-free taste of person p for pool image i (1..10 scale, unrounded). */
  hidden: Float64Array[];
  /** ratings[p][i]: the rating person p would give pool image i (noisy, integer 1..10). */
  ratings: Uint8Array[];
}

export function defaultCacheDir(): string {
  return path.join(os.tmpdir(), 'tasteloop-eval-cache');
}

/** Renders (or loads from cache) the pool's PNGs. Cache files are keyed by prompt, seed and size. */
export async function renderPool(
  prompts: { prompt: string; seed: number }[],
  size: number,
  cacheDir: string | false,
  onProgress?: (msg: string) => void,
): Promise<PoolImage[]> {
  if (cacheDir) fs.mkdirSync(cacheDir, { recursive: true });
  const out: PoolImage[] = [];
  let rendered = 0;
  for (const { prompt, seed } of prompts) {
    const spec = parseSketchPrompt(prompt);
    // v1.1: symmetric scenes are mirrored in raster space (the SVG mirror crashed resvg natively).
    const key = createHash('sha256').update(`sketch-v1.1|${size}|${seed}|${prompt}`).digest('hex').slice(0, 32);
    const file = cacheDir ? path.join(cacheDir, `${key}.png`) : '';
    let png: Buffer | undefined;
    if (file && fs.existsSync(file)) png = fs.readFileSync(file);
    if (!png) {
      png = await renderSketch(spec, { seed, size });
      if (file) fs.writeFileSync(file, png);
      rendered++;
    }
    out.push({ prompt, seed, spec, png });
    if (onProgress && out.length % 200 === 0)
      onProgress(`pool: ${out.length}/${prompts.length} images (${rendered} rendered, rest cached)`);
  }
  return out;
}

function v1Judge(rng: Rng, specs: SceneSpec[], view: JudgeView, params: TasteParams, n: number) {
  const scale = fitLatentScale(specs.map((s) => judgeLatents(s, view)));
  const community = gaussianVector(rng, LATENT_DIM, 1 / Math.sqrt(LATENT_DIM));
  const judge: HiddenJudge = { population: 'v1', scale, community, params, view };
  return { judge, people: createPeople(rng, judge, n, specs) };
}

function v2Judge(rng: Rng, specs: SceneSpec[], view: JudgeView, params: TasteParams, n: number) {
  const raws = specs.map((s) => judgeLatents(s, view));
  const latents = fitLatentScale(raws);
  const terms = fitLatentScale(
    raws.map((raw) =>
      interactionTerms(
        raw,
        raw.map((v, j) => (v - latents.mean[j]!) / latents.std[j]!),
      ),
    ),
  );
  const judge = { population: 'v2' as const, scale: latents, community: [], params, view, v2: { latents, terms } };
  return { judge, people: createPeopleV2(rng, judge, n, specs) };
}

/**
 * Build the seeded population: pool prompts, renders, hidden judge, people, and every person's
 * hidden taste and noisy rating for every pool image (the protocol samples from these).
 */
export async function buildPopulation(opts: PopulationOptions): Promise<Population> {
  const rng = createRng(opts.seed);
  const promptRng = rng.fork();
  const tasteRng = rng.fork();
  const noiseRng = rng.fork();
  const size = opts.size ?? 128;
  const prompts = Array.from({ length: opts.poolSize }, () => ({ prompt: randomPrompt(promptRng), seed: promptRng.int(1_000_000) }));
  const pool = await renderPool(prompts, size, opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir, opts.onProgress);
  const specs = pool.map((p) => p.spec);
  const view = opts.judgeView ?? 'drawn';
  const params = { ...DEFAULT_TASTE, ...opts.taste };
  const { judge, people } =
    (opts.population ?? 'v2') === 'v2'
      ? v2Judge(tasteRng, specs, view, params, opts.people)
      : v1Judge(tasteRng, specs, view, params, opts.people);
  const hidden = people.map((person) => Float64Array.from(specs, (s) => trueTaste(person, judge, s)));
  const ratings = people.map((person, p) => Uint8Array.from(hidden[p]!, (t) => noisyRating(person, t, noiseRng)));
  return { seed: opts.seed, pool, judge, people, hidden, ratings };
}

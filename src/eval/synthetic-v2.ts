/**
 * Population v2: taste that is personal and structured (the default population of eval:piaa and
 * eval:optimize; v1 in synthetic.ts stays selectable for comparison).
 *
 * In v1 everyone shares 60% of a linear taste and a linear fit on the scene latents explains nearly
 * all of each person's taste, so a community model with no personal ratings already ranks well. Here:
 *
 * - **Taste types.** A few latent types (clusters of people who like the same things), drawn with fixed
 *   unequal shares, plus a small part everyone shares and a personal deviation. Two people of different
 *   types agree little, so the mean correlation between two people's true tastes is low (about 0.2–0.35
 *   by construction of the shares below, measured by synthetic-stats.ts) and a community average is a
 *   poor stand-in for any one person.
 * - **Interactions between scene properties.** Lighting × warmth / brightness / saturation ("warm
 *   palettes, but only at night"), medium × subject ("watercolour, but only for flowers"), composition ×
 *   detail: products a linear fit on the latents cannot express, so it explains clearly less than all
 *   of a person's taste.
 * - **Ideal points** on brightness and saturation (as in v1), centred per type.
 * - **Scale use.** Some people rate on the whole 1–10 scale, others only on a narrow band (3–8 or so);
 *   the noise-free taste is mapped onto the person's band and ratings are clipped to it.
 *
 * Every number below is chosen a priori from the scene latents alone: the judge never sees, and is
 * never tuned against, the image features or embeddings the scorers are given (the featurizer freeze in
 * the README forbids the reverse, too). This module imports no embedder.
 */
import type { Rng } from '../core/random';
import type { SceneSpec } from '../providers/imagegen/sketch/scene';
import {
  COMPOSITIONS,
  LATENT_NAMES,
  LIGHTINGS,
  MEDIA,
  SUBJECTS,
  judgeLatents,
  type JudgeView,
  type LatentScale,
} from './synthetic-latents';

/** Shares of one person's taste variance (over the pool), fixed a priori. */
export const V2_TASTE = {
  /** Taste types and how common each is (their squares sum to ≈ 0.28: the chance two people share a type). */
  typeShares: [0.35, 0.3, 0.2, 0.15],
  /** Within the linear and interaction parts: what everyone shares, what the type shares, what is the person's own. */
  mix: { everyone: 0.1, type: 0.55, own: 0.35 },
  /** Variance of the three parts of a person's raw taste (their sum is 1). */
  parts: { linear: 0.5, interactions: 0.4, idealPoints: 0.1 },
  /** Share of people who use the whole 1–10 scale; the others rate inside a narrow band. */
  wideScale: 0.5,
  /** Per-person rating noise SD (on the 1..10 scale). */
  noiseSd: [0.5, 1.3] as [number, number],
};

const at = (name: string) => LATENT_NAMES.indexOf(name);
const CONTINUOUS = ['warmth', 'brightness', 'saturation'] as const;

/** Names of the interaction terms, in the order interactionTerms returns them (for reports). */
export const INTERACTION_NAMES: string[] = [
  ...LIGHTINGS.flatMap((l) => CONTINUOUS.map((c) => `${c}×light:${l}`)),
  ...MEDIA.flatMap((m) => SUBJECTS.map((s) => `medium:${m}×subj:${s}`)),
  ...COMPOSITIONS.map((c) => `detail×comp:${c}`),
];

/**
 * The interaction terms of a scene: a standardized continuous latent switched on by a category
 * (warmth only counts at night), and pairs of categories (this medium for this subject). Computed from
 * the judge's latents of the spec (`raw`) and their standardized values (`z`).
 */
export function interactionTerms(raw: readonly number[], z: readonly number[]): number[] {
  const out: number[] = [];
  for (const l of LIGHTINGS) {
    const on = raw[at(`light:${l}`)]!;
    for (const c of CONTINUOUS) out.push(on * z[at(c)]!);
  }
  for (const m of MEDIA) {
    const on = raw[at(`medium:${m}`)]!;
    for (const s of SUBJECTS) out.push(on * raw[at(`subj:${s}`)]!);
  }
  for (const c of COMPOSITIONS) out.push(raw[at(`comp:${c}`)]! * z[at('detail')]!);
  return out;
}

/** What v2's taste reads of a scene: standardized latents, standardized interaction terms, brightness and saturation. */
export interface SceneReading {
  z: number[];
  terms: number[];
  brightness: number;
  saturation: number;
}

/** The v2 judge's scales, fitted once on the pool's scenes (never on anything a scorer sees). */
export interface V2Scales {
  latents: LatentScale;
  terms: LatentScale;
}

export function readScene(spec: SceneSpec, view: JudgeView, scales: V2Scales): SceneReading {
  const raw = judgeLatents(spec, view);
  const z = raw.map((v, j) => (v - scales.latents.mean[j]!) / scales.latents.std[j]!);
  const terms = interactionTerms(raw, z).map((v, j) => (v - scales.terms.mean[j]!) / scales.terms.std[j]!);
  return { z, terms, brightness: raw[at('brightness')]!, saturation: raw[at('saturation')]! };
}

export interface V2Taste {
  weights: number[];
  interactions: number[];
  ideal: { brightness: number; saturation: number; strength: number };
  /** Which taste type the person belongs to (0-based; for reports and tests). */
  type: number;
}

/** The linear, interaction and ideal-point parts of a v2 taste for one scene (their sum is the raw taste). */
export function v2Parts(t: Omit<V2Taste, 'type'>, r: SceneReading): [number, number, number] {
  let lin = 0;
  for (let j = 0; j < r.z.length; j++) lin += t.weights[j]! * r.z[j]!;
  let inter = 0;
  for (let j = 0; j < r.terms.length; j++) inter += t.interactions[j]! * r.terms[j]!;
  const db = r.brightness - t.ideal.brightness;
  const ds = r.saturation - t.ideal.saturation;
  return [lin, inter, -t.ideal.strength * (db * db + 2 * ds * ds)];
}

const gaussian = (rng: Rng, d: number) => Array.from({ length: d }, () => rng.normal() / Math.sqrt(d));

function mixVectors(everyone: number[], type: number[], own: number[]): number[] {
  const { mix } = V2_TASTE;
  return everyone.map((e, j) => Math.sqrt(mix.everyone) * e + Math.sqrt(mix.type) * type[j]! + Math.sqrt(mix.own) * own[j]!);
}

function pickType(rng: Rng): number {
  let u = rng.next();
  const shares = V2_TASTE.typeShares;
  for (let k = 0; k < shares.length; k++) {
    u -= shares[k]!;
    if (u < 0) return k;
  }
  return shares.length - 1;
}

const sd = (xs: readonly number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length) || 1;
};

/**
 * n people's v2 tastes. Each part (linear, interactions, ideal points) is scaled over the calibration
 * scenes to its share of the person's taste variance, so the shares hold whatever the pool looks like.
 */
export function createV2Tastes(rng: Rng, n: number, calibration: readonly SceneReading[]): V2Taste[] {
  const d = LATENT_NAMES.length;
  const m = INTERACTION_NAMES.length;
  const everyone = { w: gaussian(rng, d), u: gaussian(rng, m) };
  const types = V2_TASTE.typeShares.map(() => ({
    w: gaussian(rng, d),
    u: gaussian(rng, m),
    brightness: rng.normal() * 0.4,
    saturation: 0.3 + rng.next() * 0.6,
  }));
  const out: V2Taste[] = [];
  for (let i = 0; i < n; i++) {
    const type = pickType(rng);
    const t = types[type]!;
    const draft = {
      weights: mixVectors(everyone.w, t.w, gaussian(rng, d)),
      interactions: mixVectors(everyone.u, t.u, gaussian(rng, m)),
      ideal: { brightness: t.brightness + rng.normal() * 0.15, saturation: t.saturation + rng.normal() * 0.08, strength: 1 },
    };
    const parts = calibration.map((r) => v2Parts(draft, r));
    const share = V2_TASTE.parts;
    const k = [share.linear, share.interactions, share.idealPoints].map((s, p) => Math.sqrt(s) / sd(parts.map((x) => x[p]!)));
    out.push({
      type,
      weights: draft.weights.map((w) => w * k[0]!),
      interactions: draft.interactions.map((u) => u * k[1]!),
      ideal: { ...draft.ideal, strength: k[2]! },
    });
  }
  return out;
}

/** How a person uses the scale: the band they rate in, their mean and spread inside it, their noise. */
export interface ScaleUse {
  scale: { lo: number; hi: number };
  mean: number;
  spread: number;
  noiseSd: number;
}

/** Half the people use 1–10; the others a band such as 3–8 (lo 2–3, hi 7–8), with their taste mapped inside it. */
export function drawScaleUse(rng: Rng): ScaleUse {
  const wide = rng.next() < V2_TASTE.wideScale;
  const lo = wide ? 1 : 2 + rng.int(2);
  const hi = wide ? 10 : 7 + rng.int(2);
  const width = hi - lo;
  const [n0, n1] = V2_TASTE.noiseSd;
  // Noise shrinks with the band: someone who only uses 3–8 also wavers less in absolute terms.
  const noise = (n0 + rng.next() * (n1 - n0)) * Math.sqrt(width / 9);
  return {
    scale: { lo, hi },
    mean: (lo + hi) / 2 + rng.normal() * 0.1 * width,
    spread: (width / 4.5) * (0.85 + 0.3 * rng.next()),
    noiseSd: noise,
  };
}

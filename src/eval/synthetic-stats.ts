/**
 * How personal and how linear a synthetic population's tastes are, measured on its pool: the figures
 * every evaluation prints beside its results, so a reader can tell a population where a community
 * model is nearly enough (v1) from one where personal ratings must do the work (v2).
 *
 * - mean inter-person correlation: Pearson correlation of two people's noise-free tastes over the pool's
 *   images, averaged over every pair of people;
 * - linear R²: share of each person's noise-free taste a least-squares linear fit on the judge's
 *   standardized scene latents explains (in-sample over the pool), averaged over people. It bounds what
 *   any linear model of the scene's properties could explain.
 */
import { choleskyInPlace, choleskySolve } from '../core/scorer/linalg';
import { fitLatentScale, judgeLatents } from './synthetic-latents';
import type { Population, PopulationVersion } from './synthetic';

export interface PopulationStats {
  population: PopulationVersion;
  people: number;
  images: number;
  /** Mean Pearson correlation of two people's noise-free tastes over the pool (every pair). */
  inter_person_correlation: number;
  /** Mean per-person R² of a linear fit of the noise-free taste on the scene latents (min and max beside it). */
  linear_r2: number;
  linear_r2_min: number;
  linear_r2_max: number;
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** Centred copies of each person's taste with their norms (what the correlations and R² reuse). */
function centred(hidden: readonly Float64Array[]): { c: Float64Array[]; norm: number[] } {
  const c = hidden.map((h) => {
    const m = h.reduce((a, b) => a + b, 0) / h.length;
    return h.map((v) => v - m);
  });
  return { c, norm: c.map((v) => Math.sqrt(v.reduce((a, b) => a + b * b, 0))) };
}

export function meanInterPersonCorrelation(hidden: readonly Float64Array[]): number {
  const { c, norm } = centred(hidden);
  let total = 0;
  let pairs = 0;
  for (let i = 0; i < c.length; i++)
    for (let j = i + 1; j < c.length; j++) {
      let dot = 0;
      for (let k = 0; k < c[i]!.length; k++) dot += c[i]![k]! * c[j]![k]!;
      if (norm[i]! > 0 && norm[j]! > 0) {
        total += dot / (norm[i]! * norm[j]!);
        pairs++;
      }
    }
  return pairs ? total / pairs : NaN;
}

/**
 * Per-person in-sample R² of least squares on the standardized latents (with an intercept). A ridge of
 * 1e-6 per image only breaks the exact ties of one-hot groups (their columns sum to one); it changes
 * the fit of the rest by nothing visible.
 */
export function linearR2(latents: readonly number[][], hidden: readonly Float64Array[]): number[] {
  const n = latents.length;
  const scale = fitLatentScale(latents as number[][]);
  const d = scale.mean.length;
  const Z = latents.map((row) => row.map((v, j) => (v - scale.mean[j]!) / scale.std[j]!));
  const G = new Float64Array(d * d);
  for (const z of Z) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) G[a * d + b]! += z[a]! * z[b]!;
  for (let a = 0; a < d; a++) G[a * d + a]! += 1e-6 * n;
  if (!choleskyInPlace(G, d)) throw new Error('linear fit on the latents: the Gram matrix is not positive definite');
  const { c, norm } = centred(hidden);
  return c.map((y, p) => {
    const w = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) w[a]! += Z[i]![a]! * y[i]!;
    choleskySolve(G, d, d, w);
    let sse = 0;
    for (let i = 0; i < n; i++) {
      let f = 0;
      for (let a = 0; a < d; a++) f += w[a]! * Z[i]![a]!;
      sse += (y[i]! - f) ** 2;
    }
    const sst = norm[p]! ** 2;
    return sst > 0 ? 1 - sse / sst : NaN;
  });
}

export function populationStats(pop: Population): PopulationStats {
  const latents = pop.pool.map((p) => judgeLatents(p.spec, pop.judge.view));
  const r2 = linearR2(latents, pop.hidden).filter(Number.isFinite);
  return {
    population: pop.judge.population,
    people: pop.people.length,
    images: pop.pool.length,
    inter_person_correlation: round4(meanInterPersonCorrelation(pop.hidden)),
    linear_r2: round4(r2.reduce((a, b) => a + b, 0) / r2.length),
    linear_r2_min: round4(Math.min(...r2)),
    linear_r2_max: round4(Math.max(...r2)),
  };
}

/** One line for a report: "population v2: mean inter-person correlation of true tastes 0.27; …". */
export function describePopulation(s: PopulationStats): string {
  return `population ${s.population}: mean inter-person correlation of true tastes ${s.inter_person_correlation.toFixed(3)}; a linear fit on the scene latents explains R² ${s.linear_r2.toFixed(3)} of a person's taste (mean over ${s.people} people; ${s.linear_r2_min.toFixed(3)}–${s.linear_r2_max.toFixed(3)}; ${s.images} images)`;
}

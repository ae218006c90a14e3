/**
 * `knn`: a similarity-weighted mean of the person's own ratings over the k most similar images they
 * rated (cosine = dot product of unit embeddings). No shared model at all, so it captures tastes that
 * are not linear in the embedding — and it needs enough ratings nearby to work.
 */
import { dotAt } from './linalg';
import type { PackedRatings } from './data';
import { mse as meanSquaredError } from './quality-metrics';

export const DEFAULT_K_GRID: readonly number[] = [1, 2, 3, 5, 8, 13, 21, 34];
/** Above this many ratings, LOO is evaluated on an evenly spaced subset of held-out rows. */
export const KNN_LOO_MAX_EVAL = 400;

/** Weight of a neighbour: its cosine, floored so unrelated images count a little and never negatively. */
function weightOf(sim: number): number {
  return Math.max(sim, 0) + 1e-6;
}

/** Indices of the k largest values of sims (skipping `exclude`), best first. */
function topK(sims: Float64Array, n: number, k: number, exclude: number): Int32Array {
  const kk = Math.min(k, n - (exclude >= 0 && exclude < n ? 1 : 0));
  const idx = new Int32Array(Math.max(kk, 0));
  const val = new Float64Array(Math.max(kk, 0)).fill(-Infinity);
  let filled = 0;
  for (let j = 0; j < n; j++) {
    if (j === exclude) continue;
    const s = sims[j] as number;
    if (filled === kk && s <= (val[kk - 1] as number)) continue;
    let pos = filled < kk ? filled++ : kk - 1;
    while (pos > 0 && (val[pos - 1] as number) < s) {
      val[pos] = val[pos - 1] as number;
      idx[pos] = idx[pos - 1] as number;
      pos--;
    }
    val[pos] = s;
    idx[pos] = j;
  }
  return idx;
}

function weightedMean(sims: Float64Array, y: Float64Array, nb: Int32Array, k: number): number {
  let num = 0;
  let den = 0;
  for (let t = 0; t < Math.min(k, nb.length); t++) {
    const j = nb[t] as number;
    const w = weightOf(sims[j] as number);
    num += w * (y[j] as number);
    den += w;
  }
  return den > 0 ? num / den : NaN;
}

/** Predicted rating of x from the person's k most similar rated images. */
export function knnPredict(
  data: PackedRatings,
  k: number,
  x: ArrayLike<number>,
  xOff = 0,
  sims: Float64Array = new Float64Array(data.n),
): number {
  if (data.n === 0) return NaN;
  for (let j = 0; j < data.n; j++) sims[j] = dotAt(data.X, j * data.dim, x, xOff, data.dim);
  return weightedMean(sims, data.y, topK(sims, data.n, k, -1), k);
}

export interface KnnSelection {
  k: number;
  /** LOO predictions for `evalRows` (all rows when n ≤ KNN_LOO_MAX_EVAL). */
  looPred: Float64Array;
  evalRows: Int32Array;
  grid: { k: number; looMse: number }[];
}

/** Chooses k by leave-one-out MSE; every grid k is scored from one neighbour ranking per row. */
export function selectK(data: PackedRatings, kGrid: readonly number[] = DEFAULT_K_GRID): KnnSelection {
  const n = data.n;
  const ks = kGrid.filter((k) => k >= 1 && k <= Math.max(n - 1, 1));
  if (ks.length === 0) ks.push(1);
  const m = Math.min(n, KNN_LOO_MAX_EVAL);
  const evalRows = new Int32Array(m);
  for (let t = 0; t < m; t++) evalRows[t] = Math.floor((t * n) / m);
  const kMax = Math.max(...ks);
  const preds = ks.map(() => new Float64Array(m));
  const sims = new Float64Array(n);
  const truth = new Float64Array(m);
  for (let t = 0; t < m; t++) {
    const i = evalRows[t] as number;
    truth[t] = data.y[i] as number;
    for (let j = 0; j < n; j++) sims[j] = dotAt(data.X, j * data.dim, data.X, i * data.dim, data.dim);
    const nb = topK(sims, n, kMax, i);
    ks.forEach((k, g) => {
      (preds[g] as Float64Array)[t] = n > 1 ? weightedMean(sims, data.y, nb, k) : (data.y[i] as number);
    });
  }
  const grid = ks.map((k, g) => ({ k, looMse: meanSquaredError(preds[g] as Float64Array, truth) ?? Infinity }));
  let best = 0;
  grid.forEach((g, i) => {
    if (g.looMse < (grid[best] as { looMse: number }).looMse) best = i;
  });
  return { k: (grid[best] as { k: number }).k, looPred: preds[best] as Float64Array, evalRows, grid };
}

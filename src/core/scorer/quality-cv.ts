/**
 * An honest cross-validated SROCC: how well a person's scorer orders ratings it has not seen, without
 * crediting or blaming it for the person's mean.
 *
 * Why not plain leave-one-out: a model dominated by the person's mean predicts each held-out rating
 * with the mean of the others, and that mean is lower exactly when the held-out rating is high. Pooled
 * over the held-out ratings those predictions are anti-correlated with the truth: ten ratings with no
 * relation to the images scored "SROCC −0.99". Reading each fold model relative to itself removes the
 * mean, but a subtler coupling stays: a rating held out in one fold trains the models that rank every
 * other fold (measured: +0.07 to +0.14 on unrelated ratings at 10–30 ratings).
 *
 * So the figure is built from *pairs* of ratings, each pair ordered by a model that saw neither: K folds
 * (leave-one-out up to 10 ratings) over a fixed shuffle; two ratings of one fold are compared by the
 * model fitted without that fold, two of different folds by the model fitted without both. A difference
 * of two predictions of one model carries no offset at all. The share of agreeing pairs (Kendall's τ_b
 * over those pairs) is put on SROCC's scale by the bivariate-normal relation ρ_s = (6/π)·asin(sin(πτ/2)/2),
 * so it reads like the SROCC measured on fresh images. Under no relation between images and ratings
 * every pair is a coin flip: the figure is 0 in expectation, whatever the model.
 *
 * Uncertainty: a 95% interval from Fisher's z of τ with variance 0.437/(n − 4) (Fieller, Hartley &
 * Pearson), mapped to the same scale. eval:piaa reports its coverage (src/eval/piaa/calibration.ts).
 * Cost: K(K+1)/2 fits (55 at 10 folds, 15 past 100 ratings; past 200 the figure is recomputed only
 * after the ratings moved by 10%, quality.ts). Models fitted without two of five folds see 60% of the
 * ratings: a slightly pessimistic figure past 100 ratings (eval:piaa reports the bias by count).
 */
import { createRng } from '../random';
import type { ScorerQuality } from '../records';
import { subsetRatings, type PackedRatings } from './data';
import { augmentedRows, gramPrimal, priorResiduals, type FinetuneOptions, type FinetunePrior } from './finetune-fit';
import { selectLambda } from './finetune-lambda';
import { choleskyInPlace, choleskySolve, dotAt } from './linalg';
import { adapt, type MetaParams } from './maml';
import { qualityFromPredictions } from './quality';

/** Folds for n ratings: leave-one-out up to 10, then 10 folds, 5 past 100 (55 fits at 10 folds, 15 at 5). */
export function cvFoldCount(n: number): number {
  if (n <= 10) return n;
  return n <= 100 ? 10 : 5;
}

/** Each row's fold: a fixed shuffle dealt round-robin, so neighbouring or periodic rows do not share a fold. */
export function cvFolds(n: number): Int32Array {
  const k = cvFoldCount(n);
  const order = createRng(0x5f0d + n).shuffle(Array.from({ length: n }, (_, i) => i));
  const fold = new Int32Array(n);
  order.forEach((row, pos) => (fold[row] = pos % Math.max(k, 1)));
  return fold;
}

/** A model fitted on `train` rows, predicting row i (any constant offset is irrelevant: only differences are used). */
export type FitOnRows = (train: readonly number[]) => (row: number) => number;

/** How the held-out pairs agree: Kendall's τ_b over them, and how many rows took part. */
export interface RankAgreement {
  tau: number | null;
  rows: number;
}

/**
 * Pairs of `rows` (default: all), each ordered by a model fitted without either rating's fold, against
 * the ratings y. O(K²) fits.
 */
export function pairwiseAgreement(y: ArrayLike<number>, fit: FitOnRows, rows?: ArrayLike<number>): RankAgreement {
  const n = y.length;
  const fold = cvFolds(n);
  const k = cvFoldCount(n);
  const wanted = rows ? new Set(Array.from(rows)) : null;
  const members: number[][] = Array.from({ length: k }, () => []);
  fold.forEach((f, i) => members[f]!.push(i));
  let s = 0;
  let untiedPred = 0;
  let untiedY = 0;
  const tally = (pred: (r: number) => number, a: readonly number[], b: readonly number[] | null) => {
    const pa = a.map(pred);
    const pb = b ? b.map(pred) : pa;
    const rowsB = b ?? a;
    a.forEach((i, ia) => {
      for (let jb = b ? 0 : ia + 1; jb < rowsB.length; jb++) {
        const j = rowsB[jb] as number;
        const dp = Math.sign((pa[ia] as number) - (pb[jb] as number));
        const dy = Math.sign((y[i] as number) - (y[j] as number));
        s += dp * dy;
        if (dp !== 0) untiedPred++;
        if (dy !== 0) untiedY++;
      }
    });
  };
  const inFold = (f: number) => (wanted ? members[f]!.filter((i) => wanted.has(i)) : members[f]!);
  const without = (out: Set<number>) => Array.from({ length: n }, (_, i) => i).filter((i) => !out.has(fold[i] as number));
  for (let f = 0; f < k; f++) {
    const a = inFold(f);
    if (a.length >= 2) tally(fit(without(new Set([f]))), a, null);
    for (let g = f + 1; g < k; g++) {
      const b = inFold(g);
      if (a.length && b.length) tally(fit(without(new Set([f, g]))), a, b);
    }
  }
  const used = wanted ? wanted.size : n;
  const tau = untiedPred > 0 && untiedY > 0 ? s / Math.sqrt(untiedPred * untiedY) : null;
  return { tau: used >= 3 ? tau : null, rows: used };
}

/** Spearman's ρ from Kendall's τ for a bivariate normal: ρ_s = (6/π)·asin(sin(πτ/2)/2). */
export function sroccFromTau(tau: number): number {
  return (6 / Math.PI) * Math.asin(Math.sin((Math.PI * tau) / 2) / 2);
}

/** 95% interval from τ over n rows (Fisher z, variance 0.437/(n − 4)), on SROCC's scale; null under 5 rows. */
export function sroccInterval(tau: number, n: number): { low: number; high: number } | null {
  if (n < 5) return null;
  const z = Math.atanh(Math.max(-0.999999, Math.min(0.999999, tau)));
  const se = Math.sqrt(0.437 / (n - 4));
  return { low: sroccFromTau(Math.tanh(z - 1.959964 * se)), high: sroccFromTau(Math.tanh(z + 1.959964 * se)) };
}

/** The community prior: it saw none of the person's ratings, so one model orders every pair. */
export function globalFit(w: ArrayLike<number>, data: PackedRatings): FitOnRows {
  const score = Float64Array.from({ length: data.n }, (_, i) => dotAt(w, 0, data.X, i * data.dim, data.dim));
  return () => (i) => score[i] as number;
}

/**
 * Up to this many ratings each finetune fit chooses its own λ from its own ratings, as the product
 * does; beyond, all fits take the λ chosen on all ratings. Choosing λ on every rating (held-out pair
 * included) picks the λ that happens to agree with them: measured on ratings unrelated to 16-d random
 * images, +0.13 SROCC at 10–30 ratings with a shared λ, −0.02 to +0.00 (± 0.02) with λ chosen per fit;
 * +0.05 at 60 with a shared λ (the cost of nesting grows as n³ per fit).
 */
export const NESTED_LAMBDA_MAX_N = 60;

/** finetune as the product fits it (λ chosen on the training rows), refitted on any subset of rows. */
export function finetuneNestedFit(prior: FinetunePrior, data: PackedRatings, opts: FinetuneOptions): FitOnRows {
  return (train) => {
    const sub = subsetRatings(data, train);
    const delta = selectLambda(prior, sub, opts).delta;
    const d = data.dim;
    return (i) => dotAt(prior.w, 0, data.X, i * d, d) + dotAt(delta, 0, data.X, i * d, d);
  };
}

/**
 * finetune at λ refitted on any subset of rows. The fits share one Gram matrix: the dual (n < d + 1)
 * takes the subset's block of x_i·x_j, the primal subtracts the left-out rows from X̃ᵀX̃; one Cholesky
 * per fit either way. Predictions leave out the offset (a constant of the fit).
 */
export function finetuneFit(prior: FinetunePrior, data: PackedRatings, lambda: number, offsetScale: number): FitOnRows {
  const { n, dim: d } = data;
  const s = offsetScale;
  const r = priorResiduals(prior, data);
  const base = Float64Array.from({ length: n }, (_, i) => dotAt(prior.w, 0, data.X, i * d, d));
  if (n < d + 1) {
    const G = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) G[i * n + j] = G[j * n + i] = dotAt(data.X, i * d, data.X, j * d, d);
    return (train) => {
      const m = train.length;
      const K = new Float64Array(m * m);
      train.forEach((a, p) => train.forEach((b, q) => (K[p * m + q] = (G[a * n + b] as number) + s * s + (p === q ? lambda : 0))));
      const alpha = Float64Array.from(train, (a) => r[a] as number);
      if (m > 0 && choleskyInPlace(K, m)) choleskySolve(K, m, m, alpha);
      else alpha.fill(0);
      return (i) => {
        let v = base[i] as number;
        train.forEach((a, p) => (v += (alpha[p] as number) * (G[a * n + i] as number)));
        return v;
      };
    };
  }
  const p = d + 1;
  const A = gramPrimal(data, s, lambda);
  const b = augmentedRows(data, s, r);
  const xt = new Float64Array(p);
  return (train) => {
    const kept = new Set(train);
    const Af = Float64Array.from(A);
    const delta = Float64Array.from(b);
    for (let i = 0; i < n; i++) {
      if (kept.has(i)) continue;
      for (let j = 0; j < d; j++) xt[j] = data.X[i * d + j] as number;
      xt[d] = s;
      for (let a = 0; a < p; a++) {
        delta[a] = (delta[a] as number) - (r[i] as number) * (xt[a] as number);
        for (let q = 0; q < p; q++) Af[a * p + q] = (Af[a * p + q] as number) - (xt[a] as number) * (xt[q] as number);
      }
    }
    if (choleskyInPlace(Af, p)) choleskySolve(Af, p, p, delta);
    else delta.fill(0);
    return (i) => (base[i] as number) + dotAt(delta, 0, data.X, i * d, d);
  };
}

/** knn with k neighbours among the training rows (cosine similarity, weights as knn.ts), for `rows` only. */
export function knnFit(data: PackedRatings, k: number, rows: ArrayLike<number>): FitOnRows {
  const { n, dim: d } = data;
  const sims = new Map<number, Float64Array>();
  for (const i of Array.from(rows))
    sims.set(
      i,
      Float64Array.from({ length: n }, (_, j) => dotAt(data.X, j * d, data.X, i * d, d)),
    );
  return (train) => (i) => {
    const row = sims.get(i) as Float64Array;
    const top = train
      .filter((j) => j !== i)
      .sort((a, b) => (row[b] as number) - (row[a] as number))
      .slice(0, k);
    let num = 0;
    let den = 0;
    for (const j of top) {
      const w = Math.max(row[j] as number, 0) + 1e-6;
      num += w * (data.y[j] as number);
      den += w;
    }
    return den > 0 ? num / den : 0;
  };
}

/** maml adapted from the meta-initialization on the training rows. */
export function mamlFit(meta: MetaParams, data: PackedRatings): FitOnRows {
  return (train) => {
    const m = adapt(meta, data, Int32Array.from(train));
    return (i) => dotAt(m.w, 0, data.X, i * data.dim, data.dim);
  };
}

/** Two fits averaged (the blend of finetune and knn). */
export function averageFit(a: FitOnRows, b: FitOnRows): FitOnRows {
  return (train) => {
    const fa = a(train);
    const fb = b(train);
    return (i) => 0.5 * (fa(i) + fb(i));
  };
}

/**
 * The reported quality: SROCC (with its interval) from the held-out pairs, MSE and MAE from the ordinary
 * cross-validated predictions (an error in points does include the offset, and leave-one-out estimates
 * it without the ranking artefact).
 */
export function honestQuality(truth: ArrayLike<number>, cvPred: ArrayLike<number>, agreement: RankAgreement): ScorerQuality {
  const q = qualityFromPredictions(truth, cvPred);
  const tau = agreement.tau;
  const ci = tau === null ? null : sroccInterval(tau, agreement.rows);
  return { ...q, srocc: tau === null ? null : sroccFromTau(tau), sroccLow: ci?.low ?? null, sroccHigh: ci?.high ?? null };
}

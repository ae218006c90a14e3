/**
 * The community prior (`global`): one ridge regression on everyone's ratings with each person's
 * ratings AND embeddings centered by that person's own means (a within-person/fixed-effects fit).
 * Centering removes how generous each rater is, so the weights capture shared taste only.
 * Prediction for a person = w·x + their offset, where the offset is their mean rating minus w·(their
 * mean embedding) — i.e. "global taste + that person's mean" — or the community's for a new person.
 */
import { symEig, dotAt } from './linalg';
import type { PackedRatings } from './data';

export interface GlobalModel {
  readonly dim: number;
  /** Shared taste weights (offset-free). */
  readonly w: Float64Array;
  /** Offset for a person without ratings: community mean rating − w·(community mean embedding). */
  readonly bias: number;
  readonly communityMean: number;
  readonly lambda: number;
  /** Residual variance of centered ratings; the default noise level for new people. */
  readonly residualVar: number;
  readonly users: number;
  readonly ratings: number;
}

export const DEFAULT_GLOBAL_LAMBDA_GRID: readonly number[] = [0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000];

/** The prior before anyone rated anything: no taste, the scale's middle. */
export function emptyGlobal(dim: number, communityMean = 5.5): GlobalModel {
  return { dim, w: new Float64Array(dim), bias: communityMean, communityMean, lambda: 1, residualVar: 4, users: 0, ratings: 0 };
}

export interface TrainGlobalOptions {
  /** Fixed λ; otherwise chosen by generalized cross-validation over `lambdaGrid`. */
  lambda?: number;
  lambdaGrid?: readonly number[];
}

export function trainGlobal(users: readonly PackedRatings[], opts: TrainGlobalOptions = {}): GlobalModel {
  const dim = users[0]?.dim ?? 0;
  let N = 0;
  let U = 0;
  let ySum = 0;
  const xSum = new Float64Array(dim);
  const M = new Float64Array(dim * dim); // Σ (x−x̄u)(x−x̄u)ᵀ, lower triangle first
  const b = new Float64Array(dim);
  let yy = 0;
  const xc = new Float64Array(dim);
  const xm = new Float64Array(dim);
  for (const u of users) {
    if (u.dim !== dim) throw new RangeError(`users have different dimensions (${u.dim} vs ${dim})`);
    if (u.n === 0) continue;
    U++;
    xm.fill(0);
    let ym = 0;
    for (let i = 0; i < u.n; i++) {
      ym += u.y[i] as number;
      for (let j = 0; j < dim; j++) xm[j] = (xm[j] as number) + (u.X[i * dim + j] as number);
    }
    ySum += ym;
    for (let j = 0; j < dim; j++) xSum[j] = (xSum[j] as number) + (xm[j] as number);
    ym /= u.n;
    for (let j = 0; j < dim; j++) xm[j] = (xm[j] as number) / u.n;
    for (let i = 0; i < u.n; i++) {
      const yc = (u.y[i] as number) - ym;
      yy += yc * yc;
      for (let j = 0; j < dim; j++) xc[j] = (u.X[i * dim + j] as number) - (xm[j] as number);
      for (let a = 0; a < dim; a++) {
        const xa = xc[a] as number;
        b[a] = (b[a] as number) + xa * yc;
        const ra = a * dim;
        for (let c = 0; c <= a; c++) M[ra + c] = (M[ra + c] as number) + xa * (xc[c] as number);
      }
    }
    N += u.n;
  }
  for (let a = 0; a < dim; a++) for (let c = 0; c < a; c++) M[c * dim + a] = M[a * dim + c] as number;
  if (N === 0) return emptyGlobal(dim);

  const { values, vectors } = symEig(M, dim);
  const beta = new Float64Array(dim); // projections of Xᵀy on the eigenvectors
  for (let k = 0; k < dim; k++) beta[k] = dotAt(vectors, k * dim, b, 0, dim);
  const s = values.map((v) => Math.max(v, 0));

  // RSS and effective degrees of freedom in closed form from the spectrum.
  const rssAt = (lam: number): { rss: number; df: number } => {
    let fit = 0;
    let df = 0;
    for (let k = 0; k < dim; k++) {
      const sk = s[k] as number;
      const bk2 = (beta[k] as number) ** 2;
      const den = sk + lam;
      fit += (2 * bk2) / den - (sk * bk2) / (den * den);
      df += sk / den;
    }
    return { rss: Math.max(yy - fit, 0), df };
  };
  const dof = Math.max(N - U, 1); // per-person centering spends one degree of freedom each
  let lambda = opts.lambda ?? NaN;
  if (!(lambda > 0)) {
    let best = Infinity;
    for (const lam of opts.lambdaGrid ?? DEFAULT_GLOBAL_LAMBDA_GRID) {
      const { rss, df } = rssAt(lam);
      const gcv = (dof * rss) / Math.max(dof - df, 1e-9) ** 2;
      if (gcv < best) {
        best = gcv;
        lambda = lam;
      }
    }
  }
  const w = new Float64Array(dim);
  for (let k = 0; k < dim; k++) {
    const coef = (beta[k] as number) / ((s[k] as number) + lambda);
    for (let j = 0; j < dim; j++) w[j] = (w[j] as number) + coef * (vectors[k * dim + j] as number);
  }
  const communityMean = ySum / N;
  let wx = 0;
  for (let j = 0; j < dim; j++) wx += (w[j] as number) * ((xSum[j] as number) / N);
  const { rss, df } = rssAt(lambda);
  return {
    dim,
    w,
    bias: communityMean - wx,
    communityMean,
    lambda,
    residualVar: rss / Math.max(dof - df, 1),
    users: U,
    ratings: N,
  };
}

/** A person's offset under the global model: mean of (y − w·x), or the community's without ratings. */
export function globalOffset(g: GlobalModel, data: PackedRatings): number {
  if (data.n === 0) return g.bias;
  let s = 0;
  for (let i = 0; i < data.n; i++) s += (data.y[i] as number) - dotAt(g.w, 0, data.X, i * data.dim, data.dim);
  return s / data.n;
}

/** Leave-one-out predictions of the global method: each rating predicted with the offset of the others. */
export function globalLooPredictions(g: GlobalModel, data: PackedRatings): Float64Array {
  const n = data.n;
  const wx = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    wx[i] = dotAt(g.w, 0, data.X, i * data.dim, data.dim);
    total += (data.y[i] as number) - (wx[i] as number);
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const offset = n > 1 ? (total - ((data.y[i] as number) - (wx[i] as number))) / (n - 1) : g.bias;
    out[i] = (wx[i] as number) + offset;
  }
  return out;
}

/**
 * Ratings and picks fitted jointly on the finetune model (finetune-fit.ts): a score θ·x̃ with
 * x̃ = [x, s] and a Gaussian prior centred on the community weights θ0, here observed two ways —
 *  - a 1–10 rating y ~ N(θ·x̃, σ²);
 *  - a pick of a over b (one pick of four = three such pairs, the winner over each other image):
 *    Bradley–Terry, P(a ≻ b) = logistic(θ·(x̃_a − x̃_b) / g). With g = σ·√6/π this is exactly a choice
 *    between two images whose utilities carry Gumbel noise of the rating noise's size: a pick is as
 *    noisy as a rating. The offset cancels in a difference, so picks teach taste and never generosity.
 * Every observation is a linear functional z·θ (a rating: z = x̃; a pair: z = x̃_a − x̃_b), so the
 * posterior mode lies in their span (Δ = θ − θ0 = Zᵀ·(σ²/λ)·a) and Newton's method runs on m×m
 * systems, m = ratings + pairs — small for a person even with 1280-d embeddings (the Laplace-mode
 * iteration of Rasmussen & Williams, algorithm 3.1). Ratings alone give the ridge fit exactly.
 */
import { scheduledLambda } from './lambda-schedule';
import { DEFAULT_LAMBDA, DEFAULT_OFFSET_SCALE, toLinearModel, type FinetunePrior, type LinearModel } from './finetune-fit';
import type { PackedRatings } from './data';
import { choleskyInPlace, dotAt, forwardSolve, backSolveT } from './linalg';

/** One preference: the image picked (winner) over one it was shown with (loser). */
export interface PairPreference {
  readonly winner: ArrayLike<number>;
  readonly loser: ArrayLike<number>;
}

export interface JointOptions {
  /** Ridge λ in noise units (as finetune's); default: the prior's schedule at the interaction count, else 1. */
  lambda?: number;
  /** Rating noise variance σ² (rating units²); default 4. */
  noiseVar?: number;
  offsetScale?: number;
  maxIterations?: number;
}

/** The fitted model plus what the posterior covariance of new images needs (the Laplace approximation). */
export interface JointFit {
  readonly model: LinearModel;
  readonly lambda: number;
  /** Rating noise variance σ² the fit assumed (picks' temperature follows from it: pickTemperature). */
  readonly noiseVar: number;
  /** Prior variance of each weight: σ²/λ. */
  readonly tau: number;
  readonly offsetScale: number;
  /** Observation rows z (m×p, p = d + 1). */
  readonly Z: Float64Array;
  readonly m: number;
  /** √W per observation at the mode. */
  readonly sqrtW: Float64Array;
  /** Cholesky factor of B = I + √W K √W (K = τ Z Zᵀ). */
  readonly L: Float64Array;
}

const DEFAULT_NOISE_VAR = 4;

/** The Bradley–Terry temperature for rating noise σ²: the Gumbel scale whose SD is σ. */
export function pickTemperature(noiseVar: number): number {
  return (Math.sqrt(noiseVar) * Math.sqrt(6)) / Math.PI;
}

const logistic = (u: number) => (u >= 0 ? 1 / (1 + Math.exp(-u)) : Math.exp(u) / (1 + Math.exp(u)));

function observationRows(ratings: PackedRatings, pairs: readonly PairPreference[], s: number): Float64Array {
  const d = ratings.dim;
  const p = d + 1;
  const Z = new Float64Array((ratings.n + pairs.length) * p);
  for (let i = 0; i < ratings.n; i++) {
    for (let j = 0; j < d; j++) Z[i * p + j] = ratings.X[i * d + j] as number;
    Z[i * p + d] = s;
  }
  pairs.forEach((pr, k) => {
    const off = (ratings.n + k) * p;
    for (let j = 0; j < d; j++) Z[off + j] = (pr.winner[j] as number) - (pr.loser[j] as number);
  });
  return Z;
}

/** θ0 = [w0, b0/s]. */
function priorTheta(prior: FinetunePrior, s: number): Float64Array {
  const theta = new Float64Array(prior.w.length + 1);
  theta.set(prior.w);
  theta[prior.w.length] = prior.bias / s;
  return theta;
}

/** Per-observation first and second derivatives of the negative log-likelihood at f (Δ's part of z·θ). */
function derivatives(f: Float64Array, base: Float64Array, ratings: PackedRatings, noiseVar: number, g: number) {
  const m = f.length;
  const grad = new Float64Array(m);
  const W = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    const fk = f[k] as number;
    if (k < ratings.n) {
      grad[k] = -((ratings.y[k] as number) - (base[k] as number) - fk) / noiseVar;
      W[k] = 1 / noiseVar;
    } else {
      const u = ((base[k] as number) + fk) / g;
      const pw = logistic(u);
      grad[k] = -(1 - pw) / g;
      W[k] = Math.max((pw * (1 - pw)) / (g * g), 1e-12);
    }
  }
  return { grad, W };
}

function kernel(Z: Float64Array, m: number, p: number, tau: number): Float64Array {
  const K = new Float64Array(m * m);
  for (let a = 0; a < m; a++)
    for (let b = 0; b <= a; b++) {
      const v = tau * dotAt(Z, a * p, Z, b * p, p);
      K[a * m + b] = v;
      K[b * m + a] = v;
    }
  return K;
}

const matVec = (K: Float64Array, m: number, v: Float64Array) =>
  Float64Array.from({ length: m }, (_, a) => {
    let t = 0;
    for (let b = 0; b < m; b++) t += (K[a * m + b] as number) * (v[b] as number);
    return t;
  });

/** λ for a joint fit: the given one, else the prior's community schedule at this many interactions, else 1. */
function jointLambda(prior: FinetunePrior, interactions: number, opts: JointOptions = {}): number {
  return opts.lambda ?? scheduledLambda(prior.lambdaSchedule, Math.max(1, interactions)) ?? DEFAULT_LAMBDA;
}

/**
 * The posterior mode of θ given ratings and pairwise picks (Newton's method in the observations' span;
 * a ratings-only fit converges in one step to the ridge solution). `interactions` (for the λ schedule)
 * defaults to ratings + pairs.
 */
export function fitJoint(
  prior: FinetunePrior,
  ratings: PackedRatings,
  pairs: readonly PairPreference[],
  opts: JointOptions & { interactions?: number } = {},
): JointFit {
  const s = opts.offsetScale ?? DEFAULT_OFFSET_SCALE;
  const noiseVar = opts.noiseVar ?? DEFAULT_NOISE_VAR;
  const g = pickTemperature(noiseVar);
  const lambda = jointLambda(prior, opts.interactions ?? ratings.n + pairs.length, opts);
  const tau = noiseVar / lambda;
  const p = ratings.dim + 1;
  const m = ratings.n + pairs.length;
  const Z = observationRows(ratings, pairs, s);
  const theta0 = priorTheta(prior, s);
  const base = Float64Array.from({ length: m }, (_, k) => dotAt(theta0, 0, Z, k * p, p));
  const K = kernel(Z, m, p, tau);
  let f = new Float64Array(m);
  let a = new Float64Array(m);
  let sqrtW = new Float64Array(m);
  let L = new Float64Array(m * m);
  for (let it = 0; it < (opts.maxIterations ?? 30); it++) {
    const { grad, W } = derivatives(f, base, ratings, noiseVar, g);
    sqrtW = W.map(Math.sqrt);
    L = new Float64Array(m * m);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < m; j++) L[i * m + j] = (i === j ? 1 : 0) + (sqrtW[i] as number) * (K[i * m + j] as number) * (sqrtW[j] as number);
    if (!choleskyInPlace(L, m)) throw new Error('joint fit: the Newton system is not positive definite');
    const b = Float64Array.from({ length: m }, (_, k) => (W[k] as number) * (f[k] as number) - (grad[k] as number));
    const Kb = matVec(K, m, b);
    const t = Float64Array.from({ length: m }, (_, k) => (sqrtW[k] as number) * (Kb[k] as number));
    forwardSolve(L, m, m, t);
    backSolveT(L, m, m, t);
    a = Float64Array.from({ length: m }, (_, k) => (b[k] as number) - (sqrtW[k] as number) * (t[k] as number));
    const next = matVec(K, m, a);
    let change = 0;
    for (let k = 0; k < m; k++) change = Math.max(change, Math.abs((next[k] as number) - (f[k] as number)));
    f = next;
    if (change < 1e-9) break;
  }
  const delta = new Float64Array(p);
  for (let k = 0; k < m; k++) {
    const ak = tau * (a[k] as number);
    if (ak !== 0) for (let j = 0; j < p; j++) delta[j] = (delta[j] as number) + ak * (Z[k * p + j] as number);
  }
  return { model: toLinearModel(prior, delta, s), lambda, noiseVar, tau, offsetScale: s, Z, m, sqrtW, L };
}

/**
 * Posterior covariance (rating units²) of the candidates' scores under the Laplace approximation:
 * τ·x̃_aᵀx̃_b − vₐᵀv_b with v = L⁻¹·√W·(τ Z x̃). Row-major c×c.
 */
export function scoreCovariance(fit: JointFit, candidates: readonly ArrayLike<number>[]): Float64Array {
  const c = candidates.length;
  const d = candidates[0]?.length ?? 0;
  const p = d + 1;
  const s = fit.offsetScale;
  const cov = new Float64Array(c * c);
  for (let a = 0; a < c; a++)
    for (let b = 0; b <= a; b++) {
      const v = fit.tau * (dotAt(candidates[a]!, 0, candidates[b]!, 0, d) + s * s);
      cov[a * c + b] = v;
      cov[b * c + a] = v;
    }
  if (fit.m === 0) return cov;
  const V = candidates.map((x) => {
    const v = new Float64Array(fit.m);
    for (let k = 0; k < fit.m; k++) {
      const zx = dotAt(fit.Z, k * p, x, 0, d) + (fit.Z[k * p + d] as number) * s;
      v[k] = (fit.sqrtW[k] as number) * fit.tau * zx;
    }
    forwardSolve(fit.L, fit.m, fit.m, v);
    return v;
  });
  for (let a = 0; a < c; a++)
    for (let b = 0; b <= a; b++) {
      const v = (cov[a * c + b] as number) - dotAt(V[a]!, 0, V[b]!, 0, fit.m);
      cov[a * c + b] = v;
      cov[b * c + a] = v;
    }
  return cov;
}

/**
 * The finetune model and its direct solution. y = w·x + b + noise, with a Gaussian prior centered on
 * the global weights. The offset is folded into an augmented input x̃ = [x, s] and weights θ = [w, b/s],
 * so the whole thing is an isotropic ridge in p = d+1 dimensions around θ0 = [g, b0/s]:
 * θ = argmin ‖y − X̃θ‖² + λ‖θ − θ0‖². The offset is penalized s² times less than the taste weights (a
 * person's generosity is cheap to learn). Only Δ = θ − θ0 is fitted, on residuals r = y − X̃θ0.
 * The Gram matrices and helpers here are shared by the batch fit, λ selection (finetune-lambda.ts) and
 * the incremental fit (finetune.ts).
 */
import { choleskyInPlace, choleskySolve, dotAt } from './linalg';
import type { PackedRatings } from './data';
import type { LambdaSchedule } from './lambda-schedule';
import { subsetDots } from './subset-gram';

export interface FinetunePrior {
  readonly w: Float64Array;
  readonly bias: number;
  /** λ by rating count, learned from the community (calibrate.ts); per-person LOO where it has none. */
  readonly lambdaSchedule?: LambdaSchedule;
}

/** What prediction needs: w·x + bias. */
export interface LinearModel {
  readonly w: Float64Array;
  readonly bias: number;
}

export const DEFAULT_LAMBDA_GRID: readonly number[] = [0.03, 0.1, 0.3, 1, 3, 10, 30, 100];
export const DEFAULT_OFFSET_SCALE = 3;
export const DEFAULT_LAMBDA = 1;

export interface FinetuneOptions {
  lambdaGrid?: readonly number[];
  offsetScale?: number;
}

export function predictLinear(m: LinearModel, x: ArrayLike<number>, xOff = 0): number {
  return dotAt(m.w, 0, x, xOff, m.w.length) + m.bias;
}

/** r_i = y_i − (g·x_i + b0): what the person's model must explain beyond the prior. */
export function priorResiduals(prior: FinetunePrior, data: PackedRatings): Float64Array {
  const r = new Float64Array(data.n);
  for (let i = 0; i < data.n; i++) {
    r[i] = (data.y[i] as number) - dotAt(prior.w, 0, data.X, i * data.dim, data.dim) - prior.bias;
  }
  return r;
}

export function toLinearModel(prior: FinetunePrior, delta: Float64Array, s: number): LinearModel {
  const d = prior.w.length;
  const w = new Float64Array(d);
  for (let j = 0; j < d; j++) w[j] = (prior.w[j] as number) + (delta[j] as number);
  return { w, bias: prior.bias + s * (delta[d] as number) };
}

/** Δ = X̃ᵀα. */
export function dualToDelta(data: PackedRatings, alpha: Float64Array, s: number, out: Float64Array): void {
  const d = data.dim;
  out.fill(0);
  let sum = 0;
  for (let i = 0; i < data.n; i++) {
    const a = alpha[i] as number;
    sum += a;
    const off = i * d;
    for (let j = 0; j < d; j++) out[j] = (out[j] as number) + a * (data.X[off + j] as number);
  }
  out[d] = s * sum;
}

export function gramDual(data: PackedRatings, s: number, lambda: number): Float64Array {
  const n = data.n;
  const d = data.dim;
  const K = new Float64Array(n * n);
  // A subset of someone's ratings (a cross-validation fit) takes the same dot products from its parent's table.
  const shared = subsetDots(data);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = (shared ? shared(i, j) : dotAt(data.X, i * d, data.X, j * d, d)) + s * s;
      K[i * n + j] = v;
      K[j * n + i] = v;
    }
    K[i * n + i] = (K[i * n + i] as number) + lambda;
  }
  return K;
}

/** X̃ᵀX̃ + λI (p×p). */
export function gramPrimal(data: PackedRatings, s: number, lambda: number): Float64Array {
  const d = data.dim;
  const p = d + 1;
  const A = new Float64Array(p * p);
  const xt = new Float64Array(p);
  for (let i = 0; i < data.n; i++) {
    for (let j = 0; j < d; j++) xt[j] = data.X[i * d + j] as number;
    xt[d] = s;
    for (let a = 0; a < p; a++) {
      const xa = xt[a] as number;
      const ra = a * p;
      for (let c = 0; c <= a; c++) A[ra + c] = (A[ra + c] as number) + xa * (xt[c] as number);
    }
  }
  for (let a = 0; a < p; a++) {
    A[a * p + a] = (A[a * p + a] as number) + lambda;
    for (let c = 0; c < a; c++) A[c * p + a] = A[a * p + c] as number;
  }
  return A;
}

export function augmentedRows(data: PackedRatings, s: number, r: Float64Array): Float64Array {
  const d = data.dim;
  const b = new Float64Array(d + 1);
  for (let i = 0; i < data.n; i++) {
    const ri = r[i] as number;
    for (let j = 0; j < d; j++) b[j] = (b[j] as number) + ri * (data.X[i * d + j] as number);
    b[d] = (b[d] as number) + ri * s;
  }
  return b;
}

/**
 * Reference batch fit at a given λ by direct Cholesky solves (dual if n < p, else primal).
 * Independent of the incremental code paths; used by tests and the benchmark's "full refit".
 */
export function fitFinetuneBatch(
  prior: FinetunePrior,
  data: PackedRatings,
  lambda: number,
  opts: FinetuneOptions = {},
): { delta: Float64Array; model: LinearModel } {
  const s = opts.offsetScale ?? DEFAULT_OFFSET_SCALE;
  const p = data.dim + 1;
  const r = priorResiduals(prior, data);
  const delta = new Float64Array(p);
  if (data.n > 0 && data.n < p) {
    const K = gramDual(data, s, lambda);
    if (!choleskyInPlace(K, data.n)) throw new Error('finetune: dual system not positive definite');
    const alpha = Float64Array.from(r);
    choleskySolve(K, data.n, data.n, alpha);
    dualToDelta(data, alpha, s, delta);
  } else if (data.n >= p) {
    const A = gramPrimal(data, s, lambda);
    if (!choleskyInPlace(A, p)) throw new Error('finetune: primal system not positive definite');
    delta.set(augmentedRows(data, s, r));
    choleskySolve(A, p, p, delta);
  }
  return { delta, model: toLinearModel(prior, delta, s) };
}

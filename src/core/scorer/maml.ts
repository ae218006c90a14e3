/**
 * `maml`: a meta-learned starting point (and step size) for a linear head, trained across the
 * community with Reptile (a first-order MAML): repeatedly adapt a copy to one person's few ratings
 * and nudge the shared initialization towards the adapted weights. A new person is then fitted by a
 * few gradient steps from that initialization. Deterministic for a given seed.
 */
import { createRng } from '../random';
import type { PackedRatings } from './data';
import type { LinearModel } from './finetune';
import { dotAt } from './linalg';

export interface MetaParams {
  readonly dim: number;
  /** Initial taste weights and offset. */
  readonly w0: Float64Array;
  readonly b0: number;
  /** Meta-learned gradient step size and number of adaptation steps. */
  readonly stepSize: number;
  readonly steps: number;
  /** Community size it was trained on (for the retraining policy). */
  readonly users: number;
  readonly seed: number;
}

export interface MetaOptions {
  /** Reptile outer iterations (one sampled person each). */
  iterations?: number;
  /** Inner gradient steps and step size during meta-training. */
  innerSteps?: number;
  innerStep?: number;
  /** Reptile interpolation rate, annealed linearly to 0. */
  metaStep?: number;
  /** Ratings per sampled support set (the few-shot size being trained for). */
  supportSize?: number;
  /** Candidate adaptation step sizes and step counts, chosen on held-out ratings after training. */
  stepSizeGrid?: readonly number[];
  stepsGrid?: readonly number[];
}

const DEFAULTS: Required<MetaOptions> = {
  iterations: 1500,
  innerSteps: 5,
  innerStep: 0.3,
  metaStep: 0.5,
  supportSize: 10,
  stepSizeGrid: [0.05, 0.1, 0.2, 0.3, 0.45],
  stepsGrid: [1, 3, 5, 10, 20],
};

/**
 * Full-batch gradient descent on mean squared error over `rows` of data, starting from (w, b).
 * Features are [x, 1]; for unit x the loss curvature is ≤ 4, so steps below 0.5 are stable.
 */
function gradientSteps(w: Float64Array, b: number, data: PackedRatings, rows: ArrayLike<number>, steps: number, step: number): number {
  const d = data.dim;
  const n = rows.length;
  if (n === 0) return b;
  const g = new Float64Array(d);
  for (let s = 0; s < steps; s++) {
    g.fill(0);
    let gb = 0;
    for (let t = 0; t < n; t++) {
      const i = rows[t] as number;
      const err = dotAt(w, 0, data.X, i * d, d) + b - (data.y[i] as number);
      gb += err;
      for (let j = 0; j < d; j++) g[j] = (g[j] as number) + err * (data.X[i * d + j] as number);
    }
    const scale = (2 * step) / n;
    for (let j = 0; j < d; j++) w[j] = (w[j] as number) - scale * (g[j] as number);
    b -= scale * gb;
  }
  return b;
}

function allRows(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

/** Adapts the meta-initialization to one person's ratings (optionally a subset of rows). */
export function adapt(meta: MetaParams, data: PackedRatings, rows: ArrayLike<number> = allRows(data.n)): LinearModel {
  const w = Float64Array.from(meta.w0);
  const b = gradientSteps(w, meta.b0, data, rows, meta.steps, meta.stepSize);
  return { w, bias: b };
}

/** A meta-model that knows nothing: zero taste, mid-scale offset. Useful as a baseline. */
export function zeroMeta(dim: number, stepSize = 0.3, steps = 5): MetaParams {
  return { dim, w0: new Float64Array(dim), b0: 5.5, stepSize, steps, users: 0, seed: 0 };
}

export function trainMeta(users: readonly PackedRatings[], options: MetaOptions = {}, seed = 1): MetaParams {
  const opts = { ...DEFAULTS, ...options };
  const rng = createRng(seed);
  const pool = users.filter((u) => u.n >= 2);
  const dim = users[0]?.dim ?? 0;
  if (pool.length === 0) return { ...zeroMeta(dim), seed };
  // Start the offset at the community mean so the first iterations learn taste, not the scale.
  let ySum = 0;
  let yN = 0;
  for (const u of pool) for (let i = 0; i < u.n; i++, yN++) ySum += u.y[i] as number;
  const w0 = new Float64Array(dim);
  let b0 = ySum / yN;

  // Hold out a few people to choose the adaptation step size on; train on the rest.
  const order = rng.shuffle(pool.map((_, i) => i));
  const nVal = pool.length >= 10 ? Math.max(2, Math.floor(pool.length * 0.2)) : 0;
  const val = order.slice(0, nVal).map((i) => pool[i] as PackedRatings);
  const train = (nVal > 0 ? order.slice(nVal) : order).map((i) => pool[i] as PackedRatings);

  const w = new Float64Array(dim);
  for (let it = 0; it < opts.iterations; it++) {
    const u = rng.pick(train);
    const rows = rng.shuffle(Array.from({ length: u.n }, (_, i) => i)).slice(0, Math.min(opts.supportSize, u.n));
    w.set(w0);
    const b = gradientSteps(w, b0, u, rows, opts.innerSteps, opts.innerStep);
    const eps = opts.metaStep * (1 - it / opts.iterations);
    for (let j = 0; j < dim; j++) w0[j] = (w0[j] as number) + eps * ((w[j] as number) - (w0[j] as number));
    b0 += eps * (b - b0);
  }

  // Meta-learn the adaptation schedule: the (step, steps) with the lowest query error after adapting
  // on a support set of the trained size, over held-out people (or the training people if few).
  const evalUsers = val.length > 0 ? val : train;
  const splits = evalUsers.map((u) => {
    const perm = rng.shuffle(Array.from({ length: u.n }, (_, i) => i));
    const k = Math.min(opts.supportSize, Math.max(1, u.n - 1));
    return { u, support: perm.slice(0, k), query: perm.slice(k) };
  });
  let best = { stepSize: opts.innerStep, steps: opts.innerSteps, err: Infinity };
  for (const stepSize of opts.stepSizeGrid) {
    for (const steps of opts.stepsGrid) {
      let err = 0;
      let count = 0;
      const candidate: MetaParams = { dim, w0, b0, stepSize, steps, users: pool.length, seed };
      for (const { u, support, query } of splits) {
        const m = adapt(candidate, u, support);
        for (const i of query) {
          err += (dotAt(m.w, 0, u.X, i * dim, dim) + m.bias - (u.y[i] as number)) ** 2;
          count++;
        }
      }
      const e = count > 0 ? err / count : Infinity;
      if (e < best.err) best = { stepSize, steps, err: e };
    }
  }
  return { dim, w0, b0, stepSize: best.stepSize, steps: best.steps, users: pool.length, seed };
}

/**
 * Retraining policy for the background job: train once there are 3 people with ratings, then again
 * whenever the community has grown by a quarter (so retraining cost stays proportional to growth).
 */
export function shouldRetrainMeta(prevUsers: number, nowUsers: number): boolean {
  if (nowUsers < 3) return false;
  if (prevUsers < 3) return true;
  return nowUsers >= prevUsers * 1.25;
}

/**
 * Cross-validated predictions of the adapted model: leave-one-out for ≤ 30 ratings, otherwise
 * 10-fold (each fold costs a full adaptation, so exact LOO would be O(n²) adaptations).
 */
export function mamlCvPredictions(meta: MetaParams, data: PackedRatings): Float64Array {
  const n = data.n;
  const folds = n <= 30 ? n : 10;
  const out = new Float64Array(n);
  for (let f = 0; f < folds; f++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < n; i++) (i % folds === f ? test : train).push(i);
    const m = adapt(meta, data, Int32Array.from(train));
    for (const i of test) out[i] = dotAt(m.w, 0, data.X, i * data.dim, data.dim) + m.bias;
  }
  return out;
}

/**
 * `finetune`: the person's own linear model, starting from the community prior.
 *
 * Model: y = w·x + b + noise, with a Gaussian prior centered on the global weights. We fold the offset
 * into an augmented input x̃ = [x, s] and weights θ = [w, b/s], so the whole thing is an isotropic ridge
 * in p = d+1 dimensions around θ0 = [g, b0/s]:  θ = argmin ‖y − X̃θ‖² + λ‖θ − θ0‖².
 * The offset is penalized s² times less than the taste weights (a person's generosity is cheap to learn).
 * Only Δ = θ − θ0 is fitted, on residuals r = y − X̃θ0.
 *
 * Incremental refits (exact, not approximate):
 *  - while n < p, the dual: (K + λI)α = r with K = X̃X̃ᵀ, kept as a Cholesky factor that grows by one
 *    row per rating (O(n·d + n²)); Δ = X̃ᵀα.
 *  - once n ≥ p, the primal: A⁻¹ = (X̃ᵀX̃ + λI)⁻¹ kept explicitly and updated by Sherman–Morrison
 *    (O(p²) per rating, removals by the matching downdate).
 * The factor is the only O(n²)/O(p²) state; it can be released (cold users) and rebuilt from the data.
 *
 * λ comes from the community's calibrated schedule λ(n) for a person's first ratings (the prior carries
 * it; see calibrate.ts) and from closed-form leave-one-out over a grid beyond it (`selectLambda`, one
 * eigen-decomposition of the smaller Gram matrix: LOO residual_i = e_i / (1 − H_ii)). The LOO
 * predictions are computed either way (auto and the quality report use them). Re-selecting costs
 * O(min(n,p)³), so callers do it on a schedule (`lambdaIsStale`), while each rating refits exactly at
 * the current λ.
 */
import { scheduledLambda, type LambdaSchedule } from './lambda-schedule';
import { choleskyInPlace, choleskySolve, forwardSolve, backSolveT, choleskyRankOneUpdate, dotAt, spdInverse, symEig } from './linalg';
import type { PackedRatings } from './data';
import { type RatingStore } from './data';

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
function dualToDelta(data: PackedRatings, alpha: Float64Array, s: number, out: Float64Array): void {
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

function gramDual(data: PackedRatings, s: number, lambda: number): Float64Array {
  const n = data.n;
  const d = data.dim;
  const K = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = dotAt(data.X, i * d, data.X, j * d, d) + s * s;
      K[i * n + j] = v;
      K[j * n + i] = v;
    }
    K[i * n + i] = (K[i * n + i] as number) + lambda;
  }
  return K;
}

/** X̃ᵀX̃ + λI (p×p). */
function gramPrimal(data: PackedRatings, s: number, lambda: number): Float64Array {
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

function augmentedRows(data: PackedRatings, s: number, r: Float64Array): Float64Array {
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

export interface LambdaSelection {
  lambda: number;
  /** Leave-one-out predictions at the chosen λ (rating units). */
  looPred: Float64Array;
  looMse: number;
  /** LOO MSE of every grid value, for reports. */
  grid: { lambda: number; looMse: number }[];
  /** Fitted Δ at the chosen λ. */
  delta: Float64Array;
}

interface LooCandidate {
  lambda: number;
  mse: number;
  /** Standard error of the LOO MSE (spread of the squared LOO residuals / √n). */
  se: number;
  loo: Float64Array;
  coef: Float64Array;
}

function looCandidate(lambda: number, data: PackedRatings, e: Float64Array, coef: Float64Array): LooCandidate {
  const n = data.n;
  let mse = 0;
  for (let i = 0; i < n; i++) mse += (e[i] as number) ** 2;
  mse /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += ((e[i] as number) ** 2 - mse) ** 2;
  const se = n > 1 ? Math.sqrt(v / (n - 1) / n) : Infinity;
  const loo = new Float64Array(n);
  for (let i = 0; i < n; i++) loo[i] = (data.y[i] as number) - (e[i] as number);
  return { lambda, mse, se, loo, coef: Float64Array.from(coef) };
}

/**
 * Below this many ratings λ is chosen by the one-standard-error rule, above it by the plain LOO
 * minimum. Measured on eval:piaa (features-v2, seed 1): the rule lifts finetune at 10 ratings from
 * 0.528 to 0.552 SROCC (level with the prior) but costs 0.015 at 100 ratings, where LOO is reliable.
 */
export const ONE_SE_BELOW = 20;

function minLooChoice(cands: readonly LooCandidate[]): LooCandidate {
  let min = cands[0] as LooCandidate;
  for (const c of cands) if (c.mse < min.mse) min = c;
  return min;
}

/**
 * The one-standard-error rule: the most regularized λ (closest to the community prior) whose LOO MSE
 * is within one standard error of the best. With 10 ratings the LOO curve is mostly noise and the
 * plain minimum often lands on a small λ that overfits; measured on eval:piaa, finetune then ranked
 * worse than the prior it starts from.
 */
function oneStandardErrorChoice(cands: readonly LooCandidate[]): LooCandidate {
  let min = cands[0] as LooCandidate;
  for (const c of cands) if (c.mse < min.mse) min = c;
  const limit = min.mse + (Number.isFinite(min.se) ? min.se : 0);
  let pick = min;
  for (const c of cands) if (c.mse <= limit && c.lambda > pick.lambda) pick = c;
  return pick;
}

/**
 * The λ finetune adopts with n ratings: the community's calibrated choice where there is one (the
 * grid value nearest to it), else the one-standard-error rule below ONE_SE_BELOW ratings and the LOO
 * minimum above.
 */
function chooseLambda(cands: readonly LooCandidate[], n: number, schedule: LambdaSchedule | undefined): LooCandidate {
  const target = scheduledLambda(schedule, n);
  if (target !== null) {
    let pick = cands[0] as LooCandidate;
    for (const c of cands) if (Math.abs(Math.log(c.lambda / target)) < Math.abs(Math.log(pick.lambda / target))) pick = c;
    return pick;
  }
  return n < ONE_SE_BELOW ? oneStandardErrorChoice(cands) : minLooChoice(cands);
}

/**
 * Closed-form LOO over a λ grid from one eigen-decomposition. With H = X̃(X̃ᵀX̃+λI)⁻¹X̃ᵀ, the LOO
 * residual of rating i is (r_i − (Hr)_i)/(1 − H_ii); in the dual this is [(K+λI)⁻¹r]_i / [(K+λI)⁻¹]_ii.
 */
export function selectLambda(prior: FinetunePrior, data: PackedRatings, opts: FinetuneOptions = {}): LambdaSelection {
  const s = opts.offsetScale ?? DEFAULT_OFFSET_SCALE;
  const grid = opts.lambdaGrid ?? DEFAULT_LAMBDA_GRID;
  const n = data.n;
  const d = data.dim;
  const p = d + 1;
  if (n === 0 || grid.length === 0) {
    return {
      lambda: grid.includes(DEFAULT_LAMBDA) || grid.length === 0 ? DEFAULT_LAMBDA : (grid[0] as number),
      looPred: new Float64Array(0),
      looMse: NaN,
      grid: [],
      delta: new Float64Array(p),
    };
  }
  const r = priorResiduals(prior, data);
  const results: { lambda: number; looMse: number }[] = [];
  let best: LooCandidate;
  const cands: LooCandidate[] = [];
  const e = new Float64Array(n);
  if (n <= p) {
    const K = gramDual(data, s, 0);
    const { values, vectors: U } = symEig(K, n);
    const c = new Float64Array(n);
    for (let k = 0; k < n; k++) c[k] = dotAt(U, k * n, r, 0, n);
    const a = new Float64Array(n);
    const diag = new Float64Array(n);
    for (const lam of grid) {
      a.fill(0);
      diag.fill(0);
      for (let k = 0; k < n; k++) {
        const inv = 1 / (Math.max(values[k] as number, 0) + lam);
        const ck = (c[k] as number) * inv;
        const off = k * n;
        for (let i = 0; i < n; i++) {
          const u = U[off + i] as number;
          a[i] = (a[i] as number) + ck * u;
          diag[i] = (diag[i] as number) + inv * u * u;
        }
      }
      let mse = 0;
      for (let i = 0; i < n; i++) {
        e[i] = (a[i] as number) / (diag[i] as number);
        mse += (e[i] as number) ** 2;
      }
      mse /= n;
      results.push({ lambda: lam, looMse: mse });
      cands.push(looCandidate(lam, data, e, a));
    }
    best = chooseLambda(cands, n, prior.lambdaSchedule);
    const delta = new Float64Array(p);
    dualToDelta(data, best.coef, s, delta);
    return { lambda: best.lambda, looPred: best.loo, looMse: best.mse, grid: results, delta };
  }
  // n > p: decompose the p×p Gram matrix instead; Z = X̃Vᵀ holds every row in the eigenbasis.
  const M = gramPrimal(data, s, 0);
  const { values, vectors: V } = symEig(M, p);
  const Z = new Float64Array(n * p);
  const xt = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) xt[j] = data.X[i * d + j] as number;
    xt[d] = s;
    for (let k = 0; k < p; k++) Z[i * p + k] = dotAt(V, k * p, xt, 0, p);
  }
  const beta = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    const ri = r[i] as number;
    for (let k = 0; k < p; k++) beta[k] = (beta[k] as number) + ri * (Z[i * p + k] as number);
  }
  const inv = new Float64Array(p);
  const fitCoef = new Float64Array(p);
  for (const lam of grid) {
    for (let k = 0; k < p; k++) {
      inv[k] = 1 / (Math.max(values[k] as number, 0) + lam);
      fitCoef[k] = (beta[k] as number) * (inv[k] as number);
    }
    let mse = 0;
    for (let i = 0; i < n; i++) {
      let fitted = 0;
      let h = 0;
      const off = i * p;
      for (let k = 0; k < p; k++) {
        const z = Z[off + k] as number;
        fitted += z * (fitCoef[k] as number);
        h += z * z * (inv[k] as number);
      }
      e[i] = ((r[i] as number) - fitted) / (1 - h);
      mse += (e[i] as number) ** 2;
    }
    mse /= n;
    results.push({ lambda: lam, looMse: mse });
    cands.push(looCandidate(lam, data, e, fitCoef));
  }
  best = chooseLambda(cands, n, prior.lambdaSchedule);
  const delta = new Float64Array(p);
  for (let k = 0; k < p; k++) {
    const ck = best.coef[k] as number;
    for (let j = 0; j < p; j++) delta[j] = (delta[j] as number) + ck * (V[k * p + j] as number);
  }
  return { lambda: best.lambda, looPred: best.loo, looMse: best.mse, grid: results, delta };
}

interface DualFactor {
  kind: 'dual';
  /** Lower Cholesky factor of K + λI, row stride `stride`. */
  L: Float64Array;
  stride: number;
  /** Prior residuals r and z = L⁻¹r (both length ≥ n). */
  r: Float64Array;
  z: Float64Array;
}
interface PrimalFactor {
  kind: 'primal';
  /**
   * (X̃ᵀX̃ + λI)⁻¹ as a packed lower triangle (row a starts at a(a+1)/2) — symmetric, so half the
   * memory and half the memory traffic — *plus* a pending rank-one term pendCoef·pend·pendᵀ.
   * Each Sherman–Morrison step folds the previous step's pending term into P in the same pass that
   * computes A⁻¹x̃: one sweep over the matrix per rating instead of two.
   */
  P: Float64Array;
  pend: Float64Array | null;
  pendCoef: number;
}

function packLower(A: Float64Array, p: number): Float64Array {
  const P = new Float64Array((p * (p + 1)) / 2);
  let off = 0;
  for (let a = 0; a < p; a++) {
    P.set(A.subarray(a * p, a * p + a + 1), off);
    off += a + 1;
  }
  return P;
}

/** out = A⁻¹·x, folding the pending rank-one term into P on the way. */
function primalApply(f: PrimalFactor, x: Float64Array, out: Float64Array): void {
  const P = f.P;
  const p = x.length;
  out.fill(0);
  const pend = f.pend;
  let off = 0;
  if (pend === null) {
    for (let a = 0; a < p; a++) {
      const xa = x[a] as number;
      let s = 0;
      for (let c = 0; c < a; c++) {
        const v = P[off + c] as number;
        s += v * (x[c] as number);
        out[c] = (out[c] as number) + v * xa;
      }
      out[a] = (out[a] as number) + s + (P[off + a] as number) * xa;
      off += a + 1;
    }
    return;
  }
  const coef = f.pendCoef;
  for (let a = 0; a < p; a++) {
    const cu = coef * (pend[a] as number);
    const xa = x[a] as number;
    let s = 0;
    for (let c = 0; c < a; c++) {
      const v = (P[off + c] as number) + cu * (pend[c] as number);
      P[off + c] = v;
      s += v * (x[c] as number);
      out[c] = (out[c] as number) + v * xa;
    }
    const v = (P[off + a] as number) + cu * (pend[a] as number);
    P[off + a] = v;
    out[a] = (out[a] as number) + s + v * xa;
    off += a + 1;
  }
  f.pend = null;
}

function primalFlush(f: PrimalFactor): void {
  const pend = f.pend;
  if (pend === null) return;
  const P = f.P;
  const coef = f.pendCoef;
  let off = 0;
  for (let a = 0; a < pend.length; a++) {
    const cu = coef * (pend[a] as number);
    for (let c = 0; c <= a; c++) P[off + c] = (P[off + c] as number) + cu * (pend[c] as number);
    off += a + 1;
  }
  f.pend = null;
}
type Factor = DualFactor | PrimalFactor;

/**
 * λ re-selection policy: every change while n is small (cheap, and λ matters most there), then
 * whenever n moved by 25% since the last selection — O(log n) selections over a person's lifetime.
 */
export function lambdaIsStale(nNow: number, nAtSelection: number): boolean {
  if (nNow === 0) return false;
  if (nNow <= 32) return nNow !== nAtSelection;
  return nNow >= nAtSelection * 1.25 || nNow <= nAtSelection * 0.8;
}

/** A person's finetune fit that refits exactly after every added or removed rating. */
export class IncrementalFinetune {
  readonly offsetScale: number;
  /** Δ = θ − θ0, length p = d + 1. */
  delta: Float64Array;
  lambda: number;
  /** n when λ was last selected (see lambdaIsStale). */
  nAtSelection = 0;
  private factor: Factor | null = null;
  private stale = false;
  private scratch: [Float64Array, Float64Array] = [new Float64Array(0), new Float64Array(0)];

  constructor(
    private priorModel: FinetunePrior,
    readonly data: RatingStore,
    opts: { lambda?: number; offsetScale?: number; lazy?: boolean } = {},
  ) {
    this.offsetScale = opts.offsetScale ?? DEFAULT_OFFSET_SCALE;
    this.lambda = opts.lambda ?? DEFAULT_LAMBDA;
    this.delta = new Float64Array(data.dim + 1);
    // lazy: fit on first use (loading many people at startup must not factorize all of them).
    if (data.n > 0) {
      if (opts.lazy) this.stale = true;
      else this.ensureFactor();
    }
  }

  get dim(): number {
    return this.data.dim;
  }
  get prior(): FinetunePrior {
    return this.priorModel;
  }
  get hasFactor(): boolean {
    return this.factor !== null;
  }
  get factorKind(): 'dual' | 'primal' | null {
    return this.factor?.kind ?? null;
  }
  /** Bytes held by the factorization (what an LRU of hot users accounts for). */
  get factorBytes(): number {
    const f = this.factor;
    if (!f) return 0;
    return f.kind === 'dual' ? f.L.byteLength + f.r.byteLength + f.z.byteLength : f.P.byteLength + (f.pend?.byteLength ?? 0);
  }

  /** Drops the O(n²)/O(p²) factorization; the O(d) fit stays valid and the factor rebuilds on demand. */
  releaseFactor(): void {
    this.factor = null;
    this.scratch = [new Float64Array(0), new Float64Array(0)];
  }

  model(): LinearModel {
    if (this.stale) this.ensureFactor();
    return toLinearModel(this.priorModel, this.delta, this.offsetScale);
  }

  predict(x: ArrayLike<number>): number {
    if (this.stale) this.ensureFactor();
    const d = this.dim;
    let v = this.priorModel.bias + this.offsetScale * (this.delta[d] as number);
    for (let j = 0; j < d; j++) v += ((this.priorModel.w[j] as number) + (this.delta[j] as number)) * (x[j] as number);
    return v;
  }

  /** A new community prior: the fit must be recomputed (lazily, on next use). */
  setPrior(prior: FinetunePrior): void {
    this.priorModel = prior;
    this.factor = null;
    this.stale = this.data.n > 0;
    if (this.data.n === 0) this.delta.fill(0);
  }

  /** Sets λ; `delta` (the exact fit at that λ, e.g. from selectLambda) avoids a refit. */
  setLambda(lambda: number, delta?: Float64Array): void {
    if (lambda === this.lambda && !delta) return;
    this.lambda = lambda;
    this.factor = null;
    if (delta) {
      this.delta.set(delta);
      this.stale = false;
    } else {
      this.stale = this.data.n > 0;
    }
  }

  /** Runs closed-form LOO λ selection on the current data and adopts the winner. */
  reselectLambda(opts: FinetuneOptions = {}): LambdaSelection {
    const sel = selectLambda(this.priorModel, this.data, { ...opts, offsetScale: this.offsetScale });
    this.setLambda(sel.lambda, sel.delta);
    this.nAtSelection = this.data.n;
    return sel;
  }

  get lambdaStale(): boolean {
    return lambdaIsStale(this.data.n, this.nAtSelection);
  }

  /** Builds the factorization from the data (and refreshes Δ from it). */
  ensureFactor(): void {
    if (this.factor && !this.stale) return;
    const data = this.data;
    const n = data.n;
    const p = this.dim + 1;
    const s = this.offsetScale;
    const r = priorResiduals(this.priorModel, data);
    if (n < p) {
      const stride = Math.min(p, Math.max(16, Math.ceil(n * 1.5)));
      const L = new Float64Array(stride * stride);
      const K = gramDual(data, s, this.lambda);
      if (!choleskyInPlace(K, n)) throw new Error('finetune: dual system not positive definite');
      for (let i = 0; i < n; i++) L.set(K.subarray(i * n, i * n + i + 1), i * stride);
      const rr = new Float64Array(stride);
      rr.set(r);
      const z = Float64Array.from(rr);
      forwardSolve(L, n, stride, z);
      this.factor = { kind: 'dual', L, stride, r: rr, z };
      this.refreshDualDelta();
    } else {
      const Ainv = spdInverse(gramPrimal(data, s, this.lambda), p);
      if (!Ainv) throw new Error('finetune: primal system not positive definite');
      const b = augmentedRows(data, s, r);
      for (let i = 0; i < p; i++) this.delta[i] = dotAt(Ainv, i * p, b, 0, p);
      this.factor = { kind: 'primal', P: packLower(Ainv, p), pend: null, pendCoef: 0 };
    }
    this.stale = false;
  }

  private augmented(x: ArrayLike<number>): Float64Array {
    const d = this.dim;
    const xt = new Float64Array(d + 1);
    for (let j = 0; j < d; j++) xt[j] = x[j] as number;
    xt[d] = this.offsetScale;
    return xt;
  }

  private refreshDualDelta(): void {
    const f = this.factor as DualFactor;
    const n = this.data.n;
    const alpha = Float64Array.from(f.z.subarray(0, n));
    backSolveT(f.L, n, f.stride, alpha);
    dualToDelta(this.data, alpha, this.offsetScale, this.delta);
  }

  /** Adds one rating and refits exactly. Returns its row index. */
  add(x: ArrayLike<number>, y: number, id: string | null = null): number {
    if (x.length !== this.dim) throw new RangeError(`embedding has dimension ${x.length}, expected ${this.dim}`);
    this.ensureFactor();
    const n = this.data.n;
    const p = this.dim + 1;
    const d = this.dim;
    const xt = this.augmented(x);
    const rNew = y - dotAt(this.priorModel.w, 0, xt, 0, d) - this.priorModel.bias;
    const f = this.factor as Factor;
    if (f.kind === 'primal') {
      this.primalUpdate(f, xt, rNew, +1);
      return this.data.add(x, y, id);
    }
    if (n + 1 >= p) {
      // Crossing into the primal regime: one O(p³) rebuild, then O(p²) per rating from here on.
      const idx = this.data.add(x, y, id);
      this.factor = null;
      this.ensureFactor();
      return idx;
    }
    if (n + 1 > f.stride) this.growDual(f, Math.min(p, Math.max(16, f.stride * 2)));
    const g = this.factor as DualFactor;
    const { stride } = g;
    const l = new Float64Array(n);
    for (let j = 0; j < n; j++) l[j] = dotAt(this.data.X, j * d, xt, 0, d) + this.offsetScale * this.offsetScale;
    const kk = dotAt(xt, 0, xt, 0, p) + this.lambda;
    forwardSolve(g.L, n, stride, l);
    const diag2 = kk - dotAt(l, 0, l, 0, n);
    if (!(diag2 > 1e-12 * kk)) {
      // Numerically degenerate (cannot happen for λ > 0 in exact arithmetic): rebuild from scratch.
      const idx = this.data.add(x, y, id);
      this.factor = null;
      this.ensureFactor();
      return idx;
    }
    const lnn = Math.sqrt(diag2);
    g.L.set(l, n * stride);
    g.L[n * stride + n] = lnn;
    g.r[n] = rNew;
    g.z[n] = (rNew - dotAt(l, 0, g.z, 0, n)) / lnn;
    const idx = this.data.add(x, y, id);
    this.refreshDualDelta();
    return idx;
  }

  /** Removes rating i and refits exactly. */
  removeAt(i: number): void {
    const n = this.data.n;
    if (!(i >= 0 && i < n)) throw new RangeError(`no rating at index ${i} (n = ${n})`);
    this.ensureFactor();
    const f = this.factor as Factor;
    if (f.kind === 'primal') {
      const xt = this.augmented(this.data.row(i));
      const rOld = (this.data.y[i] as number) - dotAt(this.priorModel.w, 0, xt, 0, this.dim) - this.priorModel.bias;
      this.data.removeAt(i);
      if (this.data.n === 0) {
        this.factor = null;
        this.delta.fill(0);
        return;
      }
      if (!this.primalUpdate(f, xt, rOld, -1)) {
        this.factor = null;
        this.ensureFactor();
      }
      return;
    }
    // Dual: delete row/column i of the Cholesky factor; the trailing block absorbs the removed
    // column by a rank-one update (L33' L33'ᵀ = L33 L33ᵀ + l32 l32ᵀ).
    const { L, stride } = f;
    const m = n - 1 - i;
    const l32 = new Float64Array(m);
    for (let k = 0; k < m; k++) l32[k] = L[(i + 1 + k) * stride + i] as number;
    for (let row = i + 1; row < n; row++) {
      const src = row * stride;
      const dst = (row - 1) * stride;
      for (let c = 0; c < i; c++) L[dst + c] = L[src + c] as number;
      for (let c = i + 1; c <= row; c++) L[dst + c - 1] = L[src + c] as number;
      L[dst + row] = 0;
    }
    L.fill(0, (n - 1) * stride, (n - 1) * stride + n);
    if (m > 0) choleskyRankOneUpdate(L, stride, i, m, l32);
    f.r.copyWithin(i, i + 1, n);
    this.data.removeAt(i);
    const nn = this.data.n;
    f.z.set(f.r.subarray(0, nn));
    forwardSolve(L, nn, stride, f.z);
    this.refreshDualDelta();
  }

  /** Sherman–Morrison up/down-date of A⁻¹ and Δ. Returns false if the downdate is ill-conditioned. */
  private primalUpdate(f: PrimalFactor, xt: Float64Array, r: number, sign: 1 | -1): boolean {
    const p = xt.length;
    // Two alternating scratch vectors: the previous step's u is still pending inside the factor.
    if (this.scratch[0].length !== p) this.scratch = [new Float64Array(p), new Float64Array(p)];
    const u = f.pend === this.scratch[0] ? this.scratch[1] : this.scratch[0];
    primalApply(f, xt, u);
    const h = dotAt(xt, 0, u, 0, p);
    const den = 1 + sign * h;
    if (!(den > 1e-10)) return false;
    const pred = dotAt(xt, 0, this.delta, 0, p);
    // add:    Δ += u (r − x̃·Δ)/(1 + h),   A⁻¹ −= u uᵀ/(1 + h)
    // remove: Δ += u (x̃·Δ − r)/(1 − h),   A⁻¹ += u uᵀ/(1 − h)
    const step = (sign * (r - pred)) / den;
    for (let a = 0; a < p; a++) this.delta[a] = (this.delta[a] as number) + (u[a] as number) * step;
    f.pend = u;
    f.pendCoef = -sign / den;
    return true;
  }

  private growDual(f: DualFactor, stride: number): void {
    const n = this.data.n;
    const L = new Float64Array(stride * stride);
    for (let i = 0; i < n; i++) L.set(f.L.subarray(i * f.stride, i * f.stride + i + 1), i * stride);
    const r = new Float64Array(stride);
    r.set(f.r.subarray(0, n));
    const z = new Float64Array(stride);
    z.set(f.z.subarray(0, n));
    this.factor = { kind: 'dual', L, stride, r, z };
  }

  /**
   * Posterior covariance factor x̃_aᵀ A⁻¹ x̃_b for candidate embeddings (m×m, row-major), where the
   * posterior covariance of θ is σ²·A⁻¹. Used by active selection and predictive variance.
   */
  candidateCovariance(cands: readonly ArrayLike<number>[]): Float64Array {
    return this.posteriorCross(cands, true);
  }

  /**
   * t_aᵀ A⁻¹ x̃_b where x̃_b = [x_b, s] always and t_a = [x_a, s] (withOffsetRows) or [x_a, 0]
   * (the taste part only: the covariance between a candidate's taste score and a rating of b).
   */
  posteriorCross(cands: readonly ArrayLike<number>[], withOffsetRows: boolean): Float64Array {
    this.ensureFactor();
    const m = cands.length;
    const d = this.dim;
    const p = d + 1;
    const s = this.offsetScale;
    const C = new Float64Array(m * m);
    const xts = cands.map((x) => {
      if (x.length !== d) throw new RangeError(`embedding has dimension ${x.length}, expected ${d}`);
      return this.augmented(x);
    });
    const rowOffset = withOffsetRows ? s : 0;
    const f = this.factor;
    if (f === null || f.kind === 'dual') {
      // A⁻¹ = (I − X̃ᵀ(K+λI)⁻¹X̃)/λ  ⇒  t_aᵀA⁻¹x̃_b = (t_a·x̃_b − q_a·q'_b)/λ with q = L⁻¹X̃(·).
      const n = this.data.n;
      const Q = new Float64Array(m * n);
      const Qr = withOffsetRows ? Q : new Float64Array(m * n);
      for (let a = 0; a < m; a++) {
        const q = Q.subarray(a * n, a * n + n);
        const qr = Qr.subarray(a * n, a * n + n);
        const xt = xts[a] as Float64Array;
        for (let j = 0; j < n; j++) {
          const dotx = dotAt(this.data.X, j * d, xt, 0, d);
          q[j] = dotx + s * s;
          if (!withOffsetRows) qr[j] = dotx;
        }
        if (f) {
          forwardSolve(f.L, n, f.stride, q);
          if (!withOffsetRows) forwardSolve(f.L, n, f.stride, qr);
        }
      }
      for (let a = 0; a < m; a++) {
        for (let b = 0; b < m; b++) {
          const base = dotAt(xts[a] as Float64Array, 0, xts[b] as Float64Array, 0, d) + rowOffset * s;
          C[a * m + b] = (base - (f ? dotAt(Qr, a * n, Q, b * n, n) : 0)) / this.lambda;
        }
      }
      return C;
    }
    primalFlush(f);
    const U = new Float64Array(m * p);
    for (let b = 0; b < m; b++) primalApply(f, xts[b] as Float64Array, U.subarray(b * p, b * p + p));
    for (let a = 0; a < m; a++) {
      for (let b = 0; b < m; b++) {
        C[a * m + b] = dotAt(U, b * p, xts[a] as Float64Array, 0, d) + rowOffset * (U[b * p + d] as number);
      }
    }
    return C;
  }

  /**
   * Both matrices active selection needs — `full` = posteriorCross(cands, true) and `cross` =
   * posteriorCross(cands, false) — in one pass. `gram` (optional, m×m row-major x_a·x_b of the
   * candidates) lets a caller that asks repeatedly about the same candidates (a selection loop) pay
   * the O(m²·d) candidate dot products once instead of per call: in the dual regime the remaining
   * cost is O(m·n·d + m·n² + m²·n).
   */
  posteriorCovariances(
    cands: readonly ArrayLike<number>[],
    gram?: Float64Array,
    rowsInCands?: readonly number[],
  ): { full: Float64Array; cross: Float64Array } {
    this.ensureFactor();
    const m = cands.length;
    const d = this.dim;
    const s = this.offsetScale;
    if (gram && gram.length !== m * m) throw new RangeError(`gram has ${gram.length} entries, expected ${m * m}`);
    for (const x of cands) if (x.length !== d) throw new RangeError(`embedding has dimension ${x.length}, expected ${d}`);
    const f = this.factor;
    if (f !== null && f.kind === 'primal') return { full: this.posteriorCross(cands, true), cross: this.posteriorCross(cands, false) };
    // Dual: t_aᵀA⁻¹x̃_b = (t_a·x̃_b − qr_a·q_b)/λ with qr_a = L⁻¹(X x_a) (taste rows) and
    // q_b = L⁻¹(X x_b + s²·1) = qr_b + c, c = L⁻¹(s²·1). So both matrices follow from the symmetric
    // R_ab = qr_a·qr_b (half of one m²·n product) and the m numbers qr_a·c.
    const n = f ? this.data.n : 0;
    const Qr = new Float64Array(m * n);
    const c = new Float64Array(n).fill(s * s);
    if (f && n > 0) forwardSolve(f.L, n, f.stride, c);
    const qc = new Float64Array(m);
    for (let a = 0; a < m; a++) {
      const x = cands[a] as ArrayLike<number>;
      const qr = Qr.subarray(a * n, a * n + n);
      // X·x_a: read from the candidates' gram when the rated rows are candidates themselves (the
      // evaluation's active loop), instead of n dot products of length d per candidate and step.
      if (gram && rowsInCands && rowsInCands.length === n)
        for (let j = 0; j < n; j++) qr[j] = gram[a * m + (rowsInCands[j] as number)] as number;
      else for (let j = 0; j < n; j++) qr[j] = dotAt(this.data.X, j * d, x, 0, d);
      if (f && n > 0) forwardSolve(f.L, n, f.stride, qr);
      qc[a] = dotAt(qr, 0, c, 0, n);
    }
    const cc = dotAt(c, 0, c, 0, n);
    const full = new Float64Array(m * m);
    const cross = new Float64Array(m * m);
    const inv = 1 / this.lambda;
    for (let a = 0; a < m; a++) {
      const qa = qc[a] as number;
      for (let b = 0; b <= a; b++) {
        const xx = gram ? (gram[a * m + b] as number) : dotAt(cands[a] as ArrayLike<number>, 0, cands[b] as ArrayLike<number>, 0, d);
        const R = n > 0 ? dotAt(Qr, a * n, Qr, b * n, n) : 0;
        const qb = qc[b] as number;
        const fv = (xx + s * s - (R + qa + qb + cc)) * inv;
        full[a * m + b] = fv;
        full[b * m + a] = fv;
        cross[a * m + b] = (xx - (R + qa)) * inv;
        cross[b * m + a] = (xx - (R + qb)) * inv;
      }
    }
    return { full, cross };
  }

  /** x̃ᵀA⁻¹x̃ for each embedding: the model's uncertainty in units of the noise variance. */
  leverage(xs: readonly ArrayLike<number>[]): Float64Array {
    // Diagonal only; reuse the covariance code one candidate at a time to keep memory O(n + p).
    const out = new Float64Array(xs.length);
    xs.forEach((x, i) => {
      out[i] = this.candidateCovariance([x])[0] as number;
    });
    return out;
  }
}

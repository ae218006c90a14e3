/**
 * `finetune`: the person's own linear model, starting from the community prior (the model and its
 * batch fit: finetune-fit.ts; the choice of λ: finetune-lambda.ts).
 *
 * Incremental refits (exact, not approximate):
 *  - while n < p, the dual: (K + λI)α = r with K = X̃X̃ᵀ, kept as a Cholesky factor that grows by one
 *    row per rating (O(n·d + n²)); Δ = X̃ᵀα.
 *  - once n ≥ p, the primal: A⁻¹ = (X̃ᵀX̃ + λI)⁻¹ kept explicitly and updated by Sherman–Morrison
 *    (O(p²) per rating, removals by the matching downdate).
 * The factor (finetune-factor.ts) is the only O(n²)/O(p²) state; it can be released (cold users) and
 * rebuilt from the data. λ is re-selected on a schedule (`lambdaIsStale`), while each rating refits
 * exactly at the current λ.
 */
import { choleskyInPlace, forwardSolve, backSolveT, choleskyRankOneUpdate, dotAt, spdInverse } from './linalg';
import { type RatingStore } from './data';
import {
  DEFAULT_LAMBDA,
  DEFAULT_OFFSET_SCALE,
  augmentedRows,
  dualToDelta,
  gramDual,
  gramPrimal,
  priorResiduals,
  toLinearModel,
  type FinetuneOptions,
  type FinetunePrior,
  type LinearModel,
} from './finetune-fit';
import { lambdaIsStale, selectLambda, type LambdaSelection } from './finetune-lambda';
import { packLower, primalApply, primalFlush, type DualFactor, type Factor, type PrimalFactor } from './finetune-factor';

export {
  DEFAULT_LAMBDA_GRID,
  DEFAULT_OFFSET_SCALE,
  fitFinetuneBatch,
  predictLinear,
  toLinearModel,
  type FinetuneOptions,
  type FinetunePrior,
  type LinearModel,
} from './finetune-fit';
export { ONE_SE_BELOW, lambdaIsStale, selectLambda, type LambdaSelection } from './finetune-lambda';

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
  /** False while the fit awaits a recomputation (a new prior or λ without Δ): `delta` is then out of date. */
  get fitted(): boolean {
    return !this.stale;
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

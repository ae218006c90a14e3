/**
 * ScorerService: the scorers of the people held in memory, refitted after every rating (which people
 * are held, and for how long, is the caller's cache: see footprint, snapshot and restore).
 *
 * Memory per stored person: their ratings (n×d float32 + n float64) and an O(d) model. The O(n²)
 * or O(d²) factorization that makes refits incremental lives only for the `hotCapacity` most
 * recently active people (an LRU); a cold person's factor is rebuilt from their data on next use.
 *
 * Expensive choices (λ by LOO, k by LOO, which method wins, the reported quality) are re-evaluated
 * lazily — when someone asks for a prediction/quality — and only when stale (see qualityIsStale and
 * lambdaIsStale), so adding a rating stays an exact O(n·d + n²) / O(d²) update.
 */
import { EmbeddingModelMismatchError, UnknownImageError, UnknownUserError } from '../errors';
import type { UserKey } from '../identity';
import type { ScorerQuality } from '../records';
import { autoSelect, type MethodName, type ScorerMethod } from './auto';
import { RatingStore } from './data';
import { IncrementalFinetune, type FinetuneOptions, type LinearModel } from './finetune';
import { emptyGlobal, globalOffset, type GlobalModel } from './global';
import { knnPredict } from './knn';
import { dotAt } from './linalg';
import { adapt, type MetaParams } from './maml';
import { BYTES_PER_PERSON_OVERHEAD, BYTES_PER_RATING_OVERHEAD, type PersonSnapshot } from './person-snapshot';
import { qualityIsStale } from './quality';
import { clampToScale, dotF64F32, displayScore, fitDisplayMap, uncapped } from './predict-kernels';
import { nextToRate as activeNextToRate } from './active';
import { adoptSnapshotFit, EMPTY_QUALITY, newUserState, snapshotOf, type UserState } from './person-state';
import { jointModel, pickAwareChoice, type HeldPair } from './pick-fit';
import { checkScore, checkVector } from './scorer-input';

export interface ScorerServiceOptions {
  /** Embedding model id the scorers are tied to (e.g. "features-v1"). */
  modelId: string;
  dim: number;
  global?: GlobalModel;
  meta?: MetaParams | null;
  /** How many people keep their incremental factorization in memory (LRU). */
  hotCapacity?: number;
  /** Method used for people without an explicit choice. */
  defaultMethod?: ScorerMethod;
  finetune?: FinetuneOptions;
  kGrid?: readonly number[];
}

export interface RatingOptions {
  imageId?: string;
  /** Model id of the embedding; checked against the service's. */
  modelId?: string;
}

export class ScorerService {
  readonly modelId: string;
  readonly dim: number;
  private global: GlobalModel;
  private meta: MetaParams | null;
  private readonly users = new Map<UserKey, UserState>();
  private readonly hot = new Map<UserKey, true>();
  private readonly hotCapacity: number;
  private readonly defaultMethod: ScorerMethod;

  constructor(private readonly opts: ScorerServiceOptions) {
    this.modelId = opts.modelId;
    this.dim = opts.dim;
    this.global = opts.global ?? emptyGlobal(opts.dim);
    if (this.global.dim !== opts.dim)
      throw new EmbeddingModelMismatchError(`${opts.modelId} (${opts.dim}-d)`, `a ${this.global.dim}-d global model`);
    this.meta = opts.meta ?? null;
    this.hotCapacity = Math.max(1, opts.hotCapacity ?? 16);
    this.defaultMethod = opts.defaultMethod ?? 'auto';
  }

  // ---------------- community models ----------------

  setGlobal(model: GlobalModel): void {
    if (model.dim !== this.dim) throw new EmbeddingModelMismatchError(`${this.modelId} (${this.dim}-d)`, `a ${model.dim}-d global model`);
    this.global = model;
    for (const s of this.users.values()) {
      s.fit.setPrior(model);
      s.globalOffset = null;
      s.joint = null;
      s.changed = true;
    }
  }

  getGlobal(): GlobalModel {
    return this.global;
  }

  getMeta(): MetaParams | null {
    return this.meta;
  }

  setMeta(meta: MetaParams | null): void {
    if (meta && meta.dim !== this.dim)
      throw new EmbeddingModelMismatchError(`${this.modelId} (${this.dim}-d)`, `a ${meta.dim}-d meta-model`);
    this.meta = meta;
    for (const s of this.users.values()) {
      s.maml = null;
      s.changed = true;
    }
  }

  // ---------------- ratings ----------------

  /** Adds (or, for an already rated imageId, replaces) a rating and refits incrementally. */
  addRating(userKey: UserKey, x: ArrayLike<number>, score: number, opts: RatingOptions = {}): void {
    checkScore(score);
    checkVector(this, x, opts.modelId);
    const s = this.stateFor(userKey, true) as UserState;
    this.touchHot(userKey, s);
    if (opts.imageId !== undefined) {
      const existing = s.data.indexOf(opts.imageId);
      if (existing >= 0) s.fit.removeAt(existing);
    }
    s.fit.add(x, score, opts.imageId ?? null);
    this.markChanged(s);
  }

  /** Removes a rating by image id or row index and refits incrementally. */
  removeRating(userKey: UserKey, imageIdOrIndex: string | number): void {
    const s = this.users.get(userKey);
    if (!s) throw new UnknownUserError(userKey);
    const i = typeof imageIdOrIndex === 'number' ? imageIdOrIndex : s.data.indexOf(imageIdOrIndex);
    if (!(Number.isInteger(i) && i >= 0 && i < s.data.n)) throw new UnknownImageError(String(imageIdOrIndex));
    this.touchHot(userKey, s);
    s.fit.removeAt(i);
    this.markChanged(s);
  }

  /**
   * Replaces all of a person's ratings (e.g. on load). The full refit happens on the person's next
   * use, so loading a whole community at startup costs only the copy.
   */
  setRatings(
    userKey: UserKey,
    X: readonly ArrayLike<number>[],
    y: ArrayLike<number>,
    opts: { imageIds?: readonly string[]; modelId?: string } = {},
  ): void {
    if (X.length !== y.length) throw new RangeError(`setRatings: ${X.length} embeddings but ${y.length} ratings`);
    for (let i = 0; i < y.length; i++) checkScore(y[i] as number);
    X.forEach((x) => checkVector(this, x, opts.modelId));
    const data = new RatingStore(this.dim, Math.max(8, X.length));
    X.forEach((x, i) => data.add(x, y[i] as number, opts.imageIds?.[i] ?? null));
    const prev = this.users.get(userKey);
    const s = this.newState(data, prev?.method ?? this.defaultMethod, true, prev);
    this.users.set(userKey, s);
    this.hot.delete(userKey);
  }

  /** The person's ratings (in row order) and fit, to persist; undefined if not held. */
  snapshot(userKey: UserKey): PersonSnapshot | undefined {
    const s = this.users.get(userKey);
    // Rows added without an image id cannot be matched with the ledger again: nothing to persist.
    return s ? snapshotOf(s) : undefined;
  }

  /**
   * Puts back a person from a snapshot (rows in the snapshot's order, their vectors `X`): with its Δ the
   * person predicts exactly as when it was taken and the next rating updates from there; without one,
   * the fit is redone on first use (as after setRatings).
   */
  restore(userKey: UserKey, X: readonly ArrayLike<number>[], snap: PersonSnapshot): void {
    const { imageIds, scores, fit } = snap;
    if (X.length !== scores.length || imageIds.length !== scores.length)
      throw new RangeError(`restore: ${X.length} embeddings, ${imageIds.length} ids, ${scores.length} ratings`);
    for (const y of scores) checkScore(y);
    X.forEach((x) => checkVector(this, x));
    const data = new RatingStore(this.dim, Math.max(8, X.length));
    X.forEach((x, i) => data.add(x, scores[i] as number, imageIds[i] ?? null));
    const s = this.newState(data, fit.method, true, this.users.get(userKey));
    adoptSnapshotFit(s, fit, this.dim);
    this.users.set(userKey, s);
    this.hot.delete(userKey);
  }

  /**
   * Estimated bytes this person holds now: ratings (n×d float32 + n float64, at capacity), Δ, the
   * factorization when built (O(n²) or O(d²)), the meta-init adaptation when cached, and the overheads
   * above. What an LRU of whole people accounts for.
   */
  footprint(userKey: UserKey): number {
    const s = this.users.get(userKey);
    if (!s) return 0;
    const p = this.dim + 1;
    const scratch = s.fit.factorKind === 'primal' ? 2 * p * 8 : 0;
    const maml = s.maml ? s.maml.w.length * 8 : 0;
    return (
      s.data.byteLength +
      s.fit.delta.byteLength +
      s.fit.factorBytes +
      scratch +
      maml +
      // Each pair holds two vectors (shared with the other pairs of its pick, so this is an upper bound).
      s.pairs.length * 2 * this.dim * 4 +
      s.data.n * BYTES_PER_RATING_OVERHEAD +
      BYTES_PER_PERSON_OVERHEAD
    );
  }

  /** Forgets a person entirely. */
  deleteUser(userKey: UserKey): boolean {
    this.hot.delete(userKey);
    return this.users.delete(userKey);
  }

  hasUser(userKey: UserKey): boolean {
    return this.users.has(userKey);
  }

  count(userKey: UserKey): number {
    return this.users.get(userKey)?.data.n ?? 0;
  }

  /**
   * Replaces the person's picks (`picks` of them, as `pairs`: winner over each other image shown). The
   * methods that learn from them (./pick-fit) refit on next use; their ratings' evaluation stays.
   */
  setPairs(userKey: UserKey, pairs: readonly HeldPair[], picks: number): void {
    for (const pr of pairs) [pr.winner, pr.loser].forEach((x) => checkVector(this, x));
    const s = this.stateFor(userKey, true) as UserState;
    Object.assign(s, { pairs, picks, joint: null });
  }

  /** How many picks the person's scorer holds. */
  pickCount(userKey: UserKey): number {
    return this.users.get(userKey)?.picks ?? 0;
  }

  // ---------------- method choice ----------------

  /** Sets a person's method ('auto' = best cross-validated one). */
  setMethod(userKey: UserKey, method: ScorerMethod): void {
    const s = this.stateFor(userKey, true) as UserState;
    s.method = method;
  }

  /** The method actually used for this person's predictions right now. */
  method(userKey: UserKey): MethodName {
    const s = this.users.get(userKey);
    if (!s) return this.defaultMethod === 'auto' ? 'global' : this.effective(this.defaultMethod, null);
    this.refresh(s);
    return this.effective(s.method, s);
  }

  /** The linear model `method` predicts with for the person now (null for knn and blend): what a taste code freezes. */
  linearModel = (userKey: UserKey, method: MethodName): LinearModel | null => this.linearModelFor(method, this.users.get(userKey));
  /** Cross-validated quality of the method in use (SROCC, MSE, MAE, n). */
  quality(userKey: UserKey): ScorerQuality {
    const s = this.users.get(userKey);
    if (!s) return EMPTY_QUALITY;
    this.refresh(s);
    return s.quality;
  }

  // ---------------- prediction ----------------

  /** Predicted ratings (clamped to 1..10, or `uncapped`: what the model believes) for embeddings, with the person's current method. */
  predict(userKey: UserKey, X: readonly ArrayLike<number>[], opts: { modelId?: string; uncapped?: boolean } = {}): number[] {
    const clamp = opts.uncapped ? uncapped : clampToScale;
    // Dimension/model checks only: a non-finite value cannot corrupt state here (it predicts mid-scale).
    if (opts.modelId !== undefined && opts.modelId !== this.modelId) throw new EmbeddingModelMismatchError(this.modelId, opts.modelId);
    for (const x of X)
      if (x.length !== this.dim) throw new EmbeddingModelMismatchError(`${this.modelId} (${this.dim}-d)`, `a ${x.length}-d vector`);
    const s = this.users.get(userKey);
    const method = this.method(userKey);
    // The fit may (re)build its factorization here: account for it in the hot LRU.
    if (s && (method === 'finetune' || method === 'blend')) this.touchHot(userKey, s);
    const out = new Array<number>(X.length);
    const linear = this.linearModelFor(method, s);
    if (linear) {
      const { w, bias } = linear;
      const d = this.dim;
      for (let i = 0; i < X.length; i++) {
        const x = X[i] as ArrayLike<number>;
        // Monomorphic fast path for the common float32 embeddings (≈5× faster than the generic dot).
        out[i] = clamp((x instanceof Float32Array ? dotF64F32(w, x, d) : dotAt(w, 0, x, 0, d)) + bias);
      }
      return out;
    }
    const st = s as UserState; // knn/blend need ratings, so the person exists
    const sims = new Float64Array(st.data.n);
    const ft = method === 'blend' ? this.finetuneModel(st) : null;
    for (let i = 0; i < X.length; i++) {
      const x = X[i] as ArrayLike<number>;
      const kn = knnPredict(st.data, st.knnK, x, 0, sims);
      out[i] = clamp(ft ? 0.5 * (kn + dotAt(ft.w, 0, x, 0, this.dim) + ft.bias) : kn);
    }
    return out;
  }

  /** Uncapped means, (`withSd`) their sds √(σ²·x̃ᵀA⁻¹x̃) without rating noise, and the 1–10 scores shown (display-score.ts). */
  belief(userKey: UserKey, X: readonly ArrayLike<number>[], opts: { modelId?: string; withSd?: boolean } = {}) {
    const mean = this.predict(userKey, X, { modelId: opts.modelId, uncapped: true });
    const s = this.users.get(userKey);
    if (s && opts.withSd) this.touchHot(userKey, s);
    const lev = opts.withSd ? (s?.fit ?? this.emptyFit()).leverage(X) : new Float64Array(X.length);
    const noise = s?.noiseVar ?? this.global.residualVar;
    const map = fitDisplayMap(s ? s.data.y.subarray(0, s.data.n) : [], { mean: this.global.communityMean });
    return { mean, sd: Array.from(lev, (l) => Math.sqrt(noise * Math.max(0, l))), shown: mean.map((m) => displayScore(map, m)) };
  }

  /**
   * Predictions plus the Bayesian linear model's predictive variance σ²(1 + x̃ᵀA⁻¹x̃) in rating units²
   * (the uncertainty active selection maximizes).
   */
  predictWithVariance(
    userKey: UserKey,
    X: readonly ArrayLike<number>[],
    opts: { modelId?: string } = {},
  ): { mean: number[]; variance: number[] } {
    const mean = this.predict(userKey, X, opts);
    const s = this.users.get(userKey);
    const fit = s?.fit ?? this.emptyFit();
    if (s) this.touchHot(userKey, s);
    const noise = s?.noiseVar ?? this.global.residualVar;
    const lev = fit.leverage(X);
    return { mean, variance: Array.from(lev, (l) => noise * (1 + l)) };
  }

  /**
   * Indices of the k candidates whose ratings would teach this person's scorer most (highest
   * posterior variance, diversified by sequential conditioning). `exclude` = indices to skip
   * (e.g. already rated). Onboarding-first ordering is the caller's job.
   */
  nextToRate(userKey: UserKey, candidates: readonly ArrayLike<number>[], k: number, exclude?: ReadonlySet<number>): number[] {
    for (const x of candidates) checkVector(this, x);
    const s = this.users.get(userKey);
    if (s) {
      this.refresh(s);
      this.touchHot(userKey, s);
    }
    const fit = s?.fit ?? this.emptyFit();
    if (k <= 0 || candidates.length === 0) return [];
    return activeNextToRate(fit, candidates, k, exclude);
  }

  // ---------------- introspection ----------------

  stats(): { users: number; hotUsers: number; ratings: number; dataBytes: number; factorBytes: number } {
    let ratings = 0;
    let dataBytes = 0;
    let factorBytes = 0;
    for (const s of this.users.values()) {
      ratings += s.data.n;
      dataBytes += s.data.byteLength + s.fit.delta.byteLength;
      factorBytes += s.fit.factorBytes;
    }
    return { users: this.users.size, hotUsers: this.hot.size, ratings, dataBytes, factorBytes };
  }

  /** λ, k and the per-method cross-validated quality of a person (for profiles and evaluations). */
  details(userKey: UserKey): { lambda: number; k: number; method: MethodName; quality: ScorerQuality } | undefined {
    const s = this.users.get(userKey);
    if (!s) return undefined;
    this.refresh(s);
    return { lambda: s.fit.lambda, k: s.knnK, method: this.effective(s.method, s), quality: s.quality };
  }

  /** details() when the person's evaluation is current, else undefined: never runs the (costly) evaluation itself. */
  evaluatedDetails(userKey: UserKey): ReturnType<ScorerService['details']> {
    const s = this.users.get(userKey);
    if (!s || qualityIsStale(s.data.n, s.evalN, s.changed) || s.fit.lambdaStale) return undefined;
    return this.details(userKey);
  }

  // ---------------- internals ----------------

  /** A fresh state; `prev`: the person's state it replaces, whose picks it keeps (they are not ratings). */
  private newState(data: RatingStore, method: ScorerMethod, lazy = false, prev?: UserState): UserState {
    return newUserState(this.global, data, method, { lazy, offsetScale: this.opts.finetune?.offsetScale, prev });
  }

  private emptyFit(): IncrementalFinetune {
    return new IncrementalFinetune(this.global, new RatingStore(this.dim, 1), { offsetScale: this.opts.finetune?.offsetScale });
  }

  private stateFor(userKey: UserKey, create: boolean): UserState | undefined {
    let s = this.users.get(userKey);
    if (!s && create) {
      s = this.newState(new RatingStore(this.dim), this.defaultMethod);
      this.users.set(userKey, s);
    }
    return s;
  }

  private touchHot(userKey: UserKey, _s: UserState): void {
    this.hot.delete(userKey);
    this.hot.set(userKey, true);
    while (this.hot.size > this.hotCapacity) {
      const oldest = this.hot.keys().next().value as UserKey;
      this.hot.delete(oldest);
      this.users.get(oldest)?.fit.releaseFactor();
    }
  }

  private markChanged(s: UserState): void {
    s.changed = true;
    s.globalOffset = null;
    s.maml = null;
    s.joint = null;
  }

  /** Re-runs the LOO evaluation (λ, k, method, quality) when the cached one is stale. */
  private refresh(s: UserState, force = false): void {
    const n = s.data.n;
    if (!force && !qualityIsStale(n, s.evalN, s.changed) && !s.fit.lambdaStale) return;
    const res = autoSelect(s.data, { global: this.global, meta: this.meta, finetune: this.opts.finetune, kGrid: this.opts.kGrid });
    if (res.finetune) {
      s.fit.setLambda(res.finetune.lambda, res.finetune.delta);
      s.fit.nAtSelection = n;
      if (Number.isFinite(res.finetune.looMse)) s.noiseVar = Math.max(res.finetune.looMse, 1e-3);
    }
    if (res.knn) s.knnK = res.knn.k;
    s.chosen = res.method;
    const used = this.effective(s.method, s);
    s.quality = (res.evaluations.find((e) => e.method === used) ?? res.evaluations[0])?.quality ?? EMPTY_QUALITY;
    s.evalN = n;
    s.changed = false;
  }

  private effective(method: ScorerMethod, s: UserState | null): MethodName {
    const picked = (s?.pairs.length ?? 0) > 0;
    if (method === 'auto') return s ? (picked ? pickAwareChoice(s.chosen) : s.chosen) : 'global';
    if (method === 'maml' && !this.meta) return 'finetune';
    if ((method === 'knn' || method === 'blend') && (s?.data.n ?? 0) === 0) return method === 'blend' && picked ? 'finetune' : 'global';
    return method;
  }

  /** The O(d) linear model behind a method, or null for knn/blend. */
  private linearModelFor(method: MethodName, s: UserState | undefined): LinearModel | null {
    switch (method) {
      case 'global': {
        if (!s) return { w: this.global.w, bias: this.global.bias };
        s.globalOffset ??= globalOffset(this.global, s.data);
        return { w: this.global.w, bias: s.globalOffset };
      }
      case 'finetune':
        return s ? this.finetuneModel(s) : { w: this.global.w, bias: this.global.bias };
      case 'maml': {
        const meta = this.meta;
        if (!meta) return s ? this.finetuneModel(s) : { w: this.global.w, bias: this.global.bias };
        if (!s) return { w: meta.w0, bias: meta.b0 };
        s.maml ??= adapt(meta, s.data);
        return s.maml;
      }
      default:
        return null;
    }
  }

  /** The finetune model: on the ratings alone (incremental), or on ratings and picks jointly (./pick-fit). */
  private finetuneModel(s: UserState): LinearModel {
    if (s.pairs.length === 0) return s.fit.model();
    const lambda = s.data.n > 0 && s.fit.nAtSelection > 0 ? s.fit.lambda : undefined;
    const opts = { lambda, noiseVar: s.noiseVar, picks: s.picks, offsetScale: s.fit.offsetScale };
    s.joint ??= jointModel(this.global, s.data, s.pairs, opts);
    return s.joint;
  }
}

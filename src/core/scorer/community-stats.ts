/**
 * The community's ratings as the community trainer holds them, and the moments the global prior is
 * fitted from (global.ts `GlobalMoments`), kept up to date one rating at a time instead of re-read.
 *
 * `CommunityRatings` is the table: each image's embedding once, each person's (image → score). It is
 * what the meta-init and the λ schedule train on (they need every rating, so they rebuild packed rows
 * from it when they are due) and what leave-one-image-out reads.
 *
 * `CommunityStats` adds the within-person centered moments. Adding x (score y) to a person who has n
 * ratings with means x̄, ȳ changes the scatter by (n/(n+1))·(x−x̄)(x−x̄)ᵀ, the cross-moment by
 * (n/(n+1))·(x−x̄)(y−ȳ) and Σ(y−ȳ)² by (n/(n+1))·(y−ȳ)² (Welford's update, per person); taking a
 * rating back subtracts the same terms with the means of the ratings that stay. A changed score is
 * a removal then an addition. Each change costs O(d²) (a rank-one update of the scatter's lower
 * triangle), the fit one eigendecomposition — no pass over the ratings' embeddings.
 */
import { ImageIndex, solveGlobal, type GlobalModel, type TrainGlobalOptions } from './global';
import type { PackedRatings } from './data';

/** One person's ratings and their running sums (what their means are computed from). */
interface Person {
  readonly scores: Map<string, number>;
  n: number;
  ySum: number;
  readonly xSum: Float64Array;
}

interface HeldImage {
  readonly vector: Float32Array;
  /** Which distinct embedding this image is, for leave-one-image-out (identical vectors are one image). */
  readonly group: number;
}

/** A person's ratings in the trainer: every (image, score) pair they have now. */
export interface PersonRatings {
  person: string;
  ratings: [imageId: string, score: number][];
}

export class CommunityRatings {
  protected readonly images = new Map<string, HeldImage>();
  protected readonly groups = new ImageIndex();
  protected readonly people = new Map<string, Person>();
  private total = 0;

  constructor(readonly dim: number) {}

  /** Ratings held. */
  get ratings(): number {
    return this.total;
  }

  /** People with at least one rating. */
  get users(): number {
    let u = 0;
    for (const p of this.people.values()) if (p.n > 0) u++;
    return u;
  }

  hasImage(imageId: string): boolean {
    return this.images.has(imageId);
  }

  /** An image's embedding; it never changes under one embedder, so a second call is ignored. */
  setImage(imageId: string, vector: ArrayLike<number>): void {
    if (this.images.has(imageId)) return;
    if (vector.length !== this.dim) throw new RangeError(`image ${imageId} has ${vector.length} dimensions, the community ${this.dim}`);
    // Float32 as the scorers hold embeddings, so the fit sees the same numbers a full retrain would.
    const stored = Float32Array.from(vector);
    this.images.set(imageId, { vector: stored, group: this.groups.idOf(stored, 0, this.dim) });
  }

  /** Makes a person's ratings exactly `ratings`: what is missing is taken back, changed scores replaced. */
  setPerson({ person, ratings }: PersonRatings): void {
    const want = new Map(ratings);
    const held = this.people.get(person);
    if (held) for (const [imageId, score] of [...held.scores]) if (want.get(imageId) !== score) this.rate(person, imageId, null);
    for (const [imageId, score] of want) this.rate(person, imageId, score);
  }

  /** Sets one rating (`null` takes it back). The image's embedding must have been given first. */
  rate(person: string, imageId: string, score: number | null): void {
    const before = this.people.get(person)?.scores.get(imageId);
    if (before === score || (before === undefined && score === null)) return;
    const p = this.people.get(person) ?? this.newPerson(person);
    const image = this.images.get(imageId);
    if (!image) throw new Error(`no embedding for image ${imageId}: send it before its ratings`);
    if (before !== undefined) {
      p.scores.delete(imageId);
      this.total--;
      this.removed(p, image.vector, before);
    }
    if (score !== null) {
      this.added(p, image.vector, score);
      p.scores.set(imageId, score);
      this.total++;
    }
    if (p.n === 0) this.people.delete(person);
  }

  /** Each person's ratings as packed rows, in the order they were given to the trainer. */
  packed(): PackedRatings[] {
    const out: PackedRatings[] = [];
    for (const p of this.people.values()) {
      const X = new Float32Array(p.n * this.dim);
      const y = new Float64Array(p.n);
      let i = 0;
      for (const [imageId, score] of p.scores) {
        X.set(this.images.get(imageId)!.vector, i * this.dim);
        y[i++] = score;
      }
      out.push({ n: p.n, dim: this.dim, X, y });
    }
    return out;
  }

  /** Keeps the person's sums (the moments' subclass also updates its scatter here). */
  protected added(p: Person, x: Float32Array, y: number): void {
    p.n++;
    p.ySum += y;
    for (let j = 0; j < this.dim; j++) p.xSum[j] = (p.xSum[j] as number) + (x[j] as number);
  }

  protected removed(p: Person, x: Float32Array, y: number): void {
    p.n--;
    if (p.n === 0) {
      // Exactly zero rather than the residue of subtracting what was added.
      p.ySum = 0;
      p.xSum.fill(0);
      return;
    }
    p.ySum -= y;
    for (let j = 0; j < this.dim; j++) p.xSum[j] = (p.xSum[j] as number) - (x[j] as number);
  }

  private newPerson(person: string): Person {
    const p: Person = { scores: new Map(), n: 0, ySum: 0, xSum: new Float64Array(this.dim) };
    this.people.set(person, p);
    return p;
  }
}

/** Rank-one scatter updates gathered before one pass over the scatter (flushScatter is unrolled for four). */
const SCATTER_BLOCK = 4;

export class CommunityStats extends CommunityRatings {
  private ySumAll = 0;
  private readonly xSumAll: Float64Array;
  /** Within-person scatter, lower triangle only (mirrored when fitting). */
  private readonly M: Float64Array;
  private readonly b: Float64Array;
  private yy = 0;
  private trace = 0;
  /** Σ |change of the scatter's trace| since the last fit, and the trace then: the drift measure. */
  private moved = 0;
  private traceAtFit = 0;
  /**
   * Rank-one terms f·dx·dxᵀ not yet in M, added SCATTER_BLOCK at a time: the scatter (2 MiB at 512-d)
   * is then read and written once per block instead of once per rating, the cost of a rating in the
   * trainer while people rate. Each entry of M still receives the same terms in the same order, so
   * the moments are bit for bit those of one update at a time.
   */
  private readonly pendingDx: Float64Array[];
  private readonly pendingF = new Float64Array(SCATTER_BLOCK);
  private pending = 0;

  constructor(dim: number) {
    super(dim);
    this.xSumAll = new Float64Array(dim);
    this.M = new Float64Array(dim * dim);
    this.b = new Float64Array(dim);
    this.pendingDx = Array.from({ length: SCATTER_BLOCK }, () => new Float64Array(dim));
  }

  /**
   * How far the moments moved since the last fit, relative to their size then: the summed absolute
   * change of the scatter's trace over its trace at the last fit (∞ before the first fit). A bound on
   * how much the eigendecomposition can have changed, cheap to keep per rating.
   */
  drift(): number {
    if (this.moved === 0) return 0;
    return this.traceAtFit > 0 ? this.moved / this.traceAtFit : Infinity;
  }

  /** The global prior from the held moments: equal, within rounding, to trainGlobal on the same ratings. */
  fitGlobal(opts: TrainGlobalOptions = {}): GlobalModel {
    this.flushScatter();
    const d = this.dim;
    const M = Float64Array.from(this.M);
    for (let a = 0; a < d; a++) for (let c = 0; c < a; c++) M[c * d + a] = M[a * d + c] as number;
    const rows: { user: number; image: number; yc: number }[] = [];
    const userMeans: Float64Array[] = [];
    for (const p of this.people.values()) {
      const user = userMeans.length;
      userMeans.push(p.xSum.map((v) => v / p.n));
      const ym = p.ySum / p.n;
      for (const [imageId, score] of p.scores) rows.push({ user, image: this.images.get(imageId)!.group, yc: score - ym });
    }
    const model = solveGlobal(
      { dim: d, N: this.ratings, U: userMeans.length, ySum: this.ySumAll, xSum: this.xSumAll, M, b: this.b, yy: this.yy },
      { rows, images: this.groups, userMeans },
      opts,
    );
    this.moved = 0;
    this.traceAtFit = this.trace;
    return model;
  }

  protected override added(p: Person, x: Float32Array, y: number): void {
    if (p.n > 0) this.centeredUpdate(p, x, y, p.n / (p.n + 1));
    super.added(p, x, y);
    this.ySumAll += y;
    for (let j = 0; j < this.dim; j++) this.xSumAll[j] = (this.xSumAll[j] as number) + (x[j] as number);
  }

  protected override removed(p: Person, x: Float32Array, y: number): void {
    super.removed(p, x, y);
    // The means of the ratings that stay: the same terms as adding x back to them, subtracted.
    if (p.n > 0) this.centeredUpdate(p, x, y, -p.n / (p.n + 1));
    this.ySumAll -= y;
    for (let j = 0; j < this.dim; j++) this.xSumAll[j] = (this.xSumAll[j] as number) - (x[j] as number);
    if (this.ratings === 0) this.clearMoments();
  }

  /** Adds f·(x−x̄)(x−x̄)ᵀ to the scatter and f·(x−x̄)(y−ȳ), f·(y−ȳ)² to the other moments (x̄, ȳ: p's means). */
  private centeredUpdate(p: Person, x: Float32Array, y: number, f: number): void {
    const d = this.dim;
    const dx = this.pendingDx[this.pending] as Float64Array;
    let norm2 = 0;
    for (let j = 0; j < d; j++) {
      dx[j] = (x[j] as number) - (p.xSum[j] as number) / p.n;
      norm2 += (dx[j] as number) ** 2;
    }
    const dy = y - p.ySum / p.n;
    for (let a = 0; a < d; a++) this.b[a] = (this.b[a] as number) + f * (dx[a] as number) * dy;
    this.pendingF[this.pending++] = f;
    if (this.pending === SCATTER_BLOCK) this.flushScatter();
    this.yy += f * dy * dy;
    this.trace += f * norm2;
    this.moved += Math.abs(f * norm2);
  }

  /** Adds the pending rank-one terms to the scatter's lower triangle, in the order they came. */
  private flushScatter(): void {
    const d = this.dim;
    const M = this.M;
    const f = this.pendingF;
    const [x0, x1, x2, x3] = this.pendingDx as [Float64Array, Float64Array, Float64Array, Float64Array];
    if (this.pending === SCATTER_BLOCK) {
      for (let a = 0; a < d; a++) {
        const f0 = (f[0] as number) * (x0[a] as number);
        const f1 = (f[1] as number) * (x1[a] as number);
        const f2 = (f[2] as number) * (x2[a] as number);
        const f3 = (f[3] as number) * (x3[a] as number);
        const row = a * d;
        for (let c = 0; c <= a; c++) {
          let m = M[row + c] as number;
          m += f0 * (x0[c] as number);
          m += f1 * (x1[c] as number);
          m += f2 * (x2[c] as number);
          m += f3 * (x3[c] as number);
          M[row + c] = m;
        }
      }
    } else {
      for (let i = 0; i < this.pending; i++) {
        const dx = this.pendingDx[i] as Float64Array;
        for (let a = 0; a < d; a++) {
          const fa = (f[i] as number) * (dx[a] as number);
          const row = a * d;
          for (let c = 0; c <= a; c++) M[row + c] = (M[row + c] as number) + fa * (dx[c] as number);
        }
      }
    }
    this.pending = 0;
  }

  /** With no ratings left the moments are exactly zero, not the residue of every update. */
  private clearMoments(): void {
    this.pending = 0;
    this.M.fill(0);
    this.b.fill(0);
    this.xSumAll.fill(0);
    this.ySumAll = 0;
    this.yy = 0;
    this.trace = 0;
  }
}

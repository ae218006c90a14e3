/**
 * A person's ratings packed for the scorers: embeddings as float32 rows in one growable buffer
 * (O(n·d) memory, contiguous for fast dot products) plus float64 ratings and optional image ids.
 */
import type { Vec } from './linalg';
import { rememberSubset } from './subset-gram';

/** The read-only view every fitting routine takes: the first n rows of X (row-major, n×d) and y. */
export interface PackedRatings {
  readonly n: number;
  readonly dim: number;
  readonly X: Vec;
  readonly y: Float64Array;
}

/** Convenience input shape: one embedding per rating. */
export interface Dataset {
  X: readonly ArrayLike<number>[];
  y: ArrayLike<number>;
}

export class RatingStore implements PackedRatings {
  n = 0;
  X: Float32Array;
  y: Float64Array;
  ids: (string | null)[] = [];

  constructor(
    readonly dim: number,
    capacity = 8,
  ) {
    this.X = new Float32Array(capacity * dim);
    this.y = new Float64Array(capacity);
  }

  get capacity(): number {
    return this.y.length;
  }

  /** Bytes held by the typed buffers (ids excluded). */
  get byteLength(): number {
    return this.X.byteLength + this.y.byteLength;
  }

  add(x: ArrayLike<number>, y: number, id: string | null = null): number {
    if (this.n === this.capacity) this.grow(Math.max(8, Math.ceil(this.capacity * 1.5)));
    this.X.set(x, this.n * this.dim);
    this.y[this.n] = y;
    this.ids.push(id);
    return this.n++;
  }

  /** Removes row i, keeping the order of the others (the incremental factors rely on it). */
  removeAt(i: number): void {
    if (!(i >= 0 && i < this.n)) throw new RangeError(`no rating at index ${i} (n = ${this.n})`);
    const d = this.dim;
    this.X.copyWithin(i * d, (i + 1) * d, this.n * d);
    this.y.copyWithin(i, i + 1, this.n);
    this.ids.splice(i, 1);
    this.n--;
    // Give memory back once the store is mostly empty.
    if (this.capacity > 16 && this.n < this.capacity / 3) this.grow(Math.max(8, Math.ceil(this.n * 1.5)));
  }

  clear(): void {
    this.n = 0;
    this.ids = [];
    this.grow(8);
  }

  row(i: number): Float32Array {
    return this.X.subarray(i * this.dim, (i + 1) * this.dim);
  }

  indexOf(id: string): number {
    return this.ids.indexOf(id);
  }

  private grow(capacity: number): void {
    const X = new Float32Array(capacity * this.dim);
    X.set(this.X.subarray(0, this.n * this.dim));
    const y = new Float64Array(capacity);
    y.set(this.y.subarray(0, this.n));
    this.X = X;
    this.y = y;
  }
}

/** Packs a Dataset into a PackedRatings (copying). */
export function packDataset(data: Dataset, dim?: number): PackedRatings {
  const n = data.X.length;
  if (data.y.length !== n) throw new RangeError(`X has ${n} rows but y has ${data.y.length} values`);
  const d = dim ?? data.X[0]?.length ?? 0;
  const X = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = data.X[i] as ArrayLike<number>;
    if (row.length !== d) throw new RangeError(`row ${i} has dimension ${row.length}, expected ${d}`);
    X.set(row, i * d);
  }
  return { n, dim: d, X, y: Float64Array.from(data.y) };
}

/** A view of a subset of rows (copying), e.g. for cross-validation folds. */
export function subsetRatings(data: PackedRatings, rows: readonly number[]): PackedRatings {
  const d = data.dim;
  const X = new Float32Array(rows.length * d);
  const y = new Float64Array(rows.length);
  rows.forEach((r, k) => {
    X.set(data.X.subarray(r * d, (r + 1) * d), k * d);
    y[k] = data.y[r] as number;
  });
  const subset = { n: rows.length, dim: d, X, y };
  // Fits on many subsets of one person's ratings (cross-validation) then share their dot products.
  rememberSubset(data, rows, subset);
  return subset;
}

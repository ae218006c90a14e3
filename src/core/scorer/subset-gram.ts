/**
 * Dot products shared by the fits on many subsets of one person's ratings.
 *
 * Cross-validation (quality-cv.ts) refits finetune on dozens of subsets of the same rows, and every fit
 * chooses its λ from the subset's Gram matrix (finetune-lambda.ts): at 20 ratings that is 55 Gram
 * matrices of ~170 dot products of 512-d rows, the same few hundred dot products over and over — most of
 * a person's evaluation. A subset made by `subsetRatings` remembers which rows of which ratings it
 * copied; the Gram matrices of subsets of one parent then take each x_i·x_j from one table, computed once.
 *
 * The table keeps its own copy of the parent's rows (a parent such as a RatingStore changes as ratings
 * come), and a subset's rows are compared bit for bit with that copy before any entry is used: the
 * matrix is exactly the one computed from the subset itself, or it is computed from the subset.
 * Subsets hold the table; it goes when they do (the parent refers to it only weakly).
 */
import { dotAt } from './linalg';

/** What is read of a PackedRatings (./data makes its subsets through this module, so it cannot be imported here). */
interface Rows {
  readonly n: number;
  readonly dim: number;
  readonly X: ArrayLike<number>;
}

interface SharedGram {
  readonly n: number;
  readonly dim: number;
  /** The parent's rows when the table was made (row-major n×dim), and their bits. */
  readonly X: Float32Array;
  readonly bits: Uint32Array;
  /** x_i·x_j, filled on first use (`known`). */
  readonly G: Float64Array;
  readonly known: Uint8Array;
}

interface Origin {
  readonly shared: SharedGram;
  /** Parent row of each subset row. */
  readonly rows: readonly number[];
}

const origins = new WeakMap<Rows, Origin>();
const tables = new WeakMap<Rows, WeakRef<SharedGram>>();

/** The float32 rows' bits, so rows are compared exactly (NaN and −0 included). */
function bits(X: Float32Array): Uint32Array {
  return new Uint32Array(X.buffer, X.byteOffset, X.length);
}

function sameRows(a: Uint32Array, aRow: number, b: Uint32Array, bRow: number, d: number): boolean {
  const ao = aRow * d;
  const bo = bRow * d;
  for (let j = 0; j < d; j++) if (a[ao + j] !== b[bo + j]) return false;
  return true;
}

/**
 * Records that `subset` holds the `rows` of `parent` (as subsetRatings copies them), reusing the parent's
 * table while its copy still matches those rows.
 */
export function rememberSubset(parent: Rows, rows: readonly number[], subset: Rows): void {
  if (!(parent.X instanceof Float32Array) || !(subset.X instanceof Float32Array)) return;
  const d = parent.dim;
  let shared = tables.get(parent)?.deref();
  const sub = bits(subset.X);
  const matches = (t: SharedGram) => t.n === parent.n && t.dim === d && rows.every((r, k) => r < t.n && sameRows(t.bits, r, sub, k, d));
  if (!shared || !matches(shared)) {
    const X = parent.X.slice(0, parent.n * d);
    shared = {
      n: parent.n,
      dim: d,
      X,
      bits: bits(X),
      G: new Float64Array(parent.n * parent.n),
      known: new Uint8Array(parent.n * parent.n),
    };
    tables.set(parent, new WeakRef(shared));
  }
  origins.set(subset, { shared, rows: rows.slice() });
}

/**
 * x_i·x_j of the subset's rows i, j from its parent's table (exactly dotAt over the same float32 rows),
 * or null when the subset was not made by subsetRatings or no longer holds the rows it copied.
 */
export function subsetDots(data: Rows): ((i: number, j: number) => number) | null {
  const origin = origins.get(data);
  if (!origin || !(data.X instanceof Float32Array)) return null;
  const { shared, rows } = origin;
  const d = shared.dim;
  if (data.dim !== d || data.n !== rows.length) return null;
  const own = bits(data.X);
  for (let k = 0; k < rows.length; k++) if (!sameRows(shared.bits, rows[k] as number, own, k, d)) return null;
  const { G, known, X, n } = shared;
  return (i, j) => {
    const a = rows[i] as number;
    const b = rows[j] as number;
    const at = a * n + b;
    if (known[at] === 0) {
      const v = dotAt(X, a * d, X, b * d, d);
      G[at] = v;
      G[b * n + a] = v;
      known[at] = 1;
      known[b * n + a] = 1;
    }
    return G[at] as number;
  };
}

/**
 * Small dense linear-algebra kernels over typed arrays, written for V8: flat row-major storage,
 * explicit strides, no allocation in the hot loops. Matrices are Float64Array (numerics); data rows
 * may be Float32Array (memory). Only what the scorers need — not a general library.
 */
export type Vec = Float32Array | Float64Array;

/** Dot product of a[aOff .. aOff+n) and b[bOff .. bOff+n). */
export function dotAt(a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    s0 += (a[aOff + i] as number) * (b[bOff + i] as number);
    s1 += (a[aOff + i + 1] as number) * (b[bOff + i + 1] as number);
  }
  if (i < n) s0 += (a[aOff + i] as number) * (b[bOff + i] as number);
  return s0 + s1;
}

/**
 * In-place Cholesky A = L·Lᵀ of the leading n×n block (row-major, row stride `stride`); the lower
 * triangle receives L, the strict upper triangle is zeroed. Returns false if A is not positive definite.
 */
export function choleskyInPlace(A: Float64Array, n: number, stride: number = n): boolean {
  for (let j = 0; j < n; j++) {
    const rj = j * stride;
    let s = A[rj + j] as number;
    s -= dotAt(A, rj, A, rj, j);
    if (!(s > 0)) return false;
    const ljj = Math.sqrt(s);
    A[rj + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * stride;
      A[ri + j] = ((A[ri + j] as number) - dotAt(A, ri, A, rj, j)) / ljj;
    }
    for (let k = j + 1; k < n; k++) A[rj + k] = 0;
  }
  return true;
}

/** Solves L·x = b in place (L lower triangular, leading n×n block with row stride). */
export function forwardSolve(L: Float64Array, n: number, stride: number, b: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const ri = i * stride;
    b[i] = ((b[i] as number) - dotAt(L, ri, b, 0, i)) / (L[ri + i] as number);
  }
}

/** Solves Lᵀ·x = b in place (L lower triangular). Column-oriented so it walks L's rows contiguously. */
export function backSolveT(L: Float64Array, n: number, stride: number, b: Float64Array): void {
  for (let i = n - 1; i >= 0; i--) {
    const ri = i * stride;
    const xi = (b[i] as number) / (L[ri + i] as number);
    b[i] = xi;
    // Remove row i's contribution from the equations above it: b[k] -= L[i][k]·x[i] for k < i.
    for (let k = 0; k < i; k++) b[k] = (b[k] as number) - (L[ri + k] as number) * xi;
  }
}

/** Solves (L·Lᵀ)·x = b in place. */
export function choleskySolve(L: Float64Array, n: number, stride: number, b: Float64Array): void {
  forwardSolve(L, n, stride, b);
  backSolveT(L, n, stride, b);
}

/**
 * Rank-one update of a Cholesky factor: afterwards L·Lᵀ equals the old L·Lᵀ + x·xᵀ. Works on the
 * m×m sub-block starting at (off, off); x (length m) is destroyed. O(m²), numerically stable.
 */
export function choleskyRankOneUpdate(L: Float64Array, stride: number, off: number, m: number, x: Float64Array): void {
  for (let k = 0; k < m; k++) {
    const kk = (off + k) * stride + off + k;
    const lkk = L[kk] as number;
    const xk = x[k] as number;
    const r = Math.sqrt(lkk * lkk + xk * xk);
    const c = r / lkk;
    const s = xk / lkk;
    L[kk] = r;
    for (let i = k + 1; i < m; i++) {
      const ik = (off + i) * stride + off + k;
      const lik = ((L[ik] as number) + s * (x[i] as number)) / c;
      L[ik] = lik;
      x[i] = c * (x[i] as number) - s * lik;
    }
  }
}

/** Inverse of a symmetric positive-definite n×n matrix (returns a new array); null if not SPD. */
export function spdInverse(A: Float64Array, n: number): Float64Array | null {
  const L = Float64Array.from(A.subarray(0, n * n));
  if (!choleskyInPlace(L, n, n)) return null;
  const inv = new Float64Array(n * n);
  const col = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    col.fill(0);
    col[j] = 1;
    choleskySolve(L, n, n, col);
    for (let i = 0; i < n; i++) inv[i * n + j] = col[i] as number;
  }
  // Symmetrize away round-off so rank-one updates stay symmetric.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * ((inv[i * n + j] as number) + (inv[j * n + i] as number));
      inv[i * n + j] = v;
      inv[j * n + i] = v;
    }
  }
  return inv;
}

export interface SymEig {
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** Row k (offset k·n) is the unit eigenvector of values[k]. */
  vectors: Float64Array;
}

/**
 * Eigen-decomposition of a symmetric n×n matrix: Householder tridiagonalization then implicit QL
 * (tred2/tql2 as in EISPACK/JAMA). ~5n³ flops. The QL rotations act on rows of the transposed
 * eigenvector matrix so they stay contiguous in memory.
 */
export function symEig(A: Float64Array, n: number): SymEig {
  const V = Float64Array.from(A.subarray(0, n * n));
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { values: d, vectors: V };
  tridiagonalize(V, d, e, n);
  // Eigenvectors become rows (W[c][k] = V[k][c]) so the QL rotations touch contiguous memory.
  const W = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) W[c * n + r] = V[r * n + c] as number;
  diagonalizeTridiagonal(W, d, e, n);
  return sortedEigenpairs(W, d, n);
}

/**
 * tred2: Householder reduction of the symmetric matrix in V (row-major; V[i][j] = V[i*n+j]) to
 * tridiagonal form, leaving the diagonal in d, the subdiagonal in e[1..n-1] and the accumulated
 * orthogonal transformation in V.
 */
function tridiagonalize(V: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = V[(n - 1) * n + j] as number;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k] as number);
    if (scale === 0) {
      e[i] = d[i - 1] as number;
      for (let j = 0; j < i; j++) {
        d[j] = V[(i - 1) * n + j] as number;
        V[i * n + j] = 0;
        V[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] = (d[k] as number) / scale;
        h += (d[k] as number) * (d[k] as number);
      }
      let f = d[i - 1] as number;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j] as number;
        V[j * n + i] = f;
        g = (e[j] as number) + (V[j * n + j] as number) * f;
        for (let k = j + 1; k <= i - 1; k++) {
          const vkj = V[k * n + j] as number;
          g += vkj * (d[k] as number);
          e[k] = (e[k] as number) + vkj * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] = (e[j] as number) / h;
        f += (e[j] as number) * (d[j] as number);
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] = (e[j] as number) - hh * (d[j] as number);
      for (let j = 0; j < i; j++) {
        f = d[j] as number;
        g = e[j] as number;
        for (let k = j; k <= i - 1; k++) {
          V[k * n + j] = (V[k * n + j] as number) - (f * (e[k] as number) + g * (d[k] as number));
        }
        d[j] = V[(i - 1) * n + j] as number;
        V[i * n + j] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    V[(n - 1) * n + i] = V[i * n + i] as number;
    V[i * n + i] = 1;
    const h = d[i + 1] as number;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = (V[k * n + i + 1] as number) / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += (V[k * n + i + 1] as number) * (V[k * n + j] as number);
        for (let k = 0; k <= i; k++) V[k * n + j] = (V[k * n + j] as number) - g * (d[k] as number);
      }
    }
    for (let k = 0; k <= i; k++) V[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[(n - 1) * n + j] as number;
    V[(n - 1) * n + j] = 0;
  }
  V[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/**
 * tql2: implicit QL iterations on the tridiagonal (d, e) until e vanishes; d ends as the eigenvalues
 * and each rotation is applied to rows of W (column i of V == row i of W).
 */
function diagonalizeTridiagonal(W: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i] as number;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l] as number) + Math.abs(e[l] as number));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m] as number) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error('symEig: no convergence');
        let g = d[l] as number;
        let p = ((d[l + 1] as number) - g) / (2 * (e[l] as number));
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = (e[l] as number) / (p + r);
        d[l + 1] = (e[l] as number) * (p + r);
        const dl1 = d[l + 1] as number;
        let h = g - (d[l] as number);
        for (let i = l + 2; i < n; i++) d[i] = (d[i] as number) - h;
        f += h;
        p = d[m] as number;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1] as number;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          const ei = e[i] as number;
          g = c * ei;
          h = c * p;
          r = Math.hypot(p, ei);
          e[i + 1] = s * r;
          s = ei / r;
          c = p / r;
          const di = d[i] as number;
          p = c * di - s * g;
          d[i + 1] = h + s * (c * g + s * di);
          const a = i * n;
          const b = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const wb = W[b + k] as number;
            const wa = W[a + k] as number;
            W[b + k] = s * wa + c * wb;
            W[a + k] = c * wa - s * wb;
          }
        }
        p = (-s * s2 * c3 * el1 * (e[l] as number)) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l] as number) > eps * tst1);
    }
    d[l] = (d[l] as number) + f;
    e[l] = 0;
  }
}

/** The eigenpairs in ascending order of eigenvalue (rows of W are the eigenvectors). */
function sortedEigenpairs(W: Float64Array, d: Float64Array, n: number): SymEig {
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (d[a] as number) - (d[b] as number));
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = d[src] as number;
    vectors.set(W.subarray(src * n, src * n + n), dst * n);
  });
  return { values, vectors };
}

/**
 * The factorization IncrementalFinetune (finetune.ts) keeps between ratings: a growing Cholesky factor
 * of the dual system while n < p, the explicit inverse of the primal system once n ≥ p. The primal
 * inverse is packed and carries one pending Sherman–Morrison term, folded in by the next sweep.
 */

export interface DualFactor {
  kind: 'dual';
  /** Lower Cholesky factor of K + λI, row stride `stride`. */
  L: Float64Array;
  stride: number;
  /** Prior residuals r and z = L⁻¹r (both length ≥ n). */
  r: Float64Array;
  z: Float64Array;
}
export interface PrimalFactor {
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

export function packLower(A: Float64Array, p: number): Float64Array {
  const P = new Float64Array((p * (p + 1)) / 2);
  let off = 0;
  for (let a = 0; a < p; a++) {
    P.set(A.subarray(a * p, a * p + a + 1), off);
    off += a + 1;
  }
  return P;
}

/** out = A⁻¹·x, folding the pending rank-one term into P on the way. */
export function primalApply(f: PrimalFactor, x: Float64Array, out: Float64Array): void {
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

export function primalFlush(f: PrimalFactor): void {
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
export type Factor = DualFactor | PrimalFactor;

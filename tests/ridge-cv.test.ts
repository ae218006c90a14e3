/** The evaluations' K-fold ridge (src/eval/ridge-cv.ts) against a plain normal-equations solve, in both of its forms. */
import { describe, expect, it } from 'vitest';
import { createRng } from '../src/core/random';
import { choleskyInPlace, choleskySolve } from '../src/core/scorer/linalg';
import { outOfFoldRidge } from '../src/eval/ridge-cv';

/** Out-of-fold predictions by solving (XcᵀXc + λI) w = Xcᵀ yc per fold, the textbook way. */
function naive(X: Float32Array, n: number, d: number, y: Float64Array, lam: number, folds: number): Float64Array {
  const out = new Float64Array(n);
  for (let f = 0; f < folds; f++) {
    const tr = [...Array(n).keys()].filter((i) => i % folds !== f);
    const te = [...Array(n).keys()].filter((i) => i % folds === f);
    const mx = Array.from({ length: d }, (_, j) => tr.reduce((s, i) => s + X[i * d + j]!, 0) / tr.length);
    const my = tr.reduce((s, i) => s + y[i]!, 0) / tr.length;
    const A = new Float64Array(d * d);
    const b = new Float64Array(d);
    for (const i of tr)
      for (let a = 0; a < d; a++) {
        b[a]! += (X[i * d + a]! - mx[a]!) * (y[i]! - my);
        for (let c = 0; c < d; c++) A[a * d + c]! += (X[i * d + a]! - mx[a]!) * (X[i * d + c]! - mx[c]!);
      }
    for (let a = 0; a < d; a++) A[a * d + a]! += lam;
    choleskyInPlace(A, d);
    choleskySolve(A, d, d, b);
    for (const i of te) out[i] = my + b.reduce((s, w, j) => s + w * (X[i * d + j]! - mx[j]!), 0);
  }
  return out;
}

describe('outOfFoldRidge', () => {
  for (const [n, d, form] of [
    [40, 60, 'dual (fewer training rows than dimensions)'],
    [80, 12, 'primal'],
  ] as const) {
    it(`matches the normal equations, ${form}`, () => {
      const rng = createRng(7);
      const X = Float32Array.from({ length: n * d }, () => rng.normal());
      const w = Array.from({ length: d }, () => rng.normal());
      const y = Float64Array.from({ length: n }, (_, i) => w.reduce((s, wj, j) => s + wj * X[i * d + j]!, 0) + rng.normal());
      const got = outOfFoldRidge(X, n, d, [y], 5, [0.3]);
      const want = naive(X, n, d, y, 0.3, 5);
      for (let i = 0; i < n; i++) expect(got.pred[0]![i]).toBeCloseTo(want[i]!, 6);
      expect(got.lambda).toEqual([0.3]);
    });
  }

  it('keeps, per target, the λ with the smallest out-of-fold error; an invisible target scores R² ≤ 0', () => {
    const rng = createRng(3);
    const n = 100;
    const d = 5;
    const X = Float32Array.from({ length: n * d }, () => rng.normal());
    const signal = Float64Array.from({ length: n }, (_, i) => 2 * X[i * d]! - X[i * d + 1]!);
    const noise = Float64Array.from({ length: n }, () => rng.normal());
    const r = outOfFoldRidge(X, n, d, [signal, noise], 5, [0.01, 100, 10_000]);
    expect(r.lambda[0]).toBe(0.01);
    expect(r.r2[0]).toBeGreaterThan(0.99);
    expect(r.r2[1]).toBeLessThan(0.05);
  });
});

/**
 * K-fold ridge regression from image embeddings to many targets at once, for the evaluations'
 * diagnostics: how much of the hidden judge's scene properties (features-diagnose.ts) or of a virtual
 * person's noise-free taste (the embedding bound in piaa/data.ts) a *linear* model on the embedding can
 * carry. Never a scorer: it is fitted on the hidden taste itself.
 *
 * One eigendecomposition of the training Gram per fold serves every λ and every target; each target
 * keeps the λ of the grid with the smallest out-of-fold error. Pure.
 */
import { symEig, dotAt } from '../core/scorer/linalg';

export const RIDGE_LAMBDAS: readonly number[] = [0.01, 0.03, 0.1, 0.3, 1, 3, 10];

export interface OutOfFold {
  /** pred[c][i]: target c at row i, predicted by the model of the fold that left row i out. */
  pred: Float64Array[];
  /** The λ chosen for each target. */
  lambda: number[];
  /** Cross-validated R² of each target at its λ (can be < 0 for targets the embedding cannot see). */
  r2: number[];
}

/** Rows of X (n×d, row-major) in fold f of `folds`: every folds-th row. */
const inFold = (i: number, f: number, folds: number) => i % folds === f;

export function outOfFoldRidge(
  X: Float32Array,
  n: number,
  d: number,
  Y: readonly Float64Array[],
  folds = 5,
  lambdas: readonly number[] = RIDGE_LAMBDAS,
): OutOfFold {
  const t = Y.length;
  // preds[λ][c][i]
  const preds = lambdas.map(() => Y.map(() => new Float64Array(n)));
  for (let f = 0; f < folds; f++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < n; i++) (inFold(i, f, folds) ? test : train).push(i);
    // Center on the training fold.
    const mx = new Float64Array(d);
    for (const i of train) for (let j = 0; j < d; j++) mx[j]! += X[i * d + j]! / train.length;
    const xc = (i: number) => Float64Array.from({ length: d }, (_, j) => X[i * d + j]! - mx[j]!);
    const Xtr = train.map(xc);
    const Xte = test.map(xc);
    // Ridge in whichever space is smaller: the d×d feature Gram (primal) or the m×m kernel of the m
    // training rows (dual, when m < d) — the same predictions, a quarter of the work for a small pool.
    const dual = train.length < d;
    const m = dual ? train.length : d;
    const M = new Float64Array(m * m);
    if (dual) {
      for (let a = 0; a < m; a++) for (let b = 0; b <= a; b++) M[a * m + b] = M[b * m + a] = dotAt(Xtr[a]!, 0, Xtr[b]!, 0, d);
    } else {
      for (const x of Xtr)
        for (let a = 0; a < d; a++) {
          const xa = x[a]!;
          if (xa === 0) continue;
          for (let b = 0; b <= a; b++) M[a * d + b]! += xa * x[b]!;
        }
      for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) M[b * d + a] = M[a * d + b]!;
    }
    const { values, vectors } = symEig(M, m);
    // Primal: rows in the eigenbasis of XᵀX. Dual: u_kᵀ K_te for the test rows, u_k the eigenvectors of K.
    const Ztr = dual ? null : Xtr.map((x) => Float64Array.from({ length: d }, (_, k) => dotAt(vectors, k * d, x, 0, d)));
    const Zte = dual
      ? Xte.map((x) => {
          const kx = Float64Array.from(Xtr, (xt) => dotAt(x, 0, xt, 0, d));
          return Float64Array.from({ length: m }, (_, k) => dotAt(vectors, k * m, kx, 0, m));
        })
      : Xte.map((x) => Float64Array.from({ length: d }, (_, k) => dotAt(vectors, k * d, x, 0, d)));
    for (let c = 0; c < t; c++) {
      const y = Y[c]!;
      const my = train.reduce((s, i) => s + y[i]!, 0) / train.length;
      // beta_k = (projection of the centered targets on component k); prediction = Σ_k z_k beta_k / (s_k + λ)
      const beta = new Float64Array(m);
      if (dual) {
        const yc = Float64Array.from(train, (i) => y[i]! - my);
        for (let k = 0; k < m; k++) beta[k] = dotAt(vectors, k * m, yc, 0, m);
      } else {
        train.forEach((i, r) => {
          const z = Ztr![r]!;
          const yc = y[i]! - my;
          for (let k = 0; k < d; k++) beta[k]! += z[k]! * yc;
        });
      }
      lambdas.forEach((lam, li) => {
        const coef = Float64Array.from(beta, (b, k) => b / (Math.max(values[k]!, 0) + lam));
        test.forEach((i, r) => {
          preds[li]![c]![i] = my + dotAt(Zte[r]!, 0, coef, 0, m);
        });
      });
    }
  }
  const pred: Float64Array[] = [];
  const lambda: number[] = [];
  const r2: number[] = [];
  Y.forEach((y, c) => {
    const m = y.reduce((a, b) => a + b, 0) / n;
    const sst = y.reduce((a, b) => a + (b - m) ** 2, 0);
    let best = 0;
    let bestSse = Infinity;
    lambdas.forEach((_, li) => {
      const p = preds[li]![c]!;
      let sse = 0;
      for (let i = 0; i < n; i++) sse += (y[i]! - p[i]!) ** 2;
      if (sse < bestSse) {
        bestSse = sse;
        best = li;
      }
    });
    pred.push(preds[best]![c]!);
    lambda.push(lambdas[best]!);
    r2.push(sst > 0 ? 1 - bestSse / sst : 0);
  });
  return { pred, lambda, r2 };
}

import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../src/core/random';
import { RatingStore, subsetRatings, type PackedRatings } from '../src/core/scorer/data';
import {
  IncrementalFinetune,
  fitFinetuneBatch,
  selectLambda,
  predictLinear,
  lambdaIsStale,
  type FinetunePrior,
} from '../src/core/scorer/finetune';
import { srocc } from '../src/core/scorer/quality-metrics';
import { symEig } from '../src/core/scorer/linalg';
import { candidateGram } from '../src/core/scorer/active';

function unit(rng: Rng, d: number): Float32Array {
  const v = new Float32Array(d);
  let s = 0;
  for (let j = 0; j < d; j++) {
    v[j] = rng.normal();
    s += v[j]! * v[j]!;
  }
  const inv = 1 / Math.sqrt(s);
  for (let j = 0; j < d; j++) v[j]! *= inv;
  return v;
}

function randomPrior(rng: Rng, d: number): FinetunePrior {
  const w = new Float64Array(d).map(() => rng.normal() * 0.5);
  return { w, bias: 5.5 };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function expectMatchesBatch(inc: IncrementalFinetune, prior: FinetunePrior): void {
  const ref = fitFinetuneBatch(prior, inc.data, inc.lambda);
  expect(maxAbsDiff(inc.delta, ref.delta)).toBeLessThan(1e-6);
}

describe('incremental finetune equals a full batch refit', () => {
  it('n < d (dual regime): after each of many adds and after removals', () => {
    const rng = createRng(11);
    const d = 48;
    const prior = randomPrior(rng, d);
    const inc = new IncrementalFinetune(prior, new RatingStore(d), { lambda: 0.3 });
    for (let i = 0; i < 40; i++) {
      inc.add(unit(rng, d), 1 + rng.int(10));
      expect(inc.factorKind).toBe('dual');
      expectMatchesBatch(inc, prior);
    }
    for (const idx of [0, 39 - 1, 17, 5, 5, 20]) {
      inc.removeAt(Math.min(idx, inc.data.n - 1));
      expectMatchesBatch(inc, prior);
    }
    // adds after removals still agree
    for (let i = 0; i < 10; i++) {
      inc.add(unit(rng, d), 1 + rng.int(10));
      expectMatchesBatch(inc, prior);
    }
    expect(inc.data.n).toBe(44);
  });

  it('n ≥ d (primal regime, crossing over from the dual): after many adds and removals', () => {
    const rng = createRng(12);
    const d = 16;
    const prior = randomPrior(rng, d);
    const inc = new IncrementalFinetune(prior, new RatingStore(d), { lambda: 0.1 });
    const kinds = new Set<string>();
    for (let i = 0; i < 200; i++) {
      inc.add(unit(rng, d), 1 + rng.int(10));
      kinds.add(inc.factorKind!);
      expectMatchesBatch(inc, prior);
    }
    expect(kinds).toEqual(new Set(['dual', 'primal']));
    for (let k = 0; k < 150; k++) {
      inc.removeAt(rng.int(inc.data.n));
      expect(inc.factorKind).toBe('primal');
      expectMatchesBatch(inc, prior);
    }
    for (let k = 0; k < 50; k++) {
      if (rng.next() < 0.5) inc.add(unit(rng, d), 1 + rng.int(10));
      else inc.removeAt(rng.int(inc.data.n));
      expectMatchesBatch(inc, prior);
    }
  });

  it('a released factor rebuilds to the same fit (cold user path)', () => {
    const rng = createRng(13);
    const d = 8;
    const prior = randomPrior(rng, d);
    const inc = new IncrementalFinetune(prior, new RatingStore(d), { lambda: 1 });
    for (let i = 0; i < 30; i++) inc.add(unit(rng, d), 1 + rng.int(10));
    const before = Float64Array.from(inc.delta);
    inc.releaseFactor();
    expect(inc.hasFactor).toBe(false);
    inc.add(unit(rng, d), 7);
    expect(inc.hasFactor).toBe(true);
    expectMatchesBatch(inc, prior);
    inc.removeAt(inc.data.n - 1);
    expect(maxAbsDiff(inc.delta, before)).toBeLessThan(1e-9);
  });
});

describe('closed-form leave-one-out', () => {
  function bruteForceLoo(prior: FinetunePrior, data: PackedRatings, lambda: number): Float64Array {
    const out = new Float64Array(data.n);
    for (let i = 0; i < data.n; i++) {
      const rows = Array.from({ length: data.n }, (_, k) => k).filter((k) => k !== i);
      const { model } = fitFinetuneBatch(prior, subsetRatings(data, rows), lambda);
      out[i] = predictLinear(model, data.X, i * data.dim);
    }
    return out;
  }

  for (const [label, n, d] of [
    ['dual', 20, 30],
    ['primal', 60, 10],
  ] as const) {
    it(`equals brute-force LOO (${label}: n=${n}, d=${d}) at every λ of the grid`, () => {
      const rng = createRng(21);
      const prior = randomPrior(rng, d);
      const store = new RatingStore(d);
      for (let i = 0; i < n; i++) store.add(unit(rng, d), 1 + rng.int(10));
      for (const lambda of [0.1, 1, 10]) {
        const sel = selectLambda(prior, store, { lambdaGrid: [lambda] });
        expect(sel.lambda).toBe(lambda);
        expect(maxAbsDiff(sel.looPred, bruteForceLoo(prior, store, lambda))).toBeLessThan(1e-8);
        // the fit it returns is the batch fit at that λ
        expect(maxAbsDiff(sel.delta, fitFinetuneBatch(prior, store, lambda).delta)).toBeLessThan(1e-8);
      }
    });
  }

  it('picks the λ with the smallest LOO error, and reselection adopts it exactly', () => {
    const rng = createRng(22);
    const d = 12;
    const prior = randomPrior(rng, d);
    const inc = new IncrementalFinetune(prior, new RatingStore(d), { lambda: 100 });
    for (let i = 0; i < 50; i++) inc.add(unit(rng, d), 1 + rng.int(10));
    const sel = inc.reselectLambda();
    const best = Math.min(...sel.grid.map((g) => g.looMse));
    expect(sel.looMse).toBe(best);
    expect(inc.lambda).toBe(sel.lambda);
    expectMatchesBatch(inc, prior);
    inc.add(unit(rng, d), 3);
    expectMatchesBatch(inc, prior);
  });

  it('λ staleness policy: every change while small, then after 25% growth', () => {
    expect(lambdaIsStale(5, 4)).toBe(true);
    expect(lambdaIsStale(32, 32)).toBe(false);
    expect(lambdaIsStale(120, 100)).toBe(false);
    expect(lambdaIsStale(125, 100)).toBe(true);
    expect(lambdaIsStale(80, 100)).toBe(true);
  });
});

describe('finetune behaviour', () => {
  it('with 0 ratings it is exactly the global prior', () => {
    const rng = createRng(31);
    const d = 10;
    const prior = randomPrior(rng, d);
    const inc = new IncrementalFinetune(prior, new RatingStore(d));
    const x = unit(rng, d);
    const expected = prior.bias + prior.w.reduce((s, w, j) => s + w * x[j]!, 0);
    expect(inc.predict(x)).toBeCloseTo(expected, 12);
  });

  it('fits a person whose taste differs from the prior once they have many ratings', () => {
    const rng = createRng(32);
    const d = 20;
    const prior = randomPrior(rng, d);
    const own = new Float64Array(d).map(() => rng.normal() * 3); // unrelated to the prior
    const inc = new IncrementalFinetune(prior, new RatingStore(d));
    const rate = (x: Float32Array) => 5 + own.reduce((s, w, j) => s + w * x[j]!, 0) + 0.1 * rng.normal();
    for (let i = 0; i < 300; i++) {
      const x = unit(rng, d);
      inc.add(x, rate(x));
    }
    inc.reselectLambda();
    const test = Array.from({ length: 200 }, () => unit(rng, d));
    const truth = test.map((x) => own.reduce((s, w, j) => s + w * x[j]!, 0) + 5);
    const pred = test.map((x) => inc.predict(x));
    expect(srocc(pred, truth)!).toBeGreaterThan(0.97);
    const priorPred = test.map((x) => prior.w.reduce((s, w, j) => s + w * x[j]!, 0));
    expect(Math.abs(srocc(priorPred, truth)!)).toBeLessThan(0.5);
    // the learned offset is the person's, not the prior's
    expect(inc.model().bias).toBeCloseTo(5, 0);
  });

  it('posterior uncertainty shrinks where the person has rated', () => {
    const rng = createRng(33);
    const d = 6;
    const inc = new IncrementalFinetune(randomPrior(rng, d), new RatingStore(d), { lambda: 1 });
    const x = unit(rng, d);
    const before = inc.leverage([x])[0]!;
    for (let i = 0; i < 5; i++) inc.add(x, 6);
    expect(inc.leverage([x])[0]!).toBeLessThan(before / 3);
  });
});

describe('posteriorCovariances (the active-selection fast path)', () => {
  // Must equal the two reference posteriorCross calls exactly, in both regimes, with and without the
  // precomputed candidate Gram matrix.
  for (const [label, n, d] of [
    ['dual', 0, 16],
    ['dual', 9, 16],
    ['primal', 40, 12],
  ] as const) {
    it(`equals posteriorCross(…, true/false) (${label}, n=${n}, d=${d})`, () => {
      const rng = createRng(5 + n);
      const prior = randomPrior(rng, d);
      const inc = new IncrementalFinetune(prior, new RatingStore(d), { lambda: 0.7 });
      for (let i = 0; i < n; i++) inc.add(unit(rng, d), 1 + rng.int(10));
      const cands = Array.from({ length: 7 }, () => unit(rng, d));
      const full = inc.posteriorCross(cands, true);
      const cross = inc.posteriorCross(cands, false);
      const gram = candidateGram(cands);
      for (const g of [undefined, gram]) {
        const got = inc.posteriorCovariances(cands, g);
        expect(maxAbsDiff(got.full, full)).toBeLessThan(1e-9);
        expect(maxAbsDiff(got.cross, cross)).toBeLessThan(1e-9);
      }
      expect(Math.max(...cross)).toBeGreaterThan(0.01);
    });
  }

  it("reads the rated rows from the candidates' gram when every rated image is a candidate (the evaluation's loop)", () => {
    const rng = createRng(77);
    const d = 16;
    const cands = Array.from({ length: 12 }, () => unit(rng, d));
    const inc = new IncrementalFinetune(randomPrior(rng, d), new RatingStore(d), { lambda: 0.7 });
    const rated = [4, 0, 9, 2, 7];
    for (const i of rated) inc.add(cands[i]!, 1 + rng.int(10));
    const gram = candidateGram(cands);
    const ref = inc.posteriorCovariances(cands);
    const fast = inc.posteriorCovariances(cands, gram, rated);
    expect(maxAbsDiff(fast.full, ref.full)).toBeLessThan(1e-9);
    expect(maxAbsDiff(fast.cross, ref.cross)).toBeLessThan(1e-9);
    // The mapping is used, not ignored: naming the wrong candidates gives a different posterior.
    const wrong = inc.posteriorCovariances(cands, gram, [1, 3, 5, 6, 8]);
    expect(maxAbsDiff(wrong.full, ref.full)).toBeGreaterThan(1e-3);
    // A mapping that does not cover every rated row falls back to the dot products.
    expect(maxAbsDiff(inc.posteriorCovariances(cands, gram, [4, 0]).full, ref.full)).toBeLessThan(1e-9);
  });
});

describe('linalg', () => {
  it('symEig reconstructs a symmetric matrix', () => {
    const rng = createRng(41);
    const n = 30;
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = rng.normal();
    const { values, vectors } = symEig(A, n);
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += A[i * n + j]! * vectors[k * n + j]!;
        expect(s).toBeCloseTo(values[k]! * vectors[k * n + i]!, 9);
      }
    }
    for (let k = 1; k < n; k++) expect(values[k]!).toBeGreaterThanOrEqual(values[k - 1]!);
  });
});

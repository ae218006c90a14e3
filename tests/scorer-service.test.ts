import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../src/core/random';
import { ScorerService } from '../src/core/scorer/scorer-service';
import { trainGlobal, emptyGlobal } from '../src/core/scorer/global';
import { RatingStore } from '../src/core/scorer/data';
import { fitFinetuneBatch } from '../src/core/scorer/finetune';
import {
  EmbeddingModelMismatchError,
  InvalidEmbeddingError,
  InvalidScoreError,
  UnknownImageError,
  UnknownUserError,
} from '../src/core/errors';
import { srocc } from '../src/core/scorer/quality-metrics';

function unit(rng: Rng, d: number): Float32Array {
  const v = new Float32Array(d).map(() => rng.normal());
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}
const dotv = (w: ArrayLike<number>, x: ArrayLike<number>) => {
  let s = 0;
  for (let j = 0; j < x.length; j++) s += w[j]! * x[j]!;
  return s;
};

describe('ScorerService', () => {
  const d = 10;

  it('rejects bad input with typed errors', () => {
    const svc = new ScorerService({ modelId: 'features-v1', dim: d });
    const rng = createRng(1);
    expect(() => svc.addRating('u', unit(rng, d), 0)).toThrow(InvalidScoreError);
    expect(() => svc.addRating('u', unit(rng, d), 11)).toThrow(InvalidScoreError);
    expect(() => svc.addRating('u', unit(rng, d), 5.5)).toThrow(InvalidScoreError);
    expect(() => svc.addRating('u', unit(rng, d), NaN)).toThrow(InvalidScoreError);
    expect(() => svc.addRating('u', unit(rng, d + 1), 5)).toThrow(EmbeddingModelMismatchError);
    expect(() => svc.addRating('u', unit(rng, d), 5, { modelId: 'clip:other' })).toThrow(EmbeddingModelMismatchError);
    expect(() => svc.predict('u', [unit(rng, 3)])).toThrow(EmbeddingModelMismatchError);
    expect(() => svc.addRating('u', new Float32Array(d).fill(NaN), 5)).toThrow(InvalidEmbeddingError);
    expect(() => svc.setGlobal(emptyGlobal(d + 2))).toThrow(EmbeddingModelMismatchError);
    expect(() => svc.removeRating('nobody', 'img')).toThrow(UnknownUserError);
    svc.addRating('u', unit(rng, d), 5, { imageId: 'a' });
    expect(() => svc.removeRating('u', 'zzz')).toThrow(UnknownImageError);
    expect(() => svc.removeRating('u', 7)).toThrow(UnknownImageError);
    expect(svc.count('u')).toBe(1); // failed calls changed nothing
  });

  it('a new person gets the global prior; predictions are clamped to 1..10', () => {
    const rng = createRng(2);
    const w = new Float64Array(d).map(() => rng.normal() * 50); // absurdly strong prior → clamping
    const svc = new ScorerService({ modelId: 'm', dim: d, global: { ...emptyGlobal(d), w, bias: 5.5 } });
    const X = Array.from({ length: 50 }, () => unit(rng, d));
    const p = svc.predict('new-person', X);
    expect(svc.method('new-person')).toBe('global');
    expect(Math.min(...p)).toBe(1);
    expect(Math.max(...p)).toBe(10);
    for (const [i, x] of X.entries()) {
      const raw = 5.5 + dotv(w, x);
      expect(p[i]).toBeCloseTo(Math.min(10, Math.max(1, raw)), 9);
    }
    expect(svc.quality('new-person')).toEqual({ n: 0, srocc: null, mse: null, mae: null });
  });

  it('learns a person, reports cross-validated quality and uses global under 5 ratings', () => {
    const rng = createRng(3);
    const shared = new Float64Array(d).map(() => rng.normal() * 3);
    const community = Array.from({ length: 20 }, () => {
      const s = new RatingStore(d);
      for (let i = 0; i < 30; i++) {
        const x = unit(rng, d);
        s.add(x, Math.min(10, Math.max(1, Math.round(5.5 + dotv(shared, x) + rng.normal() * 0.5))));
      }
      return s;
    });
    const svc = new ScorerService({ modelId: 'm', dim: d, global: trainGlobal(community) });
    const own = Float64Array.from(shared, (v) => v + rng.normal() * 2);
    const rate = (x: Float32Array) => Math.min(10, Math.max(1, Math.round(6 + dotv(own, x) + rng.normal() * 0.3)));
    for (let i = 0; i < 4; i++) {
      const x = unit(rng, d);
      svc.addRating('p', x, rate(x), { imageId: `img${i}` });
    }
    expect(svc.method('p')).toBe('global');
    for (let i = 4; i < 120; i++) {
      const x = unit(rng, d);
      svc.addRating('p', x, rate(x), { imageId: `img${i}` });
    }
    expect(['finetune', 'blend', 'maml']).toContain(svc.method('p'));
    const q = svc.quality('p');
    expect(q.n).toBe(120);
    expect(q.srocc!).toBeGreaterThan(0.8);
    expect(q.mae!).toBeGreaterThan(0);
    const test = Array.from({ length: 100 }, () => unit(rng, d));
    const truth = test.map((x) => dotv(own, x));
    expect(srocc(svc.predict('p', test), truth)!).toBeGreaterThan(0.85);
    // predictive variance is positive and smaller than for a stranger
    const pv = svc.predictWithVariance('p', test.slice(0, 5)).variance;
    const sv = svc.predictWithVariance('stranger', test.slice(0, 5)).variance;
    for (let i = 0; i < 5; i++) {
      expect(pv[i]!).toBeGreaterThan(0);
      expect(pv[i]!).toBeLessThan(sv[i]!);
    }
  });

  it('re-rating an image replaces it; removal by id refits; matches a batch fit; LRU release is invisible', () => {
    const rng = createRng(4);
    const svc = new ScorerService({ modelId: 'm', dim: d, hotCapacity: 1, defaultMethod: 'finetune' });
    const X = Array.from({ length: 30 }, () => unit(rng, d));
    X.forEach((x, i) => svc.addRating('a', x, 1 + (i % 10), { imageId: `i${i}` }));
    svc.addRating('a', X[3]!, 9, { imageId: 'i3' }); // re-rate
    expect(svc.count('a')).toBe(30);
    svc.removeRating('a', 'i7');
    // another user evicts a's factorization from the 1-slot LRU
    svc.addRating('b', X[0]!, 5);
    expect(svc.stats().hotUsers).toBe(1);
    svc.addRating('a', X[7]!, 2, { imageId: 'i7' });
    expect(svc.count('a')).toBe(30);
    const det = svc.details('a')!;
    // rebuild the same data in order and compare with a batch fit at the chosen λ
    const ref = new RatingStore(d);
    X.forEach((x, i) => {
      if (i !== 3 && i !== 7) ref.add(x, 1 + (i % 10));
    });
    ref.add(X[3]!, 9);
    ref.add(X[7]!, 2);
    const batch = fitFinetuneBatch(emptyGlobal(d), ref, det.lambda);
    const probe = Array.from({ length: 20 }, () => unit(rng, d));
    const got = svc.predict('a', probe);
    probe.forEach((x, i) => {
      const want = Math.min(10, Math.max(1, dotv(batch.model.w, x) + batch.model.bias));
      expect(got[i]).toBeCloseTo(want, 6);
    });
  });

  it('setRatings refits from scratch and nextToRate avoids excluded and redundant items', () => {
    const rng = createRng(5);
    const svc = new ScorerService({ modelId: 'm', dim: d });
    const base = unit(rng, d);
    const cands = [base, Float32Array.from(base), ...Array.from({ length: 6 }, () => unit(rng, d))];
    svc.setRatings(
      'c',
      Array.from({ length: 12 }, () => unit(rng, d)),
      Array.from({ length: 12 }, (_, i) => 1 + (i % 10)),
    );
    expect(svc.count('c')).toBe(12);
    const picks = svc.nextToRate('c', cands, 4, new Set([2]));
    expect(picks).toHaveLength(4);
    expect(picks).not.toContain(2);
    // conditioning on the first pick makes its exact duplicate less informative: never the next pick
    const dupOf = (i: number) => (i === 0 ? 1 : i === 1 ? 0 : -1);
    for (let t = 1; t < picks.length; t++) expect(picks[t]).not.toBe(dupOf(picks[t - 1]!));
    expect(new Set(picks).size).toBe(4);
    const fresh = svc.nextToRate('someone-new', cands, 3);
    expect(fresh).toHaveLength(3);
    for (let t = 1; t < fresh.length; t++) expect(fresh[t]).not.toBe(dupOf(fresh[t - 1]!));
  });
});

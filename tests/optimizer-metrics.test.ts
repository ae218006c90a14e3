import { describe, expect, it } from 'vitest';
import { aggregate, createScorerObjective } from '../src/core/optimizer/objective';
import { bestCandidate, computeMetrics, cosine, mostSimilar, selectHighRated } from '../src/core/optimizer/run-metrics';

describe('optimizer metrics', () => {
  it('cosine by hand', () => {
    expect(cosine([1, 0], [0, 1])).toBe(0);
    expect(cosine([1, 2, 2], [1, 2, 2])).toBeCloseTo(1, 12);
    expect(cosine([3, 4], [4, 3])).toBeCloseTo(24 / 25, 12);
    expect(cosine([0, 0], [1, 1])).toBe(0);
    expect(() => cosine([1], [1, 2])).toThrow(/mismatch/);
  });

  it('high-rated = rated ≥ 7, else the top quartile', () => {
    const r = [{ score: 3 }, { score: 7 }, { score: 9 }, { score: 6 }];
    expect(selectHighRated(r).map((x) => x.score)).toEqual([7, 9]);
    const harsh = [{ score: 2 }, { score: 5 }, { score: 4 }, { score: 1 }, { score: 3 }];
    expect(selectHighRated(harsh).map((x) => x.score)).toEqual([5, 4]); // ceil(5/4) = 2
    expect(selectHighRated([])).toEqual([]);
  });

  it('most similar earlier image and its score', () => {
    const best = new Float32Array([1, 0, 0]);
    const earlier = [
      { imageId: 'a', score: 8, vector: new Float32Array([0, 1, 0]) },
      { imageId: 'b', score: 9, vector: new Float32Array([0.6, 0.8, 0]) },
      { imageId: 'c', score: 7, vector: new Float32Array([-1, 0, 0]) },
    ];
    const m = mostSimilar(best, earlier);
    expect(m).not.toBeNull();
    expect(m!.imageId).toBe('b');
    expect(m!.maxSim).toBeCloseTo(0.6, 6);
    expect(m!.scoreOfMostSim).toBe(9);
    expect(mostSimilar(best, [])).toBeNull();
  });

  it('max, max − init, K* (first iteration reaching the max), images, cost', () => {
    const c = (iteration: number, score: number | null, id: string) => ({ iteration, score, imageId: id, prompt: `p${id}` });
    const candidates = [c(0, 4.5, 'i0'), c(1, 5, 'a'), c(1, null, 'skip'), c(2, 7.25, 'b'), c(3, 7.25, 'c'), c(3, 6, 'd')];
    const m = computeMetrics({ candidates, imagesUsed: 5, costUsd: 0.05, similarity: { maxSim: 0.91, scoreOfMostSim: 8 } });
    expect(m.init).toBe(4.5);
    expect(m.max).toBe(7.25);
    expect(m.maxMinusInit).toBeCloseTo(2.75, 12);
    expect(m.kStar).toBe(2);
    expect(m.bestImageId).toBe('b');
    expect(m.bestPrompt).toBe('pb');
    expect(m.maxSim).toBe(0.91);
    expect(m.scoreOfMostSim).toBe(8);
    expect(m.imagesUsed).toBe(5);
    expect(m.costUsd).toBe(0.05);
    // The init image itself can be the best: K* = 0, gain 0.
    const m0 = computeMetrics({ candidates: [c(0, 9, 'x'), c(1, 3, 'y')], imagesUsed: 2, costUsd: 0, similarity: null });
    expect(m0.kStar).toBe(0);
    expect(m0.maxMinusInit).toBe(0);
    expect(m0.maxSim).toBeNull();
    expect(bestCandidate([c(1, null, 'z')])).toBeNull();
  });
});

describe('scorer-backed objective', () => {
  // Plain data behind the structural deps; the objective itself is the real one.
  const preds: Record<string, Record<string, number>> = { a: { x: 8, y: 4 }, b: { x: 6, y: 9 } };
  const ratings: Record<string, { imageId: string; score: number }[]> = {
    a: [
      { imageId: 'fav', score: 9 },
      { imageId: 'meh', score: 3 },
      { imageId: 'ok', score: 7 },
    ],
    b: [],
  };
  const vecs: Record<string, Float32Array> = {
    x: new Float32Array([1, 0]),
    fav: new Float32Array([0.8, 0.6]),
    ok: new Float32Array([0, 1]),
    meh: new Float32Array([1, 0]),
  };
  const deps = {
    predict: async (u: string, ids: string[]) => ids.map((id) => preds[u]![id]!),
    ratingCount: async (u: string) => ratings[u]!.length,
    listRatings: async (u: string) => ratings[u]!,
    embed: async (ids: string[]) => new Map(ids.filter((id) => vecs[id]).map((id) => [id, vecs[id]!])),
  };

  it('aggregates members by mean or min and records the scorer n', async () => {
    expect(aggregate([8, 6], 'mean')).toBe(7);
    expect(aggregate([8, 6], 'min')).toBe(6);
    const mean = await createScorerObjective(deps, { members: ['a', 'b'], objective: 'mean' }).score(['x', 'y']);
    expect(mean.scores.map((s) => s.score)).toEqual([7, 6.5]);
    expect(mean.scores[1]!.memberScores).toEqual({ a: 4, b: 9 });
    expect(mean.scorerN).toBe(3);
    const min = await createScorerObjective(deps, { members: ['a', 'b'], objective: 'min' }).score(['x', 'y']);
    expect(min.scores.map((s) => s.score)).toEqual([6, 4]);
  });

  it('max sim compares only with earlier high-rated images (≥ 7)', async () => {
    const sim = await createScorerObjective(deps, { members: ['a'], objective: 'single' }).similarity!('x');
    // "meh" (3) is identical to x but not high-rated; "fav" (cos 0.8) beats "ok" (cos 0).
    expect(sim!.maxSim).toBeCloseTo(0.8, 6);
    expect(sim!.scoreOfMostSim).toBe(9);
    expect(await createScorerObjective(deps, { members: ['b'], objective: 'single' }).similarity!('x')).toBeNull();
  });
});

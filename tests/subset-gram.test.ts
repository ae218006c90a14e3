import { describe, expect, it } from 'vitest';
import { RatingStore, subsetRatings, type PackedRatings } from '../src/core/scorer/data';
import { gramDual } from '../src/core/scorer/finetune-fit';
import { selectLambda } from '../src/core/scorer/finetune-lambda';
import { finetuneNestedFit, pairwiseAgreement } from '../src/core/scorer/quality-cv';
import { subsetDots } from '../src/core/scorer/subset-gram';
import { dotAt } from '../src/core/scorer/linalg';
import { createRng } from '../src/core/random';

const d = 64;

function store(n: number, seed: number): RatingStore {
  const rng = createRng(seed);
  const s = new RatingStore(d);
  for (let i = 0; i < n; i++)
    s.add(
      Array.from({ length: d }, () => rng.normal()),
      1 + Math.floor(rng.next() * 10),
      `img-${i}`,
    );
  return s;
}

/** The same rows, made without subsetRatings: nothing shared, every dot product computed from the copy itself. */
function plainCopy(data: PackedRatings): PackedRatings {
  return { n: data.n, dim: data.dim, X: Float32Array.from(data.X as Float32Array), y: Float64Array.from(data.y) };
}

describe('dot products shared by subsets of one person’s ratings', () => {
  it('gives every subset exactly the Gram matrix computed from its own rows', () => {
    const parent = store(20, 1);
    const rng = createRng(2);
    for (let t = 0; t < 30; t++) {
      const rows = rng.shuffle([...Array(20).keys()]).slice(0, 5 + (t % 14));
      const sub = subsetRatings(parent, rows);
      expect(subsetDots(sub)).not.toBeNull();
      expect(gramDual(sub, 3, 0.7)).toEqual(gramDual(plainCopy(sub), 3, 0.7));
    }
  });

  it('chooses the same λ and fit, and the same cross-validated agreement, as without sharing', () => {
    const parent = store(18, 3);
    const prior = { w: new Float64Array(d).fill(0.01), bias: 5 };
    const rows = [0, 2, 3, 5, 7, 8, 11, 12, 13, 17];
    const shared = selectLambda(prior, subsetRatings(parent, rows), {});
    const alone = selectLambda(prior, plainCopy(subsetRatings(parent, rows)), {});
    expect(shared.lambda).toBe(alone.lambda);
    expect(shared.delta).toEqual(alone.delta);
    expect(shared.looPred).toEqual(alone.looPred);
    const viaSubsets = pairwiseAgreement(parent.y.subarray(0, parent.n), finetuneNestedFit(prior, parent, {}));
    // The same folds fitted on plain copies of each training subset.
    const direct = pairwiseAgreement(parent.y.subarray(0, parent.n), (train) => {
      const delta = selectLambda(prior, plainCopy(subsetRatings(parent, train)), {}).delta;
      return (i) => dotAt(prior.w, 0, parent.X, i * d, d) + dotAt(delta, 0, parent.X, i * d, d);
    });
    expect(viaSubsets).toEqual(direct);
  });

  it('never serves a dot product of rows that changed since it was computed', () => {
    const parent = store(12, 4);
    const before = subsetRatings(parent, [0, 1, 2, 3, 4, 5]);
    expect(gramDual(before, 3, 1)).toEqual(gramDual(plainCopy(before), 3, 1));
    // The person replaces a rating: same count, other rows. A subset taken now must not see the old products.
    parent.removeAt(2);
    parent.add(
      Array.from({ length: d }, (_, j) => Math.sin(j)),
      7,
      'img-new',
    );
    const after = subsetRatings(parent, [0, 1, 2, 3, 4, 11]);
    expect(gramDual(after, 3, 1)).toEqual(gramDual(plainCopy(after), 3, 1));
    // A subset whose own rows were written to after it was made is computed from those rows.
    (after.X as Float32Array)[3] = 42;
    expect(subsetDots(after)).toBeNull();
    expect(gramDual(after, 3, 1)).toEqual(gramDual(plainCopy(after), 3, 1));
  });

  it('shares nothing with data not made as a subset', () => {
    const parent = store(8, 5);
    expect(subsetDots(parent)).toBeNull();
    expect(subsetDots(plainCopy(parent))).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { displayScore, fitDisplayMap, shareShownAtTen } from '../src/core/scorer/display-score';
import { ScorerService } from '../src/core/scorer/scorer-service';
import { emptyGlobal } from '../src/core/scorer/global';

const COMMUNITY = { mean: 5.5 };
/** A person who uses the whole scale: 200 ratings over 1–10, bell-shaped around 5.5 (spread about 2). */
const WHOLE_SCALE = [1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8, 9, 9, 10].flatMap((y) => [
  y,
  y,
  y,
  y,
  y,
  y,
  y,
]);
/** A person who never goes below 3 or above 8. */
const MIDDLE_ONLY = Array.from({ length: 200 }, (_, i) => 3 + (i % 6));
const grid = (from: number, to: number, step: number) =>
  Array.from({ length: Math.round((to - from) / step) + 1 }, (_, i) => from + i * step);

describe('the display map (what a person would say)', () => {
  it('is strictly increasing and stays inside 1–10 for any prediction, however far outside', () => {
    for (const ratings of [WHOLE_SCALE, MIDDLE_ONLY, [], [10, 10, 10], [1, 1, 2]]) {
      const map = fitDisplayMap(ratings, COMMUNITY);
      const raws = grid(-20, 40, 0.25);
      const shown = raws.map((r) => displayScore(map, r));
      for (let i = 1; i < shown.length; i++) expect(shown[i]!).toBeGreaterThan(shown[i - 1]!);
      for (const s of shown) {
        expect(s).toBeGreaterThan(1);
        expect(s).toBeLessThan(10);
      }
    }
  });

  it('does not pile up at 10.0 for a model whose raw predictions run past 10', () => {
    // Raw predictions spread over 8..14 (as an optimizer pushes them): clipped, two thirds would read 10.0.
    const raws = grid(8, 14, 0.05);
    const clipped = raws.map((r) => Math.min(10, r));
    expect(shareShownAtTen(clipped)).toBeGreaterThan(0.6);
    const map = fitDisplayMap(WHOLE_SCALE, COMMUNITY);
    const shown = raws.map((r) => displayScore(map, r));
    expect(shareShownAtTen(shown)).toBeLessThanOrEqual(0.05);
    // …and two such images stay apart when shown with one decimal.
    expect(displayScore(map, 13).toFixed(1)).not.toBe(displayScore(map, 11).toFixed(1));
  });

  it('is close to the identity in the middle of a person’s scale', () => {
    const map = fitDisplayMap(WHOLE_SCALE, COMMUNITY);
    for (const r of [4, 5.5, 7]) expect(Math.abs(displayScore(map, r) - r)).toBeLessThan(0.6);
  });

  it('follows the person’s own scale use: someone who rates only 3–8 sees a lower top than someone using 1–10', () => {
    const whole = fitDisplayMap(WHOLE_SCALE, COMMUNITY);
    const middle = fitDisplayMap(MIDDLE_ONLY, COMMUNITY);
    expect(displayScore(middle, 10)).toBeLessThan(displayScore(whole, 10) - 0.2);
    expect(displayScore(middle, 1)).toBeGreaterThan(displayScore(whole, 1) + 0.2);
  });

  it('leans on the community’s scale when a person has few ratings', () => {
    const none = fitDisplayMap([], COMMUNITY);
    const two = fitDisplayMap([10, 10], COMMUNITY);
    const many = fitDisplayMap(
      Array.from({ length: 200 }, () => 10),
      COMMUNITY,
    );
    expect(none.mean).toBeCloseTo(5.5, 1);
    // Two 10s move the mean part of the way, two hundred almost all the way.
    expect(two.mean).toBeGreaterThan(none.mean + 0.5);
    expect(two.mean).toBeLessThan(8);
    expect(many.mean).toBeGreaterThan(9.8);
  });
});

describe('ScorerService.belief (rank on the uncapped mean, show the display score)', () => {
  it('keeps predictions past 10 apart and in order, and shows them below 10.0', () => {
    const dim = 2;
    // A community whose taste extrapolates far: w·x reaches 12–16 on these embeddings.
    const global = { ...emptyGlobal(dim), w: Float64Array.from([4, 0]), bias: 4 };
    const scorer = new ScorerService({ modelId: 'm', dim, global });
    const X = [2, 3, 2.5].map((v) => Float32Array.from([v, 0]));
    const clipped = scorer.predict('p', X);
    expect(clipped).toEqual([10, 10, 10]);
    const b = scorer.belief('p', X, { withSd: true });
    expect(b.mean).toEqual([12, 16, 14]);
    expect(b.shown[1]!).toBeGreaterThan(b.shown[2]!);
    expect(b.shown[2]!).toBeGreaterThan(b.shown[0]!);
    for (const s of b.shown) expect(s).toBeLessThan(10);
    // The prior alone is uncertain about these far-out images: the sd is positive and grows with distance.
    expect(b.sd[0]!).toBeGreaterThan(0);
    expect(b.sd[1]!).toBeGreaterThan(b.sd[0]!);
  });
});

import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../src/core/random';
import type { PackedRatings } from '../src/core/scorer/data';
import { fitFinetuneBatch, predictLinear, type FinetunePrior } from '../src/core/scorer/finetune';
import { fitJoint, pickTemperature, type PairPreference } from '../src/core/scorer/pairwise';
import { choosePickSet, pickPairs } from '../src/core/scorer/pick-selection';
import { srocc } from '../src/core/scorer/quality-metrics';

const D = 12;
const NOISE_SD = 1;

/** A synthetic person: taste = 5.5 + 2·(u·x), their ratings and picks noisy by the same σ. */
interface Person {
  u: Float64Array;
  pool: Float32Array[];
  taste: number[];
}

function person(rng: Rng, images = 120): Person {
  const u = new Float64Array(D).map(() => rng.normal());
  const norm = Math.hypot(...u);
  u.forEach((v, j) => (u[j] = v / norm));
  const pool = Array.from({ length: images }, () => Float32Array.from({ length: D }, () => rng.normal()));
  const taste = pool.map((x) => 5.5 + 2 * x.reduce((t, v, j) => t + v * u[j]!, 0));
  return { u, pool, taste };
}

const gumbel = (rng: Rng) => -Math.log(-Math.log(Math.max(rng.next(), 1e-300)));

/** The judge's pick among `shown`: argmax of taste + Gumbel noise with the rating noise's SD. */
function judgePick(p: Person, shown: readonly number[], rng: Rng): number {
  const g = pickTemperature(NOISE_SD ** 2);
  return shown.reduce(
    (best, i) => {
      const v = p.taste[i]! + g * gumbel(rng);
      return v > best.v ? { i, v } : best;
    },
    { i: -1, v: -Infinity },
  ).i;
}

function ratingsOf(p: Person, idx: readonly number[], rng: Rng): PackedRatings {
  const X = new Float32Array(idx.length * D);
  idx.forEach((i, k) => X.set(p.pool[i]!, k * D));
  const y = Float64Array.from(idx, (i) => Math.min(10, Math.max(1, Math.round(p.taste[i]! + NOISE_SD * rng.normal()))));
  return { n: idx.length, dim: D, X, y };
}

const NO_RATINGS: PackedRatings = { n: 0, dim: D, X: new Float32Array(0), y: new Float64Array(0) };
/** A prior that knows nothing of taste: whatever order the fit finds comes from the person's own data. */
const FLAT: FinetunePrior = { w: new Float64Array(D), bias: 5.5 };

function randomPicks(p: Person, count: number, train: readonly number[], rng: Rng): PairPreference[] {
  const pairs: PairPreference[] = [];
  for (let k = 0; k < count; k++) {
    const shown = rng.shuffle([...train]).slice(0, 4);
    pairs.push(
      ...pickPairs(shown, judgePick(p, shown, rng)).map(({ winner, loser }) => ({ winner: p.pool[winner]!, loser: p.pool[loser]! })),
    );
  }
  return pairs;
}

function testSrocc(p: Person, model: { w: Float64Array; bias: number }, test: readonly number[]): number {
  return srocc(
    test.map((i) => predictLinear(model, p.pool[i]!)),
    test.map((i) => p.taste[i]!),
  )!;
}

const split = (n: number) => ({ train: Array.from({ length: 60 }, (_, i) => i), test: Array.from({ length: n - 60 }, (_, i) => i + 60) });

describe('joint fit of ratings and picks (Bradley–Terry on the finetune model)', () => {
  it('with ratings only it is the finetune ridge fit', () => {
    const rng = createRng(3);
    const p = person(rng);
    const prior: FinetunePrior = { w: new Float64Array(D).map(() => rng.normal() * 0.3), bias: 5 };
    const ratings = ratingsOf(p, [0, 1, 2, 3, 4, 5, 6], rng);
    const joint = fitJoint(prior, ratings, [], { lambda: 0.7 });
    const ridge = fitFinetuneBatch(prior, ratings, 0.7).model;
    for (let j = 0; j < D; j++) expect(joint.model.w[j]).toBeCloseTo(ridge.w[j]!, 9);
    expect(joint.model.bias).toBeCloseTo(ridge.bias, 9);
  });

  it('picks alone order a person’s unseen images better than chance, and never move the offset', () => {
    const results: number[] = [];
    for (let seed = 1; seed <= 8; seed++) {
      const rng = createRng(seed);
      const p = person(rng);
      const { train, test } = split(p.pool.length);
      const fit = fitJoint(FLAT, NO_RATINGS, randomPicks(p, 10, train, rng), { lambda: 1, noiseVar: NOISE_SD ** 2 });
      expect(fit.model.bias).toBeCloseTo(5.5, 9);
      results.push(testSrocc(p, fit.model, test));
    }
    // Chance is 0 (a flat prior orders nothing); 10 picks of 4 should do far better.
    const mean = results.reduce((a, b) => a + b, 0) / results.length;
    expect(mean).toBeGreaterThan(0.5);
    expect(Math.min(...results)).toBeGreaterThan(0);
  });

  it('ratings plus picks order images at least as well as the same ratings alone', () => {
    const diffs: number[] = [];
    for (let seed = 11; seed <= 22; seed++) {
      const rng = createRng(seed);
      const p = person(rng);
      const { train, test } = split(p.pool.length);
      const ratings = ratingsOf(p, train.slice(0, 6), rng);
      const picks = randomPicks(p, 8, train, rng);
      const opts = { lambda: 1, noiseVar: NOISE_SD ** 2 };
      diffs.push(
        testSrocc(p, fitJoint(FLAT, ratings, picks, opts).model, test) - testSrocc(p, fitJoint(FLAT, ratings, [], opts).model, test),
      );
    }
    const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
    expect(mean).toBeGreaterThan(0);
  });
});

describe('active selection of the four images to pick from', () => {
  it('chooses four distinct images the person has not seen', () => {
    const rng = createRng(5);
    const p = person(rng, 40);
    const fit = fitJoint(FLAT, NO_RATINGS, randomPicks(p, 3, [0, 1, 2, 3, 4, 5], rng), { lambda: 1 });
    const seen = new Set([0, 1, 2, 3, 4, 5]);
    const set = choosePickSet(fit, p.pool, 4, seen);
    expect(new Set(set).size).toBe(4);
    for (const i of set) expect(seen.has(i)).toBe(false);
    expect(choosePickSet(fit, p.pool.slice(0, 8), 4, seen)).toEqual([6, 7]);
  });

  it('sequential active sets teach more than random sets over the same picks count', () => {
    const diffs: number[] = [];
    for (let seed = 31; seed <= 42; seed++) {
      const rng = createRng(seed);
      const p = person(rng);
      const { train, test } = split(p.pool.length);
      const candidates = train.map((i) => p.pool[i]!);
      const pairs: PairPreference[] = [];
      const seen = new Set<number>();
      const opts = { lambda: 1, noiseVar: NOISE_SD ** 2 };
      for (let k = 0; k < 6; k++) {
        const shown = choosePickSet(fitJoint(FLAT, NO_RATINGS, pairs, opts), candidates, 4, seen);
        shown.forEach((i) => seen.add(i));
        const won = judgePick(
          p,
          shown.map((i) => train[i]!),
          rng,
        );
        pairs.push(
          ...pickPairs(
            shown.map((i) => train[i]!),
            won,
          ).map(({ winner, loser }) => ({ winner: p.pool[winner]!, loser: p.pool[loser]! })),
        );
      }
      const active = testSrocc(p, fitJoint(FLAT, NO_RATINGS, pairs, opts).model, test);
      const random = testSrocc(p, fitJoint(FLAT, NO_RATINGS, randomPicks(p, 6, train, rng), opts).model, test);
      diffs.push(active - random);
    }
    const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
    console.log('active − random SROCC after 6 picks, per seed:', diffs.map((d) => d.toFixed(3)).join(' '), 'mean', mean.toFixed(3));
    expect(mean).toBeGreaterThan(0);
  });
});

describe('a pick set from a prior without a usable noise variance', () => {
  it('still holds four distinct images', async () => {
    const { choosePickSet } = await import('../src/core/scorer/pick-selection');
    const { fitJoint } = await import('../src/core/scorer/pairwise');
    const d = 4;
    const prior = { w: new Float64Array(d), bias: 5 };
    const fit = fitJoint(prior, { n: 0, dim: d, X: new Float32Array(0), y: new Float64Array(0) }, [], {
      noiseVar: Number.NaN,
      interactions: 0,
    });
    const candidates = Array.from({ length: 9 }, (_, i) => Float32Array.from({ length: d }, (_, j) => Math.sin(i + 3 * j)));
    const set = choosePickSet(fit, candidates);
    expect(set).toHaveLength(4);
    expect(new Set(set).size).toBe(4);
    for (const i of set) expect(i >= 0 && i < candidates.length).toBe(true);
  });
});

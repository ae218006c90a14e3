import { describe, expect, it } from 'vitest';
import { studentTCdf, studentTQuantile } from '../src/eval/student-t';
import { combineSeeds, comparePaired, describeDifferences, reorient, verdictOf } from '../src/eval/paired';
import { formatCheck, formatDifference } from '../src/eval/paired-report';

describe("Student's t distribution", () => {
  it('gives the tabulated critical values', () => {
    // Two-sided 95% critical values from printed t tables.
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.706, 3);
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.303, 3);
    expect(studentTQuantile(0.975, 9)).toBeCloseTo(2.262, 3);
    expect(studentTQuantile(0.975, 49)).toBeCloseTo(2.01, 3);
    expect(studentTQuantile(0.95, 4)).toBeCloseTo(2.132, 3);
    // Many degrees of freedom: the normal quantile.
    expect(studentTQuantile(0.975, 1e6)).toBeCloseTo(1.96, 3);
    expect(studentTQuantile(0.025, 9)).toBeCloseTo(-2.262, 3);
    expect(studentTQuantile(0.5, 7)).toBe(0);
  });

  it('has a CDF that is symmetric and inverts the quantile', () => {
    expect(studentTCdf(0, 5)).toBeCloseTo(0.5, 12);
    expect(studentTCdf(1.5, 3) + studentTCdf(-1.5, 3)).toBeCloseTo(1, 12);
    // df = 1 is the Cauchy distribution: P(T ≤ 1) = 3/4 exactly.
    expect(studentTCdf(1, 1)).toBeCloseTo(0.75, 10);
    for (const [p, df] of [
      [0.9, 3],
      [0.99, 20],
      [0.6, 100],
    ] as const)
      expect(studentTCdf(studentTQuantile(p, df), df)).toBeCloseTo(p, 9);
    expect(() => studentTQuantile(1, 5)).toThrow(/0 < p < 1/);
  });
});

describe('paired differences', () => {
  it('matches a hand computation: mean, sample s.e. and the t interval', () => {
    // 1..10: mean 5.5, sample sd √(82.5/9) = 3.0277, s.e. 0.95743, half-width 2.2622 × 0.95743 = 2.1659.
    const d = describeDifferences([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(d.n).toBe(10);
    expect(d.mean).toBe(5.5);
    expect(d.se).toBeCloseTo(0.95743, 5);
    expect(d.lo).toBeCloseTo(3.3341, 3);
    expect(d.hi).toBeCloseTo(7.6659, 3);
    expect(describeDifferences([2]).se).toBeNaN();
    expect(describeDifferences([]).n).toBe(0);
  });

  it('is MET only when the whole interval is on the claimed side of the margin', () => {
    expect(verdictOf({ lo: 0.01, hi: 0.3 }, 'greater')).toBe('MET');
    expect(verdictOf({ lo: -0.01, hi: 0.3 }, 'greater')).toBe('MISSED');
    expect(verdictOf({ lo: -0.2, hi: 0.02 }, 'less', 0.03)).toBe('MET');
    expect(verdictOf({ lo: -0.2, hi: 0.04 }, 'less', 0.03)).toBe('MISSED');
    expect(verdictOf({ lo: NaN, hi: NaN }, 'greater')).toBe('MISSED');
  });

  it('uses seeds as the units: each seed’s mean difference is one observation', () => {
    // Seed 1: differences 1, 3 (mean 2); seed 2: 0, 2 (mean 1); seed 3: 3, 3 (mean 3).
    const obs = [
      { seed: 1, a: 5, b: 4 },
      { seed: 1, a: 6, b: 3 },
      { seed: 2, a: 1, b: 1 },
      { seed: 2, a: 4, b: 2 },
      { seed: 3, a: 7, b: 4 },
      { seed: 3, a: 3, b: 0 },
      // A run one arm lost counts on its side only and is not paired.
      { seed: 3, a: null, b: 9 },
    ];
    const c = comparePaired(obs, { a: 'x', b: 'y', metric: 'gain' });
    expect(c.units).toBe('seeds');
    expect(c.n).toBe(3);
    expect(c.mean).toBe(2);
    // Seed means 2, 1, 3: sample sd 1, s.e. 1/√3; t(0.975, 2) = 4.3027.
    expect(c.se).toBeCloseTo(1 / Math.sqrt(3), 10);
    expect(c.lo).toBeCloseTo(2 - 4.3027 / Math.sqrt(3), 3);
    expect(c.verdict).toBe('MISSED');
    expect([c.n_a, c.n_b, c.pairs, c.seeds]).toEqual([6, 7, 6, 3]);
    expect(c.by_seed.map((s) => [s.seed, s.mean, s.n])).toEqual([
      [1, 2, 2],
      [2, 1, 2],
      [3, 3, 2],
    ]);
    expect(c.missed_seeds).toEqual([]);
    expect(formatDifference(c)).toBe('+2.00 ± 0.58 (95% CI −0.48 to +4.48; 3 seeds, 6 pairs)');
  });

  it('falls back to the runs of a single seed and says so', () => {
    const obs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((d) => ({ seed: 4, a: d, b: 0 }));
    const c = comparePaired(obs, { a: 'genetic', b: 'random', metric: 'max − init', unitName: 'runs' });
    expect(c.units).toBe('runs of seed 4');
    expect(c.n).toBe(10);
    expect(c.lo).toBeCloseTo(3.3341, 3);
    expect(c.verdict).toBe('MET');
    expect(formatCheck(c)).toBe(
      'max − init: genetic − random +5.50 ± 0.96 (95% CI +3.33 to +7.67; 10 runs of seed 4); claim genetic > random: MET',
    );
  });

  it('lists the seeds on the wrong side of the margin, even when the pooled claim holds', () => {
    const seeds = [0.05, 0.04, -0.01, 0.06, 0.05].map((mean, i) => ({ seed: i + 1, mean, se: 0.01, lo: NaN, hi: NaN, n: 40 }));
    const c = combineSeeds(seeds, { a: 'active', b: 'random', metric: 'SROCC @10' }, { n_a: 200, n_b: 200, pairs: 200 });
    expect(c.verdict).toBe('MET');
    expect(c.missed_seeds).toEqual([3]);
    expect(formatCheck(c, 3)).toMatch(/: MET; wrong side on 1\/5 seeds \(3\)$/);
    const within = combineSeeds(
      [0.01, 0.02, 0.0, 0.015].map((mean, i) => ({ seed: i + 1, mean, se: 0, lo: NaN, hi: NaN, n: 40 })),
      { a: 'best', b: 'auto', metric: 'SROCC @100', claim: 'less', margin: 0.03 },
      { n_a: 160, n_b: 160, pairs: 160 },
    );
    expect(within.verdict).toBe('MET');
    expect(formatCheck(within, 3)).toMatch(/claim best − auto < 0\.03: MET/);
  });

  it('turns a comparison around to claim the other arm is ahead', () => {
    const seeds = [-0.02, -0.03, 0.01].map((mean, i) => ({ seed: i + 1, mean, se: 0.01, lo: mean - 0.02, hi: mean + 0.02, n: 30 }));
    const c = combineSeeds(seeds, { a: 'maml', b: 'finetune', metric: 'SROCC @10' }, { n_a: 90, n_b: 88, pairs: 88 });
    const t = reorient(c);
    expect([t.a, t.b, t.n_a, t.n_b, t.claim]).toEqual(['finetune', 'maml', 88, 90, 'greater']);
    expect(t.mean).toBeCloseTo(-c.mean, 12);
    expect([t.lo, t.hi]).toEqual([-c.hi, -c.lo]);
    expect(t.se).toBe(c.se);
    expect(t.missed_seeds).toEqual([3]);
    expect(t.by_seed.map((s) => s.mean)).toEqual([0.02, 0.03, -0.01]);
    expect(() => reorient({ ...c, margin: 0.03 })).toThrow(/only a comparison against 0/);
  });
});

/**
 * Paired comparisons for the evaluations: two arms measured on the same units (the same runs, people and
 * seeds) are compared through their per-unit differences, which cancels what the units share (the start
 * prompt, the population, the person) and leaves the effect of the arm.
 *
 * Runs and people of one seed share that seed's population and community models, so they are not
 * independent of each other; seeds are. With two or more seeds the unit of the statistics is therefore
 * the seed: each seed's mean difference is one observation, the standard error is their spread over
 * √seeds, and the 95% interval uses Student's t with seeds − 1 degrees of freedom. With a single seed
 * there is nothing independent to spread over but its runs or people, and the result says so (`units`).
 *
 * A claim is MET only when the whole 95% interval lies on the claimed side of the margin (0 for "a beats
 * b"); a point estimate on the right side with an interval across it is MISSED. Seeds whose own mean
 * difference is on the wrong side are listed, so a pooled success never hides them.
 */
import { studentTQuantile } from './student-t';

/** What a comparison claims about the difference a − b: above the margin, or below it. */
export type Claim = 'greater' | 'less';

export interface DifferenceStats {
  /** Mean of the differences. */
  mean: number;
  /** Standard error of that mean (sample standard deviation / √n); NaN for fewer than 2 values. */
  se: number;
  /** 95% confidence interval, t with n − 1 degrees of freedom; NaN for fewer than 2 values. */
  lo: number;
  hi: number;
  /** Number of differences. */
  n: number;
}

/** One seed's mean difference (over its runs or people) with its own interval. */
export interface SeedDifference extends DifferenceStats {
  seed: number;
}

export interface PairedComparison extends DifferenceStats {
  a: string;
  b: string;
  metric: string;
  claim: Claim;
  margin: number;
  /** What `n` counts: seeds when there are two or more, else the runs or people of the one seed. */
  units: string;
  /** Finite values on each side and pairs with both (pairs behind the seed means when units are seeds). */
  n_a: number;
  n_b: number;
  pairs: number;
  seeds: number;
  verdict: 'MET' | 'MISSED';
  by_seed: SeedDifference[];
  /** Seeds whose own mean difference is not on the claimed side of the margin. */
  missed_seeds: number[];
}

/** One matched unit: its seed and its value under each arm (null or NaN when that arm has none). */
export interface PairedObservation {
  seed: number;
  a: number | null;
  b: number | null;
}

export interface CompareOptions {
  a: string;
  b: string;
  metric: string;
  claim?: Claim;
  margin?: number;
  /** What one observation is when the statistics fall back to a single seed ("runs", "people"). */
  unitName?: string;
}

const LEVEL = 0.95;
const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/** Mean, standard error and 95% t interval of a set of differences. */
export function describeDifferences(diffs: readonly number[]): DifferenceStats {
  const xs = diffs.filter(finite);
  const n = xs.length;
  if (n === 0) return { mean: NaN, se: NaN, lo: NaN, hi: NaN, n };
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  if (n < 2) return { mean, se: NaN, lo: NaN, hi: NaN, n };
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1);
  const se = Math.sqrt(variance / n);
  const half = studentTQuantile(1 - (1 - LEVEL) / 2, n - 1) * se;
  return { mean, se, lo: mean - half, hi: mean + half, n };
}

const onClaimedSide = (x: number, claim: Claim, margin: number) => (claim === 'greater' ? x > margin : x < margin);

/** MET when the whole interval is on the claimed side of the margin. */
export function verdictOf(s: Pick<DifferenceStats, 'lo' | 'hi'>, claim: Claim, margin = 0): 'MET' | 'MISSED' {
  const edge = claim === 'greater' ? s.lo : s.hi;
  return Number.isFinite(edge) && onClaimedSide(edge, claim, margin) ? 'MET' : 'MISSED';
}

/**
 * Combines per-seed mean differences: the seeds are the units (mean of seed means, their standard error,
 * t with seeds − 1 degrees of freedom). Used directly when each seed's figure comes from its own run.
 */
export function combineSeeds(
  bySeed: readonly SeedDifference[],
  opts: CompareOptions,
  counts: { n_a: number; n_b: number; pairs: number },
): PairedComparison {
  const claim = opts.claim ?? 'greater';
  const margin = opts.margin ?? 0;
  const single = bySeed.length === 1 ? bySeed[0]! : null;
  const stats: DifferenceStats = single ? pick(single) : describeDifferences(bySeed.map((s) => s.mean));
  return {
    a: opts.a,
    b: opts.b,
    metric: opts.metric,
    claim,
    margin,
    ...stats,
    units: single ? `${opts.unitName ?? 'units'} of seed ${single.seed}` : 'seeds',
    ...counts,
    seeds: bySeed.length,
    verdict: verdictOf(stats, claim, margin),
    by_seed: [...bySeed],
    missed_seeds: bySeed.filter((s) => !onClaimedSide(s.mean, claim, margin)).map((s) => s.seed),
  };
}

const pick = (s: DifferenceStats): DifferenceStats => ({ mean: s.mean, se: s.se, lo: s.lo, hi: s.hi, n: s.n });

/** The paired comparison of arm a against arm b over matched units grouped by seed. */
export function comparePaired(observations: readonly PairedObservation[], opts: CompareOptions): PairedComparison {
  const seeds = [...new Set(observations.map((o) => o.seed))];
  const bySeed: SeedDifference[] = seeds.map((seed) => {
    const diffs = observations.filter((o) => o.seed === seed && finite(o.a) && finite(o.b)).map((o) => o.a! - o.b!);
    return { seed, ...describeDifferences(diffs) };
  });
  const counts = {
    n_a: observations.filter((o) => finite(o.a)).length,
    n_b: observations.filter((o) => finite(o.b)).length,
    pairs: observations.filter((o) => finite(o.a) && finite(o.b)).length,
  };
  return combineSeeds(
    bySeed.filter((s) => s.n > 0),
    opts,
    counts,
  );
}

/**
 * The same comparison seen from the other arm, claiming that arm is ahead (b − a > 0): used to put the
 * better of two methods first once it is known which one that is. Only for comparisons with margin 0.
 */
export function reorient(c: PairedComparison): PairedComparison {
  if (c.margin !== 0) throw new Error(`only a comparison against 0 can be turned around (${c.a} − ${c.b} has margin ${c.margin})`);
  const flip = <T extends DifferenceStats>(s: T): T => ({ ...s, mean: -s.mean, lo: -s.hi, hi: -s.lo });
  const bySeed = c.by_seed.map(flip);
  const turned = { ...flip(c), a: c.b, b: c.a, n_a: c.n_b, n_b: c.n_a, claim: 'greater' as const };
  return {
    ...turned,
    verdict: verdictOf(turned, 'greater'),
    by_seed: bySeed,
    missed_seeds: bySeed.filter((s) => !(s.mean > 0)).map((s) => s.seed),
  };
}

/** The comparison with its numbers rounded for the JSON summary (4 decimals). */
export function roundComparison(c: PairedComparison): PairedComparison {
  const r = (x: number) => (Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : x);
  const rs = <T extends DifferenceStats>(s: T): T => ({ ...s, mean: r(s.mean), se: r(s.se), lo: r(s.lo), hi: r(s.hi) });
  return { ...rs(c), by_seed: c.by_seed.map(rs) };
}

/**
 * The paired comparisons eval:piaa reports. Within one seed every person is a matched unit: all methods
 * and both selection rules are scored on that person's same held-out test set, so per-person differences
 * remove how predictable the person is. Across seeds, each seed's mean difference is one unit (paired.ts).
 *
 *   - active − random selection at each rating count (claim: active ahead);
 *   - at each rating count, every pair of methods; reports turn each pair so the best method (highest
 *     mean SROCC: on that seed, or over all seeds) comes first, and show the best against every other
 *     (claim: the best is really ahead, not a tie) — computing all pairs per seed is what lets the
 *     across-seeds view pair the same two methods on every seed even where another method won a seed;
 *   - best − auto at 100 ratings (claim: auto within 0.03 of the best, i.e. the difference below 0.03);
 *   - best − 0.8 × the noise ceiling at 100 ratings, person by person (claim: at least 80% of the ceiling).
 */
import { combineSeeds, comparePaired, reorient, roundComparison, type CompareOptions, type PairedComparison } from '../paired';
import type { PiaaConfig } from './config';

export const BEST = 'best method';
export const AUTO_MARGIN = 0.03;
export const CEILING_SHARE = 0.8;

/** What the comparisons read of one person's results (protocol.ts PersonResult has this shape). */
interface PersonResult {
  shots: Record<number, Record<string, { srocc: number | null }>>;
  ceiling: number | null;
  active: Record<number, { active: number | null; random: number | null }>;
}

type Shots = Record<string, Record<string, { srocc: number }>>;

/** The method with the highest mean SROCC at a rating count (null when none ran). */
export function bestAt(shots: Shots, shot: number): string | null {
  const row = Object.entries(shots[String(shot)] ?? {});
  return row.length ? row.reduce((a, b) => (b[1].srocc > a[1].srocc ? b : a))[0] : null;
}

/** One seed's comparisons, people being the units. */
export function seedComparisons(results: readonly PersonResult[], cfg: PiaaConfig, shots: Shots): PairedComparison[] {
  const out: PairedComparison[] = [];
  const compare = (of: (r: PersonResult) => [number | null | undefined, number | null | undefined], opts: CompareOptions) => {
    const observations = results.map((r) => {
      const [a, b] = of(r);
      return { seed: cfg.seed, a: a ?? null, b: b ?? null };
    });
    out.push(roundComparison(comparePaired(observations, { unitName: 'people', ...opts })));
  };
  for (const c of cfg.activeCounts)
    if (results.some((r) => r.active[c]))
      compare((r) => [r.active[c]?.active, r.active[c]?.random], { a: 'active', b: 'random', metric: `SROCC @${c} ratings (selection)` });
  for (const shot of cfg.shots) {
    const ran = cfg.methods.filter((m) => shots[String(shot)]?.[m]);
    ran.forEach((x, i) =>
      ran
        .slice(i + 1)
        .forEach((y) => compare((r) => [r.shots[shot]?.[x]?.srocc, r.shots[shot]?.[y]?.srocc], { a: x, b: y, metric: `SROCC @${shot}` })),
    );
  }
  const best100 = bestAt(shots, 100);
  if (best100 && shots['100']?.auto)
    compare((r) => [r.shots[100]?.[best100]?.srocc, r.shots[100]?.auto?.srocc], {
      a: BEST,
      b: 'auto',
      metric: 'SROCC @100',
      claim: 'less',
      margin: AUTO_MARGIN,
    });
  if (best100 && results.some((r) => r.ceiling !== null))
    compare((r) => [r.shots[100]?.[best100]?.srocc, r.ceiling === null ? null : CEILING_SHARE * r.ceiling], {
      a: BEST,
      b: `${CEILING_SHARE} × ceiling`,
      metric: 'SROCC @100',
    });
  return out;
}

const keyOf = (c: PairedComparison) => `${c.a}|${c.b}|${c.metric}|${c.claim}|${c.margin}`;

/** The same comparisons over several seeds: each seed's mean difference is one unit. */
export function combineSeedComparisons(perSeed: readonly { seed: number; comparisons: readonly PairedComparison[] }[]): PairedComparison[] {
  const groups = new Map<string, { seed: number; c: PairedComparison }[]>();
  for (const s of perSeed) for (const c of s.comparisons) groups.set(keyOf(c), [...(groups.get(keyOf(c)) ?? []), { seed: s.seed, c }]);
  return [...groups.values()].map((g) => {
    const { a, b, metric, claim, margin } = g[0]!.c;
    const bySeed = g.map(({ seed, c }) => ({ seed, mean: c.mean, se: c.se, lo: c.lo, hi: c.hi, n: c.n }));
    const sum = (f: (c: PairedComparison) => number) => g.reduce((t, x) => t + f(x.c), 0);
    const counts = { n_a: sum((c) => c.n_a), n_b: sum((c) => c.n_b), pairs: sum((c) => c.pairs) };
    return roundComparison(combineSeeds(bySeed, { a, b, metric, claim, margin, unitName: 'people' }, counts));
  });
}

const METHOD_PAIR = /^SROCC @(\d+)$/;

/**
 * The comparisons as reports show them: each method pair at a rating count kept only when it involves
 * that count's best method, turned so the best comes first; every other comparison as it is.
 */
export function orientToBest(cs: readonly PairedComparison[], best: (shot: string) => string | null): PairedComparison[] {
  return cs.flatMap((c) => {
    const shot = c.a === BEST ? null : METHOD_PAIR.exec(c.metric)?.[1];
    if (!shot) return [c];
    const b = best(shot);
    return c.a === b ? [c] : c.b === b ? [reorient(c)] : [];
  });
}

/** The method with the highest SROCC at a rating count averaged over seeds (the across-seeds reference). */
export function pooledBest(shots: readonly Shots[], shot: string): string | null {
  const sums = new Map<string, { total: number; n: number }>();
  for (const s of shots)
    for (const [m, r] of Object.entries(s[shot] ?? {})) {
      const t = sums.get(m) ?? { total: 0, n: 0 };
      sums.set(m, { total: t.total + r.srocc, n: t.n + 1 });
    }
  const means = [...sums.entries()].map(([m, t]) => [m, t.total / t.n] as const);
  return means.length ? means.reduce((a, b) => (b[1] > a[1] ? b : a))[0] : null;
}

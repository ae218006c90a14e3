/**
 * The targets that say whether personal ratings pay off (set for population v2, reported on every
 * population): at 100 ratings the best personal method beats `global` — the community model, which uses
 * none of the person's ratings — by at least 0.10 SROCC, and `auto` comes within 0.02 of the best
 * method. Both are read from the paired comparisons eval:piaa already makes (every method pair, person by
 * person within a seed, seed means across seeds: comparisons.ts) and judged on their 95% interval:
 * MET only when the whole interval is past the margin.
 */
import { reorient, verdictOf, type Claim, type PairedComparison } from '../paired';
import { BEST } from './comparisons';

export const PERSONAL_OVER_GLOBAL = 0.1;
export const AUTO_WITHIN = 0.02;
const GLOBAL = 'global';
const AT_100 = 'SROCC @100';

type Shots = Record<string, Record<string, { srocc: number }>>;

/** The comparison judged against another margin (its interval and by-seed means are unchanged). */
function withMargin(c: PairedComparison, claim: Claim, margin: number): PairedComparison {
  const onSide = (x: number) => (claim === 'greater' ? x > margin : x < margin);
  return {
    ...c,
    claim,
    margin,
    verdict: verdictOf(c, claim, margin),
    missed_seeds: c.by_seed.filter((s) => !onSide(s.mean)).map((s) => s.seed),
  };
}

/** The personal method (any but `global`) with the highest mean SROCC at 100 ratings, averaged over the runs given. */
export function bestPersonal(shots: readonly Shots[]): string | null {
  const sums = new Map<string, number>();
  for (const s of shots) for (const [m, r] of Object.entries(s['100'] ?? {})) if (m !== GLOBAL) sums.set(m, (sums.get(m) ?? 0) + r.srocc);
  const ranked = [...sums.entries()].sort((a, b) => b[1] - a[1]);
  return ranked[0]?.[0] ?? null;
}

/**
 * The two targets from a set of comparisons (one seed's, or combined over seeds — then `shots` holds
 * every seed's table). The raw method pairs must be in the list as computed (not yet turned to the best).
 */
export function personalTargets(cs: readonly PairedComparison[], shots: readonly Shots[]): PairedComparison[] {
  const out: PairedComparison[] = [];
  const best = bestPersonal(shots);
  const pair = best
    ? cs.find((c) => c.metric === AT_100 && c.margin === 0 && [c.a, c.b].includes(best) && [c.a, c.b].includes(GLOBAL))
    : undefined;
  if (pair) out.push(withMargin(pair.a === best ? pair : reorient(pair), 'greater', PERSONAL_OVER_GLOBAL));
  const auto = cs.find((c) => c.a === BEST && c.b === 'auto' && c.metric === AT_100);
  if (auto) out.push(withMargin(auto, 'less', AUTO_WITHIN));
  return out;
}

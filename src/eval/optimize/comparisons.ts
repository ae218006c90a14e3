/**
 * The paired comparisons eval:optimize reports. Rows are compared run by run: in a table, run i of every
 * row had the same seed's population, the same objective, the same start prompt and the same loop seed
 * (hence the same initial image), so the difference of two rows on run i measures the rows alone.
 * Statistics and verdicts: paired.ts (seeds are the units when there are several).
 *
 *   - every optimizer against best-of-N (the start prompt re-rolled with the same image budget): the
 *     baseline each must beat, on the proxy gain (max − init) and on the hidden true taste;
 *   - every other optimizer against random (what its search buys over random prompts);
 *   - each LLM feedback ablation against the one with less feedback (none → s+p → s+p+f → s+p+f+I);
 *   - each ranking rule against ranking on the posterior mean (`genetic:ucb` vs `genetic`): what the
 *     exploration bonus buys, on the same runs.
 */
import { comparePaired, roundComparison, type PairedComparison } from '../paired';
import { BEST_OF_N } from './best-of-n';
import type { RunOutcome } from './summary';

const METRICS = [
  { name: 'max − init', of: (r: RunOutcome) => r.maxMinusInit },
  { name: 'true-taste gain', of: (r: RunOutcome) => r.trueGain },
] as const;

/** The (a, b) pairs compared for these rows: a is claimed to beat b. */
export function comparisonPairs(rows: readonly string[]): [string, string][] {
  const has = (r: string) => rows.includes(r);
  const optimizers = rows.filter((r) => r !== BEST_OF_N);
  const pairs: [string, string][] = [];
  // Ranking-rule variants are compared with their base row only (below), not again with every baseline.
  const variants = (r: string) => r.startsWith('genetic:');
  if (has(BEST_OF_N)) for (const r of optimizers) if (!variants(r)) pairs.push([r, BEST_OF_N]);
  if (has('random')) for (const r of optimizers) if (r !== 'random' && !variants(r)) pairs.push([r, 'random']);
  const llm = rows.filter((r) => r.startsWith('llm:'));
  for (let i = 1; i < llm.length; i++) pairs.push([llm[i]!, llm[i - 1]!]);
  for (const r of rows) {
    const base = r.split(':')[0]!;
    if (base === 'genetic' && r !== base && has(base)) pairs.push([r, base]);
  }
  return pairs;
}

export function compareRows(outcomes: Record<string, RunOutcome[]>): PairedComparison[] {
  const out: PairedComparison[] = [];
  for (const [a, b] of comparisonPairs(Object.keys(outcomes))) {
    const ra = outcomes[a]!;
    const rb = outcomes[b]!;
    if (ra.length !== rb.length || ra.some((r, i) => r.seed !== rb[i]!.seed))
      throw new Error(`rows ${a} and ${b} do not have the same runs: they cannot be paired`);
    for (const m of METRICS) {
      const observations = ra.map((r, i) => ({ seed: r.seed, a: m.of(r), b: m.of(rb[i]!) }));
      out.push(roundComparison(comparePaired(observations, { a, b, metric: m.name, unitName: 'runs' })));
    }
  }
  return out;
}

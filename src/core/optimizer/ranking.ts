/**
 * How a run ranks its candidates: on what the scorer believes, never on the shown (1–10) score.
 *
 *   mean      — the uncapped posterior mean: exploit what the scorer believes now.
 *   ucb       — mean + β·sd, sd the posterior standard deviation of the mean (the model's uncertainty,
 *               not the rating noise): prompts whose images the scorer knows little about get a chance.
 *   thompson  — mean + sd·ε, one standard normal draw per candidate (seeded by run, iteration and
 *               candidate, so a resumed run draws the same): exploration in proportion to the doubt.
 *               Draws are per candidate (the marginals), not one joint draw of the whole model.
 *
 * The rule only decides which prompts the optimizer builds on; the run's best image is always the one
 * with the highest posterior mean (an optimistic bonus must not crown an image), see run-metrics.ts.
 */
import { createRng } from '../random';
import { mixSeed } from './rng';

export const RANKING_RULES = ['mean', 'ucb', 'thompson'] as const;
export type RankingRule = (typeof RANKING_RULES)[number];

/**
 * The rule a run uses when it names none. eval:optimize compares ucb against mean on the hidden true
 * taste (paired over seeds); mean stays the default until that interval says otherwise.
 */
export const DEFAULT_RANKING: RankingRule = 'mean';

/** Standard deviations of optimism UCB adds. */
export const UCB_BETA = 1;

/** What the optimizer ranks a candidate on under `rule`, given the scorer's posterior mean and sd. */
export function rankingValue(rule: RankingRule, mean: number, sd: number, draw: () => number): number {
  const s = Number.isFinite(sd) && sd > 0 ? sd : 0;
  if (rule === 'ucb') return mean + UCB_BETA * s;
  if (rule === 'thompson') return mean + s * draw();
  return mean;
}

/** The standard normal draw of one candidate: seeded by (run seed, iteration, candidate). */
export function thompsonDraw(seed: number, iteration: number, idx: number): () => number {
  const rng = createRng(mixSeed(seed, iteration, idx, 'thompson'));
  return () => rng.normal();
}

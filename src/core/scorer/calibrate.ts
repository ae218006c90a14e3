/**
 * How far a person's first ratings should pull their model away from the community prior, learned
 * from the community itself (empirical Bayes across people).
 *
 * Finetune's regularization λ balances the prior against the person's evidence. Picking it from the
 * person's own ratings (leave-one-out) is what a single person can do, but with 10–50 ratings that
 * estimate is mostly noise, and it is worse on an actively chosen (unrepresentative) sample. The
 * community has already answered the question "with n ratings, which λ predicted a person's other
 * ratings best?" many times over — so ask it. Cross-fitted: the prior is trained on one half of the
 * community and λ scored on the other half's own ratings (then the halves swap), so no one is scored
 * against a prior that already saw their ratings.
 *
 * Measured on eval:piaa (fresh-image protocol, quick, 100 people): finetune at 10 / 20 / 50 ratings
 * +0.016 / +0.021 / +0.007 SROCC on seed 1 and +0.013 / +0.023 / +0.013 on seed 2 over per-person LOO
 * (paired s.e. 0.003–0.006).
 */
import type { PackedRatings } from './data';
import { subsetRatings } from './data';
import { fitFinetuneBatch, predictLinear, DEFAULT_LAMBDA_GRID, DEFAULT_OFFSET_SCALE } from './finetune';
import { trainGlobal } from './global';
import { srocc } from './quality-metrics';
import type { LambdaSchedule } from './lambda-schedule';

export { scheduledLambda, type LambdaSchedule } from './lambda-schedule';

/** Rating counts the schedule is calibrated at (those the community has enough people for). */
export const SCHEDULE_COUNTS: readonly number[] = [5, 10, 15, 20, 30, 40, 50, 70, 100, 150, 200];
/** A count is calibrated only if at least this many members have that many ratings plus MIN_HELD_OUT. */
const MIN_MEMBERS = 6;
/** Ratings a member needs beyond n to score the fit on. */
const MIN_HELD_OUT = 10;

export interface CalibrateOptions {
  lambdaGrid?: readonly number[];
  offsetScale?: number;
  counts?: readonly number[];
}

/**
 * Each member's ratings are used in the order given (the ledger's order for the product — the first
 * n a person gave — and a random order in the evaluation): the first n train, the rest score.
 */
export function calibrateLambdaSchedule(users: readonly PackedRatings[], opts: CalibrateOptions = {}): LambdaSchedule {
  const grid = opts.lambdaGrid ?? DEFAULT_LAMBDA_GRID;
  const counts = opts.counts ?? SCHEDULE_COUNTS;
  const s = opts.offsetScale ?? DEFAULT_OFFSET_SCALE;
  const people = users.filter((u) => u.n > 0);
  const halves = [people.filter((_, i) => i % 2 === 0), people.filter((_, i) => i % 2 === 1)];
  const sums = counts.map(() => new Float64Array(grid.length));
  const members = counts.map(() => 0);
  for (const h of [0, 1]) {
    const fitOn = halves[h] as PackedRatings[];
    const scoreOn = halves[1 - h] as PackedRatings[];
    if (fitOn.length < 2 || scoreOn.length === 0) continue;
    const prior = trainGlobal(fitOn, { lambdaBy: 'image' });
    counts.forEach((n, ci) => {
      for (const u of scoreOn) {
        if (u.n < n + MIN_HELD_OUT) continue;
        const train = subsetRatings(
          u,
          Array.from({ length: n }, (_, i) => i),
        );
        const test = subsetRatings(
          u,
          Array.from({ length: u.n - n }, (_, i) => n + i),
        );
        const scores = grid.map((lambda) => {
          const m = fitFinetuneBatch(prior, train, lambda, { offsetScale: s }).model;
          const pred = Float64Array.from({ length: test.n }, (_, i) => predictLinear(m, test.X, i * test.dim));
          return srocc(pred, test.y);
        });
        if (scores.some((v) => v === null)) continue; // a member who rated everything the same says nothing
        scores.forEach((v, gi) => (sums[ci]![gi] = (sums[ci]![gi] as number) + (v as number)));
        members[ci] = (members[ci] as number) + 1;
      }
    });
  }
  const points: { n: number; lambda: number; members: number; srocc: number }[] = [];
  counts.forEach((n, ci) => {
    if ((members[ci] as number) < MIN_MEMBERS) return;
    const row = sums[ci] as Float64Array;
    let best = 0;
    for (let g = 1; g < grid.length; g++) if ((row[g] as number) > (row[best] as number)) best = g;
    const m = members[ci] as number;
    points.push({ n, lambda: grid[best] as number, members: m, srocc: (row[best] as number) / m });
  });
  return { points };
}

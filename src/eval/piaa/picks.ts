/**
 * The "picks" arm of eval:piaa: how well a person's scorer knows their hidden taste per *interaction*,
 * k picks (one of four, /rate mode:pick) against k ratings, on the same person and the same fresh test
 * images. Scored by SROCC against the hidden noise-free taste (not the noisy ratings), so both arms are
 * judged by the same truth.
 *  - ratings arm: the person's first k training ratings in the protocol's random order, fitted by
 *    finetune (the product's ratings-only scorer, λ by the community schedule / leave-one-out);
 *  - picks arm: k sequential picks; each set of four is chosen by the product's active selection
 *    (src/core/scorer/pick-selection.ts) from the person's training images not shown yet, the pick is the
 *    hidden judge's noisy choice — argmax of hidden taste + Gumbel noise whose SD is the person's own
 *    rating noise (what their ratings deviate from their taste by) — and the scorer is the joint fit
 *    (pairwise.ts) on the community prior. The model never sees the hidden taste or the judge's noise:
 *    it assumes the community's residual variance.
 * Paired per person (then per seed across seeds): picks − ratings at every k, and the target — 10 picks
 * reach the SROCC of 10 ratings (claim: the difference above 0; MET only when the whole 95% interval is).
 */
import type { Rng } from '../../core/random';
import type { PackedRatings } from '../../core/scorer/data';
import { predictLinear } from '../../core/scorer/finetune';
import { fitJoint, pickTemperature, type PairPreference } from '../../core/scorer/pairwise';
import { choosePickSet, pickPairs, PICK_SET_SIZE } from '../../core/scorer/pick-selection';
import { srocc } from '../../core/scorer/quality-metrics';
import { comparePaired, roundComparison, type PairedComparison } from '../paired';
import type { PiaaData, RaterData } from './data';
import { finetuneMethod, priorOf, type Community } from './methods';

/** Interaction counts the arm is measured at. */
export const PICK_COUNTS: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20];
/** The target: this many picks against this many ratings. */
export const PICKS_TARGET = 10;

/** One person's SROCC against their hidden taste, per interaction count, for each arm. */
export interface PicksResult {
  ratings: Record<number, number | null>;
  picks: Record<number, number | null>;
}

/** What the arm needs of the protocol's per-person setup. */
interface PicksSetup {
  data: PiaaData;
  rater: RaterData;
  community: Community;
  /** The person's training positions in the protocol's random order, and their fresh test positions. */
  trainSeq: readonly number[];
  testPos: readonly number[];
  counts: readonly number[];
  /** Candidate pool size for the sets of four (the protocol's activeCandidates). */
  candidates: number;
  pack: (positions: readonly number[]) => PackedRatings;
}

const gumbel = (rng: Rng) => -Math.log(-Math.log(Math.min(Math.max(rng.next(), 1e-300), 1 - 1e-16)));

/** The judge's rating noise: root mean square of (observed rating − hidden taste) over the person's images. */
function judgeNoiseSd(rater: RaterData): number {
  const h = rater.hidden!;
  let ss = 0;
  for (let i = 0; i < h.length; i++) ss += ((rater.ratings[i] as number) - (h[i] as number)) ** 2;
  return Math.sqrt(ss / Math.max(h.length, 1));
}

/** The picks arm for one synthetic person; null without a hidden taste (real data has no judge). */
export function picksArm(s: PicksSetup, rng: Rng): PicksResult | null {
  const hidden = s.rater.hidden;
  const counts = s.counts.filter((k) => k * PICK_SET_SIZE <= s.trainSeq.length);
  if (!hidden || counts.length === 0) return null;
  const test = s.pack(s.testPos);
  const truth = Float64Array.from(s.testPos, (p) => hidden[p] as number);
  const scoreOf = (pred: Float64Array) => srocc(pred, truth);
  const out: PicksResult = { ratings: {}, picks: {} };
  for (const k of counts) out.ratings[k] = scoreOf(finetuneMethod.fit(s.pack(s.trainSeq.slice(0, k)), s.community)(test.X, test.n));

  const d = s.data.dim;
  const candPos = s.trainSeq.slice(0, Math.max(s.candidates, PICK_SET_SIZE * Math.max(...counts)));
  const vectors = candPos.map((p) => s.data.X.subarray((s.rater.items[p] as number) * d, ((s.rater.items[p] as number) + 1) * d));
  const prior = priorOf(s.community.global);
  const noiseVar = s.community.global.residualVar;
  const empty: PackedRatings = { n: 0, dim: d, X: new Float32Array(0), y: new Float64Array(0) };
  const judgeScale = pickTemperature(judgeNoiseSd(s.rater) ** 2);
  const pairs: PairPreference[] = [];
  const shownBefore = new Set<number>();
  for (let k = 1; k <= Math.max(...counts); k++) {
    const fit = fitJoint(prior, empty, pairs, { noiseVar, interactions: k - 1 });
    const shown = choosePickSet(fit, vectors, PICK_SET_SIZE, shownBefore);
    shown.forEach((i) => shownBefore.add(i));
    const won = shown.reduce(
      (best, i) => {
        const v = (hidden[candPos[i] as number] as number) + judgeScale * gumbel(rng);
        return v > best.v ? { i, v } : best;
      },
      { i: -1, v: -Infinity },
    ).i;
    pairs.push(...pickPairs(shown, won).map(({ winner, loser }) => ({ winner: vectors[winner]!, loser: vectors[loser]! })));
    if (counts.includes(k)) {
      const model = fitJoint(prior, empty, pairs, { noiseVar, interactions: k }).model;
      out.picks[k] = scoreOf(Float64Array.from({ length: test.n }, (_, i) => predictLinear(model, test.X, i * d)));
    }
  }
  return out;
}

/** Mean SROCC of each arm per count over the people who have it. */
export function summarizePicks(
  results: readonly (PicksResult | null | undefined)[],
): Record<string, { picks: number; ratings: number; n: number }> {
  const out: Record<string, { picks: number; ratings: number; n: number }> = {};
  const rs = results.filter((r): r is PicksResult => Boolean(r));
  for (const k of PICK_COUNTS) {
    const both = rs.filter((r) => typeof r.picks[k] === 'number' && typeof r.ratings[k] === 'number');
    if (!both.length) continue;
    const mean = (f: (r: PicksResult) => number) => Math.round((both.reduce((t, r) => t + f(r), 0) / both.length) * 1e4) / 1e4;
    out[String(k)] = { picks: mean((r) => r.picks[k] as number), ratings: mean((r) => r.ratings[k] as number), n: both.length };
  }
  return out;
}

/** Paired per-person comparisons: picks − ratings at every count, and 10 picks − 10 ratings as the target. */
export function picksComparisons(results: readonly (PicksResult | null | undefined)[], seed: number): PairedComparison[] {
  const rs = results.filter((r): r is PicksResult => Boolean(r));
  if (!rs.length) return [];
  return PICK_COUNTS.filter((k) => rs.some((r) => r.picks[k] !== undefined)).map((k) =>
    roundComparison(
      comparePaired(
        rs.map((r) => ({ seed, a: r.picks[k] ?? null, b: r.ratings[k] ?? null })),
        {
          a: `${k} picks`,
          b: `${k} ratings`,
          metric: k === PICKS_TARGET ? 'SROCC vs hidden taste (target: picks reach ratings)' : 'SROCC vs hidden taste',
          unitName: 'people',
        },
      ),
    ),
  );
}

/**
 * Is the quality figure /profile shows honest, and is the confidence meter calibrated? (--calibration)
 *
 * For each test person and ratings count n, from the same n training ratings as the scorer table:
 *  - reported: finetune's cross-validated SROCC as the product computes it (honest, quality-cv.ts), its
 *    95% interval, and the plain leave-one-out SROCC it replaced;
 *  - meter: the confidence meter's posterior-predicted SROCC (confidence.ts, on the fold's community curve);
 *  - true: the same fitted model's SROCC on the person's fresh test images, against their observed
 *    ratings (what cross-validation estimates) and against their hidden noise-free taste.
 * Per n: the bias (mean of reported − true, paired per person, ± s.e.) and spread (s.d. of the
 * differences), the interval's coverage of the true value, and how often /profile would say "not enough
 * ratings to tell". The judge (hidden taste, test ratings) is never seen by the estimate.
 */
import { autoSelect } from '../../core/scorer/auto';
import { communityCurve, confidenceMeter } from '../../core/scorer/confidence';
import type { PackedRatings } from '../../core/scorer/data';
import { fitFinetuneBatch, predictLinear } from '../../core/scorer/finetune';
import { srocc } from '../../core/scorer/quality-metrics';
import { meanStd, round4 } from '../cli';
import type { Community } from './methods';

export interface CalibrationPoint {
  honest: number | null;
  low: number | null;
  high: number | null;
  loo: number | null;
  meter: number;
  trueObserved: number | null;
  trueHidden: number | null;
}

/** One person at one ratings count: the figures the product would show, and the truth on fresh images. */
export function calibrationPoint(
  train: PackedRatings,
  test: PackedRatings,
  hidden: Float64Array | null,
  community: Community,
): CalibrationPoint {
  const res = autoSelect(train, { global: community.global, methods: ['finetune'], personInPrior: false });
  const ev = res.evaluations.find((e) => e.method === 'finetune');
  const q = ev?.quality ?? { n: train.n, srocc: null, mse: null, mae: null };
  const lambda = res.finetune?.lambda ?? 1;
  const model = fitFinetuneBatch(community.global, train, lambda).model;
  const pred = Float64Array.from({ length: test.n }, (_, i) => predictLinear(model, test.X, i * test.dim));
  return {
    honest: q.srocc,
    low: q.sroccLow ?? null,
    high: q.sroccHigh ?? null,
    loo: ev ? srocc(ev.cvPred, train.y) : null,
    meter: confidenceMeter(q, communityCurve(community.global.lambdaSchedule)).predicted,
    trueObserved: srocc(pred, test.y),
    trueHidden: hidden ? srocc(pred, hidden) : null,
  };
}

export interface CalibrationRow {
  people: number;
  true_observed: number;
  true_hidden: number | null;
  /** reported (honest CV) − true on observed test ratings, paired per person (a missing figure counts as 0, as /profile shows no claim). */
  honest_bias: number;
  honest_bias_se: number;
  honest_spread: number;
  loo_bias: number;
  loo_bias_se: number;
  loo_spread: number;
  /** Share of people whose 95% interval contains their true SROCC. */
  coverage: number;
  /** Share for whom /profile says "not enough ratings to tell" (no figure, or an interval across zero). */
  cannot_tell: number;
  meter_mean: number;
  meter_bias: number;
  meter_bias_se: number;
  meter_spread: number;
  /** Correlation across people between the meter and the true SROCC. */
  meter_corr: number | null;
}

function biasOf(xs: number[], truth: number[]): { bias: number; se: number; spread: number } {
  const d = meanStd(xs.map((x, i) => x - (truth[i] as number)));
  return { bias: round4(d.mean), se: round4(d.std / Math.sqrt(Math.max(d.n, 1))), spread: round4(d.std) };
}

export function summarizeCalibration(perPerson: readonly (Record<number, CalibrationPoint> | undefined)[]): Record<string, CalibrationRow> {
  const out: Record<string, CalibrationRow> = {};
  const shots = [...new Set(perPerson.flatMap((r) => Object.keys(r ?? {}).map(Number)))].sort((a, b) => a - b);
  for (const s of shots) {
    const pts = perPerson.map((r) => r?.[s]).filter((p): p is CalibrationPoint => p !== undefined && p.trueObserved !== null);
    if (pts.length < 2) continue;
    const truth = pts.map((p) => p.trueObserved as number);
    const honest = biasOf(
      pts.map((p) => p.honest ?? 0),
      truth,
    );
    const loo = biasOf(
      pts.map((p) => p.loo ?? 0),
      truth,
    );
    const meter = biasOf(
      pts.map((p) => p.meter),
      truth,
    );
    const hidden = meanStd(pts.map((p) => p.trueHidden));
    const covered = pts.filter(
      (p) => p.low !== null && p.high !== null && p.low <= (p.trueObserved as number) && (p.trueObserved as number) <= p.high,
    );
    const withInterval = pts.filter((p) => p.low !== null && p.high !== null).length;
    out[String(s)] = {
      people: pts.length,
      true_observed: round4(meanStd(truth).mean),
      true_hidden: hidden.n ? round4(hidden.mean) : null,
      honest_bias: honest.bias,
      honest_bias_se: honest.se,
      honest_spread: honest.spread,
      loo_bias: loo.bias,
      loo_bias_se: loo.se,
      loo_spread: loo.spread,
      coverage: round4(withInterval ? covered.length / withInterval : 0),
      cannot_tell: round4(
        pts.filter((p) => p.honest === null || p.low === null || (p.low <= 0 && (p.high as number) >= 0)).length / pts.length,
      ),
      meter_mean: round4(meanStd(pts.map((p) => p.meter)).mean),
      meter_bias: meter.bias,
      meter_bias_se: meter.se,
      meter_spread: meter.spread,
      meter_corr: srocc(
        pts.map((p) => p.meter),
        truth,
      ),
    };
  }
  return out;
}

/** The markdown section of eval:piaa's report. */
export function calibrationReport(rows: Record<string, CalibrationRow>): string[] {
  const sgn = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;
  return [
    '',
    'Quality figure and confidence meter vs the truth (finetune; true = SROCC of the fitted model on the person’s fresh test images, against their observed ratings; bias = reported − true, paired per person ± s.e.; spread = s.d. of the differences):',
    '',
    '| ratings | true (observed) | true (hidden taste) | honest CV bias | spread | plain LOO bias | spread | 95% interval coverage | "not enough to tell" | meter | meter bias | spread | meter vs true (SROCC across people) | people |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...Object.entries(rows).map(
      ([n, r]) =>
        `| ${n} | ${r.true_observed.toFixed(3)} | ${r.true_hidden === null ? 'n/a' : r.true_hidden.toFixed(3)} | ${sgn(r.honest_bias)} ± ${r.honest_bias_se.toFixed(3)} | ${r.honest_spread.toFixed(3)} | ${sgn(r.loo_bias)} ± ${r.loo_bias_se.toFixed(3)} | ${r.loo_spread.toFixed(3)} | ${(r.coverage * 100).toFixed(0)}% | ${(r.cannot_tell * 100).toFixed(0)}% | ${r.meter_mean.toFixed(3)} | ${sgn(r.meter_bias)} ± ${r.meter_bias_se.toFixed(3)} | ${r.meter_spread.toFixed(3)} | ${r.meter_corr === null ? 'n/a' : r.meter_corr.toFixed(2)} | ${r.people} |`,
    ),
  ];
}

/**
 * The confidence meter: how well the bot knows a person's taste, as the SROCC their scorer is expected
 * to reach on images they have not rated — shown as a bar after ratings and in /profile, instead of an
 * unlock count.
 *
 * Two sources, combined in Fisher-z space (a normal–normal posterior):
 *  - the community's learning curve ρ(n) = ceiling · n / (n + halfN): what people with n ratings reached
 *    (fitted on the community's calibration points when it has them, see calibrate.ts; else the
 *    default measured by eval:piaa), with a spread CURVE_SPREAD_Z between people;
 *  - the person's own honest cross-validated SROCC (quality-cv.ts), with its sampling variance.
 * With few ratings the curve dominates (ten ratings say little); with many, the person's own figure.
 * "About N more ratings to reach 0.6" follows the curve's shape scaled to where the person stands.
 * eval:piaa reports the meter's predicted value against the SROCC measured on fresh images.
 */
import type { ScorerQuality } from '../records';
import type { LambdaSchedule } from './lambda-schedule';

export interface LearningCurve {
  /** SROCC the curve approaches with many ratings. */
  readonly ceiling: number;
  /** Ratings at which half of the ceiling is reached. */
  readonly halfN: number;
}

/**
 * Until the community has calibrated its own curve: finetune on eval:piaa's default synthetic
 * population (v2, features-v4, quick protocol, seed 1, fresh test images), SROCC 0.327 / 0.419 / 0.462
 * at 10 / 50 / 100 ratings, fitted by fitLearningCurve (0.325 / 0.432 / 0.451). Its ceiling is below
 * 0.6: on that population ratings alone rarely get a person there, and the meter says so.
 */
export const DEFAULT_LEARNING_CURVE: LearningCurve = { ceiling: 0.47, halfN: 4.5 };

/** Between-person spread of the reachable SROCC around the curve, in Fisher z (eval:piaa: ±0.1–0.2 SROCC). */
export const CURVE_SPREAD_Z = 0.3;
/** The level the meter's "N more ratings" counts towards. */
export const METER_TARGET = 0.6;
/** Below this the meter counts as low: /optimize suggests /rate first. */
export const METER_LOW = 0.4;
/** Further than this many ratings away the target is called out of reach of ratings alone. */
const MAX_RATINGS_AHEAD = 1000;

export function curveAt(curve: LearningCurve, n: number): number {
  return n <= 0 ? 0 : (curve.ceiling * n) / (n + curve.halfN);
}

/** Least-squares fit of the curve to (ratings, SROCC) points: halfN on a log grid, the ceiling in closed form. */
export function fitLearningCurve(points: readonly { n: number; srocc: number }[]): LearningCurve | null {
  const pts = points.filter((p) => p.n > 0 && Number.isFinite(p.srocc));
  if (pts.length < 2) return null;
  let best: LearningCurve | null = null;
  let bestErr = Infinity;
  for (let h = 0.5; h <= 500; h *= 1.1) {
    const f = pts.map((p) => p.n / (p.n + h));
    const ceiling = pts.reduce((s, p, i) => s + p.srocc * (f[i] as number), 0) / f.reduce((s, v) => s + v * v, 0);
    const err = pts.reduce((s, p, i) => s + (p.srocc - ceiling * (f[i] as number)) ** 2, 0);
    if (err < bestErr && ceiling > 0 && ceiling < 1) {
      bestErr = err;
      best = { ceiling, halfN: h };
    }
  }
  return best;
}

/** The community's learning curve from its λ calibration points (calibrate.ts), or the default without them. */
export function communityCurve(schedule: LambdaSchedule | undefined): LearningCurve {
  const pts = (schedule?.points ?? []).flatMap((p) => (p.srocc === undefined ? [] : [{ n: p.n, srocc: p.srocc }]));
  return (pts.length >= 3 ? fitLearningCurve(pts) : null) ?? DEFAULT_LEARNING_CURVE;
}

export interface ConfidenceReading {
  ratings: number;
  /** Posterior-predicted SROCC of the person's scorer on images they have not rated. */
  predicted: number;
  target: number;
  /** More ratings expected to reach `target`: 0 when there, null when ratings alone are not expected to get there. */
  toTarget: number | null;
}

const clampR = (r: number) => Math.max(-0.999, Math.min(0.999, r));

export function confidenceMeter(q: ScorerQuality, curve: LearningCurve = DEFAULT_LEARNING_CURVE, target = METER_TARGET): ConfidenceReading {
  const n = q.n;
  const expected = curveAt(curve, n);
  let z = Math.atanh(clampR(expected));
  if (q.srocc !== null && n >= 4) {
    const v = (1 + (q.srocc * q.srocc) / 2) / (n - 3);
    const prec = 1 / CURVE_SPREAD_Z ** 2;
    z = (z * prec + Math.atanh(clampR(q.srocc)) / v) / (prec + 1 / v);
  }
  const predicted = n > 0 ? Math.tanh(z) : 0;
  return { ratings: n, predicted, target, toTarget: ratingsToTarget(predicted, n, curve, target) };
}

/** The person's curve is the community's scaled to pass through where they stand now. */
function ratingsToTarget(predicted: number, n: number, curve: LearningCurve, target: number): number | null {
  if (predicted >= target) return 0;
  const ceiling = n > 0 && predicted > 0 ? Math.min(0.95, predicted / (n / (n + curve.halfN))) : curve.ceiling;
  if (ceiling <= target) return null;
  const needed = Math.ceil((target * curve.halfN) / (ceiling - target) - n);
  return needed > MAX_RATINGS_AHEAD ? null : Math.max(1, needed);
}

/** A text bar: `▰▰▰▰▱▱▱▱▱▱ 0.42`. */
export function meterBar(value: number, width = 10): string {
  const filled = Math.max(0, Math.min(width, Math.round(Math.max(0, value) * width)));
  return `${'▰'.repeat(filled)}${'▱'.repeat(width - filled)} ${value.toFixed(2)}`;
}

/** The meter in one line, e.g. "How well I know your taste: ▰▰▰▰▱▱▱▱▱▱ 0.42 — about 30 more ratings to reach 0.6." */
export function meterLine(r: ConfidenceReading, whose = 'your'): string {
  const bar = `How well I know ${whose} taste: ${meterBar(r.predicted)}`;
  if (r.toTarget === 0) return `${bar} — past ${r.target.toFixed(1)}.`;
  if (r.toTarget === null) return `${bar} — more ratings help only slowly from here.`;
  return `${bar} — about ${r.toTarget} more rating${r.toTarget === 1 ? '' : 's'} to reach ${r.target.toFixed(1)}.`;
}

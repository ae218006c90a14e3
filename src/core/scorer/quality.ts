/**
 * A person's scorer quality, the method's metrics on cross-validated predictions (each rating
 * predicted by a model that did not see it). Recomputed after every change while n ≤ 200 (cheap
 * enough), then only after the data moved by 10% — between those points the cached figure stands.
 */
import type { ScorerQuality } from '../records';
import { mae, mse, srocc } from './quality-metrics';

export const QUALITY_EXACT_MAX_N = 200;

export function qualityFromPredictions(truth: ArrayLike<number>, pred: ArrayLike<number>): ScorerQuality {
  return {
    n: truth.length,
    srocc: truth.length >= 3 ? srocc(pred, truth) : null,
    mse: mse(pred, truth),
    mae: mae(pred, truth),
  };
}

/** Whether a cached evaluation made at n = nAtEval should be recomputed now. */
export function qualityIsStale(nNow: number, nAtEval: number, changedSinceEval: boolean): boolean {
  if (!changedSinceEval) return false;
  if (nNow <= QUALITY_EXACT_MAX_N) return true;
  return nNow >= nAtEval * 1.1 || nNow <= nAtEval * 0.9;
}

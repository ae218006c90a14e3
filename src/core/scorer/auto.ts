/**
 * `auto`: per person, the method (or blend) whose cross-validated predictions rank that person's
 * ratings best (SROCC, ties broken by MSE). Under 5 ratings there is nothing to validate against:
 * the community prior (`global`) is used.
 */
import type { PackedRatings } from './data';
import { globalLooPredictions, type GlobalModel } from './global';
import { selectLambda, type FinetuneOptions, type LambdaSelection } from './finetune';
import { selectK, type KnnSelection } from './knn';
import { mamlCvPredictions, type MetaParams } from './maml';
import { qualityFromPredictions } from './quality';
import type { ScorerQuality } from '../ports';

export type MethodName = 'global' | 'finetune' | 'knn' | 'maml' | 'blend';
export type ScorerMethod = MethodName | 'auto';
export const METHODS: readonly MethodName[] = ['global', 'finetune', 'knn', 'maml', 'blend'];
export const AUTO_MIN_RATINGS = 5;

export interface MethodEvaluation {
  method: MethodName;
  /** Cross-validated prediction per evaluated row. */
  cvPred: Float64Array;
  /** Rows of the person's data the predictions are for. */
  rows: Int32Array;
  quality: ScorerQuality;
}

export interface AutoResult {
  method: MethodName;
  evaluations: MethodEvaluation[];
  /** By-products the caller can adopt without recomputing. */
  finetune: LambdaSelection | null;
  knn: KnnSelection | null;
}

/** Picks the best evaluation: highest SROCC (null counts as worst), then lowest MSE, then list order. */
export function pickBest(evals: readonly MethodEvaluation[]): MethodEvaluation {
  let best = evals[0];
  if (!best) throw new RangeError('pickBest needs at least one evaluation');
  const key = (e: MethodEvaluation) => e.quality.srocc ?? -Infinity;
  for (const e of evals.slice(1)) {
    const a = key(e);
    const b = key(best);
    if (a > b + 1e-12 || (Math.abs(a - b) <= 1e-12 && (e.quality.mse ?? Infinity) < (best.quality.mse ?? Infinity))) best = e;
  }
  return best;
}

function evaluation(method: MethodName, data: PackedRatings, rows: Int32Array, cvPred: Float64Array): MethodEvaluation {
  const truth = Float64Array.from(rows, (i) => data.y[i] as number);
  return { method, cvPred, rows, quality: qualityFromPredictions(truth, cvPred) };
}

export interface AutoContext {
  global: GlobalModel;
  meta?: MetaParams | null;
  finetune?: FinetuneOptions;
  kGrid?: readonly number[];
  /** Restrict the candidates (e.g. to test one method); default: all available. */
  methods?: readonly MethodName[];
}

export function autoSelect(data: PackedRatings, ctx: AutoContext): AutoResult {
  const n = data.n;
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const globalEval = evaluation('global', data, all, globalLooPredictions(ctx.global, data));
  if (n < AUTO_MIN_RATINGS) return { method: 'global', evaluations: [globalEval], finetune: null, knn: null };
  const allowed = new Set(ctx.methods ?? METHODS);
  const evals: MethodEvaluation[] = [];
  if (allowed.has('global')) evals.push(globalEval);
  const ft = allowed.has('finetune') || allowed.has('blend') ? selectLambda(ctx.global, data, ctx.finetune) : null;
  if (ft && allowed.has('finetune')) evals.push(evaluation('finetune', data, all, ft.looPred));
  const kn = allowed.has('knn') || allowed.has('blend') ? selectK(data, ctx.kGrid) : null;
  if (kn && allowed.has('knn')) evals.push(evaluation('knn', data, kn.evalRows, kn.looPred));
  if (ctx.meta && ctx.meta.dim === data.dim && allowed.has('maml')) evals.push(evaluation('maml', data, all, mamlCvPredictions(ctx.meta, data)));
  if (ft && kn && allowed.has('blend')) {
    // Equal-weight blend of the linear and the local model, on the rows both were evaluated on.
    const blend = Float64Array.from(kn.evalRows, (row, t) => 0.5 * ((ft.looPred[row] as number) + (kn.looPred[t] as number)));
    evals.push(evaluation('blend', data, kn.evalRows, blend));
  }
  if (evals.length === 0) evals.push(globalEval);
  return { method: pickBest(evals).method, evaluations: evals, finetune: ft, knn: kn };
}

/**
 * `auto`: per person, the method (or blend) that orders that person's held-out ratings best, on the
 * honest figure of quality-cv.ts (every pair of ratings ordered by a model that saw neither; ties broken
 * by MSE) — the figure people are shown. For `global` and finetune "saw neither" includes the community
 * prior: it is trained on everyone, this person too, so their figures are computed against the prior
 * with the person's own ratings taken out (global-leave-out.ts); otherwise a small community's prior wins
 * by having memorized the person. Under 5 ratings there is nothing to validate against: the community
 * prior (`global`) is used; under AUTO_CONFIDENT_RATINGS `finetune` is kept unless another method wins
 * clearly (see pickAgainstDefault).
 */
import type { PackedRatings } from './data';
import { globalLooPredictions, type GlobalModel } from './global';
import { priorForFigures } from './global-leave-out';
import { DEFAULT_OFFSET_SCALE, selectLambda, type FinetuneOptions, type LambdaSelection } from './finetune';
import { selectK, type KnnSelection } from './knn';
import { mamlCvPredictions, type MetaParams } from './maml';
import {
  averageFit,
  finetuneFit,
  finetuneNestedFit,
  globalFit,
  NESTED_LAMBDA_MAX_N,
  honestQuality,
  knnFit,
  mamlFit,
  pairwiseAgreement,
  type RankAgreement,
} from './quality-cv';
import type { ScorerQuality } from '../records';

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
  /** How pairs of held-out ratings agree with models that saw neither (quality-cv.ts). */
  agreement: RankAgreement;
  /**
   * The honest figure (`srocc`, with its interval) and the errors of the cross-validated predictions.
   * `auto` ranks methods on `srocc`: for `global` and finetune it is computed against the community
   * prior without this person's ratings (global-leave-out.ts), so a prior that memorized the person in a
   * small community does not win (6 people × 80 ratings chose `global` over the personal methods when it
   * was not). Plain leave-one-out SROCC, ranked on before, is biased strongly negative for models
   * dominated by the person's mean (ten ratings unrelated to the images read −0.99).
   */
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

function evaluation(
  method: MethodName,
  data: PackedRatings,
  rows: Int32Array,
  cvPred: Float64Array,
  agreement: RankAgreement,
): MethodEvaluation {
  const truth = Float64Array.from(rows, (i) => data.y[i] as number);
  return { method, cvPred, rows, agreement, quality: honestQuality(truth, cvPred, agreement) };
}

export interface AutoContext {
  global: GlobalModel;
  meta?: MetaParams | null;
  finetune?: FinetuneOptions;
  kGrid?: readonly number[];
  /** Restrict the candidates (e.g. to test one method); default: all available. */
  methods?: readonly MethodName[];
  /**
   * Whether `global` was trained on this person's ratings too (default true: the product's community
   * trainer holds everyone's). An evaluation whose community excludes the person passes false, so
   * nothing is taken out of the prior that was never in it.
   */
  personInPrior?: boolean;
}

export function autoSelect(data: PackedRatings, ctx: AutoContext): AutoResult {
  const n = data.n;
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const agree = (fit: ReturnType<typeof globalFit>, rows?: Int32Array) => pairwiseAgreement(data.y.subarray(0, n), fit, rows);
  // The prior the figures are computed against (the person taken out of it); fits adopted stay on ctx.global.
  const fig = priorForFigures(ctx.global, data, ctx.personInPrior !== false);
  const globalEval = evaluation('global', data, all, globalLooPredictions(fig, data), agree(globalFit(fig.w, data)));
  if (n < AUTO_MIN_RATINGS) return { method: 'global', evaluations: [globalEval], finetune: null, knn: null };
  const allowed = new Set(ctx.methods ?? METHODS);
  const evals: MethodEvaluation[] = [];
  if (allowed.has('global')) evals.push(globalEval);
  const ft = allowed.has('finetune') || allowed.has('blend') ? selectLambda(ctx.global, data, ctx.finetune) : null;
  const ftFit = !ft
    ? null
    : n <= NESTED_LAMBDA_MAX_N
      ? finetuneNestedFit(fig, data, ctx.finetune ?? {})
      : finetuneFit(fig, data, ft.lambda, ctx.finetune?.offsetScale ?? DEFAULT_OFFSET_SCALE);
  if (ft && ftFit && allowed.has('finetune')) evals.push(evaluation('finetune', data, all, ft.looPred, agree(ftFit)));
  const kn = allowed.has('knn') || allowed.has('blend') ? selectK(data, ctx.kGrid) : null;
  const knFit = kn ? knnFit(data, kn.k, kn.evalRows) : null;
  if (kn && knFit && allowed.has('knn')) evals.push(evaluation('knn', data, kn.evalRows, kn.looPred, agree(knFit, kn.evalRows)));
  if (ctx.meta && ctx.meta.dim === data.dim && allowed.has('maml'))
    evals.push(evaluation('maml', data, all, mamlCvPredictions(ctx.meta, data), agree(mamlFit(ctx.meta, data))));
  if (ft && ftFit && kn && knFit && allowed.has('blend')) {
    // Equal-weight blend of the linear and the local model, on the rows both were evaluated on.
    const blend = Float64Array.from(kn.evalRows, (row, t) => 0.5 * ((ft.looPred[row] as number) + (kn.looPred[t] as number)));
    evals.push(evaluation('blend', data, kn.evalRows, blend, agree(averageFit(ftFit, knFit), kn.evalRows)));
  }
  if (evals.length === 0) evals.push(globalEval);
  const finetuneEval = evals.find((e) => e.method === 'finetune');
  const chosen = n < AUTO_CONFIDENT_RATINGS && finetuneEval ? pickAgainstDefault(finetuneEval, evals, data) : pickBest(evals);
  return { method: chosen.method, evaluations: evals, finetune: ft, knn: kn };
}

/**
 * Below this many ratings `auto` keeps `finetune` (the community prior plus the person's evidence)
 * unless another method is clearly better: LOO SROCC on 10 ratings is so noisy that picking the
 * maximum chose worse-than-prior methods (measured on eval:piaa: auto 0.42 vs global 0.49 at 10).
 */
export const AUTO_CONFIDENT_RATINGS = 20;

/**
 * `def` unless another evaluation beats it on paired LOO squared error by more than two standard
 * errors of the paired difference (on the rows both were evaluated on).
 */
export function pickAgainstDefault(def: MethodEvaluation, evals: readonly MethodEvaluation[], data: PackedRatings): MethodEvaluation {
  const defPred = new Map<number, number>();
  def.rows.forEach((row, t) => defPred.set(row, def.cvPred[t] as number));
  let best = def;
  let bestGain = 0;
  for (const e of evals) {
    if (e === def) continue;
    const diffs: number[] = [];
    e.rows.forEach((row, t) => {
      const dp = defPred.get(row);
      if (dp === undefined) return;
      const y = data.y[row] as number;
      diffs.push((dp - y) ** 2 - ((e.cvPred[t] as number) - y) ** 2);
    });
    if (diffs.length < 3) continue;
    const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
    const sd = Math.sqrt(diffs.reduce((a, b) => a + (b - mean) ** 2, 0) / (diffs.length - 1));
    const se = sd / Math.sqrt(diffs.length);
    if (mean > 2 * se && mean > bestGain) {
      best = e;
      bestGain = mean;
    }
  }
  return best;
}

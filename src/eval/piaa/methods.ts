/**
 * The scorers under evaluation, behind one small shape so the PIAA protocol (protocol.ts) treats them
 * alike: a community model is trained once per fold from other people's ratings, then each method
 * fits one person's training ratings and predicts their held-out images. Every method here is the
 * product's own code from src/core/scorer — this file only adapts call shapes.
 */
import type { PackedRatings } from '../../core/scorer/data';
import { globalOffset, type GlobalModel } from '../../core/scorer/global';
import { trainCommunityModels } from '../../core/scorer/community';
import { selectLambda, toLinearModel, predictLinear, DEFAULT_OFFSET_SCALE, type FinetunePrior } from '../../core/scorer/finetune';
import { dotAt } from '../../core/scorer/linalg';
import type { Rng } from '../../core/random';
import { selectK, knnPredict } from '../../core/scorer/knn';
import { trainMeta, adapt, type MetaParams } from '../../core/scorer/maml';
import { autoSelect, type MethodName } from '../../core/scorer/auto';

export interface Community {
  global: GlobalModel;
  /** The meta-learned MAML initialization (null when not trained, e.g. the method is not evaluated). */
  meta: MetaParams | null;
}

export type Predictor = (X: ArrayLike<number>, rows: number) => Float64Array;

export interface EvalMethod {
  name: string;
  /** Fit one person's ratings on top of the community models; returns a batch predictor. */
  fit(train: PackedRatings, community: Community): Predictor;
}

/**
 * Community models from other people's ratings: the global ridge with its calibrated λ schedule (as
 * the product trains them: src/core/scorer/community.ts) and (optionally) the MAML meta-model.
 * `calibrate: false` leaves finetune's λ to per-person leave-one-out (a diagnostic).
 */
export function trainCommunity(raters: readonly PackedRatings[], rng?: Rng, opts: { maml?: boolean; calibrate?: boolean } = {}): Community {
  const global = trainCommunityModels(raters, { meta: false, calibrate: opts.calibrate !== false, seed: 1 }).global;
  const meta = opts.maml === false ? null : trainMeta(raters, {}, rng ? rng.int(2 ** 31) : 1);
  return { global, meta };
}

function linearPredictor(w: Float64Array, bias: number, dim: number): Predictor {
  return (X, rows) => {
    const out = new Float64Array(rows);
    for (let i = 0; i < rows; i++) out[i] = dotAt(w, 0, X, i * dim, dim) + bias;
    return out;
  };
}

export function priorOf(g: GlobalModel): FinetunePrior {
  return { w: g.w, bias: g.bias, lambdaSchedule: g.lambdaSchedule };
}

export const globalMethod: EvalMethod = {
  name: 'global',
  fit(train, c) {
    // The community's taste plus this person's mean offset (their leniency).
    return linearPredictor(c.global.w, globalOffset(c.global, train), c.global.dim);
  },
};

export const finetuneMethod: EvalMethod = {
  name: 'finetune',
  fit(train, c) {
    const prior = priorOf(c.global);
    if (train.n === 0) return linearPredictor(prior.w, prior.bias, train.dim);
    return finetuneFromSelection(train, c, selectLambda(prior, train).delta);
  },
};

function finetuneFromSelection(train: PackedRatings, c: Community, delta: Float64Array): Predictor {
  const m = toLinearModel(priorOf(c.global), delta, DEFAULT_OFFSET_SCALE);
  return (X, rows) => {
    const out = new Float64Array(rows);
    for (let i = 0; i < rows; i++) out[i] = predictLinear(m, X, i * train.dim);
    return out;
  };
}

function knnPredictor(train: PackedRatings, k: number): Predictor {
  const sims = new Float64Array(train.n);
  return (X, rows) => Float64Array.from({ length: rows }, (_, i) => knnPredict(train, k, X, i * train.dim, sims));
}

export const knnMethod: EvalMethod = {
  name: 'knn',
  fit(train, c) {
    if (train.n === 0) return globalMethod.fit(train, c);
    return knnPredictor(train, selectK(train).k);
  },
};

export const mamlMethod: EvalMethod = {
  name: 'maml',
  fit(train, c) {
    if (!c.meta) throw new Error('maml needs the community meta-model (trainCommunity with maml enabled)');
    const m = adapt(c.meta, train);
    return linearPredictor(m.w, m.bias, train.dim);
  },
};

/** The equal-weight finetune + knn blend that `auto` may pick. */
export const blendMethod: EvalMethod = {
  name: 'blend',
  fit(train, c) {
    const a = finetuneMethod.fit(train, c);
    const b = knnMethod.fit(train, c);
    return (X, rows) => {
      const pa = a(X, rows);
      const pb = b(X, rows);
      return pa.map((v, i) => 0.5 * (v + (pb[i] as number)));
    };
  },
};

const BY_NAME: Record<MethodName, EvalMethod> = {
  global: globalMethod,
  finetune: finetuneMethod,
  knn: knnMethod,
  maml: mamlMethod,
  blend: blendMethod,
};

/** `auto`: the product's per-person choice (best cross-validated SROCC), then that method's fit. */
export const autoMethod: EvalMethod & { lastChoice?: MethodName } = {
  name: 'auto',
  fit(train, c) {
    // The protocol's community models are trained on the other fold's raters, never on this person.
    const sel = autoSelect(train, { global: c.global, meta: c.meta, personInPrior: false });
    const choice = sel.method;
    autoMethod.lastChoice = choice;
    // Adopt the selection's by-products (the same λ fit / k) instead of selecting them again.
    if (choice === 'finetune' && sel.finetune) return finetuneFromSelection(train, c, sel.finetune.delta);
    if (choice === 'knn' && sel.knn) return knnPredictor(train, sel.knn.k);
    return BY_NAME[choice].fit(train, c);
  },
};

export const AVAILABLE_METHODS: Record<string, EvalMethod> = {
  maml: mamlMethod,
  finetune: finetuneMethod,
  knn: knnMethod,
  global: globalMethod,
  blend: blendMethod,
  auto: autoMethod,
};

/**
 * What ScorerService holds per person (their ratings, the incremental fit, the cached evaluation and
 * per-method models, their picks), how a fresh one starts, and how it becomes a snapshot (./person-snapshot)
 * and takes one back.
 */
import type { ScorerQuality } from '../records';
import type { MethodName, ScorerMethod } from './auto';
import type { RatingStore } from './data';
import { IncrementalFinetune, type LinearModel } from './finetune';
import type { GlobalModel } from './global';
import { DEFAULT_K_GRID } from './knn';
import type { PersonFit, PersonSnapshot } from './person-snapshot';
import type { HeldPair } from './pick-fit';

export interface UserState {
  data: RatingStore;
  fit: IncrementalFinetune;
  method: ScorerMethod;
  // --- lazily refreshed evaluation ---
  changed: boolean;
  evalN: number;
  chosen: MethodName;
  quality: ScorerQuality;
  knnK: number;
  noiseVar: number;
  // --- O(d) caches of per-person models ---
  globalOffset: number | null;
  maml: LinearModel | null;
  // --- picks (./pick-fit): their pairs, how many picks, and the joint model (null until used) ---
  pairs: readonly HeldPair[];
  picks: number;
  joint: LinearModel | null;
}

export const EMPTY_QUALITY: ScorerQuality = { n: 0, srocc: null, mse: null, mae: null };

/**
 * A fresh state on `data` under the community model; `prev`: the person's state it replaces, whose
 * picks it keeps (they are not ratings: a reload of the ratings leaves them as they are).
 */
export function newUserState(
  global: GlobalModel,
  data: RatingStore,
  method: ScorerMethod,
  opts: { lazy?: boolean; offsetScale?: number; prev?: UserState } = {},
): UserState {
  return {
    data,
    fit: new IncrementalFinetune(global, data, { offsetScale: opts.offsetScale, lazy: opts.lazy }),
    method,
    changed: true,
    evalN: 0,
    chosen: 'global',
    quality: EMPTY_QUALITY,
    knnK: DEFAULT_K_GRID[0] as number,
    noiseVar: global.residualVar,
    globalOffset: null,
    maml: null,
    pairs: opts.prev?.pairs ?? [],
    picks: opts.prev?.picks ?? 0,
    joint: null,
  };
}

/** The person's ratings (in row order) and fit as data; undefined when a row has no image id to match the ledger with. */
export function snapshotOf(s: UserState): PersonSnapshot | undefined {
  const { data, fit } = s;
  const imageIds = data.ids.slice(0, data.n);
  if (!imageIds.every((id): id is string => id !== null)) return undefined;
  return {
    imageIds,
    scores: Array.from(data.y.subarray(0, data.n)),
    fit: {
      method: s.method,
      lambda: fit.lambda,
      nAtSelection: fit.nAtSelection,
      delta: fit.fitted ? Float64Array.from(fit.delta) : null,
      changed: s.changed,
      evalN: s.evalN,
      chosen: s.chosen,
      quality: s.quality,
      knnK: s.knnK,
      noiseVar: s.noiseVar,
    },
  };
}

/** Takes a snapshot's fit (Δ at λ and the evaluation) when it has a usable Δ: the state then predicts as when it was taken. */
export function adoptSnapshotFit(s: UserState, fit: PersonFit, dim: number): void {
  if (!fit.delta || fit.delta.length !== dim + 1) return;
  s.fit.setLambda(fit.lambda, fit.delta);
  s.fit.nAtSelection = fit.nAtSelection;
  Object.assign(s, {
    changed: fit.changed,
    evalN: fit.evalN,
    chosen: fit.chosen,
    quality: fit.quality,
    knnK: fit.knnK,
    noiseVar: fit.noiseVar,
  });
}

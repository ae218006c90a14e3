/**
 * Training the community models — the global prior, and when due the meta-learned init and finetune's
 * λ schedule (calibrate.ts). Two ways:
 *
 * - A full retrain over packed ratings (`trainCommunityModels`), for evaluations and scripts, and the
 *   `CommunityTrainer` stand-ins tests give the service (`fullRetrainer` adapts one).
 * - The service's own trainer (`IncrementalTrainer`, community-thread.ts): one long-lived worker thread
 *   holds every rating once and the global prior's moments (community-stats.ts), takes rating changes as
 *   small messages and fits on request from the moments — no re-read of the ratings, no copy of them per
 *   retrain, and the event loop serving people never runs the arithmetic.
 */
import type { GlobalModel } from './global';
import { trainGlobal } from './global';
import type { PackedRatings } from './data';
import { trainMeta, type MetaParams } from './maml';
import { calibrateLambdaSchedule } from './calibrate';
import { CommunityRatings, type CommunityStats, type PersonRatings } from './community-stats';

export interface CommunityJob {
  /** Also (re)train the meta-learned init. */
  meta: boolean;
  /** Also (re)calibrate finetune's λ schedule (calibrate.ts); otherwise the global carries none. */
  calibrate: boolean;
  seed: number;
}

export interface CommunityModels {
  global: GlobalModel;
  meta: MetaParams | null;
}

/** The full retrain: pure, the same code on either thread. */
export function trainCommunityModels(users: readonly PackedRatings[], job: CommunityJob): CommunityModels {
  return withExtras(trainGlobal(users), users, job);
}

/** The same models from the moments a trainer keeps (the global prior without a pass over the ratings). */
export function trainCommunityFromStats(stats: CommunityStats, job: CommunityJob): CommunityModels {
  const global = stats.fitGlobal();
  // The meta-init and the schedule need every rating: packed only when one of them is due.
  return withExtras(global, job.meta || job.calibrate ? stats.packed() : [], job);
}

function withExtras(global: GlobalModel, users: readonly PackedRatings[], job: CommunityJob): CommunityModels {
  const lambdaSchedule = job.calibrate ? calibrateLambdaSchedule(users) : undefined;
  return { global: lambdaSchedule ? { ...global, lambdaSchedule } : global, meta: job.meta ? trainMeta(users, {}, job.seed) : null };
}

/** A full-retrain trainer: `trainInline`, or a test's stand-in. */
export type CommunityTrainer = (
  users: readonly PackedRatings[],
  job: CommunityJob,
  signal?: AbortSignal,
) => Promise<CommunityModels & { threadId: number }>;

/** Runs on the calling thread — for callers that are not serving anyone (evaluations, scripts). */
export const trainInline: CommunityTrainer = (users, job) =>
  // Trains synchronously; a training error still comes back as a rejection.
  new Promise((resolve) => resolve({ ...trainCommunityModels(users, job), threadId: 0 }));

/** What the trainer holds: its drift since the last fit (community-stats.ts) and the community's size. */
export interface TrainerStatus {
  drift: number;
  users: number;
  ratings: number;
}

/** Time the trainer spent working since it started: `activeMs` of `elapsedMs` (share = their ratio). */
export interface TrainerUsage {
  activeMs: number;
  elapsedMs: number;
  share: number;
}

export type FittedCommunity = CommunityModels & { threadId: number };

/** The community's ratings held by a trainer, changed person by person, fitted on request. */
export interface IncrementalTrainer {
  /** Whether the image's embedding was given already (each image is sent once). */
  hasImage(imageId: string): boolean;
  addImages(vectors: ReadonlyMap<string, ArrayLike<number>>): void;
  /** Each person's ratings as they are now; the trainer applies the difference (taken back, changed, added). */
  setPeople(people: readonly PersonRatings[]): void;
  status(): Promise<TrainerStatus>;
  fit(job: CommunityJob, signal?: AbortSignal): Promise<FittedCommunity>;
  usage(): TrainerUsage;
  /** Ends the trainer; a pending request rejects. */
  close(): Promise<void>;
}

/**
 * A full-retrain function as an IncrementalTrainer: it keeps the ratings (no moments) and packs them
 * for each fit. Its drift is always infinite — it has no cheaper fit to wait for.
 */
export function fullRetrainer(train: CommunityTrainer, dim: number): IncrementalTrainer {
  const table = new CommunityRatings(dim);
  const started = performance.now();
  let activeMs = 0;
  return {
    hasImage: (imageId) => table.hasImage(imageId),
    addImages: (vectors) => {
      for (const [imageId, vector] of vectors) table.setImage(imageId, vector);
    },
    setPeople: (people) => {
      for (const p of people) table.setPerson(p);
    },
    status: () => Promise.resolve({ drift: Infinity, users: table.users, ratings: table.ratings }),
    fit: async (job, signal) => {
      const t0 = performance.now();
      try {
        return await train(table.packed(), job, signal);
      } finally {
        activeMs += performance.now() - t0;
      }
    },
    usage: () => {
      const elapsedMs = performance.now() - started;
      return { activeMs, elapsedMs, share: elapsedMs > 0 ? activeMs / elapsedMs : 0 };
    },
    close: () => Promise.resolve(),
  };
}

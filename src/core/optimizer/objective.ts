/**
 * The production objective: image → embedding → each member's personal scorer (TasteService.predict,
 * which uses the person's latest refit, so ratings given during a run count from the next iteration)
 * → one score (single person, or the group's mean / minimum). Also the max-sim metric: the best image
 * against the person's earlier high-rated images (cosine over the same embeddings).
 *
 * Dependencies are structural (TasteService.predict, RatingLedger.count / listRatings,
 * EmbeddingService.embed) so the loop does not depend on how those services are built.
 */
import type { UserKey } from '../identity';
import type { GroupObjective } from './events';
import type { Objective, ObjectiveResult } from './loop';
import { mostSimilar, selectHighRated } from './run-metrics';

/** What a person's scorer believes of some images, index by index (TasteService.belief). */
export interface ScorerBelief {
  /** Uncapped posterior mean ratings: what rankings use. */
  mean: number[];
  /** Posterior standard deviations of those means (the model's doubt, not the rating noise). */
  sd: number[];
  /** The calibrated 1..10 scores shown to the person (display-score.ts). */
  shown: number[];
}

export interface ScorerObjectiveDeps {
  /** Predicted 1..10 scores of `imageIds` for `userKey` (TasteService.predict); used when `belief` is not given. */
  predict(userKey: UserKey, imageIds: string[]): Promise<number[]>;
  /** Uncapped beliefs and shown scores (TasteService.belief): rank on the first, show the second. */
  belief?(userKey: UserKey, imageIds: string[]): Promise<ScorerBelief>;
  /** Ratings the person has now (RatingLedger.count): recorded per iteration. */
  ratingCount(userKey: UserKey): Promise<number>;
  /** The person's ratings (RatingLedger.listRatings), for max sim. */
  listRatings?(userKey: UserKey): Promise<{ imageId: string; score: number }[]>;
  /** Embeddings by image id (EmbeddingService.embed), for max sim. */
  embed?(imageIds: string[]): Promise<Map<string, Float32Array>>;
}

export interface ScorerObjectiveOptions {
  members: UserKey[];
  objective: GroupObjective | 'single';
  /** "High-rated" threshold for max sim (default 7; the top quartile when none reach it). */
  highRatedAt?: number;
  /** Label for logs and the run header, e.g. "auto (finetune) on features-v1". */
  label?: string;
}

/** A clipped prediction taken as both belief and shown score, with no doubt (deps without `belief`). */
function beliefFromPredictions(p: number[]): ScorerBelief {
  return { mean: p, sd: p.map(() => 0), shown: p };
}

/**
 * The group's belief in one image: mean or min of members' means; the sd of a mean of independent
 * members' beliefs, or the sd of the member whose mean is the minimum.
 */
function aggregateBelief(means: number[], sds: number[], how: GroupObjective | 'single'): { mean: number; sd: number } {
  if (how === 'min') {
    const j = means.indexOf(Math.min(...means));
    return { mean: means[j] as number, sd: sds[j] as number };
  }
  const m = means.length;
  return { mean: aggregate(means, how), sd: Math.sqrt(sds.reduce((s, x) => s + x * x, 0)) / m };
}

/** mean or min over members; a single member's score as is. */
export function aggregate(scores: number[], how: GroupObjective | 'single'): number {
  if (scores.length === 0) throw new Error('no member scores to aggregate');
  if (how === 'min') return Math.min(...scores);
  return scores.reduce((s, x) => s + x, 0) / scores.length;
}

export function createScorerObjective(deps: ScorerObjectiveDeps, opts: ScorerObjectiveOptions): Objective {
  const members = [...new Set(opts.members)];
  if (members.length === 0) throw new Error('an objective needs at least one member');
  return {
    describe: () => `${opts.label ?? 'personal scorer'}${members.length > 1 ? ` (${opts.objective} of ${members.length} people)` : ''}`,
    async score(imageIds: string[], signal?: AbortSignal): Promise<ObjectiveResult> {
      const perMember = await Promise.all(
        members.map((m) => (deps.belief ? deps.belief(m, imageIds) : deps.predict(m, imageIds).then(beliefFromPredictions))),
      );
      if (signal?.aborted) throw signal.reason;
      const counts = await Promise.all(members.map((m) => deps.ratingCount(m)));
      return {
        scorerN: counts.reduce((s, n) => s + n, 0),
        scores: imageIds.map((_, i) => {
          const memberScores: Record<string, number> = {};
          members.forEach((m, j) => (memberScores[m] = perMember[j]?.shown[i] ?? NaN));
          const belief = aggregateBelief(
            perMember.map((b) => b.mean[i] ?? NaN),
            perMember.map((b) => b.sd[i] ?? 0),
            opts.objective,
          );
          return { score: aggregate(Object.values(memberScores), opts.objective), memberScores, ...belief };
        }),
      };
    },
    // Embeds (and caches, EmbeddingService persists vectors) each image as soon as it is stored, so the
    // iteration's one predict() call finds its vectors ready instead of embedding the whole batch.
    async prepare(imageId: string): Promise<void> {
      if (deps.embed) await deps.embed([imageId]);
    },
    async similarity(imageId: string) {
      if (!deps.listRatings || !deps.embed) return null;
      // For groups, compare against every member's favorites (the metric asks "did we rediscover one?").
      const rated = (await Promise.all(members.map((m) => deps.listRatings!(m)))).flatMap((rs) =>
        selectHighRated(rs, opts.highRatedAt ?? 7),
      );
      const earlier = rated.filter((r) => r.imageId !== imageId);
      if (earlier.length === 0) return null;
      const vectors = await deps.embed([imageId, ...earlier.map((r) => r.imageId)]);
      const best = vectors.get(imageId);
      if (!best) return null;
      const withVec = earlier.flatMap((r) => {
        const v = vectors.get(r.imageId);
        return v ? [{ imageId: r.imageId, score: r.score, vector: v }] : [];
      });
      const m = mostSimilar(best, withVec);
      return m ? { maxSim: m.maxSim, scoreOfMostSim: m.scoreOfMostSim } : null;
    },
  };
}

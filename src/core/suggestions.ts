/**
 * /suggest: the images of a community's pool a person's scorer predicts they would like most and they
 * have not seen, each with the reason in words (./suggestion-reasons).
 *
 * - The pool of a scope (a Discord server, a Slack workspace, the playground) is every image with an
 *   effective rating given there (`ratings.scope_id`: where the standing vote was cast) plus every image
 *   a run started there generated (`candidates` of `runs.scope_id`). Both are read newest first and
 *   capped at POOL_LIMIT images, so the work per request is bounded however large the community grows.
 *   `ratings` has no index by scope: the rated part scans the ratings table (fine up to a few hundred
 *   thousand ratings; an index on (scope_id, updated_at) is the step after).
 * - Seen = the person ever voted on the image (`rating_votes`, where a rating taken back stays as a
 *   tombstone) or it came out of one of their own runs (their thread showed it). Messages posted by
 *   /rate are not recorded per person (anyone may rate them), so an image merely scrolled past counts
 *   as unseen.
 * - Ranking is the person's own scorer (TasteService.predict); until they have AUTO_MIN_RATINGS
 *   ratings it is the community's taste, not theirs, so nothing is suggested yet.
 */
import { and, desc, eq, isNotNull, max, notExists, sql, type SQL } from 'drizzle-orm';
import { alias, type AnyPgColumn } from 'drizzle-orm/pg-core';
import type { Db } from '../db/connection';
import { candidates, images, ratings, ratingVotes, runs } from '../db/schema';
import type { EmbeddingService } from './embeddings';
import type { UserKey } from './identity';
import type { ImageStore } from './images';
import type { Embedder } from './ports';
import { directionsFor, type TasteDirection, type TextEmbedder } from './profile-directions';
import type { RatingLedger } from './ratings';
import type { ImageRecord } from './records';
import { AUTO_MIN_RATINGS } from './scorer/auto';
import { leaningWords, LIKED_FROM_SCORE, reasonBasis, reasonFor, type SuggestionReason } from './suggestion-reasons';

/** The most recent images of a scope a request considers. */
export const POOL_LIMIT = 2000;
/** At most this many of the person's liked ratings are compared with each suggestion. */
const LIKED_LIMIT = 200;
/**
 * The person's leanings are measured over the newest this many pool images (as /profile measures
 * them over 300 reference images): reading every pool image's embedding a second time would double
 * the request's cost for the same words.
 */
const LEANING_SAMPLE = 300;

export interface Suggestion {
  image: ImageRecord;
  predicted: number;
  reason: SuggestionReason;
}

export type SuggestResult =
  /** Too few ratings for a personal scorer: `ratings` so far, `needed` in all. */
  | { kind: 'learning'; ratings: number; needed: number }
  /** Nothing in the scope's pool that they have not seen. */
  | { kind: 'empty' }
  /** Best first; `leanings` names the person's strongest taste directions ('' when none stand out). */
  | { kind: 'suggestions'; suggestions: Suggestion[]; leanings: string; poolSize: number };

export interface SuggestionsApi {
  suggest(req: { userKey: UserKey; scopeId: string; count: number }): Promise<SuggestResult>;
}

export interface SuggestionsDeps {
  db: Db;
  taste: {
    predict(userKey: UserKey, imageIds: string[]): Promise<number[]>;
    /** Uncapped beliefs (the ranking) and calibrated 1–10 scores (what is shown), when the scorer offers them. */
    belief?(userKey: UserKey, imageIds: string[]): Promise<{ mean: number[]; shown: number[] }>;
  };
  ledger: Pick<RatingLedger, 'listRatings'>;
  embeddings: Pick<EmbeddingService, 'embed'>;
  images: Pick<ImageStore, 'getMany'>;
  /** Its named feature groups (or `text`, for CLIP) give the taste directions reasons are worded with. */
  embedder: Pick<Embedder, 'modelId' | 'featureGroups'>;
  text?: TextEmbedder;
  poolLimit?: number;
}

export function createSuggestions(deps: SuggestionsDeps): SuggestionsApi {
  let directions: Promise<TasteDirection[]> | null = null;
  // Reasons without direction words (only "like the ones you rated …") beat no suggestions at all.
  const getDirections = () => (directions ??= directionsFor(deps.embedder, deps.text).catch(() => ((directions = null), [])));
  return { suggest: (req) => suggest(deps, getDirections, req) };
}

async function suggest(
  deps: SuggestionsDeps,
  getDirections: () => Promise<TasteDirection[]>,
  req: { userKey: UserKey; scopeId: string; count: number },
): Promise<SuggestResult> {
  const own = await deps.ledger.listRatings(req.userKey);
  if (own.length < AUTO_MIN_RATINGS) return { kind: 'learning', ratings: own.length, needed: AUTO_MIN_RATINGS };
  const ids = await unseenPool(deps.db, req.scopeId, req.userKey, deps.poolLimit ?? POOL_LIMIT);
  if (ids.length === 0) return { kind: 'empty' };
  // Ranked on what the scorer believes (uncapped), shown on the person's calibrated 1–10 scale.
  const belief = deps.taste.belief ? await deps.taste.belief(req.userKey, ids) : null;
  const predicted = belief?.mean ?? (await deps.taste.predict(req.userKey, ids));
  const top = ids
    .map((id, i) => ({ id, mean: predicted[i]!, predicted: belief?.shown[i] ?? predicted[i]! }))
    .sort((a, b) => b.mean - a.mean || a.id.localeCompare(b.id))
    .slice(0, req.count);
  const records = await deps.images.getMany(top.map((t) => t.id));

  const liked = own
    .filter((r) => r.score >= LIKED_FROM_SCORE)
    .sort((a, b) => b.score - a.score)
    .slice(0, LIKED_LIMIT);
  // The pool is newest first, so the sample's predictions are the first ones.
  const sample = ids.slice(0, LEANING_SAMPLE);
  const vectors = await deps.embeddings.embed([...sample, ...top.map((t) => t.id), ...liked.map((r) => r.imageId)]);
  const basis = reasonBasis(
    await getDirections(),
    sample.map((id) => vectors.get(id)!),
    predicted.slice(0, sample.length),
    liked.flatMap((r) => {
      const vector = vectors.get(r.imageId);
      return vector ? [{ vector, score: r.score }] : [];
    }),
  );
  return {
    kind: 'suggestions',
    poolSize: ids.length,
    leanings: leaningWords(basis),
    suggestions: top.flatMap((t) => {
      const image = records.get(t.id);
      return image ? [{ image, predicted: t.predicted, reason: reasonFor(vectors.get(t.id)!, basis) }] : [];
    }),
  };
}

/** Not seen by the person (see the file comment): no vote of theirs on it, not from one of their runs. */
function unseenBy(db: Db, userKey: UserKey, imageId: AnyPgColumn): SQL {
  const voted = db
    .select({ one: sql`1` })
    .from(ratingVotes)
    .where(and(eq(ratingVotes.userKey, userKey), eq(ratingVotes.imageId, imageId)));
  // Aliased: the outer query may read candidates and runs itself, and must not be shadowed here.
  const theirCandidates = alias(candidates, 'their_candidates');
  const theirRuns = alias(runs, 'their_runs');
  const theirRun = db
    .select({ one: sql`1` })
    .from(theirCandidates)
    .innerJoin(theirRuns, eq(theirRuns.id, theirCandidates.runId))
    .where(and(eq(theirRuns.userKey, userKey), eq(theirCandidates.imageId, imageId)));
  return and(notExists(voted), notExists(theirRun))!;
}

/**
 * The scope's pool minus what the person has seen, newest first, at most `limit` image ids. Only
 * images still stored: a rating may outlive its image (an attachment deleted with its owner).
 */
export async function unseenPool(db: Db, scopeId: string, userKey: UserKey, limit: number): Promise<string[]> {
  const ratedAt = max(ratings.updatedAt);
  const rated = await db
    .select({ id: ratings.imageId, at: ratedAt })
    .from(ratings)
    .innerJoin(images, eq(images.id, ratings.imageId))
    .where(and(eq(ratings.scopeId, scopeId), unseenBy(db, userKey, ratings.imageId)))
    .groupBy(ratings.imageId)
    .orderBy(desc(ratedAt))
    .limit(limit);
  const madeAt = max(candidates.createdAt);
  const generated = await db
    .select({ id: candidates.imageId, at: madeAt })
    .from(candidates)
    .innerJoin(runs, eq(runs.id, candidates.runId))
    .innerJoin(images, eq(images.id, candidates.imageId))
    .where(and(eq(runs.scopeId, scopeId), isNotNull(candidates.imageId), unseenBy(db, userKey, candidates.imageId)))
    .groupBy(candidates.imageId)
    .orderBy(desc(madeAt))
    .limit(limit);
  const newest = new Map<string, number>();
  for (const r of [...rated, ...generated]) {
    if (r.id === null) continue;
    const at = r.at ? new Date(r.at).getTime() : 0;
    newest.set(r.id, Math.max(at, newest.get(r.id) ?? 0));
  }
  return [...newest]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, limit)
    .map(([id]) => id);
}

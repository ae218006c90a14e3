/**
 * The reads that bring people's scorers up to date (./resident-scorers), gathered across people: the
 * ledger version, the stored compact state, the ratings and their images' vectors. Each person reads
 * one after another as before, but people asking for the same kind of read at the same time share
 * one query — as group commit shares one statement among votes. While many people rate, someone comes
 * into memory at almost every rating; four queries each made the loading, not the rating, most of the
 * statements the database ran.
 *
 * A read starts as soon as the current tick has asked for it (no timer, so an idle process waits for
 * nothing); whoever asks while it is on its way goes in the next one. A batch that fails is read again
 * request by request, so one person's unreadable data (an image deleted since) fails only them.
 */
import { asc } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { ratings as ratingsTable } from '../db/schema';
import { inJsonList } from '../db/util';
import type { EmbeddingService } from './embeddings';
import type { UserKey } from './identity';
import type { RatingLedger, StoredRating } from './ratings';
import { loadScorerStates, type StoredScorerState } from './scorer-state-store';

/** Keys per query at most: a bounded statement however many people wait. */
const MAX_KEYS = 500;

interface Request<K, V> {
  keys: readonly K[];
  resolve: (values: Map<K, V>) => void;
  reject: (err: unknown) => void;
}

/** One kind of read, shared by whoever asks for it at the same time. */
export class GatheredReads<K, V> {
  private waiting: Request<K, V>[] = [];
  private running = false;
  /** Queries run (tests and diagnostics). */
  queries = 0;

  constructor(private readonly read: (keys: K[]) => Promise<Map<K, V>>) {}

  /** The values of these keys (a key the read did not return is absent), read together with other callers'. */
  get(keys: readonly K[]): Promise<Map<K, V>> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ keys, resolve, reject });
      if (this.running) return;
      this.running = true;
      // After the current tick: everyone it asks (people whose votes committed together) goes in one read.
      queueMicrotask(() => void this.pump());
    });
  }

  private async pump(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch: Request<K, V>[] = [];
      const keys = new Set<K>();
      while (this.waiting.length > 0 && (batch.length === 0 || keys.size + this.waiting[0]!.keys.length <= MAX_KEYS)) {
        const next = this.waiting.shift()!;
        batch.push(next);
        for (const k of next.keys) keys.add(k);
      }
      await this.serve(batch, [...keys]);
    }
    this.running = false;
  }

  private async serve(batch: Request<K, V>[], keys: K[]): Promise<void> {
    try {
      this.queries++;
      const got = await this.read(keys);
      for (const r of batch) r.resolve(new Map(r.keys.filter((k) => got.has(k)).map((k) => [k, got.get(k)!])));
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      // Someone's keys broke the shared read: each request alone, so only theirs fails.
      await Promise.all(batch.map((r) => this.serve([r], [...new Set(r.keys)])));
    }
  }
}

interface PeopleReadsDeps {
  db: Db;
  ledger: Pick<RatingLedger, 'versions' | 'listRatings'>;
  embeddings: Pick<EmbeddingService, 'embed'>;
  /** Embedding model id of the stored states. */
  modelId: string;
}

/** The per-person reads of ./resident-scorers, each gathered across the people asking at the same time. */
export class PeopleReads {
  private readonly versionReads: GatheredReads<UserKey, string>;
  private readonly stateReads: GatheredReads<UserKey, StoredScorerState>;
  private readonly ratingReads: GatheredReads<UserKey, StoredRating[]>;
  private readonly vectorReads: GatheredReads<string, Float32Array>;

  constructor(deps: PeopleReadsDeps) {
    this.versionReads = new GatheredReads((keys) => deps.ledger.versions(keys));
    this.stateReads = new GatheredReads((keys) => loadScorerStates(deps.db, keys, deps.modelId));
    // One person alone: the ledger's own read; several: the same rows in one query.
    this.ratingReads = new GatheredReads(async (keys) =>
      keys.length === 1 ? new Map([[keys[0]!, await deps.ledger.listRatings(keys[0]!)]]) : ratingsOf(deps.db, keys),
    );
    this.vectorReads = new GatheredReads((ids) => deps.embeddings.embed(ids));
  }

  /** RatingLedger.versions of one person (NO_VERSION for none). */
  async version(userKey: UserKey, none: string): Promise<string> {
    return (await this.versionReads.get([userKey])).get(userKey) ?? none;
  }

  /** The person's stored scorer state for this embedder, or null. */
  async state(userKey: UserKey): Promise<StoredScorerState | null> {
    return (await this.stateReads.get([userKey])).get(userKey) ?? null;
  }

  /** RatingLedger.listRatings: the person's effective ratings, oldest first. */
  async ratings(userKey: UserKey): Promise<StoredRating[]> {
    return (await this.ratingReads.get([userKey])).get(userKey) ?? [];
  }

  /** EmbeddingService.embed: fails (for this caller only) when one of the images is unknown. */
  vectors(imageIds: readonly string[]): Promise<Map<string, Float32Array>> {
    return imageIds.length === 0 ? Promise.resolve(new Map<string, Float32Array>()) : this.vectorReads.get(imageIds);
  }
}

/** Several people's effective ratings in one query, each person's in RatingLedger.listRatings order. */
async function ratingsOf(db: Db, userKeys: readonly UserKey[]): Promise<Map<UserKey, StoredRating[]>> {
  const rows = await db
    .select({ userKey: ratingsTable.userKey, imageId: ratingsTable.imageId, score: ratingsTable.score, eventTime: ratingsTable.eventTime })
    .from(ratingsTable)
    .where(inJsonList(ratingsTable.userKey, [...userKeys]))
    .orderBy(asc(ratingsTable.userKey), asc(ratingsTable.eventTime), asc(ratingsTable.imageId));
  const out = new Map<UserKey, StoredRating[]>();
  for (const { userKey, ...rating } of rows) {
    const list = out.get(userKey) ?? [];
    if (list.length === 0) out.set(userKey, list);
    list.push(rating);
  }
  return out;
}

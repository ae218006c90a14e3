/**
 * The rating ledger: durable 1–10 ratings, idempotent under duplicated, reordered and concurrent
 * delivery (Discord resume replays, Slack retries, two processes handling the same reaction).
 *
 * Storage (src/db/schema.ts):
 *   rating_votes   one row per (person, image, score) — a rating reaction — present or a tombstone,
 *                  with the event time of the last event applied to it;
 *   ratings        the effective rating (latest vote still standing), absent when none stands;
 *   rating_events  append-only audit, one row per event that changed something.
 *
 * Every process caches models fitted on these rows, so every change also reaches the other processes:
 * once it committed, `pg_notify(RATING_CHANNEL, userKey)` announces it (./rating-announcer, batched,
 * never for a change that did not commit), and `versions` gives each person's ledger version (from
 * their rating_events rows), which a cache compares before use so a notification lost (in a
 * reconnect, or a crash right after the commit) costs a refit, never a stale answer.
 *
 * Every event is one statement, the plpgsql function tasteloop_apply_vote (migrations/0006), run
 * outside an explicit transaction: one round trip and one commit per rating. Under load the votes
 * waiting for a free statement slot go together (group commit, ./vote-batcher): tasteloop_apply_votes
 * (migrations/0013) applies each exactly as alone, so several votes share one round trip and one WAL
 * flush; each caller still resolves only once its vote committed. It first takes a
 * transaction-scoped advisory lock on (person, image), so its read–decide–write is serialized per image
 * even at READ COMMITTED; the vote upsert additionally carries the `excluded.event_time >
 * rating_votes.event_time` guard, so the database itself never lets an older event overwrite a newer
 * one. Its decision rules are those of ./vote-rules, written in SQL (tests check both against one
 * reference model). Given the person, the same statement records them (users, user_scopes), so a
 * platform's rating costs one statement in all.
 */
import { and, asc, count as sqlCount, eq, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { picks, ratingEvents, ratingVotes, ratings } from '../db/schema';
import { inJsonList, queryRows } from '../db/util';
import { silentLogger, type Logger } from '../log';
import { Emitter } from './emitter';
import { NO_VERSION, withPicks } from './ledger-version';
import { RatingAnnouncer } from './rating-announcer';
import { VoteBatcher } from './vote-batcher';
import { ForgottenError, InvalidScoreError, TasteloopError, UnknownImageError } from './errors';
import { hashUserKey, type PersonRef, type UserKey } from './identity';
import type { CommittedChange, RatingChange, RatingContext } from './records';
import type { StandingVote } from './reaction-sync';
import { isValidScore, type VoteKind } from './vote-rules';

export interface RatingEventInput {
  userKey: UserKey;
  imageId: string;
  score: number;
  /** When the person acted (platform timestamp); defaults to now. */
  eventTime?: Date;
  ctx: RatingContext;
  /**
   * The person giving the vote, when the caller has them (a platform event): recorded in the same
   * statement as the vote (users row, and user_scopes for ctx.scopeId), as touchPerson does. Their
   * key must be `userKey`.
   */
  person?: PersonRef;
}

export interface StoredRating {
  imageId: string;
  score: number;
  eventTime: Date;
}

export interface RatingRow extends StoredRating {
  userKey: UserKey;
}

export interface RatingHistoryEntry {
  id: number;
  userKey: UserKey;
  imageId: string;
  kind: VoteKind;
  score: number;
  eventTime: Date;
  /** Effective rating after this change (null = none). */
  effectiveScore: number | null;
  ctx: RatingContext;
  receivedAt: Date;
}

export interface RatingLedgerOptions {
  log?: Logger;
  now?: () => Date;
  /** Attempts for a transaction that hit a serialization failure or deadlock (default 5). */
  maxAttempts?: number;
  /** Rating statements in flight at once; votes arriving meanwhile are sent together (./vote-batcher; default 4). */
  writeSlots?: number;
  /** Votes per statement at most (default 64; 1: every vote alone). */
  maxVotesPerStatement?: number;
}

/**
 * Advisory-lock namespace of a person (the two-int4 key space, apart from the migrator's single bigint
 * key). Rating events hold it shared; `/privacy forget` takes it exclusively (lockPersonExclusive) so
 * no rating can slip in between its forgotten_users insert and its deletes. tasteloop_apply_vote and
 * tasteloop_touch_person (migrations/0006) use the same number, and 7281002 for (person, image).
 */
export const LOCK_NS_PERSON = 7281001;

/** The LISTEN/NOTIFY channel every committed rating change is announced on; the payload is the person's key. */
export const RATING_CHANNEL = 'tasteloop_rating_changed';

/** Ledger version of a person who has no rating events nor picks (never rated, or forgotten). */
export { NO_VERSION } from './ledger-version';

/** Postgres SQLSTATEs worth retrying the whole transaction for. */
const RETRYABLE_CODES = new Set(['40001', '40P01']);

export class RatingLedger {
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly maxAttempts: number;
  private readonly changes: Emitter<CommittedChange>;
  private readonly announcer: RatingAnnouncer;
  /** Group commit: the votes waiting for a free statement slot go together (./vote-batcher). */
  private readonly batcher: VoteBatcher<VoteToApply, ApplyVoteRow>;
  /** Per person, this process's rating statements in flight (sent, their change not yet told to listeners). */
  private readonly inFlight = new Map<UserKey, number>();

  constructor(
    private readonly db: Db,
    opts: RatingLedgerOptions = {},
  ) {
    this.log = opts.log ?? silentLogger;
    this.now = opts.now ?? monotonicClock();
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.changes = new Emitter<CommittedChange>((err) => this.log.error({ err }, 'rating-changed listener failed'));
    this.announcer = new RatingAnnouncer(db, RATING_CHANNEL, this.log);
    this.batcher = new VoteBatcher({
      send: (votes) => this.withRetry(() => this.applyVotes(votes)),
      slots: opts.writeSlots,
      maxBatch: opts.maxVotesPerStatement,
    });
  }

  /** Adds the vote `score` (one rating reaction). */
  rate(input: RatingEventInput): Promise<RatingChange> {
    return this.apply('add', input);
  }

  /** Removes the vote `score`; the rating falls back to the newest vote still standing. */
  unrate(input: RatingEventInput): Promise<RatingChange> {
    return this.apply('remove', input);
  }

  /** Resolves once every change committed so far has been announced to the other processes. */
  announced(): Promise<void> {
    return this.announcer.sent();
  }

  /**
   * Whether this process is writing a rating of this person right now: a change of theirs may have
   * committed without its listeners being told yet (a cache checking versions waits for it).
   */
  writing(userKey: UserKey): boolean {
    return this.inFlight.has(userKey);
  }

  /** Called after commit, once per event that changed something. Returns the unsubscribe function. */
  onChange(listener: (change: CommittedChange) => void): () => void {
    return this.changes.on(listener);
  }

  async getRating(userKey: UserKey, imageId: string): Promise<StoredRating | null> {
    const rows = await this.db
      .select({ imageId: ratings.imageId, score: ratings.score, eventTime: ratings.eventTime })
      .from(ratings)
      .where(and(eq(ratings.userKey, userKey), eq(ratings.imageId, imageId)));
    return rows[0] ?? null;
  }

  /** A person's effective ratings, oldest first (the order they were given in). */
  listRatings(userKey: UserKey): Promise<StoredRating[]> {
    return this.db
      .select({ imageId: ratings.imageId, score: ratings.score, eventTime: ratings.eventTime })
      .from(ratings)
      .where(eq(ratings.userKey, userKey))
      .orderBy(asc(ratings.eventTime), asc(ratings.imageId));
  }

  async count(userKey: UserKey): Promise<number> {
    const rows = await this.db.select({ n: sqlCount() }).from(ratings).where(eq(ratings.userKey, userKey));
    return Number(rows[0]?.n ?? 0);
  }

  /** The audit trail of a person (optionally for one image), in the order changes were recorded. */
  async history(userKey: UserKey, imageId?: string): Promise<RatingHistoryEntry[]> {
    const where =
      imageId === undefined ? eq(ratingEvents.userKey, userKey) : and(eq(ratingEvents.userKey, userKey), eq(ratingEvents.imageId, imageId));
    const rows = await this.db.select().from(ratingEvents).where(where).orderBy(asc(ratingEvents.id));
    return rows.map((r) => ({
      id: r.id,
      userKey: r.userKey,
      imageId: r.imageId,
      kind: r.kind as VoteKind,
      score: r.score,
      eventTime: r.eventTime,
      effectiveScore: r.effectiveScore,
      ctx: contextOf(r),
      receivedAt: r.receivedAt,
    }));
  }

  /**
   * Every effective rating of everyone (for the community model), streamed in pages by keyset on
   * (user_key, image_id) so memory stays flat however large the table grows.
   */
  async *allRatings(pageSize = 5000): AsyncGenerator<RatingRow> {
    let after: { userKey: string; imageId: string } | undefined;
    for (;;) {
      const cols = { userKey: ratings.userKey, imageId: ratings.imageId, score: ratings.score, eventTime: ratings.eventTime };
      const query = this.db.select(cols).from(ratings);
      const page = await (after ? query.where(sql`(${ratings.userKey}, ${ratings.imageId}) > (${after.userKey}, ${after.imageId})`) : query)
        .orderBy(asc(ratings.userKey), asc(ratings.imageId))
        .limit(pageSize);
      yield* page;
      const last = page[page.length - 1];
      if (!last || page.length < pageSize) return;
      after = { userKey: last.userKey, imageId: last.imageId };
    }
  }

  /** Votes standing (present) for an image, from everyone: what reconciling a message compares with. */
  async standingVotes(imageId: string): Promise<StandingVote[]> {
    const rows = await this.db
      .select({ userKey: ratingVotes.userKey, score: ratingVotes.score, source: ratingVotes.source, messageId: ratingVotes.messageId })
      .from(ratingVotes)
      .where(and(eq(ratingVotes.imageId, imageId), eq(ratingVotes.present, true)))
      .orderBy(asc(ratingVotes.userKey), asc(ratingVotes.score));
    return rows;
  }

  /**
   * Each person's ledger version: equal versions mean the same ratings and picks. Any committed change adds a
   * rating_events row in the same transaction as the rating, and a forget deletes them, so the count,
   * the last id and the sum of ids change with every change — the count also when a change with a
   * smaller id commits after a larger one (ids are drawn at insert, not at commit), and the sum when
   * old rows are pruned while new ones arrive. Compare for equality only. Read it before the ratings it
   * describes: at READ COMMITTED the later read sees at least as much, so a cache never claims more.
   * A person's picks add a part (count and a hash of which image won each offer: a pick replaced
   * changes it), so a pick moves the version as a rating does.
   */
  async versions(userKeys: readonly UserKey[]): Promise<Map<UserKey, string>> {
    const out = new Map<UserKey, string>(userKeys.map((k) => [k, NO_VERSION]));
    if (userKeys.length === 0) return out;
    const keys = [...new Set(userKeys)];
    const rated = this.db
      .select({
        userKey: ratingEvents.userKey,
        kind: sql<string>`'r'`,
        version: sql<string>`count(*)::text || ':' || max(${ratingEvents.id})::text || ':' || sum(${ratingEvents.id})::text`,
      })
      .from(ratingEvents)
      .where(inJsonList(ratingEvents.userKey, keys))
      .groupBy(ratingEvents.userKey);
    // Picks teach the scorer too (./ledger-version: withPicks), read in the same round trip.
    const picked = this.db
      .select({
        userKey: picks.userKey,
        kind: sql<string>`'p'`,
        version: sql<string>`count(*)::text || ':' || md5(string_agg(${picks.offerId} || '>' || ${picks.winnerImageId}, ',' order by ${picks.offerId}))`,
      })
      .from(picks)
      .where(inJsonList(picks.userKey, keys))
      .groupBy(picks.userKey);
    const rows = await rated.unionAll(picked);
    for (const r of rows) if (r.kind === 'r') out.set(r.userKey, r.version);
    for (const r of rows) if (r.kind === 'p') out.set(r.userKey, withPicks(out.get(r.userKey) ?? NO_VERSION, r.version));
    return out;
  }

  /** Everyone with at least one effective rating, sorted. */
  async ratedUsers(): Promise<UserKey[]> {
    const rows = await this.db.selectDistinct({ userKey: ratings.userKey }).from(ratings).orderBy(asc(ratings.userKey));
    return rows.map((r) => r.userKey);
  }

  // ---------- the write path ----------

  private async apply(kind: VoteKind, input: RatingEventInput): Promise<RatingChange> {
    if (!isValidScore(input.score)) throw new InvalidScoreError(input.score);
    const eventTime = input.eventTime ?? this.now();
    if (!(eventTime instanceof Date) || Number.isNaN(eventTime.getTime())) {
      throw new TasteloopError(`Invalid rating event time: ${String(input.eventTime)}`);
    }
    const { userKey } = input;
    this.inFlight.set(userKey, (this.inFlight.get(userKey) ?? 0) + 1);
    try {
      return await this.write(kind, { ...input, eventTime });
    } finally {
      const n = (this.inFlight.get(userKey) ?? 1) - 1;
      if (n > 0) this.inFlight.set(userKey, n);
      else this.inFlight.delete(userKey);
    }
  }

  private async write(kind: VoteKind, input: RatingEventInput & { eventTime: Date }): Promise<RatingChange> {
    const { userKey, imageId } = input;
    const row = await this.batcher.submit({ kind, event: input });
    if (row.outcome === 'forgotten') throw new ForgottenError();
    if (row.outcome === 'unknown_image') throw new UnknownImageError(imageId);
    const before = row.before_score ?? null;
    const after = row.after_score ?? null;
    const change: RatingChange = { userKey, imageId, before, after, changed: row.outcome === 'changed' };
    if (change.changed) {
      this.announcer.announce(userKey);
      this.changes.emit({ ...change, eventId: row.event_id === null ? null : Number(row.event_id) });
    }
    return change;
  }

  /** Votes and statements sent so far: how well group commit batches (diagnostics, bench:ingest). */
  writeStats(): { votes: number; statements: number } {
    return this.batcher.stats();
  }

  /** One statement for all the votes: alone through tasteloop_apply_vote, together through tasteloop_apply_votes. */
  private async applyVotes(votes: readonly VoteToApply[]): Promise<ApplyVoteRow[]> {
    if (votes.length === 1) {
      const rows = await queryRows<ApplyVoteRow>(this.db, applyVoteQuery(votes[0]!.kind, votes[0]!.event));
      if (rows.length !== 1) throw new TasteloopError(`tasteloop_apply_vote answered ${rows.length} rows`);
      return rows;
    }
    const rows = await queryRows<ApplyVoteRow & { i: number }>(this.db, applyVotesQuery(votes));
    const byPlace = new Map(rows.map((r) => [Number(r.i), r]));
    return votes.map((_, i) => {
      const row = byPlace.get(i);
      if (!row) throw new TasteloopError(`tasteloop_apply_votes answered no row for vote ${i} of ${votes.length}`);
      return row;
    });
  }

  private async withRetry<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const code = sqlStateOf(err);
        if (!code || !RETRYABLE_CODES.has(code) || attempt >= this.maxAttempts) throw err;
        this.log.warn({ code, attempt }, 'rating transaction conflicted; retrying');
        await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
      }
    }
  }
}

/** A vote waiting for its statement. */
interface VoteToApply {
  kind: VoteKind;
  event: RatingEventInput & { eventTime: Date };
}

/** What tasteloop_apply_vote answers (migrations/0006_ingest_one_statement.sql). */
interface ApplyVoteRow {
  outcome: 'forgotten' | 'unknown_image' | 'unchanged' | 'changed';
  before_score: number | null;
  after_score: number | null;
  /** The rating_events row a change added (null when nothing changed); bigint, so a string from some drivers. */
  event_id: string | number | null;
}

/**
 * The whole event as one statement, run outside an explicit transaction: one round trip and one
 * commit. The function takes the locks, checks the tombstone and the image, applies the vote rules,
 * and writes the vote, the effective rating and the audit row.
 */
function applyVoteQuery(kind: VoteKind, e: RatingEventInput & { eventTime: Date }): SQL {
  const { userKey, ctx, person } = e;
  const { name, workspace } = personColumns(person);
  // The audit row's id is the sequence value this session drew last, inside the function: no extra round trip.
  return sql`select outcome, before_score, after_score,
    case when outcome = 'changed' then currval(pg_get_serial_sequence('rating_events', 'id')) end as event_id
    from tasteloop_apply_vote(
    ${userKey}, ${hashUserKey(userKey)}, ${e.imageId}, ${kind}, ${e.score}::smallint, ${e.eventTime.toISOString()}::timestamptz,
    ${ctx.source}, ${ctx.scopeId ?? null}, ${ctx.channelId ?? null}, ${ctx.messageId ?? null},
    ${person?.platform ?? null}, ${workspace}, ${person?.userId ?? null}, ${name})`;
}

/**
 * Several votes as one statement (group commit): tasteloop_apply_votes (migrations/0013) applies each as
 * tasteloop_apply_vote would alone, in one transaction, and answers each with its place `i` in `votes`.
 */
function applyVotesQuery(votes: readonly VoteToApply[]): SQL {
  const json = votes.map(({ kind, event: e }, i) => {
    const { name, workspace } = personColumns(e.person);
    return {
      i,
      user_key: e.userKey,
      forget_hash: hashUserKey(e.userKey),
      image_id: e.imageId,
      kind,
      score: e.score,
      event_time: e.eventTime.toISOString(),
      source: e.ctx.source,
      scope_id: e.ctx.scopeId ?? null,
      channel_id: e.ctx.channelId ?? null,
      message_id: e.ctx.messageId ?? null,
      platform: e.person?.platform ?? null,
      workspace_id: workspace,
      platform_user_id: e.person?.userId ?? null,
      display_name: name,
    };
  });
  return sql`select i, outcome, before_score, after_score, event_id from tasteloop_apply_votes(${JSON.stringify(json)}::jsonb)`;
}

/** The users columns a platform's event carries about the person (nothing without one). */
function personColumns(person: PersonRef | undefined): { name: string | null; workspace: string | null } {
  return {
    name: person?.displayName?.trim() || null,
    workspace: person?.platform === 'slack' ? (person.workspaceId ?? null) : null,
  };
}

/**
 * Tells every process that a person's ratings changed (also a forget, which deletes them): call inside
 * the transaction that changed them, so it is delivered on commit and never for a rollback.
 */
export async function announceChange(tx: Pick<Db, 'execute'>, userKey: UserKey): Promise<void> {
  await tx.execute(sql`select pg_notify(${RATING_CHANNEL}, ${userKey})`);
}

/**
 * Held shared by every transaction that stores something for a person (ratings, touch, run start)
 * while it checks the forgotten_users tombstone: a forget (lockPersonExclusive) waits for them, and
 * they see its tombstone once it committed.
 */
export async function lockPersonShared(tx: Pick<Db, 'execute'>, userKey: UserKey): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock_shared(${LOCK_NS_PERSON}::int4, hashtext(${userKey}))`);
}

/**
 * For `/privacy forget`: call inside the forget transaction before inserting into forgotten_users and
 * deleting, so rating events in flight for that person either commit before it or see the tombstone.
 */
export async function lockPersonExclusive(tx: Pick<Db, 'execute'>, userKey: UserKey): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${LOCK_NS_PERSON}::int4, hashtext(${userKey}))`);
}

/**
 * Wall-clock time that never repeats or goes backwards within this process: events stamped on
 * receipt (Discord reaction events carry no timestamp) must keep their order, and an add and its
 * remove landing in the same millisecond would otherwise look like duplicates.
 */
export function monotonicClock(): () => Date {
  let last = 0;
  return () => {
    last = Math.max(Date.now(), last + 1);
    return new Date(last);
  };
}

/** The SQLSTATE of a driver error, also when drizzle wraps it (DrizzleQueryError.cause). */
export function sqlStateOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

function contextOf(r: { source: string; scopeId: string | null; channelId: string | null; messageId: string | null }): RatingContext {
  const ctx: RatingContext = { source: r.source };
  if (r.scopeId !== null) ctx.scopeId = r.scopeId;
  if (r.channelId !== null) ctx.channelId = r.channelId;
  if (r.messageId !== null) ctx.messageId = r.messageId;
  return ctx;
}

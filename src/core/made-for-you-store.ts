/**
 * The "made for you" subscriptions in the database: opt in/out, the worker's claim of due rows, and
 * what became of each claimed week (its run, or why it was skipped and whether the person was told).
 */
import { and, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { madeForYou } from '../db/schema';
import { queryRows } from '../db/util';
import type { UserKey } from './identity';

/** Where the weekly run is posted: the channel the person opted in from. */
export interface MadeForYouDestination {
  platform: string;
  scopeId?: string;
  channelId: string;
}

export interface MadeForYouSubscription extends MadeForYouDestination {
  userKey: UserKey;
  displayName: string;
}

export type OptInResult = { kind: 'subscribed'; intervalHours: number } | { kind: 'no-ratings' };

export interface MadeForYouApi {
  /** Opts in (or moves the post to `dest`); refused while the person has rated nothing highly enough to start from. */
  optIn(sub: MadeForYouSubscription): Promise<OptInResult>;
  /** Opts out; whether they were opted in. */
  optOut(userKey: UserKey): Promise<boolean>;
  /** Why last week's post was skipped, once; undefined when there is nothing new to tell. */
  untoldSkip(userKey: UserKey): Promise<string | undefined>;
  /**
   * The week's run could not be posted where the person opted in (channel gone, no permission): told
   * once on their next /suggest, like a skipped week. Ignored when a newer week's run is theirs already.
   */
  notPosted(userKey: UserKey, runId: string, reason: string): Promise<void>;
}

export async function subscribe(db: Db, sub: MadeForYouSubscription, now: Date): Promise<void> {
  const values = {
    platform: sub.platform,
    scopeId: sub.scopeId ?? null,
    channelId: sub.channelId,
    displayName: sub.displayName,
    optedInAt: now,
  };
  // Opting in again moves the post to this channel; the week already made keeps its date.
  await db
    .insert(madeForYou)
    .values({ userKey: sub.userKey, ...values })
    .onConflictDoUpdate({ target: madeForYou.userKey, set: values });
}

/** Whether there was a subscription to remove. */
export async function unsubscribe(db: Pick<Db, 'delete'>, userKey: UserKey): Promise<boolean> {
  const gone = await db.delete(madeForYou).where(eq(madeForYou.userKey, userKey)).returning({ k: madeForYou.userKey });
  return gone.length > 0;
}

/**
 * Claims up to `limit` subscriptions due at `now` (never run, or last run at least `intervalMs` ago)
 * and stamps them as run now, in ONE transaction: the rows are locked FOR UPDATE SKIP LOCKED, so a
 * second worker checking at the same moment skips them instead of claiming the same week again.
 */
export async function claimDue(db: Db, now: Date, intervalMs: number, limit: number): Promise<MadeForYouSubscription[]> {
  const dueBefore = new Date(now.getTime() - intervalMs).toISOString();
  return db.transaction(async (tx) => {
    const rows = await queryRows<{ user_key: string; platform: string; scope_id: string | null; channel_id: string; display_name: string }>(
      tx,
      sql`select user_key, platform, scope_id, channel_id, display_name from made_for_you
           where last_run_at is null or last_run_at <= ${dueBefore}::timestamptz
           order by last_run_at nulls first, user_key
           limit ${limit}
           for update skip locked`,
    );
    for (const r of rows) {
      await tx.update(madeForYou).set({ lastRunAt: now }).where(eq(madeForYou.userKey, r.user_key));
    }
    return rows.map((r) => ({
      userKey: r.user_key,
      platform: r.platform,
      channelId: r.channel_id,
      displayName: r.display_name,
      ...(r.scope_id !== null ? { scopeId: r.scope_id } : {}),
    }));
  });
}

export async function recordRun(db: Db, userKey: UserKey, runId: string): Promise<void> {
  await db.update(madeForYou).set({ lastRunId: runId, skipReason: null, skipToldAt: null }).where(eq(madeForYou.userKey, userKey));
}

export async function recordSkip(db: Db, userKey: UserKey, reason: string): Promise<void> {
  await db.update(madeForYou).set({ skipReason: reason, skipToldAt: null }).where(eq(madeForYou.userKey, userKey));
}

/** Records why the week of run `runId` came to nothing, unless a later week has started since. */
export async function recordNotPosted(db: Db, userKey: UserKey, runId: string, reason: string): Promise<void> {
  await db
    .update(madeForYou)
    .set({ skipReason: reason, skipToldAt: null })
    .where(and(eq(madeForYou.userKey, userKey), eq(madeForYou.lastRunId, runId)));
}

/** The reason of a skipped week not told yet, marked told as it is read (so it is told exactly once). */
export async function takeUntoldSkip(db: Db, userKey: UserKey, now: Date): Promise<string | undefined> {
  const rows = await db
    .update(madeForYou)
    .set({ skipToldAt: now })
    .where(and(eq(madeForYou.userKey, userKey), isNotNull(madeForYou.skipReason), isNull(madeForYou.skipToldAt)))
    .returning({ reason: madeForYou.skipReason });
  return rows[0]?.reason ?? undefined;
}

export async function readSubscription(
  db: Db,
  userKey: UserKey,
): Promise<{ lastRunAt: Date | null; lastRunId: string | null; skipReason: string | null } | undefined> {
  const rows = await db
    .select({ lastRunAt: madeForYou.lastRunAt, lastRunId: madeForYou.lastRunId, skipReason: madeForYou.skipReason })
    .from(madeForYou)
    .where(eq(madeForYou.userKey, userKey))
    .limit(1);
  return rows[0];
}

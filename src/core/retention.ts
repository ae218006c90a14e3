/**
 * Retention (RETENTION_DAYS): rows that only record that something already happened are deleted once
 * they are older than the window, so the tables the bot polls stop growing with its age.
 *
 * Pruned, in batches of `batchSize` rows per statement, oldest first:
 * - outbox rows delivered before the window, unless their run may still need them: an active run (a
 *   re-executed iteration relies on its event keys being taken: outbox.key is unique) or a run whose
 *   thread display has not ended (run-feed.ts reads its events until the done marker is recorded);
 * - processed_events (Slack retry dedupe): a retry comes minutes after the event, never weeks;
 * - rating_events, the rating audit trail.
 * Kept whatever their age: ratings and rating_votes (the ratings themselves, tombstones included),
 * runs, run_iterations and candidates (forget finds the images made from a person's prompts through
 * them, and /optimize summaries read them), usage, platform_messages (a reaction on an old image
 * message is still a rating), images and scorer state.
 *
 * Several processes may prune at once: every batch claims its rows with FOR UPDATE SKIP LOCKED, so
 * two pruners delete disjoint rows without waiting on each other, and a row already gone is simply
 * not found — deleting is idempotent, so no lock between processes is needed.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/connection';
import { queryRows } from '../db/util';

export interface PruneCounts {
  outbox: number;
  processedEvents: number;
  ratingEvents: number;
}

export interface RetentionOptions {
  db: Db;
  log: Logger;
  /** Rows older than this many days go; 0 keeps everything (start() does nothing). */
  days: number;
  /** Rows per DELETE statement (default 1,000): short statements, short row locks. */
  batchSize?: number;
  /** Pause between batches (default 20 ms), so a large backlog does not hog the database. */
  pauseMs?: number;
  /** First pass this long after start() (default 60 s: after startup's own work). */
  firstAfterMs?: number;
  /** Then one pass every (default 1 h). */
  everyMs?: number;
}

/**
 * One DELETE of at most `limit` rows past the cutoff, per table. The victims are picked by index (age,
 * oldest first) and deleted by key through `= any(array(…))`, which keeps the delete itself on the
 * primary key instead of a hash join over the whole table.
 */
const batches: Record<keyof PruneCounts, (cutoff: SQL, limit: number) => SQL> = {
  outbox: (cutoff, limit) => sql`
    delete from outbox where id = any(array(
      select o.id from outbox o
       where o.delivered_at < ${cutoff}
         and not exists (select 1 from runs r
                          where r.id = o.run_id
                            and (r.status in ('queued','running')
                                 or (r.destination ? 'threadId' and r.display_ended_at is null)))
       order by o.delivered_at
       limit ${limit}
       for update of o skip locked))`,
  processedEvents: (cutoff, limit) => sql`
    delete from processed_events where event_key = any(array(
      select event_key from processed_events where created_at < ${cutoff}
       order by created_at limit ${limit} for update skip locked))`,
  ratingEvents: (cutoff, limit) => sql`
    delete from rating_events where id = any(array(
      select id from rating_events where created_at < ${cutoff}
       order by created_at limit ${limit} for update skip locked))`,
};

/** Deletes one batch (at most `limit` rows older than `days` days) from `table`; returns how many went. */
export async function pruneBatch(db: Db, table: keyof PruneCounts, days: number, limit: number): Promise<number> {
  const cutoff = sql`now() - make_interval(days => ${days}::int)`;
  const rows = await queryRows<{ n: number | string }>(
    db,
    sql`with gone as (${batches[table](cutoff, limit)} returning 1) select count(*)::int as n from gone`,
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * Deletes everything past the window, one batch at a time per table, until a batch comes back short.
 * `stopped()` is checked between batches, so a shutdown waits for one statement at most.
 */
export async function pruneExpired(
  db: Db,
  days: number,
  opts: { batchSize?: number; pauseMs?: number; stopped?: () => boolean } = {},
): Promise<PruneCounts> {
  const counts: PruneCounts = { outbox: 0, processedEvents: 0, ratingEvents: 0 };
  // 0 means keep forever, never "everything older than now".
  if (!(days > 0)) return counts;
  const limit = opts.batchSize ?? 1000;
  for (const table of Object.keys(batches) as (keyof PruneCounts)[]) {
    for (;;) {
      if (opts.stopped?.()) return counts;
      const n = await pruneBatch(db, table, days, limit);
      counts[table] += n;
      if (n < limit) break;
      await new Promise((r) => setTimeout(r, opts.pauseMs ?? 20));
    }
  }
  return counts;
}

/** The periodic pruning of one process: once shortly after start, then every hour. */
export class Retention {
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<void> | null = null;
  private started = false;
  /** Set by stop(): a pass in flight ends after its current batch. */
  private closed = false;

  constructor(private readonly opts: RetentionOptions) {}

  start(): void {
    if (this.started || this.opts.days <= 0) return;
    this.started = true;
    this.closed = false;
    const every = this.opts.everyMs ?? 60 * 60 * 1000;
    const schedule = (ms: number) => {
      this.timer = setTimeout(() => {
        void this.runNow().finally(() => {
          if (!this.closed) schedule(every);
        });
      }, ms);
      // Pruning never keeps the process alive on its own.
      this.timer.unref();
    };
    schedule(this.opts.firstAfterMs ?? 60_000);
  }

  /** Stops scheduling; resolves once the batch in flight (if any) is done. */
  async stop(): Promise<void> {
    this.closed = true;
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.pass;
  }

  /** One pass now (coalesced with one in flight). Never rejects: a failure is logged and the next pass retries. */
  runNow(): Promise<void> {
    this.pass ??= (async () => {
      const started = Date.now();
      const { db, days, batchSize, pauseMs, log } = this.opts;
      const counts = await pruneExpired(db, days, { batchSize, pauseMs, stopped: () => this.closed });
      if (counts.outbox + counts.processedEvents + counts.ratingEvents > 0)
        log.info({ pruned: counts, days, ms: Date.now() - started }, 'retention: deleted rows past RETENTION_DAYS');
    })()
      .catch((err: unknown) => this.opts.log.warn({ err }, 'retention pass failed; the next one retries'))
      .finally(() => {
        this.pass = null;
      });
    return this.pass;
  }
}

/**
 * Tells every process whose ratings changed (pg_notify on the rating channel, the person's key as
 * payload), right after the changes committed, several people per statement.
 *
 * Why not in the rating's own transaction: PostgreSQL serializes the commits of every transaction that
 * notifies (a database-wide lock held from before the commit record until after its WAL flush), so one
 * notify per rating caps the whole server at one rating per disk flush. Sent after the commit, the
 * ratings' commits share flushes again and the notifications of many ratings cost one commit.
 *
 * At most one batch is in flight: a lone rating is announced at once, and those committed while a
 * batch is being sent go out together in the next. A notification is never sent for a change that did
 * not commit, and one lost (the process dies between commit and batch, or the batch fails) costs other
 * processes a refit on use — their caches compare ledger versions before use — never a wrong score.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { silentLogger, type Logger } from '../log';
import type { UserKey } from './identity';

/** Keys per statement: a bounded statement however far behind the announcer fell. */
const MAX_BATCH = 500;

export class RatingAnnouncer {
  private pending: UserKey[] = [];
  private sending: Promise<void> | null = null;

  constructor(
    private readonly db: Pick<Db, 'execute'>,
    private readonly channel: string,
    private readonly log: Logger = silentLogger,
  ) {}

  /** Queues a committed change of this person; never throws, never waits. */
  announce(userKey: UserKey): void {
    this.pending.push(userKey);
    this.sending ??= this.drain();
  }

  /** Resolves once every change announced so far has been sent (or given up on). */
  async sent(): Promise<void> {
    while (this.sending) await this.sending;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = takeDistinct(this.pending, MAX_BATCH);
        try {
          const keys = sql.join(
            batch.map((k) => sql`${k}`),
            sql`, `,
          );
          await this.db.execute(sql`select pg_notify(${this.channel}, k) from unnest(array[${keys}]::text[]) as k`);
        } catch (err) {
          this.log.warn({ err, people: batch.length }, 'could not announce rating changes; other processes refit those people on use');
        }
      }
    } finally {
      this.sending = null;
    }
  }
}

/**
 * Removes and returns up to `max` keys from the front of `queue`, each once. A repeated key stays
 * queued for the next batch: PostgreSQL delivers identical notifications of one transaction once, and
 * a listener counts each change it hears.
 */
function takeDistinct(queue: UserKey[], max: number): UserKey[] {
  const batch = new Set<UserKey>();
  const rest: UserKey[] = [];
  for (const key of queue) {
    if (batch.size < max && !batch.has(key)) batch.add(key);
    else rest.push(key);
  }
  queue.splice(0, queue.length, ...rest);
  return [...batch];
}

/**
 * Tells every process whose ratings changed (pg_notify on the rating channel, the person's key as
 * payload), right after the changes committed, several people per statement.
 *
 * Why not in the rating's own transaction: PostgreSQL serializes the commits of every transaction that
 * notifies (a database-wide lock held from before the commit record until after its WAL flush), so one
 * notify per rating caps the whole server at one rating per disk flush. Sent after the commit, the
 * ratings' commits share flushes again and the notifications of many ratings cost one commit.
 *
 * At most one batch is in flight, and a batch leaves `gatherMs` after the first change waiting for it:
 * the ratings committed meanwhile and while a batch is being sent go out together in the next. Each
 * batch is a transaction of its own on the server, so announcing every rating at once cost nearly a
 * second transaction per rating at a thousand ratings a second; a few milliseconds' wait is nothing
 * next to the refit lag another process is allowed (about a second). A notification is never sent for a change that did
 * not commit, and one lost (the process dies between commit and batch, or the batch fails) costs other
 * processes a refit on use — their caches compare ledger versions before use — never a wrong score.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { silentLogger, type Logger } from '../log';
import type { UserKey } from './identity';

/** Keys per statement: a bounded statement however far behind the announcer fell. */
const MAX_BATCH = 500;

/** How long the first change waits for others to share its statement (ms). */
const DEFAULT_GATHER_MS = 5;

export class RatingAnnouncer {
  private pending: UserKey[] = [];
  private sending: Promise<void> | null = null;

  constructor(
    private readonly db: Pick<Db, 'execute'>,
    private readonly channel: string,
    private readonly log: Logger = silentLogger,
    private readonly gatherMs = DEFAULT_GATHER_MS,
  ) {}

  /** Queues a committed change of this person; never throws, never waits. */
  announce(userKey: UserKey): void {
    this.pending.push(userKey);
    this.sending ??= this.gathered().then(() => this.drain());
  }

  private gathered(): Promise<void> {
    if (this.gatherMs <= 0) return Promise.resolve();
    return new Promise((resolve) => setTimeout(resolve, this.gatherMs));
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
          // The keys as one parameter: one statement text whatever the batch's size, prepared once per connection.
          await this.db.execute(
            sql`select pg_notify(${this.channel}, k) from jsonb_array_elements_text(${JSON.stringify(batch)}::jsonb) as k`,
          );
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

/**
 * "Have we handled this already?" for Slack deliveries: Events API retries (X-Slack-Retry-Num, the
 * same event_id) and slash commands (trigger_id). `claim` returns true exactly once per key — across
 * processes when backed by the database's processed_events table (insert … on conflict do nothing).
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../../db/connection';
import { processedEvents } from '../../db/schema';

export interface EventClaimer {
  /** True the first time `key` is claimed, false for every repeat. */
  claim(key: string, userKey?: string): Promise<boolean>;
  /** Gives a claim back after the work failed, so a redelivery is handled instead of dropped. */
  release(key: string): Promise<void>;
}

export function dbEventClaimer(db: Db): EventClaimer {
  return {
    async claim(key, userKey) {
      const rows = await db
        .insert(processedEvents)
        .values({ eventKey: key, userKey: userKey ?? null })
        .onConflictDoNothing()
        .returning({ k: processedEvents.eventKey });
      return rows.length === 1;
    },
    async release(key) {
      await db.delete(processedEvents).where(sql`${processedEvents.eventKey} = ${key}`);
    },
  };
}

/** Rows older than `days` are no longer needed: Slack retries for minutes, not days. Returns how many went. */
export async function pruneProcessedEvents(db: Db, days = PROCESSED_EVENTS_KEEP_DAYS): Promise<number> {
  const gone = await db
    .delete(processedEvents)
    .where(sql`${processedEvents.createdAt} < now() - make_interval(days => ${days})`)
    .returning({ k: processedEvents.eventKey });
  return gone.length;
}

export const PROCESSED_EVENTS_KEEP_DAYS = 7;
export const PRUNE_EVERY_MS = 24 * 60 * 60 * 1000;

export interface PruneSchedule {
  /** Resolves when the first prune (run at once) has finished; never rejects (failures are logged). */
  readonly first: Promise<void>;
  stop(): void;
}

/**
 * Prunes now and then every `everyMs` (daily by default) so processed_events stays small on a
 * long-running bot. The timer is unref'd: it never keeps the process alive on its own. A failed
 * prune is only logged — the table merely grows until the next one.
 */
export function scheduleProcessedEventsPruning(
  db: Db,
  opts: { log: { info(o: object, msg: string): void; warn(o: object, msg: string): void }; days?: number; everyMs?: number },
): PruneSchedule {
  const days = opts.days ?? PROCESSED_EVENTS_KEEP_DAYS;
  let running: Promise<void> | null = null;
  const prune = (): Promise<void> =>
    (running ??= pruneProcessedEvents(db, days)
      .then((n) => {
        if (n > 0) opts.log.info({ pruned: n, days }, 'pruned old processed_events rows');
      })
      .catch((err: unknown) => opts.log.warn({ err }, 'pruning processed_events failed'))
      .finally(() => {
        running = null;
      }));
  const first = prune();
  const timer = setInterval(() => void prune(), opts.everyMs ?? PRUNE_EVERY_MS);
  timer.unref();
  return { first, stop: () => clearInterval(timer) };
}

/** A process-local claimer (no database given): bounded memory, oldest keys forgotten first. */
export function memoryEventClaimer(max = 50_000): EventClaimer {
  const seen = new Set<string>();
  return {
    claim(key) {
      if (seen.has(key)) return Promise.resolve(false);
      seen.add(key);
      if (seen.size > max) seen.delete(seen.values().next().value as string);
      return Promise.resolve(true);
    },
    release(key) {
      seen.delete(key);
      return Promise.resolve();
    },
  };
}

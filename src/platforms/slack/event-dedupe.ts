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
  };
}

/** Rows older than `days` are no longer needed: Slack retries for minutes, not days. */
export async function pruneProcessedEvents(db: Db, days = 7): Promise<void> {
  await db.delete(processedEvents).where(sql`${processedEvents.createdAt} < now() - make_interval(days => ${days})`);
}

/** A process-local claimer (no database given): bounded memory, oldest keys forgotten first. */
export function memoryEventClaimer(max = 50_000): EventClaimer {
  const seen = new Set<string>();
  return {
    async claim(key) {
      if (seen.has(key)) return false;
      seen.add(key);
      if (seen.size > max) seen.delete(seen.values().next().value as string);
      return true;
    },
  };
}

/**
 * The outbox as each chat platform reads it: events of runs shown on that platform (destination has a
 * thread) that the platform has not finished showing yet. Unlike RunService.subscribe (one live
 * hand-over, marked delivered globally), this read is per platform and repeatable, so a process that
 * starts after a crash picks a run up where the thread left off; platforms make posting exactly-once
 * by recording each message with its event key (platform_messages.event_key).
 *
 * Cursors are per run: one worker commits a run's events in order, while events of different runs
 * may commit out of id order, so a single global cursor could skip a row that commits late.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { queryRows } from '../db/util';
import type { RunEvent } from './optimizer/events';

export interface FeedEvent {
  /** Outbox row id (increasing within a run). */
  id: number;
  runId: string;
  destination: Record<string, unknown>;
  event: RunEvent;
}

/** Marks the end of a run's display on a platform: recorded once the closing notice is out. */
export const runDoneKey = (runId: string): string => `${runId}:end:done`;

/**
 * Outbox events (id order) of runs whose destination is `platform` and has a `threadId`, that have
 * no done marker on that platform yet, newer than `cursors[runId]` (0 when absent).
 *
 * `display_ended_at is null` (the marker's mirror, kept by a trigger) matches the partial index
 * runs_feed_idx: each poll reads the few runs still being shown, not every run ever made; the marker
 * itself stays the rule.
 */
export async function pendingRunEvents(db: Db, platform: string, cursors: Record<string, number>, limit = 500): Promise<FeedEvent[]> {
  const rows = await queryRows<{ id: number | string; run_id: string; destination: unknown; payload: unknown }>(
    db,
    sql`select o.id, o.run_id, r.destination, o.payload
          from outbox o join runs r on r.id = o.run_id
         where r.destination->>'platform' = ${platform}
           and r.destination ? 'threadId'
           and r.display_ended_at is null
           and not exists (select 1 from platform_messages pm
                            where pm.platform = ${platform} and pm.event_key = r.id || ':end:done')
           and o.id > coalesce((${JSON.stringify(cursors)}::jsonb ->> o.run_id)::bigint, 0)
         order by o.id
         limit ${limit}`,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    runId: r.run_id,
    destination: parseJson(r.destination) as Record<string, unknown>,
    event: parseJson(r.payload) as RunEvent,
  }));
}

/**
 * Stores the thread a platform opened for a run that had none (a made-for-you run), only if none is
 * stored yet (a conditional update: of two processes racing, the first one's thread stays); resolves
 * to the run's thread now, whichever process stored it.
 */
export async function attachRunThread(db: Db, runId: string, threadId: string): Promise<string | undefined> {
  const set = await queryRows<{ thread_id: string }>(
    db,
    sql`update runs set destination = coalesce(destination, '{}'::jsonb) || jsonb_build_object('threadId', ${threadId}::text),
                        updated_at = updated_at
         where id = ${runId} and (destination->>'threadId') is null
     returning destination->>'threadId' as thread_id`,
  );
  if (set[0]) return set[0].thread_id;
  const now = await queryRows<{ thread_id: string | null }>(
    db,
    sql`select destination->>'threadId' as thread_id from runs where id = ${runId}`,
  );
  return now[0]?.thread_id ?? undefined;
}

function parseJson(v: unknown): unknown {
  return typeof v === 'string' ? JSON.parse(v) : v;
}

/**
 * Retention (core/retention.ts): rows past RETENTION_DAYS go in batches — delivered outbox events of
 * runs whose display has ended, processed_events, rating_events — while fresh rows, undelivered
 * events, events a run may still need, and every rating and vote stay. Also the trigger that mirrors
 * a run's done marker into runs.display_ended_at (the run feed's index key).
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/connection';
import { queryRows } from '../src/db/util';
import { silentLogger } from '../src/log';
import { pendingRunEvents } from '../src/core/run-feed';
import { pruneExpired, Retention } from '../src/core/retention';
import { testBackends } from './helpers/db';
import { waitFor } from './helpers/wait';

const dest = (thread: string | null) => JSON.stringify({ platform: 'discord', channelId: 'c', ...(thread ? { threadId: thread } : {}) });

async function seed(database: Database): Promise<void> {
  const db = database.db;
  for (const t of ['outbox', 'platform_messages', 'runs', 'processed_events', 'rating_events', 'ratings', 'rating_votes'])
    await db.execute(sql.raw(`delete from ${t}`));
  const runsRows: [string, string, string | null][] = [
    ['ended', 'finished', 't1'], // shown to its end: its old delivered events may go
    ['active', 'running', 't2'], // may still re-insert its event keys: keep
    ['showing', 'finished', 't3'], // its thread has not shown the end yet: the feed still reads these
    ['unthreaded', 'finished', null], // never shown in a thread: nothing reads its events again
  ];
  for (const [id, status, thread] of runsRows)
    await db.execute(sql`insert into runs (id, user_key, status, initial_prompt, params, destination)
                         values (${id}, ${`u-${id}`}, ${status}, 'p', '{}'::jsonb, ${dest(thread)}::jsonb)`);
  await db.execute(sql`insert into platform_messages (platform, message_id, channel_id, run_id, kind, event_key)
                       values ('discord', 'ended:end:done', 'c', 'ended', 'info', 'ended:end:done')`);
  const outboxRows: [key: string, runId: string | null, deliveredDaysAgo: number | null][] = [
    ['ended-old-1', 'ended', 40],
    ['ended-old-2', 'ended', 35],
    ['ended-old-3', 'ended', 31],
    ['ended-fresh-1', 'ended', 1],
    ['ended-fresh-2', 'ended', 29],
    ['ended-undelivered', 'ended', null],
    ['active-old-1', 'active', 40],
    ['active-old-2', 'active', 40],
    ['showing-old-1', 'showing', 40],
    ['showing-old-2', 'showing', 40],
    ['unthreaded-old-1', 'unthreaded', 40],
    ['unthreaded-old-2', 'unthreaded', 40],
    ['runless-old', null, 40],
  ];
  for (const [key, runId, days] of outboxRows)
    await db.execute(sql`insert into outbox (run_id, key, kind, payload, delivered_at, delivered_ref, created_at)
                         values (${runId}, ${key}, 'run.iteration', ${JSON.stringify({ type: 'run.iteration', key, runId })}::jsonb,
                                 ${days === null ? null : sql`now() - make_interval(days => ${days}::int)`},
                                 ${days === null ? null : 'delivered w'}, now() - interval '50 days')`);
  for (const [key, days] of [
    ['ev-old-1', 60],
    ['ev-old-2', 45],
    ['ev-old-3', 31],
    ['ev-fresh-1', 2],
    ['ev-fresh-2', 0],
  ] as const)
    await db.execute(
      sql`insert into processed_events (event_key, created_at) values (${key}, now() - make_interval(days => ${days}::int))`,
    );
  for (const [score, days] of [
    [1, 90],
    [2, 60],
    [3, 31],
    [4, 10],
    [5, 0],
  ] as const) {
    await db.execute(sql`insert into rating_events (user_key, image_id, kind, score, event_time, effective_score, source, created_at)
                         values ('rater', ${`img${score}`}, 'add', ${score}, now() - make_interval(days => ${days}::int), ${score}, 'test',
                                 now() - make_interval(days => ${days}::int))`);
    // Ratings and votes far older than the window: they are the truth and always stay.
    await db.execute(sql`insert into rating_votes (user_key, image_id, score, present, event_time, source)
                         values ('rater', ${`img${score}`}, ${score}, ${score !== 3}, now() - interval '400 days', 'test')`);
    if (score !== 3)
      await db.execute(sql`insert into ratings (user_key, image_id, score, event_time, source, updated_at)
                           values ('rater', ${`img${score}`}, ${score}, now() - interval '400 days', 'test', now() - interval '400 days')`);
  }
}

const keys = async (database: Database, q: string): Promise<string[]> =>
  (await queryRows<{ k: string }>(database.db, sql.raw(q))).map((r) => r.k).sort();
const count = async (database: Database, table: string): Promise<number> =>
  Number((await queryRows<{ n: number | string }>(database.db, sql.raw(`select count(*) as n from ${table}`)))[0]!.n);

for (const backend of testBackends()) {
  describe(`retention (${backend.name})`, () => {
    let database: Database;
    beforeAll(async () => {
      database = await backend.open();
    });
    afterAll(async () => {
      await database?.close();
    });
    beforeEach(async () => {
      await seed(database);
    });

    it('deletes exactly the old delivered / processed / audit rows, in batches, and keeps every rating', async () => {
      const counts = await pruneExpired(database.db, 30, { batchSize: 2, pauseMs: 0 });
      expect(counts).toEqual({ outbox: 6, processedEvents: 3, ratingEvents: 3 });
      expect(await keys(database, 'select key as k from outbox')).toEqual(
        ['ended-fresh-1', 'ended-fresh-2', 'ended-undelivered', 'active-old-1', 'active-old-2', 'showing-old-1', 'showing-old-2'].sort(),
      );
      expect(await keys(database, 'select event_key as k from processed_events')).toEqual(['ev-fresh-1', 'ev-fresh-2']);
      expect(await keys(database, 'select image_id as k from rating_events')).toEqual(['img4', 'img5']);
      expect(await count(database, 'ratings')).toBe(4);
      expect(await count(database, 'rating_votes')).toBe(5);
      expect(await count(database, 'runs')).toBe(4);
      expect(await count(database, 'platform_messages')).toBe(1);
      // A second pass finds nothing more; 0 days keeps everything.
      expect(await pruneExpired(database.db, 30)).toEqual({ outbox: 0, processedEvents: 0, ratingEvents: 0 });
      expect(await pruneExpired(database.db, 0)).toEqual({ outbox: 0, processedEvents: 0, ratingEvents: 0 });
      expect(await count(database, 'outbox')).toBe(7);
    });

    it('the done marker sets runs.display_ended_at (deleting it clears it): the feed reads only runs still shown', async () => {
      const ended = async (id: string) =>
        (await queryRows<{ e: unknown }>(database.db, sql`select display_ended_at as e from runs where id = ${id}`))[0]!.e;
      expect(await ended('ended')).not.toBeNull();
      expect(await ended('showing')).toBeNull();
      const feedRuns = async () => [...new Set((await pendingRunEvents(database.db, 'discord', {})).map((e) => e.runId))].sort();
      expect(await feedRuns()).toEqual(['active', 'showing']);
      // A replay (the marker deleted, as a crash before its record leaves it) brings the run back.
      await database.db.execute(sql`delete from platform_messages where event_key = 'ended:end:done'`);
      expect(await ended('ended')).toBeNull();
      expect(await feedRuns()).toEqual(['active', 'ended', 'showing']);
      // A marker on another platform does not end a discord run.
      await database.db.execute(sql`insert into platform_messages (platform, message_id, channel_id, run_id, kind, event_key)
                                    values ('slack', 'x', 'c', 'showing', 'info', 'showing:end:done')`);
      expect(await ended('showing')).toBeNull();
    });

    it('Retention prunes shortly after start and stops cleanly; RETENTION_DAYS=0 never prunes', async () => {
      const off = new Retention({ db: database.db, log: silentLogger, days: 0, firstAfterMs: 0 });
      off.start();
      await new Promise((r) => setTimeout(r, 100));
      await off.stop();
      expect(await count(database, 'processed_events')).toBe(5);

      const retention = new Retention({ db: database.db, log: silentLogger, days: 30, firstAfterMs: 0, everyMs: 60_000 });
      retention.start();
      await waitFor(async () => (await count(database, 'processed_events')) === 2, 'the first pass');
      await retention.stop();
      expect(await count(database, 'rating_events')).toBe(2);
      expect(await count(database, 'ratings')).toBe(4);
    });
  });
}

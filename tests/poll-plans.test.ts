/**
 * Every periodic poll reads by index on large tables (real PostgreSQL only): the outbox claim
 * (every 500 ms per process), the run feed (every 250 ms per platform), the run sweep (every 10 s),
 * the run-start quota checks and a retention batch. The queries are the code's own, captured through
 * a drizzle logger and EXPLAINed after ANALYZE; the plans are printed for the record. No timings.
 */
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database, type Db } from '../src/db/connection';
import * as schema from '../src/db/schema';
import { silentLogger } from '../src/log';
import { pendingRunEvents } from '../src/core/run-feed';
import { RunOutbox } from '../src/core/run-outbox';
import { assertImageQuota, assertNoActiveRun, budgetLeftUsd } from '../src/core/run-quotas';
import { pruneBatch } from '../src/core/retention';
import type { UserKey } from '../src/core/identity';
import { createFreshPostgresDatabase, TEST_DATABASE_URL } from './helpers/db';
import { makeService } from './helpers/runs';

const BIG = ['outbox', 'runs', 'candidates', 'usage', 'platform_messages', 'processed_events', 'rating_events'];
const RUNS = 20_000;

/** Generated history: 20k finished runs shown to their end, 340k delivered outbox rows, 200k candidates… */
async function fill(db: Db): Promise<void> {
  await db.execute(sql`insert into runs (id, user_key, scope_id, status, initial_prompt, params, destination, created_at, updated_at)
    select 'r' || g, 'u' || (g % 500), 's' || (g % 20), 'finished', 'p', '{"iterations":4,"candidates":4}'::jsonb,
           jsonb_build_object('platform', 'discord', 'channelId', 'c', 'threadId', 't' || g),
           now() - make_interval(mins => (${RUNS} - g) * 6), now() - make_interval(mins => (${RUNS} - g) * 6)
      from generate_series(1, ${RUNS}) g`);
  // Runs going on now: one per person (the one-active-run index), not ended on their platform.
  await db.execute(sql`insert into runs (id, user_key, scope_id, status, initial_prompt, params, destination)
    select 'a' || g, 'active' || g, 's' || (g % 20), case when g % 2 = 0 then 'running' else 'queued' end, 'p',
           '{"iterations":4,"candidates":4}'::jsonb, jsonb_build_object('platform', 'discord', 'channelId', 'c', 'threadId', 'ta' || g)
      from generate_series(1, 20) g`);
  await db.execute(sql`insert into platform_messages (platform, message_id, channel_id, run_id, kind, event_key, created_at)
    select 'discord', 'r' || g || ':end:done', 'c', 'r' || g, 'info', 'r' || g || ':end:done', now() - make_interval(mins => (${RUNS} - g) * 6)
      from generate_series(1, ${RUNS}) g`);
  await db.execute(sql`insert into candidates (run_id, iteration, idx, prompt, image_id, score, created_at)
    select 'r' || g, i / 4, i % 4, 'p', 'img' || g || '-' || i, 5, now() - make_interval(mins => (${RUNS} - g) * 6)
      from generate_series(1, ${RUNS}) g, generate_series(0, 9) i`);
  await db.execute(sql`insert into outbox (run_id, key, kind, payload, delivered_at, delivered_ref, created_at)
    select 'r' || g, 'r' || g || ':' || i, 'run.iteration', '{"type":"run.iteration"}'::jsonb,
           now() - make_interval(mins => (${RUNS} - g) * 6), 'delivered w', now() - make_interval(mins => (${RUNS} - g) * 6)
      from generate_series(1, ${RUNS}) g, generate_series(1, 17) i`);
  await db.execute(sql`insert into outbox (run_id, key, kind, payload)
    select 'a' || g, 'a' || g || ':' || i, 'run.iteration', '{"type":"run.iteration"}'::jsonb
      from generate_series(1, 20) g, generate_series(1, 3) i`);
  await db.execute(sql`insert into usage (run_id, user_key, scope_id, provider, model, kind, images, cost_usd, created_at)
    select 'r' || g, 'u' || (g % 500), 's' || (g % 20), 'sketch', 'm', 'image', 1, 0.001, now() - make_interval(mins => (100000 - g))
      from generate_series(1, 100000) g`);
  await db.execute(sql`insert into processed_events (event_key, created_at)
    select 'ev' || g, now() - make_interval(mins => g) from generate_series(1, 50000) g`);
  await db.execute(sql`insert into rating_events (user_key, image_id, kind, score, event_time, source, created_at)
    select 'u' || (g % 500), 'img' || g, 'add', 5, now() - make_interval(mins => g), 'test', now() - make_interval(mins => g)
      from generate_series(1, 100000) g`);
  await db.execute(sql`analyze`);
}

describe.skipIf(!TEST_DATABASE_URL)('poll query plans on PostgreSQL (large tables)', () => {
  let database: Database;
  let drop: () => Promise<void>;
  let client: postgres.Sql;
  /** The same database through a drizzle whose logger records every query (and may stop it before it runs). */
  let capturing: Db;
  const captured: { query: string; params: unknown[] }[] = [];
  let stopBeforeRunning = false;

  beforeAll(async () => {
    const fresh = await createFreshPostgresDatabase();
    drop = fresh.drop;
    database = await openDatabase({ databaseUrl: fresh.url, maxConnections: 4 });
    await fill(database.db);
    client = postgres(fresh.url, { max: 1, prepare: false, onnotice: () => {} });
    capturing = drizzle(client, {
      schema,
      logger: {
        logQuery(query, params) {
          captured.push({ query, params });
          if (stopBeforeRunning) throw new Error('captured');
        },
      },
    });
  }, 120_000);
  afterAll(async () => {
    await client?.end({ timeout: 5 });
    await database?.close();
    await drop?.();
  });

  /** Runs `action` against the capturing db and returns the plans of the queries it sent. */
  async function plansOf(what: string, action: () => Promise<unknown>, opts: { stop?: boolean } = {}): Promise<string[]> {
    captured.length = 0;
    stopBeforeRunning = opts.stop ?? false;
    await action().catch((err: Error) => {
      if (err.message !== 'captured' && !String((err as { cause?: Error }).cause?.message).includes('captured')) throw err;
    });
    stopBeforeRunning = false;
    expect(captured.length).toBeGreaterThan(0);
    const plans: string[] = [];
    for (const [i, q] of captured.entries()) {
      const rows = await client.unsafe(`explain ${q.query}`, q.params as never[]);
      const plan = rows.map((r) => (r as Record<string, string>)['QUERY PLAN']).join('\n');
      console.log(`--- ${what}${captured.length > 1 ? ` (query ${i + 1})` : ''}\n${q.query.replace(/\s+/g, ' ')}\n${plan}\n`);
      plans.push(plan);
    }
    return plans;
  }

  function expectIndexOnly(plan: string): void {
    expect(plan).toMatch(/Index Scan|Index Only Scan|Bitmap Index Scan/);
    for (const table of BIG) expect(plan).not.toMatch(new RegExp(`Seq Scan on ${table}\\b`));
  }

  it('outbox claim: the partial index of undelivered rows', async () => {
    const outbox = new RunOutbox(capturing, 'w-plan', silentLogger);
    outbox.on(() => {});
    const [claim] = await plansOf('outbox claim', () => outbox.drain(), { stop: true });
    expect(claim).toMatch(/outbox_undelivered_idx/);
    expectIndexOnly(claim!);
  });

  it('run feed: the partial index of runs still being shown', async () => {
    const [feed] = await plansOf('run feed', () => pendingRunEvents(capturing, 'discord', { a1: 1 }));
    expect(feed).toMatch(/runs_feed_idx/);
    expectIndexOnly(feed!);
  });

  it('run sweep: active runs by status', async () => {
    const { service } = makeService(capturing);
    const [sweep] = await plansOf('run sweep', () => service.sweep());
    expectIndexOnly(sweep!);
  });

  it('run start: one active run, budget, image quotas of the person and of the workspace', async () => {
    const quota = { DAILY_IMAGE_QUOTA_USER: 1_000_000, DAILY_IMAGE_QUOTA_WORKSPACE: 10_000_000, DAILY_BUDGET_USD: 1_000_000 };
    const user = 'u7' as UserKey;
    const plans = [
      ...(await plansOf('quota: active run', () => assertNoActiveRun(capturing, user))),
      ...(await plansOf('quota: budget', () => budgetLeftUsd(capturing, quota, user))),
      ...(await plansOf('quota: images (person, then workspace)', () => assertImageQuota(capturing, quota, user, 's3', 16))),
    ];
    expect(plans).toHaveLength(4);
    for (const p of plans) expectIndexOnly(p);
    expect(plans[3]).toMatch(/runs_scope_idx/);
  });

  it('retention batches: by age, oldest first, deleted by key', async () => {
    for (const [table, index] of [
      ['outbox', 'outbox_delivered_idx'],
      ['processedEvents', 'processed_events_created_idx'],
      ['ratingEvents', 'rating_events_received_idx'],
    ] as const) {
      const [plan] = await plansOf(`retention batch ${table}`, () => pruneBatch(capturing, table, 30, 1000), { stop: true });
      expect(plan).toMatch(new RegExp(index));
      expectIndexOnly(plan!);
    }
  });
});

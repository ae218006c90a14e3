/**
 * The same reaction event delivered many times at once (gateway resume replay, Slack retries, two
 * processes) → exactly one vote row, one rating row, one audit row and no error. The real test is on
 * PostgreSQL (READ COMMITTED, a postgres.js pool of 20 connections); PGlite runs it too. Without
 * TEST_DATABASE_URL the PostgreSQL part is skipped, loudly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, count, eq, sql } from 'drizzle-orm';
import { openDatabase, type Database } from '../src/db/connection';
import { forgottenUsers, images, ratingEvents, ratingVotes, ratings } from '../src/db/schema';
import { queryRows } from '../src/db/util';
import { ForgottenError } from '../src/core/errors';
import { hashUserKey } from '../src/core/identity';
import type { RatingChange } from '../src/core/records';
import { RatingLedger, lockPersonExclusive } from '../src/core/ratings';
import { TEST_DATABASE_URL, openFreshPostgres } from './helpers/db';

const CALLERS = 16;
const EVENTS = 1000;

interface Backend {
  name: 'pglite' | 'postgres';
  open(): Promise<Database>;
}
const backends: Backend[] = [{ name: 'pglite', open: () => openDatabase({}) }];
if (TEST_DATABASE_URL) backends.push({ name: 'postgres', open: () => openFreshPostgres({ maxConnections: 20 }) });
else {
  describe('rating concurrency on real PostgreSQL', () => {
    it.skip('SKIPPED: TEST_DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test); CI sets it', () => {});
  });
}

/** Runs `events` through `callers` concurrent workers, each taking the next event as soon as it is free. */
async function deliver<T>(events: T[], callers: number, send: (e: T) => Promise<RatingChange>) {
  const results: RatingChange[] = [];
  const errors: unknown[] = [];
  let next = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < events.length) {
        const e = events[next++]!;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          results.push(await send(e));
        } catch (err) {
          errors.push(err);
        } finally {
          inFlight--;
        }
      }
    }),
  );
  return { results, errors, maxInFlight };
}

async function counts(database: Database, userKey: string, imageId: string) {
  const db = database.db;
  const [v] = await db
    .select({ n: count() })
    .from(ratingVotes)
    .where(and(eq(ratingVotes.userKey, userKey), eq(ratingVotes.imageId, imageId)));
  const [r] = await db
    .select({ n: count() })
    .from(ratings)
    .where(and(eq(ratings.userKey, userKey), eq(ratings.imageId, imageId)));
  const [e] = await db
    .select({ n: count() })
    .from(ratingEvents)
    .where(and(eq(ratingEvents.userKey, userKey), eq(ratingEvents.imageId, imageId)));
  return { votes: Number(v?.n), ratings: Number(r?.n), events: Number(e?.n) };
}

for (const backend of backends) {
  describe(`rating concurrency on ${backend.name}`, () => {
    let database: Database;
    let ledger: RatingLedger;

    beforeAll(async () => {
      database = await backend.open();
      ledger = new RatingLedger(database.db);
      // Open every pooled connection up front, so the first wave of callers really runs in parallel
      // instead of queueing behind connection set-up (which would hide races).
      await Promise.all(Array.from({ length: 20 }, () => database.db.execute(sql`select pg_sleep(0.05)`)));
      await database.db
        .insert(images)
        .values(['img-1', 'img-2', 'img-3'].map((id) => ({ id, width: 8, height: 8, bytes: 100, source: 'gallery' })));
    });
    afterAll(async () => {
      await database?.close();
    });

    it(`${EVENTS} identical events from ${CALLERS} concurrent callers → 1 vote, 1 rating, 1 audit row, 0 errors`, async () => {
      const u = 'discord:-:storm';
      const emitted: RatingChange[] = [];
      const off = ledger.onChange((c) => emitted.push(c));
      const event = {
        userKey: u,
        imageId: 'img-1',
        score: 7,
        eventTime: new Date('2025-03-01T10:00:00.123Z'),
        ctx: { source: 'discord', scopeId: 'g', channelId: 'c', messageId: 'm' },
      };
      const { results, errors, maxInFlight } = await deliver(
        Array.from({ length: EVENTS }, () => event),
        CALLERS,
        (e) => ledger.rate(e),
      );
      off();
      expect(errors).toEqual([]);
      expect(maxInFlight).toBe(CALLERS);
      expect(results.length).toBe(EVENTS);
      expect(results.filter((r) => r.changed).length).toBe(1);
      expect(results.every((r) => r.after === 7)).toBe(true);
      expect(emitted.length).toBe(1);
      expect(await counts(database, u, 'img-1')).toEqual({ votes: 1, ratings: 1, events: 1 });
      expect(await ledger.getRating(u, 'img-1')).toEqual({ imageId: 'img-1', score: 7, eventTime: event.eventTime });
    }, 180_000);

    it('concurrent adds and removes of several scores, each delivered by every caller, converge to the latest remaining vote', async () => {
      const u = 'slack:T1:mixed';
      // add 7, add 9, add 3, remove 9, remove 3, add 5, remove 5 → 7 remains (its add is the newest present).
      const script: { kind: 'add' | 'remove'; score: number; s: number }[] = [
        { kind: 'add', score: 7, s: 1 },
        { kind: 'add', score: 9, s: 2 },
        { kind: 'add', score: 3, s: 3 },
        { kind: 'remove', score: 9, s: 4 },
        { kind: 'remove', score: 3, s: 5 },
        { kind: 'add', score: 5, s: 6 },
        { kind: 'remove', score: 5, s: 7 },
      ];
      // Every event 30 times, interleaved, so adds and removes of the same vote race each other.
      const events = Array.from({ length: 30 }, () => script).flat();
      const { errors } = await deliver(events, CALLERS, (e) =>
        (e.kind === 'add' ? ledger.rate.bind(ledger) : ledger.unrate.bind(ledger))({
          userKey: u,
          imageId: 'img-2',
          score: e.score,
          eventTime: new Date(Date.UTC(2025, 2, 1, 0, 0, e.s)),
          ctx: { source: 'slack' },
        }),
      );
      expect(errors).toEqual([]);
      expect((await ledger.getRating(u, 'img-2'))?.score).toBe(7);
      const c = await counts(database, u, 'img-2');
      expect(c.votes).toBe(4);
      expect(c.ratings).toBe(1);
      // Each of the 7 distinct events is audited at most once (some are no-ops in the order they won the race).
      expect(c.events).toBeLessThanOrEqual(script.length);
      const h = await ledger.history(u, 'img-2');
      expect(h.at(-1)?.effectiveScore).toBe(7);
      expect(new Set(h.map((e) => `${e.kind}${e.score}@${e.eventTime.getTime()}`)).size).toBe(h.length);
    });

    it.skipIf(backend.name !== 'postgres')(
      'a forget holding the person lock makes an in-flight rating wait and then be refused',
      async () => {
        const u = 'discord:-:leaving';
        let rated: Promise<unknown> | undefined;
        await database.db.transaction(async (tx) => {
          await lockPersonExclusive(tx, u);
          await tx.insert(forgottenUsers).values({ userKeyHash: hashUserKey(u) });
          rated = ledger.rate({ userKey: u, imageId: 'img-3', score: 4, ctx: { source: 'discord' } }).catch((err: unknown) => err);
          // Wait (bounded) until that rating is blocked on our advisory lock, so it cannot have read anything yet.
          for (let i = 0; i < 200; i++) {
            const [w] = await queryRows<{ n: number }>(
              database.db,
              sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`,
            );
            if (Number(w?.n) > 0) break;
            await new Promise((r) => setTimeout(r, 10));
          }
        });
        expect(await rated).toBeInstanceOf(ForgottenError);
        expect(await counts(database, u, 'img-3')).toEqual({ votes: 0, ratings: 0, events: 0 });
      },
    );
  });
}

/**
 * The rating ledger on every test backend: latest-remaining-wins, tombstones, duplicates, audit,
 * typed errors, forgotten people, change events — and a property test of out-of-order, duplicated
 * delivery against a reference model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, count, eq } from 'drizzle-orm';
import type { Database } from '../src/db/connection';
import { forgottenUsers, images, ratingEvents, ratingVotes, ratings, userScopes, users } from '../src/db/schema';
import { ForgottenError, InvalidScoreError, UnknownImageError } from '../src/core/errors';
import { hashUserKey } from '../src/core/identity';
import type { RatingChange, RatingContext } from '../src/core/records';
import { RatingLedger, monotonicClock } from '../src/core/ratings';
import { touchPerson } from '../src/core/people';
import { testBackends } from './helpers/db';

const ctx = (messageId: string): RatingContext => ({ source: 'discord', scopeId: 'guild-1', channelId: 'chan-1', messageId });
const t = (s: number) => new Date(Date.UTC(2025, 0, 1, 12, 0, s));

async function addImages(database: Database, ids: string[]): Promise<void> {
  await database.db
    .insert(images)
    .values(ids.map((id) => ({ id, width: 8, height: 8, bytes: 100, source: 'gallery' })))
    .onConflictDoNothing();
}

async function rowCounts(database: Database, userKey: string, imageId: string) {
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

// ---------- property test: generator and reference model ----------

/** mulberry32: small, seeded, good enough to drive a generator. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Ev {
  kind: 'add' | 'remove';
  score: number;
  time: number;
}

function shuffle<T>(xs: T[], rnd: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Random events over a few scores, distinct event times, delivered shuffled and with duplicates. */
function generateDelivery(rnd: () => number): Ev[] {
  const pool = shuffle([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], rnd).slice(0, 1 + Math.floor(rnd() * 4));
  const n = 1 + Math.floor(rnd() * 12);
  const times = shuffle(
    Array.from({ length: n }, (_, i) => i + 1),
    rnd,
  );
  const events: Ev[] = times.map((time) => ({
    kind: rnd() < 0.6 ? 'add' : 'remove',
    score: pool[Math.floor(rnd() * pool.length)]!,
    time: time * 1000,
  }));
  const delivered: Ev[] = [];
  for (const e of events) {
    delivered.push(e);
    if (rnd() < 0.35) for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) delivered.push({ ...e });
  }
  // A quarter of sequences keep time order (the common case), the rest arrive in any order.
  return rnd() < 0.25 ? delivered.sort((a, b) => a.time - b.time) : shuffle(delivered, rnd);
}

/** The specification, written independently of the ledger: per score the latest event decides; the newest present score wins. */
function referenceEffective(seen: Ev[]): { score: number; time: number } | null {
  const latest = new Map<number, Ev>();
  for (const e of seen) {
    const cur = latest.get(e.score);
    if (!cur || e.time > cur.time) latest.set(e.score, e);
  }
  let best: Ev | null = null;
  for (const e of latest.values()) if (e.kind === 'add' && (!best || e.time > best.time)) best = e;
  return best ? { score: best.score, time: best.time } : null;
}

for (const backend of testBackends()) {
  describe(`rating ledger on ${backend.name}`, () => {
    let database: Database;
    let ledger: RatingLedger;

    beforeAll(async () => {
      database = await backend.open();
      ledger = new RatingLedger(database.db);
      await addImages(database, ['img-a', 'img-b', 'img-c', 'img-d', 'img-e', 'img-prop']);
    });
    afterAll(async () => {
      await database?.close();
    });

    it('latest remaining vote wins: add 7, add 9 → 9; remove 9 → 7; remove 7 → none', async () => {
      const u = 'discord:-:latest';
      expect(await ledger.rate({ userKey: u, imageId: 'img-a', score: 7, eventTime: t(1), ctx: ctx('m7') })).toEqual({
        userKey: u,
        imageId: 'img-a',
        before: null,
        after: 7,
        changed: true,
      });
      expect(await ledger.rate({ userKey: u, imageId: 'img-a', score: 9, eventTime: t(2), ctx: ctx('m9') })).toMatchObject({
        before: 7,
        after: 9,
        changed: true,
      });
      expect((await ledger.getRating(u, 'img-a'))?.score).toBe(9);

      expect(await ledger.unrate({ userKey: u, imageId: 'img-a', score: 9, eventTime: t(3), ctx: ctx('m9') })).toMatchObject({
        before: 9,
        after: 7,
        changed: true,
      });
      const fallback = await ledger.getRating(u, 'img-a');
      expect(fallback).toEqual({ imageId: 'img-a', score: 7, eventTime: t(1) });
      // The effective row takes the time and place of the vote it fell back to.
      const [row] = await database.db
        .select()
        .from(ratings)
        .where(and(eq(ratings.userKey, u), eq(ratings.imageId, 'img-a')));
      expect(row).toMatchObject({ score: 7, messageId: 'm7', scopeId: 'guild-1', channelId: 'chan-1', source: 'discord' });

      expect(await ledger.unrate({ userKey: u, imageId: 'img-a', score: 7, eventTime: t(4), ctx: ctx('m7') })).toMatchObject({
        before: 7,
        after: null,
        changed: true,
      });
      expect(await ledger.getRating(u, 'img-a')).toBeNull();
      expect(await ledger.count(u)).toBe(0);

      // The audit has exactly the four changes, each with the effective score after it.
      const h = await ledger.history(u, 'img-a');
      expect(h.map((e) => [e.kind, e.score, e.effectiveScore])).toEqual([
        ['add', 7, 7],
        ['add', 9, 9],
        ['remove', 9, 7],
        ['remove', 7, null],
      ]);
      expect(h[0]!.ctx).toEqual(ctx('m7'));
      expect(h.map((e) => e.eventTime.getTime())).toEqual([t(1), t(2), t(3), t(4)].map((d) => d.getTime()));
      // Tombstones remain for both votes.
      expect(await rowCounts(database, u, 'img-a')).toEqual({ votes: 2, ratings: 0, events: 4 });

      // "Latest" means newest, not highest: add 9 then add 3 → 3; remove 3 → 9.
      await ledger.rate({ userKey: u, imageId: 'img-b', score: 9, eventTime: t(5), ctx: ctx('m9') });
      expect(await ledger.rate({ userKey: u, imageId: 'img-b', score: 3, eventTime: t(6), ctx: ctx('m3') })).toMatchObject({
        before: 9,
        after: 3,
      });
      expect(await ledger.unrate({ userKey: u, imageId: 'img-b', score: 3, eventTime: t(7), ctx: ctx('m3') })).toMatchObject({
        before: 3,
        after: 9,
      });
    });

    it('a stale retried add after a remove is ignored (tombstone), also when the remove arrives first', async () => {
      const u = 'discord:-:tombstone';
      await ledger.rate({ userKey: u, imageId: 'img-a', score: 6, eventTime: t(10), ctx: ctx('m') });
      await ledger.unrate({ userKey: u, imageId: 'img-a', score: 6, eventTime: t(11), ctx: ctx('m') });
      const replay = await ledger.rate({ userKey: u, imageId: 'img-a', score: 6, eventTime: t(10), ctx: ctx('m') });
      expect(replay).toMatchObject({ before: null, after: null, changed: false });
      expect(await ledger.getRating(u, 'img-a')).toBeNull();

      // Reordered delivery: the removal (newer) arrives before its add.
      expect(await ledger.unrate({ userKey: u, imageId: 'img-b', score: 4, eventTime: t(21), ctx: ctx('m') })).toMatchObject({
        changed: false,
        after: null,
      });
      expect(await ledger.rate({ userKey: u, imageId: 'img-b', score: 4, eventTime: t(20), ctx: ctx('m') })).toMatchObject({
        changed: false,
        after: null,
      });
      expect(await ledger.getRating(u, 'img-b')).toBeNull();
      expect(await rowCounts(database, u, 'img-b')).toEqual({ votes: 1, ratings: 0, events: 0 });

      // A genuinely newer add does bring it back.
      expect(await ledger.rate({ userKey: u, imageId: 'img-b', score: 4, eventTime: t(22), ctx: ctx('m') })).toMatchObject({
        changed: true,
        after: 4,
      });
    });

    it('duplicate events are no-ops and leave one audit row', async () => {
      const u = 'discord:-:dup';
      const ev = { userKey: u, imageId: 'img-a', score: 8, eventTime: t(30), ctx: ctx('m') };
      expect((await ledger.rate(ev)).changed).toBe(true);
      for (let i = 0; i < 5; i++) expect(await ledger.rate(ev)).toMatchObject({ before: 8, after: 8, changed: false });
      // An older add of another score changes nothing visible (the newer 8 still wins) but is a new vote.
      expect(await ledger.rate({ ...ev, score: 3, eventTime: t(29) })).toMatchObject({ before: 8, after: 8, changed: true });
      expect(await ledger.rate({ ...ev, score: 3, eventTime: t(29) })).toMatchObject({ changed: false });
      expect(await rowCounts(database, u, 'img-a')).toEqual({ votes: 2, ratings: 1, events: 2 });
      // Removing a vote that never existed records a tombstone, but nothing changed.
      expect(await ledger.unrate({ ...ev, score: 2, eventTime: t(31) })).toMatchObject({ before: 8, after: 8, changed: false });
      expect((await rowCounts(database, u, 'img-a')).events).toBe(2);
    });

    it('rejects bad scores and unknown images with typed errors and writes nothing', async () => {
      const u = 'discord:-:bad';
      for (const score of [0, 11, 7.5, -1, Number.NaN, '7' as unknown as number]) {
        await expect(ledger.rate({ userKey: u, imageId: 'img-a', score, ctx: ctx('m') })).rejects.toBeInstanceOf(InvalidScoreError);
        await expect(ledger.unrate({ userKey: u, imageId: 'img-a', score, ctx: ctx('m') })).rejects.toBeInstanceOf(InvalidScoreError);
      }
      const err = await ledger.rate({ userKey: u, imageId: 'no-such-image', score: 5, ctx: ctx('m') }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnknownImageError);
      expect((err as UnknownImageError).imageId).toBe('no-such-image');
      expect(await rowCounts(database, u, 'img-a')).toEqual({ votes: 0, ratings: 0, events: 0 });
      expect(await rowCounts(database, u, 'no-such-image')).toEqual({ votes: 0, ratings: 0, events: 0 });
    });

    it('refuses events for forgotten people with ForgottenError and stores nothing', async () => {
      const u = 'slack:T1:forgotten';
      await database.db.insert(forgottenUsers).values({ userKeyHash: hashUserKey(u) });
      const seen: RatingChange[] = [];
      const off = ledger.onChange((c) => seen.push(c));
      await expect(ledger.rate({ userKey: u, imageId: 'img-a', score: 5, eventTime: t(40), ctx: ctx('m') })).rejects.toBeInstanceOf(
        ForgottenError,
      );
      await expect(ledger.unrate({ userKey: u, imageId: 'img-a', score: 5, eventTime: t(41), ctx: ctx('m') })).rejects.toBeInstanceOf(
        ForgottenError,
      );
      off();
      expect(seen).toEqual([]);
      expect(await rowCounts(database, u, 'img-a')).toEqual({ votes: 0, ratings: 0, events: 0 });
      // touchPerson does not bring them back either.
      await expect(touchPerson(database.db, { platform: 'slack', workspaceId: 'T1', userId: 'forgotten' }, 'T1')).rejects.toBeInstanceOf(
        ForgottenError,
      );
      expect(await database.db.select().from(users).where(eq(users.userKey, u))).toEqual([]);
    });

    it('onChange fires once per real change, after commit; unsubscribe works; a throwing listener is isolated', async () => {
      const u = 'discord:-:events';
      const seen: RatingChange[] = [];
      const ratingsSeenByListener: (number | null)[] = [];
      let pendingRead: Promise<void> = Promise.resolve();
      const off = ledger.onChange((c) => {
        seen.push(c);
        // Fired after commit: a listener (e.g. the refit) reading the ledger sees the new state.
        pendingRead = ledger.getRating(u, 'img-c').then((r) => void ratingsSeenByListener.push(r?.score ?? null));
      });
      const offBad = ledger.onChange(() => {
        throw new Error('listener bug');
      });
      const step = async (p: Promise<RatingChange>) => {
        await p;
        await pendingRead;
      };
      await step(ledger.rate({ userKey: u, imageId: 'img-c', score: 2, eventTime: t(50), ctx: ctx('m') }));
      await step(ledger.rate({ userKey: u, imageId: 'img-c', score: 2, eventTime: t(50), ctx: ctx('m') }));
      await step(ledger.rate({ userKey: u, imageId: 'img-c', score: 10, eventTime: t(51), ctx: ctx('m') }));
      await step(ledger.unrate({ userKey: u, imageId: 'img-c', score: 10, eventTime: t(49), ctx: ctx('m') })); // stale
      await step(ledger.unrate({ userKey: u, imageId: 'img-c', score: 10, eventTime: t(52), ctx: ctx('m') }));
      offBad();
      off();
      await ledger.rate({ userKey: u, imageId: 'img-c', score: 1, eventTime: t(53), ctx: ctx('m') });
      expect(seen.map((c) => [c.before, c.after])).toEqual([
        [null, 2],
        [2, 10],
        [10, 2],
      ]);
      expect(seen.every((c) => c.changed && c.userKey === u && c.imageId === 'img-c')).toBe(true);
      expect(ratingsSeenByListener).toEqual([2, 10, 2]);
    });

    it('eventTime defaults to the clock; lists, counts, pages and rated users', async () => {
      const clock = t(100);
      const l = new RatingLedger(database.db, { now: () => clock });
      const u = 'playground:-:lister';
      await l.rate({ userKey: u, imageId: 'img-d', score: 4, ctx: { source: 'playground' } });
      expect(await l.getRating(u, 'img-d')).toEqual({ imageId: 'img-d', score: 4, eventTime: clock });
      await l.rate({ userKey: u, imageId: 'img-b', score: 6, eventTime: t(98), ctx: { source: 'playground' } });
      await l.rate({ userKey: u, imageId: 'img-e', score: 9, eventTime: t(99), ctx: { source: 'playground' } });
      expect(await l.listRatings(u)).toEqual([
        { imageId: 'img-b', score: 6, eventTime: t(98) },
        { imageId: 'img-e', score: 9, eventTime: t(99) },
        { imageId: 'img-d', score: 4, eventTime: clock },
      ]);
      expect(await l.count(u)).toBe(3);
      expect((await l.history(u)).length).toBe(3);

      await l.rate({ userKey: 'playground:-:gone', imageId: 'img-d', score: 5, eventTime: t(90), ctx: { source: 'playground' } });
      await l.unrate({ userKey: 'playground:-:gone', imageId: 'img-d', score: 5, eventTime: t(91), ctx: { source: 'playground' } });
      const all: { userKey: string; imageId: string }[] = [];
      for await (const r of l.allRatings(2)) all.push({ userKey: r.userKey, imageId: r.imageId });
      const expected = (await database.db.select({ userKey: ratings.userKey, imageId: ratings.imageId }).from(ratings)).sort((a, b) =>
        a.userKey + '\u0000' + a.imageId < b.userKey + '\u0000' + b.imageId ? -1 : 1,
      );
      expect(all.length).toBeGreaterThanOrEqual(3);
      expect(all).toEqual(expected);
      const users_ = await l.ratedUsers();
      expect(users_).toContain(u);
      expect(users_).not.toContain('playground:-:gone'); // rated and then removed everything
      expect(users_).toEqual([...new Set(expected.map((r) => r.userKey))]);
    });

    it('touchPerson records the person and each scope, keeping the last known name', async () => {
      const p = { platform: 'slack' as const, workspaceId: 'T9', userId: 'U1', displayName: 'Ada' };
      expect(await touchPerson(database.db, p, 'T9')).toBe('slack:T9:U1');
      expect(await touchPerson(database.db, { ...p, displayName: undefined }, 'T9')).toBe('slack:T9:U1');
      await touchPerson(database.db, p, 'T9-other');
      const [row] = await database.db.select().from(users).where(eq(users.userKey, 'slack:T9:U1'));
      expect(row).toMatchObject({ platform: 'slack', workspaceId: 'T9', platformUserId: 'U1', displayName: 'Ada', shareProfile: false });
      const scopes = await database.db.select().from(userScopes).where(eq(userScopes.userKey, 'slack:T9:U1'));
      expect(scopes.map((s) => s.scopeId).sort()).toEqual(['T9', 'T9-other']);
      expect(await touchPerson(database.db, { platform: 'discord', userId: '42' })).toBe('discord:-:42');
      const [d] = await database.db.select().from(users).where(eq(users.userKey, 'discord:-:42'));
      expect(d).toMatchObject({ workspaceId: null, displayName: null });
    });

    it('property: random add/remove events, shuffled and duplicated, always match the reference model', async () => {
      const SEQUENCES = 300;
      let checks = 0;
      for (let seq = 0; seq < SEQUENCES; seq++) {
        const rnd = prng(1000 + seq);
        const delivery = generateDelivery(rnd);
        const u = `synthetic:-:prop-${seq}`;
        const seen: Ev[] = [];
        const changes: RatingChange[] = [];
        const off = ledger.onChange((c) => {
          if (c.userKey === u) changes.push(c);
        });
        // Every fourth sequence on PostgreSQL also arrives concurrently (real races between callers).
        const concurrent = backend.name === 'postgres' && seq % 4 === 3;
        if (concurrent) {
          await Promise.all(
            delivery.map((e) =>
              (e.kind === 'add' ? ledger.rate.bind(ledger) : ledger.unrate.bind(ledger))({
                userKey: u,
                imageId: 'img-prop',
                score: e.score,
                eventTime: new Date(e.time),
                ctx: { source: 'eval' },
              }),
            ),
          );
          seen.push(...delivery);
        } else {
          for (const e of delivery) {
            const input = { userKey: u, imageId: 'img-prop', score: e.score, eventTime: new Date(e.time), ctx: { source: 'eval' } };
            const change = e.kind === 'add' ? await ledger.rate(input) : await ledger.unrate(input);
            const before = referenceEffective(seen);
            seen.push(e);
            const want = referenceEffective(seen);
            const ctxMsg = `seed ${1000 + seq}, after ${JSON.stringify(e)} in ${JSON.stringify(delivery)}`;
            expect(change.before, ctxMsg).toBe(before?.score ?? null);
            expect(change.after, ctxMsg).toBe(want?.score ?? null);
            const got = await ledger.getRating(u, 'img-prop');
            expect(got ? { score: got.score, time: got.eventTime.getTime() } : null, ctxMsg).toEqual(want);
            checks++;
          }
        }
        off();
        const want = referenceEffective(seen);
        const got = await ledger.getRating(u, 'img-prop');
        expect(got ? { score: got.score, time: got.eventTime.getTime() } : null, `seed ${1000 + seq} final`).toEqual(want);
        // The audit replays to the same answer: its last row's effective score is the final rating.
        const h = await ledger.history(u, 'img-prop');
        expect(h.length).toBe(changes.length);
        expect(h.at(-1)?.effectiveScore ?? null).toBe(want?.score ?? null);
        // One vote row per distinct score ever seen, duplicates never add rows.
        const votes = await database.db.select().from(ratingVotes).where(eq(ratingVotes.userKey, u));
        expect(votes.length).toBe(new Set(seen.map((e) => e.score)).size);
        checks++;
      }
      expect(checks).toBeGreaterThan(SEQUENCES);
    }, 300_000); // thousands of transactions: ~20–30 s alone, slower on a busy 2-core machine
  });
}

describe('monotonicClock', () => {
  it('never repeats or goes backwards, so receive-time stamps keep event order', () => {
    const clock = monotonicClock();
    const stamps = Array.from({ length: 1000 }, () => clock().getTime());
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]!).toBeGreaterThan(stamps[i - 1]!);
    expect(Math.abs(stamps[0]! - Date.now())).toBeLessThan(60_000);
  });
});

/**
 * Reconciling a message's reactions with the ledger (core/reaction-sync.ts, platforms/reaction-read-back.ts):
 * the pure plan, the one-pass-at-a-time scheduler, and the time rules on the real ledger (PGlite, and
 * PostgreSQL when TEST_DATABASE_URL is set): a snapshot never overrides a later live event.
 * The platforms' side (reading reactions over REST after a restart) is in the platform contract
 * (tests/platform-contract.ts) and tests/discord-recovery.test.ts and tests/slack-recovery.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { forgottenUsers, images, readBackPasses } from '../src/db/schema';
import { claimReadBack, finishReadBack } from '../src/db/read-back-passes';
import type { Database } from '../src/db/connection';
import { hashUserKey, userKeyOf, type PersonRef } from '../src/core/identity';
import { RatingLedger } from '../src/core/ratings';
import { planReconcile, reconcileMessage, type ReconcileLedgerPort, type StandingVote } from '../src/core/reaction-sync';
import { reconcileRecentMessages, reconcileScheduler } from '../src/platforms/reaction-read-back';
import { silentLogger } from '../src/log';
import { reconcileMessagesTotal, reconciledTotal, valueOf } from '../src/prometheus-metrics';
import type { Services } from '../src/core/services';
import { testBackends } from './helpers/db';

const person = (userId: string): PersonRef => ({ platform: 'discord', userId });
const key = (userId: string) => userKeyOf(person(userId));
const where = { platform: 'discord', messageId: 'm1' };
const vote = (userId: string, score: number, messageId: string | null = 'm1', source = 'discord'): StandingVote => ({
  userKey: key(userId),
  score,
  source,
  messageId,
});
const shows = (userId: string, ...scores: number[]) => ({ person: person(userId), scores: new Set(scores) });

describe('planReconcile', () => {
  it('adds what the message shows and the ledger lacks; removes what only this message stood for', () => {
    const plan = planReconcile([shows('ann', 9, 7), shows('ben', 4)], [vote('ann', 7), vote('cat', 5), vote('ben', 4)], where);
    expect(plan.add.map((a) => [a.person.userId, a.score])).toEqual([['ann', 9]]);
    expect(plan.remove.map((r) => [r.person.userId, r.score])).toEqual([['cat', 5]]);
    // The removed person's reference round-trips to the same key the live path would use.
    expect(userKeyOf(plan.remove[0]!.person)).toBe(key('cat'));
  });

  it('leaves votes from another message, the playground or another platform alone', () => {
    const standing = [vote('ann', 7, 'm2'), vote('ben', 3, null, 'playground'), vote('cat', 6, 'm1', 'slack')];
    expect(planReconcile([], standing, where)).toEqual({ add: [], remove: [] });
  });

  it('does not re-add a vote already standing from another message (it would become the newest vote)', () => {
    expect(planReconcile([shows('ann', 7)], [vote('ann', 7, 'm2'), vote('ann', 9, 'm3')], where).add).toEqual([]);
  });

  it('an unchanged message plans nothing', () => {
    expect(planReconcile([shows('ann', 7), shows('ben', 2, 8)], [vote('ann', 7), vote('ben', 2), vote('ben', 8)], where)).toEqual({
      add: [],
      remove: [],
    });
  });
});

describe('reconcileScheduler', () => {
  it('runs one pass at a time, and a request during a pass queues exactly one more', async () => {
    let passes = 0;
    let release: () => void = () => {};
    const sched = reconcileScheduler(async () => {
      passes++;
      if (passes === 1) await new Promise<void>((r) => (release = r));
    });
    const first = sched.request();
    void sched.request();
    void sched.request();
    expect(passes).toBe(1);
    release();
    await first;
    await sched.idle();
    expect(passes).toBe(2);
    await sched.request();
    expect(passes).toBe(3);
  });

  it('a queued pass is needed since the latest session that asked for one', async () => {
    const needed: number[] = [];
    let release: () => void = () => {};
    const sched = reconcileScheduler(async (since) => {
      needed.push(since.getTime());
      if (needed.length === 1) await new Promise<void>((r) => (release = r));
    });
    const first = sched.request(new Date(1000));
    void sched.request(new Date(3000));
    void sched.request(new Date(2000));
    release();
    await first;
    await sched.idle();
    expect(needed).toEqual([1000, 3000]);
  });
});

describe('reconcileRecentMessages', () => {
  const message = (id: string) => ({ messageId: id, channelId: 'c1', scopeId: 'g1', imageId: `img-${id}` });
  const servicesWith = (calls: string[], failOn?: string) =>
    ({
      messages: {
        recentRateable: async (_p: string, since: Date) => (
          calls.push(`since ${since.toISOString()}`),
          [message('a'), message('b'), message('c')]
        ),
      },
      ratings: {
        reconcile: async (m: { messageId: string; observedAt: Date }) => {
          if (m.messageId === failOn) throw new Error('database hiccup');
          calls.push(`reconcile ${m.messageId} at ${m.observedAt.toISOString()}`);
          return { added: 1, removed: 0 };
        },
      },
    }) as unknown as Services;

  it('asks for the window, snapshots before each read, skips gone messages and carries on past a failure', async () => {
    const calls: string[] = [];
    const before = {
      added: await valueOf(reconciledTotal, { platform: 'discord', change: 'added' }),
      gone: await valueOf(reconcileMessagesTotal, { platform: 'discord', outcome: 'gone' }),
      failed: await valueOf(reconcileMessagesTotal, { platform: 'discord', outcome: 'failed' }),
    };
    let now = Date.UTC(2026, 0, 10);
    const report = await reconcileRecentMessages({
      platform: 'discord',
      services: servicesWith(calls, 'c'),
      log: silentLogger,
      days: 2,
      clock: () => now,
      read: async (m) => {
        now += 1000; // the read takes a second: the snapshot time must be from before it
        return m.messageId === 'b' ? 'gone' : [];
      },
    });
    expect(calls).toEqual(['since 2026-01-08T00:00:00.000Z', 'reconcile a at 2026-01-10T00:00:00.000Z']);
    expect(report).toEqual({ messages: 3, added: 1, removed: 0, gone: 1, forbidden: 0, failed: 1, stopped: false, capped: false });
    // The same outcomes, counted for /metrics.
    expect((await valueOf(reconciledTotal, { platform: 'discord', change: 'added' })) - before.added).toBe(1);
    expect((await valueOf(reconcileMessagesTotal, { platform: 'discord', outcome: 'gone' })) - before.gone).toBe(1);
    expect((await valueOf(reconcileMessagesTotal, { platform: 'discord', outcome: 'failed' })) - before.failed).toBe(1);
  });

  it('reads at most maxMessages, newest first, and says when the window held more', async () => {
    const calls: string[] = [];
    const read: string[] = [];
    const report = await reconcileRecentMessages({
      platform: 'discord',
      services: servicesWith(calls),
      log: silentLogger,
      days: 7,
      maxMessages: 2,
      read: async (m) => (read.push(m.messageId), []),
    });
    expect(read).toEqual(['a', 'b']);
    expect(report).toMatchObject({ messages: 2, capped: true });
  });

  it('reads a few messages at once, never more than `concurrency`, and every message once', async () => {
    const many = Array.from({ length: 11 }, (_, i) => message(`m${i}`));
    const services = {
      messages: { recentRateable: async () => many },
      ratings: { reconcile: async () => ({ added: 0, removed: 0 }) },
    } as unknown as Services;
    let inFlight = 0;
    let peak = 0;
    const seen: string[] = [];
    const report = await reconcileRecentMessages({
      platform: 'discord',
      services,
      log: silentLogger,
      days: 7,
      concurrency: 3,
      read: async (m) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        seen.push(m.messageId);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return [];
      },
    });
    expect(peak).toBe(3);
    expect(seen).toEqual(many.map((m) => m.messageId)); // taken newest first, each once
    expect(report).toMatchObject({ messages: 11, failed: 0, stopped: false });
  });

  it('does nothing when turned off (0 days) and stops early on shutdown', async () => {
    const calls: string[] = [];
    const off = await reconcileRecentMessages({
      platform: 'discord',
      services: servicesWith(calls),
      log: silentLogger,
      days: 0,
      read: async () => [],
    });
    expect(off.messages).toBe(0);
    expect(calls).toEqual([]);
    let reads = 0;
    const stopped = await reconcileRecentMessages({
      platform: 'discord',
      services: servicesWith(calls),
      log: silentLogger,
      days: 7,
      read: async () => (reads++, []),
      shouldStop: () => reads >= 1,
    });
    expect(stopped).toMatchObject({ messages: 1, stopped: true });
  });
});

for (const backend of testBackends()) {
  describe(`reconciling on the rating ledger (${backend.name})`, () => {
    let database: Database;
    let ledger: RatingLedger;
    let port: ReconcileLedgerPort;
    const ctx = { source: 'discord', scopeId: 'g1', channelId: 'c1', messageId: 'm1' };
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s));
    const input = (imageId: string, observedAt: Date, observed: ReturnType<typeof shows>[]) => ({
      platform: 'discord',
      messageId: 'm1',
      channelId: 'c1',
      scopeId: 'g1',
      imageId,
      observedAt,
      observed,
    });

    beforeAll(async () => {
      database = await backend.open();
      ledger = new RatingLedger(database.db);
      port = {
        standingVotes: (imageId) => ledger.standingVotes(imageId),
        rate: (p, imageId, score, c, eventTime) => ledger.rate({ userKey: userKeyOf(p), imageId, score, ctx: c, eventTime }),
        unrate: (p, imageId, score, c, eventTime) => ledger.unrate({ userKey: userKeyOf(p), imageId, score, ctx: c, eventTime }),
      };
      await database.db
        .insert(images)
        .values(['r1', 'r2', 'r3', 'r4'].map((id) => ({ id, width: 8, height: 8, bytes: 100, source: 'gallery' })))
        .onConflictDoNothing();
    });
    afterAll(async () => {
      await database?.close();
    });

    it('applies the plan with the snapshot time and records it in the audit trail', async () => {
      await ledger.rate({ userKey: key('ann'), imageId: 'r1', score: 6, ctx, eventTime: at(1) });
      const r = await reconcileMessage(port, input('r1', at(10), [shows('ann', 9), shows('ben', 3)]));
      expect(r).toEqual({ added: 2, removed: 1 });
      expect((await ledger.getRating(key('ann'), 'r1'))?.score).toBe(9);
      expect((await ledger.getRating(key('ben'), 'r1'))?.eventTime.toISOString()).toBe(at(10).toISOString());
      const history = await ledger.history(key('ann'), 'r1');
      expect(history.map((h) => [h.kind, h.score, h.eventTime.toISOString()])).toEqual([
        ['add', 6, at(1).toISOString()],
        ['add', 9, at(10).toISOString()],
        ['remove', 6, at(10).toISOString()],
      ]);
      // Running it again changes nothing.
      expect(await reconcileMessage(port, input('r1', at(11), [shows('ann', 9), shows('ben', 3)]))).toEqual({ added: 0, removed: 0 });
    });

    it('a live event later than the snapshot wins, whichever is written first', async () => {
      // Live add at 20 was already stored; a snapshot taken at 15 (before it) shows nothing.
      await ledger.rate({ userKey: key('cat'), imageId: 'r2', score: 7, ctx, eventTime: at(20) });
      expect(await reconcileMessage(port, input('r2', at(15), []))).toEqual({ added: 0, removed: 0 });
      expect((await ledger.getRating(key('cat'), 'r2'))?.score).toBe(7);
      // Live removal at 30 stored first; a snapshot from 25 still showed the vote.
      await ledger.rate({ userKey: key('dan'), imageId: 'r3', score: 4, ctx, eventTime: at(21) });
      await ledger.unrate({ userKey: key('dan'), imageId: 'r3', score: 4, ctx, eventTime: at(30) });
      await reconcileMessage(port, input('r3', at(25), [shows('dan', 4)]));
      expect(await ledger.getRating(key('dan'), 'r3')).toBeNull();
    });

    it('several processes: one read-back since their sessions began; a running one is waited for, a dead one taken over', async () => {
      const db = database.db;
      const base = Date.now();
      const t = (ms: number) => new Date(base + ms);
      const claim = (holder: string, neededSince: Date, now: Date) =>
        claimReadBack(db, { platform: 'p-coord', holder, neededSince, leaseMs: 60_000, now });
      expect(await claim('A', t(0), t(10))).toBe('claimed'); // A's session began at 0: the first pass
      expect(await claim('B', t(5), t(12))).toBe('busy'); // B's began at 5; A's pass (from 10) is running: wait for it
      await finishReadBack(db, { platform: 'p-coord', holder: 'A', now: t(20) });
      expect(await claim('B', t(5), t(21))).toBe('covered'); // A's pass started after B's session began
      expect(await claim('C', t(30), t(31))).toBe('claimed'); // C's session began after A's pass started: its own pass
      // C dies mid-pass: D waits while C's lease runs, then takes over; C's late "finished" does not end D's pass.
      expect(await claim('D', t(25), t(40))).toBe('busy');
      expect(await claim('D', t(25), t(31 + 60_001))).toBe('claimed');
      await finishReadBack(db, { platform: 'p-coord', holder: 'C', now: t(70_000) });
      const [row] = await db.select().from(readBackPasses).where(eq(readBackPasses.platform, 'p-coord'));
      expect(row).toMatchObject({ holder: 'D', finishedAt: null });
    });

    it('eight processes asking at once: exactly one runs the pass', async () => {
      const since = new Date(Date.now() - 1000);
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          claimReadBack(database.db, { platform: 'p-race', holder: `P${i}`, neededSince: since, leaseMs: 60_000 }),
        ),
      );
      expect(claims.filter((c) => c === 'claimed')).toHaveLength(1);
      expect(claims.filter((c) => c === 'busy')).toHaveLength(7);
    });

    it('two processes back at the same time read the messages once between them', async () => {
      const reads: string[] = [];
      const processServices = (holder: string) =>
        ({
          messages: {
            recentRateable: async () => [
              { messageId: 'x1', channelId: 'c1', scopeId: 'g1', imageId: 'r1' },
              { messageId: 'x2', channelId: 'c1', scopeId: 'g1', imageId: 'r2' },
            ],
            claimReadBack: (o: Parameters<Services['messages']['claimReadBack']>[0]) => claimReadBack(database.db, o),
            finishReadBack: (o: Parameters<Services['messages']['finishReadBack']>[0]) => finishReadBack(database.db, o),
          },
          ratings: { reconcile: async () => ({ added: 0, removed: 0 }) },
          holder,
        }) as unknown as Services;
      const since = new Date();
      const pass = (holder: string) =>
        reconcileRecentMessages({
          platform: 'p-two',
          services: processServices(holder),
          log: silentLogger,
          days: 7,
          read: async (m) => (reads.push(`${holder} ${m.messageId}`), await new Promise((r) => setTimeout(r, 50)), []),
          coordinate: { holder, neededSince: since, pollMs: 20 },
        });
      const [a, b] = await Promise.all([pass('A'), pass('B')]);
      expect(reads).toHaveLength(2);
      expect([a.covered, b.covered].filter(Boolean)).toHaveLength(1);
      expect([a.messages, b.messages].sort()).toEqual([0, 2]);
    });

    it('never brings back the ratings of a person who asked to be forgotten', async () => {
      await database.db
        .insert(forgottenUsers)
        .values({ userKeyHash: hashUserKey(key('eve')) })
        .onConflictDoNothing();
      expect(await reconcileMessage(port, input('r4', at(40), [shows('eve', 8)]))).toEqual({ added: 0, removed: 0 });
      expect(await ledger.getRating(key('eve'), 'r4')).toBeNull();
    });
  });
}

describe('bench:reconcile', () => {
  it('runs the real pass on a real core and ends with its JSON line (figures are for `npm run bench`, not asserted here)', async () => {
    const { spawnSync } = await import('node:child_process');
    // Tens of seconds on a busy machine: the timeout only bounds a hang.
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/eval/bench/reconcile.ts', '--messages', '6', '--reactors', '2', '--latency', '1'],
      { encoding: 'utf8', timeout: 300_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, number>;
    expect(Object.keys(out).sort()).toEqual(
      [
        'conc4_ms_per_message',
        'conc4_s',
        'db_only_messages_per_s',
        'latency_ms',
        'messages',
        'reactors',
        'seed',
        'seq_ms_per_message',
        'seq_s',
        'speedup_conc4',
      ].sort(),
    );
    expect(out).toMatchObject({ messages: 6, reactors: 2, latency_ms: 1 });
    // Every configuration applied every vote it read (progress lines on stderr).
    expect(run.stderr.match(/12 votes added/g)).toHaveLength(3);
  }, 330_000);
});

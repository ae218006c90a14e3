import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, eq, sql } from 'drizzle-orm';
import type { Database } from '../src/db/connection';
import { candidates, outbox, runIterations, runs } from '../src/db/schema';
import { queryRows } from '../src/db/util';
import { LimitReachedError } from '../src/core/errors';
import { userKeyOf, type PersonRef } from '../src/core/identity';
import type { RunEvent } from '../src/core/optimizer/events';
import type { GenerateOptions } from '../src/core/ports';
import { FakeGenerator } from './fakes/optimizer-fakes';
import { testBackends } from './helpers/db';
import { makeService, waitFor } from './helpers/runs';

const person = (id: string): PersonRef => ({ platform: 'discord', userId: id });

for (const backend of testBackends()) {
  describe(`RunService on ${backend.name}`, () => {
    let database: Database;
    beforeAll(async () => {
      database = await backend.open();
    });
    afterAll(async () => {
      await database?.close();
    });

    const status = async (id: string) => (await database.db.select().from(runs).where(eq(runs.id, id)))[0]?.status;

    it('a durable run completes: iterations, candidates and outbox events, each delivered once in order', async () => {
      const { service } = makeService(database.db);
      const seen: RunEvent[] = [];
      service.subscribe((e) => seen.push(e));
      await service.startWorker();
      try {
        const { runId } = await service.start({
          requester: person('complete'),
          prompt: 'a fox in a forest',
          iterations: 3,
          candidates: 3,
          seed: 3,
          requestKey: 'i-complete',
        });
        await waitFor(async () => (await status(runId)) === 'finished', 'run to finish');
        await waitFor(() => seen.some((e) => e.type === 'run.finished' && e.runId === runId), 'run.finished delivered');
        const its = await database.db.select().from(runIterations).where(eq(runIterations.runId, runId));
        expect(its.map((i) => i.iteration).sort()).toEqual([0, 1, 2, 3]);
        expect(its.every((i) => i.scorerN === 0)).toBe(true);
        const cands = await database.db.select().from(candidates).where(eq(candidates.runId, runId));
        expect(cands).toHaveLength(1 + 3 * 3);
        expect(cands.every((c) => c.imageId && c.score !== null)).toBe(true);
        const mine = seen.filter((e) => e.runId === runId);
        expect(mine.map((e) => e.type)).toEqual([
          'run.started',
          ...Array.from({ length: 4 }, () => ['iteration.images', 'iteration.summary', 'run.progress']).flat(),
          'run.finished',
        ]);
        expect(new Set(mine.map((e) => e.key)).size).toBe(mine.length);
        const started = mine[0] as Extract<RunEvent, { type: 'run.started' }>;
        expect(started.params.optimizer).toBe('genetic');
        expect(started.note).toMatch(/genetic/);
        const fin = mine.at(-1) as Extract<RunEvent, { type: 'run.finished' }>;
        expect(fin.metrics.imagesUsed).toBe(10);
        expect(fin.metrics.max).toBeGreaterThanOrEqual(fin.metrics.init);
        const pending = await database.db
          .select({ n: count() })
          .from(outbox)
          .where(sql`${outbox.runId} = ${runId} and ${outbox.deliveredAt} is null`);
        expect(pending[0]!.n).toBe(0);
        const row = (await database.db.select().from(runs).where(eq(runs.id, runId)))[0]!;
        expect(row.metrics).toMatchObject({ imagesUsed: 10 });
        expect(row.lockedBy).toBeNull();
      } finally {
        await service.stop();
      }
    });

    it('50 parallel start() from one person start exactly one run; the rest get a clear limit error', async () => {
      const { service } = makeService(database.db); // no worker: runs stay queued
      const who = person('fifty');
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) =>
          service.start({ requester: who, prompt: 'a cat', iterations: 2, candidates: 2, requestKey: `fifty-${i}` }),
        ),
      );
      const ok = results.filter((r) => r.status === 'fulfilled');
      const bad = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(ok).toHaveLength(1);
      expect(bad).toHaveLength(49);
      for (const b of bad) {
        expect(b.reason).toBeInstanceOf(LimitReachedError);
        expect((b.reason as Error).message).toMatch(/already have a run going.*\/cancel it first/);
      }
      const rows = await database.db
        .select()
        .from(runs)
        .where(eq(runs.userKey, userKeyOf(who)));
      expect(rows).toHaveLength(1);
      // The same interaction delivered 20 times (retries, two processes): one run, same id for all.
      const again = await Promise.all(
        Array.from({ length: 20 }, () =>
          service.start({ requester: person('dup'), prompt: 'a cat', iterations: 2, candidates: 2, requestKey: 'same-interaction' }),
        ),
      );
      expect(new Set(again.map((r) => r.runId)).size).toBe(1);
      await service.cancel(userKeyOf(who));
      await service.cancel(userKeyOf(person('dup')));
    });

    it('quota and cap errors have clear messages', async () => {
      const { service } = makeService(database.db, {
        config: { DAILY_IMAGE_QUOTA_USER: '12', DAILY_IMAGE_QUOTA_WORKSPACE: '20', MAX_IMAGES_PER_RUN: '30' },
      });
      await expect(service.start({ requester: person('cap'), prompt: 'x', iterations: 8, candidates: 4 })).rejects.toThrow(
        /8 × 4 = 32 images; the limit is 30/,
      );
      await expect(service.start({ requester: person('q'), prompt: 'x', iterations: 3, candidates: 4 })).rejects.toThrow(
        /needs up to 13 images but you have 12 of your 12 daily images left/,
      );
      // Workspace: A reserves 11 of 20; B's 11 would exceed it.
      const a = await service.start({ requester: person('wa'), prompt: 'x', iterations: 2, candidates: 5, scopeId: 'guild-q' });
      const err = await service
        .start({ requester: person('wb'), prompt: 'x', iterations: 2, candidates: 5, scopeId: 'guild-q' })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LimitReachedError);
      expect((err as Error).message).toMatch(/server\/workspace has 9 of its 20 daily images left/);
      // Other workspaces are unaffected; cancelling A frees its reservation.
      const c = await service.start({ requester: person('wc'), prompt: 'x', iterations: 2, candidates: 5, scopeId: 'guild-other' });
      expect(await service.cancel(userKeyOf(person('wa')))).toBe(a.runId);
      const b = await service.start({ requester: person('wb'), prompt: 'x', iterations: 2, candidates: 5, scopeId: 'guild-q' });
      expect(b.runId).toBeTruthy();
      await service.cancel(userKeyOf(person('wb')));
      await service.cancel(userKeyOf(person('wc')), c.runId);
      // Banned words are checked before anything is stored.
      const banned = makeService(database.db, { config: { BANNED_WORDS: 'forbidden' } }).service;
      await expect(banned.start({ requester: person('ban'), prompt: 'a forbidden fox' })).rejects.toThrow(/not allowed/);
    });

    it('cancel: a queued run at once; a running run stops spending within one provider call', async () => {
      const slow = new FakeGenerator(1, 40);
      const { service } = makeService(database.db, { generator: slow });
      const events: RunEvent[] = [];
      service.subscribe((e) => events.push(e));
      // Queued (no worker yet): cancelled immediately, with its event.
      const q = await service.start({ requester: person('cq'), prompt: 'a boat', iterations: 2, candidates: 2 });
      expect(await service.cancel(userKeyOf(person('cq')))).toBe(q.runId);
      expect(await status(q.runId)).toBe('cancelled');
      expect(await service.cancel(userKeyOf(person('cq')))).toBeNull();
      await service.startWorker();
      try {
        const who = person('crun');
        const { runId } = await service.start({ requester: who, prompt: 'a boat', iterations: 6, candidates: 4 });
        await waitFor(
          async () => (await database.db.select().from(runIterations).where(eq(runIterations.runId, runId))).length >= 2,
          'two iterations',
        );
        // Someone else cannot cancel it.
        expect(await service.cancel(userKeyOf(person('stranger')), runId)).toBeNull();
        const callsAtCancel = slow.calls.length;
        expect(await service.cancel(userKeyOf(who))).toBe(runId);
        await waitFor(async () => (await status(runId)) === 'cancelled', 'run cancelled');
        expect(slow.calls.filter((c) => c.startedAfterAbort)).toHaveLength(0);
        expect(slow.calls.length - callsAtCancel).toBeLessThanOrEqual(1);
        await waitFor(() => events.some((e) => e.type === 'run.cancelled' && e.runId === runId), 'run.cancelled event');
        const ev = events.find((e) => e.type === 'run.cancelled' && e.runId === runId) as Extract<RunEvent, { type: 'run.cancelled' }>;
        expect(ev.metrics?.imagesUsed).toBeGreaterThanOrEqual(5);
      } finally {
        await service.stop();
      }
    });

    it('a worker that goes silent is taken over from its checkpoint; its late commit is fenced off', async () => {
      // Worker A: no heartbeat to speak of, and its generator hangs on the 4th image of iteration 1.
      let release!: () => void;
      const hang = new Promise<void>((r) => (release = r));
      const genA = new FakeGenerator(1);
      const origA = genA.generate.bind(genA);
      genA.generate = async (prompt: string, o?: GenerateOptions) => {
        if (genA.calls.length === 3) {
          genA.calls.push({ prompt, seed: o?.seed, startedAfterAbort: false });
          await hang;
          throw new Error('worker A woke up too late');
        }
        return origA(prompt, o);
      };
      const A = makeService(database.db, { generator: genA, service: { workerId: 'worker-A', staleAfterMs: 400, heartbeatMs: 3_600_000 } });
      const genB = new FakeGenerator(1);
      const B = makeService(database.db, { generator: genB, service: { workerId: 'worker-B', staleAfterMs: 400, sweepMs: 100 } });
      const who = person('takeover');
      const { runId } = await A.service.start({ requester: who, prompt: 'a quiet harbor', iterations: 2, candidates: 4, seed: 11 });
      const aDone = A.service.execute(runId);
      await waitFor(() => genA.calls.length >= 4, 'A to hang on its 4th image');
      await B.service.startWorker();
      try {
        await waitFor(async () => (await status(runId)) === 'finished', 'B to finish the run');
        release();
        expect(await aDone).toBe('busy'); // lost its claim: nothing written by A after the takeover
        // Iteration 0 (1 image) and A's first 2 images of iteration 1 were not generated again by B.
        expect(genB.calls).toHaveLength(2 + 4);
        const its = await database.db.select().from(runIterations).where(eq(runIterations.runId, runId));
        expect(its.map((i) => i.iteration).sort()).toEqual([0, 1, 2]);
        const rows = await queryRows<{ key: string; n: number | string }>(
          database.db,
          sql`select key, count(*) as n from outbox where run_id = ${runId} group by key`,
        );
        expect(rows.every((r) => Number(r.n) === 1)).toBe(true);
        expect(rows).toHaveLength(1 + 3 * 3 + 1);
      } finally {
        await B.service.stop();
      }
    });

    it('SIGTERM: stop() checkpoints the step in flight and releases the run; the next worker resumes it', async () => {
      const slow = new FakeGenerator(1, 60);
      const A = makeService(database.db, { generator: slow, service: { workerId: 'term-A', shutdownGraceMs: 0 } });
      const who = person('sigterm');
      await A.service.startWorker();
      const { runId } = await A.service.start({ requester: who, prompt: 'a red kite', iterations: 2, candidates: 4, seed: 5 });
      await waitFor(() => slow.calls.length >= 3, 'A inside iteration 1');
      await A.service.stop();
      const row = (await database.db.select().from(runs).where(eq(runs.id, runId)))[0]!;
      expect(row.status).toBe('running');
      expect(row.lockedBy).toBeNull();
      const checkpointed = Object.keys((row.state as { partial?: object }).partial ?? {}).length;
      expect(checkpointed).toBeGreaterThanOrEqual(1);
      const genB = new FakeGenerator(2);
      const B = makeService(database.db, { generator: genB, service: { workerId: 'term-B' } });
      await B.service.startWorker();
      try {
        await waitFor(async () => (await status(runId)) === 'finished', 'B to finish');
        expect(genB.calls).toHaveLength(4 - checkpointed + 4);
        const cands = await database.db.select().from(candidates).where(eq(candidates.runId, runId));
        expect(cands).toHaveLength(9);
      } finally {
        await B.service.stop();
      }
    });

    it('outbox: two dispatchers (two processes) deliver every key exactly once between them', async () => {
      const one = makeService(database.db, { service: { workerId: 'disp-1' } }).service;
      const two = makeService(database.db, { service: { workerId: 'disp-2' } }).service;
      const got: string[] = [];
      // Subscribing makes each service drain; drive both concurrently over the same pending rows.
      for (let i = 0; i < 60; i++) {
        const ev: RunEvent = {
          type: 'run.progress',
          key: `synthetic:${i}`,
          runId: 'synthetic',
          iteration: i,
          iterations: 60,
          imagesUsed: i,
          costUsd: 0,
        };
        await database.db.insert(outbox).values({ runId: null, key: ev.key, kind: ev.type, payload: ev });
      }
      await database.db.insert(outbox).values({ runId: null, key: 'synthetic:0', kind: 'run.progress', payload: {} }).onConflictDoNothing();
      one.subscribe((e) => e.key.startsWith('synthetic:') && got.push(e.key));
      two.subscribe((e) => e.key.startsWith('synthetic:') && got.push(e.key));
      await Promise.all([one.kickOutbox(), two.kickOutbox(), one.kickOutbox(), two.kickOutbox()]);
      await waitFor(async () => {
        const r = await queryRows<{ n: number | string }>(
          database.db,
          sql`select count(*) as n from outbox where key like 'synthetic:%' and delivered_at is null`,
        );
        return Number(r[0]?.n) === 0;
      }, 'all delivered');
      expect(got).toHaveLength(60);
      expect(new Set(got).size).toBe(60);
    });
  });
}

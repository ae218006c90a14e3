/**
 * Named leases (src/db/leases.ts) and the Discord shard-lease policy built on them
 * (src/platforms/discord/shard-leases.ts), on PGlite and on real PostgreSQL: take, renew, refuse while
 * held, take over after expiry, release; a second process waits for a held shard and takes it when the
 * first releases it or dies; a process with another shard count waits for the old count's gateways;
 * a process whose lease was taken over is told to close its sessions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import type { Database } from '../src/db/connection';
import { liveLeases, releaseLease, takeLease } from '../src/db/leases';
import { queryRows } from '../src/db/util';
import { silentLogger } from '../src/log';
import { ShardLeases, shardLeaseName } from '../src/platforms/discord/shard-leases';
import { testBackends } from './helpers/db';
import { waitFor } from './helpers/wait';

const HOUR = 3_600_000;
const APP = '700000000000000001';

for (const backend of testBackends()) {
  describe(`leases (${backend.name})`, () => {
    let database: Database;
    beforeAll(async () => {
      database = await backend.open();
    });
    afterAll(async () => {
      await database?.close();
    });
    const db = () => database.db;

    it('takes a free lease, renews it for the same holder, refuses another holder while it lasts', async () => {
      expect(await takeLease(db(), { name: 'a', holder: 'p1', ttlMs: HOUR })).toBe(true);
      expect(await takeLease(db(), { name: 'a', holder: 'p2', ttlMs: HOUR })).toBe(false);
      const [before] = await liveLeases(db(), 'a');
      expect(await takeLease(db(), { name: 'a', holder: 'p1', ttlMs: 2 * HOUR })).toBe(true);
      const [after] = await liveLeases(db(), 'a');
      expect(after!.holder).toBe('p1');
      expect(after!.expiresAt.getTime()).toBeGreaterThan(before!.expiresAt.getTime());
    });

    it('another holder takes it over once it expired, and the old holder cannot renew it then', async () => {
      expect(await takeLease(db(), { name: 'b', holder: 'p1', ttlMs: 1 })).toBe(true);
      await waitFor(async () => (await liveLeases(db(), 'b')).length === 0, 'the lease to expire');
      expect(await takeLease(db(), { name: 'b', holder: 'p2', ttlMs: HOUR })).toBe(true);
      expect(await takeLease(db(), { name: 'b', holder: 'p1', ttlMs: HOUR })).toBe(false);
      expect((await liveLeases(db(), 'b')).map((l) => l.holder)).toEqual(['p2']);
    });

    it('release frees it for others; a release by a holder that lost it leaves the new holder alone', async () => {
      await takeLease(db(), { name: 'c', holder: 'p1', ttlMs: HOUR });
      await releaseLease(db(), { name: 'c', holder: 'p2' });
      expect((await liveLeases(db(), 'c')).map((l) => l.holder)).toEqual(['p1']);
      await releaseLease(db(), { name: 'c', holder: 'p1' });
      expect(await liveLeases(db(), 'c')).toEqual([]);
      expect(await takeLease(db(), { name: 'c', holder: 'p2', ttlMs: HOUR })).toBe(true);
    });

    it('of many callers taking one free lease at once, exactly one wins', async () => {
      const won = await Promise.all(Array.from({ length: 12 }, (_, i) => takeLease(db(), { name: 'race', holder: `p${i}`, ttlMs: HOUR })));
      expect(won.filter(Boolean)).toHaveLength(1);
    });

    it('lists only unexpired leases under a prefix', async () => {
      await takeLease(db(), { name: 'list:1', holder: 'p1', ttlMs: HOUR });
      await takeLease(db(), { name: 'list:2', holder: 'p2', ttlMs: 1 });
      await takeLease(db(), { name: 'other', holder: 'p3', ttlMs: HOUR });
      await waitFor(async () => (await liveLeases(db(), 'list:')).length === 1, 'the short lease to expire');
      expect((await liveLeases(db(), 'list:')).map((l) => l.name)).toEqual(['list:1']);
    });

    describe('shard leases', () => {
      const fast = { ttlMs: 1500, renewMs: 100, retryMs: 20 };
      const shardLeases = (holder: string, ids: number[], count: number, onLost: (why: string) => void = () => {}) =>
        new ShardLeases({ db: db(), appId: APP, count, ids, holder, log: silentLogger, timing: fast, onLost });

      it('a second process waits for a held shard and takes it when the first releases it', async () => {
        const first = shardLeases('gw-a', [0, 1], 2);
        expect(await first.acquire(() => false)).toBe(true);
        first.startRenewing();
        const second = shardLeases('gw-b', [1], 2);
        let secondHas = false;
        const waiting = second.acquire(() => false).then((ok) => (secondHas = ok));
        await waitFor(() => second.waitingFor, 'the second process to wait');
        expect(second.waitingFor).toMatch(/shard 1 is held by gw-a/);
        // Renewals keep the first one's shards past several lease lifetimes.
        await new Promise((r) => setTimeout(r, 2 * fast.ttlMs));
        expect(secondHas).toBe(false);
        expect(first.intact).toBe(true);
        await first.release();
        expect(await waiting).toBe(true);
        expect(second.holds(1)).toBe(true);
        expect((await liveLeases(db(), shardLeaseName(APP, 1, 2))).map((l) => l.holder)).toEqual(['gw-b']);
        await second.release();
      });

      it('a shard whose holder died (no renewals) is taken once its lease expires', async () => {
        const dead = shardLeases('gw-dead', [0], 1);
        expect(await dead.acquire(() => false)).toBe(true); // never renewed: as if killed
        const next = shardLeases('gw-next', [0], 1);
        expect(await next.acquire(() => false)).toBe(true);
        expect((await liveLeases(db(), shardLeaseName(APP, 0, 1))).map((l) => l.holder)).toEqual(['gw-next']);
        await next.release();
      });

      it('a process with another shard count waits until no gateway of the old count holds a shard', async () => {
        const old = shardLeases('gw-old', [0], 2);
        expect(await old.acquire(() => false)).toBe(true);
        old.startRenewing();
        const newer = shardLeases('gw-new', [0, 1, 2], 3);
        const done = newer.acquire(() => false);
        await waitFor(() => newer.waitingFor, 'the new count to wait');
        expect(newer.waitingFor).toMatch(/another shard count .*0\/2/);
        expect(newer.holds(0)).toBe(false);
        await old.release();
        expect(await done).toBe(true);
        await newer.release();
      });

      it('stops waiting when told to, holding nothing', async () => {
        const holder = shardLeases('gw-h', [0], 4);
        await holder.acquire(() => false);
        const waiter = shardLeases('gw-w', [0], 4);
        let stop = false;
        const done = waiter.acquire(() => stop);
        await waitFor(() => waiter.waitingFor, 'the waiter to wait');
        stop = true;
        expect(await done).toBe(false);
        await holder.release();
      });

      it('a process whose renewals stop getting through closes its sessions before its lease runs out', async () => {
        // The database stops answering this process (its queries hang); the lease row stays as it was.
        let hang = false;
        const flaky = new Proxy(db(), {
          get: (target, key, receiver) =>
            key === 'execute' && hang ? () => new Promise(() => {}) : (Reflect.get(target, key, receiver) as unknown),
        });
        const lost: { why: string; at: number }[] = [];
        const x = new ShardLeases({
          db: flaky,
          appId: APP,
          count: 6,
          ids: [0],
          holder: 'gw-x',
          log: silentLogger,
          // The spare before expiry is one renewal interval; a busy machine can delay a 100 ms tick past it.
          timing: { ...fast, ttlMs: 4000, renewMs: 1000 },
          onLost: (why) => lost.push({ why, at: Date.now() }),
        });
        expect(await x.acquire(() => false)).toBe(true);
        x.startRenewing();
        hang = true;
        await waitFor(() => lost.length, 'the process to give up its sessions');
        expect(lost[0]!.why).toMatch(/could not be renewed before they ran out/);
        const [row] = await queryRows<{ expires_at: string | Date }>(
          db(),
          sql`select expires_at from leases where name = ${shardLeaseName(APP, 0, 6)}`,
        );
        // Before anyone else could take the shard.
        expect(lost[0]!.at).toBeLessThan(new Date(row!.expires_at).getTime());
        hang = false;
        await x.release();
      });

      it('a process whose lease another took over is told to close its sessions', async () => {
        const lost: string[] = [];
        const a = shardLeases('gw-1', [0], 5, (why) => lost.push(why));
        expect(await a.acquire(() => false)).toBe(true);
        a.startRenewing();
        // As if this process's renewals had stalled past the ttl and another took the shard.
        await database.db.execute(sql`update leases set holder = 'gw-2' where name = ${shardLeaseName(APP, 0, 5)}`);
        await waitFor(() => lost.length, 'the loss to be noticed');
        expect(lost[0]).toMatch(/taken by another process/);
        expect(a.holds(0)).toBe(false);
        await a.release();
        expect((await liveLeases(db(), shardLeaseName(APP, 0, 5))).map((l) => l.holder)).toEqual(['gw-2']);
      });
    });
  });
}

/**
 * One process's side of the run display claims (src/platforms/display-claims.ts), on the real claim
 * statement (db/run-display-claims.ts) on PGlite and, with TEST_DATABASE_URL, on PostgreSQL: when a run is this process's to show, when it waits,
 * and when a run taken (again) must be caught up with from its start. Short leases; every wait is on a
 * condition, never a sleep.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import type { Database } from '../src/db/connection';
import { claimRunDisplay, releaseRunDisplay } from '../src/db/run-display-claims';
import { queryRows } from '../src/db/util';
import { DisplayClaims } from '../src/platforms/display-claims';
import { testBackends } from './helpers/db';
import { waitFor } from './helpers/wait';

for (const backend of testBackends())
  describe(`display claims: which runs this process shows (${backend.name})`, () => {
    let database: Database;
    beforeAll(async () => {
      database = await backend.open();
    });
    afterAll(async () => {
      await database?.close();
    });

    let runs = 0;
    const newRun = async (): Promise<string> => {
      const id = `r-claims-${++runs}`;
      await database.db.execute(sql`insert into runs (id, user_key, status, initial_prompt, params, destination)
      values (${id}, ${`slack:T:${id}`}, 'running', 'p', '{}'::jsonb, '{"platform":"slack","channelId":"C","threadId":"C/1"}'::jsonb)`);
      return id;
    };
    const processClaims = (holder: string, o: { leaseMs?: number; headStartMs?: number } = {}) =>
      new DisplayClaims({
        platform: 'slack',
        holder,
        leaseMs: o.leaseMs ?? 60_000,
        headStartMs: o.headStartMs ?? 0,
        messages: {
          claimRunDisplay: (c) => claimRunDisplay(database.db, c),
          releaseRunDisplay: (c) => releaseRunDisplay(database.db, c),
        },
      });
    const holderOf = async (runId: string) =>
      (await queryRows<{ holder: string }>(database.db, sql`select holder from run_display_claims where run_id = ${runId}`))[0]?.holder;

    it('a run this process started is claimed at once; one it did not start waits its head start first', async () => {
      const a = processClaims('A', { headStartMs: 60_000 });
      const started = await newRun();
      expect(await a.standing(started, { followed: true })).toBe('taken');
      expect(await a.standing(started, { followed: true })).toBe('held');
      expect(a.holds(started)).toBe(true);

      const seen = await newRun();
      expect(await a.standing(seen, { followed: false })).toBe('elsewhere');
      expect(await holderOf(seen)).toBeUndefined(); // not even asked yet
      a.askSoon(seen); // a command of this process started it after all
      expect(await a.standing(seen, { followed: true })).toBe('taken');
      expect(a.known().sort()).toEqual([seen, started].sort());
    });

    it('another holder keeps the run until its claim expires; then it is taken over, and the old holder learns it lost it', async () => {
      const a = processClaims('A', { leaseMs: 300 });
      const b = processClaims('B', { leaseMs: 60_000 });
      const run = await newRun();
      expect(await a.standing(run, { followed: true })).toBe('taken');
      expect(await b.standing(run, { followed: true })).toBe('elsewhere');
      expect(b.holds(run)).toBe(false);
      // A stops renewing (it died): B asks again when A's claim would run out, and takes it.
      await waitFor(async () => (await b.standing(run, { followed: false })) === 'taken', 'B to take the run over', 30_000);
      expect(await holderOf(run)).toBe('B');
      // A, back (it had only hung): its claim is gone, the run is shown elsewhere.
      await waitFor(() => !a.holds(run), "A's own clock to see its claim run out", 30_000);
      expect(await a.standing(run, { followed: false })).toBe('elsewhere');
    });

    it('a claim that lapsed, even if nobody took it meanwhile, is taken anew: the run is caught up with from its start', async () => {
      const a = processClaims('A', { leaseMs: 200 });
      const run = await newRun();
      expect(await a.standing(run, { followed: true })).toBe('taken');
      await waitFor(() => !a.holds(run), 'the claim to run out on this process’s clock', 30_000);
      expect(await a.standing(run, { followed: true })).toBe('taken');
    });

    it('renewals keep the claim; release gives it up for the next process at once; an ended run is over', async () => {
      const a = processClaims('A', { leaseMs: 2_000 });
      const b = processClaims('B');
      const run = await newRun();
      expect(await a.standing(run, { followed: true })).toBe('taken');
      // Renewed when due (as RunDisplay's heartbeat does), well past the lease: B, asking all along, never gets it.
      const until = Date.now() + 4_500;
      while (Date.now() < until) {
        await a.renewDue();
        expect(await b.standing(run, { followed: true })).toBe('elsewhere');
        b.askSoon(run);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await a.standing(run, { followed: false })).toBe('held');
      await a.releaseAll();
      expect(await holderOf(run)).toBeUndefined();
      expect(a.known()).toEqual([]);
      expect(await b.standing(run, { followed: true })).toBe('taken');

      await database.db.execute(sql`insert into platform_messages (platform, message_id, channel_id, run_id, kind, event_key)
      values ('slack', ${`${run}:end:done`}, 'C', ${run}, 'info', ${`${run}:end:done`})`);
      await b.release(run);
      const c = processClaims('C');
      expect(await c.standing(run, { followed: true })).toBe('over');
      expect(c.known()).toEqual([]);
    });
  });

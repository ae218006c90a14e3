/**
 * One display per run across processes (platforms/run-display.ts + db/run-display-claims.ts), on PGlite
 * and, with TEST_DATABASE_URL, on real PostgreSQL.
 *
 * - The claim statement: one holder at a time (also when eight ask at once), renewed by its holder,
 *   taken over once expired, never taken for a run whose display ended, released by its holder only.
 * - Two Slack apps (the real Bolt app, WebClient and RunDisplay, as two replicas behind a load balancer)
 *   on one database and one fake Slack, which answers posts slowly so that two processes looking up an
 *   event key at once would both post it: a run started through one of them has every event key in
 *   Slack exactly once. The holder stopped mid-run (a rolling update) gives the run up on its way out
 *   and the other app shows the rest. The holder cut off from the database mid-run (to the others a
 *   process that died without giving its claim up) is replaced once its claim has expired; the other
 *   app shows the run to its end. Each event key still once.
 *
 * Slack is the platform to prove this on: it has no nonce, so nothing but the claim stops a second post.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../src/db/connection';
import { claimRunDisplay, releaseRunDisplay } from '../src/db/run-display-claims';
import { runDisplayClaims } from '../src/db/schema';
import { queryRows } from '../src/db/util';
import type { Services } from '../src/core/services';
import { createSlackAdapter, type SlackAdapter } from '../src/platforms/slack/adapter';
import { FakeSlack, type FakeSlackMessage } from './fakes/slack-server';
import { GatedGenerator, openTestCore, type TestCore } from './helpers/core';
import { testBackends } from './helpers/db';
import { captureLogger } from './helpers/log-capture';
import { sign, SIGNING_SECRET, slackEventKey } from './helpers/slack-harness';
import { waitFor } from './helpers/wait';

const LEASE_MS = 1_500;
const K = 2; // iterations
const N = 2; // candidates per iteration
/** Event keys every run shows (core/optimizer/events.ts): its header, a summary per iteration (0 = the prompt's own image), its final summary. */
const essentialKeys = (runId: string): string[] => [
  `${runId}:started`,
  ...Array.from({ length: K + 1 }, (_, i) => `${runId}:it${i}:summary`),
  // One grid message per iteration (its candidates as tiles).
  ...Array.from({ length: K + 1 }, (_, i) => `${runId}:it${i}:images:grid`),
  `${runId}:end`,
];

async function insertRun(database: Database, id: string): Promise<void> {
  await database.db.execute(sql`insert into runs (id, user_key, status, initial_prompt, params, destination)
    values (${id}, ${`slack:T:${id}`}, 'running', 'p', '{}'::jsonb, '{"platform":"slack","channelId":"C","threadId":"C/1"}'::jsonb)`);
}

for (const backend of testBackends()) {
  describe(`run display claims: the statement (${backend.name})`, () => {
    let database: Database;
    beforeAll(async () => {
      database = await backend.open();
    });
    afterAll(async () => {
      await database?.close();
    });
    const claim = (runId: string, holder: string, leaseMs = 60_000) =>
      claimRunDisplay(database.db, { platform: 'slack', runId, holder, leaseMs });

    it('one holder at a time; renewed by it; taken over once expired; released by its holder only', async () => {
      await insertRun(database, 'r-one');
      expect(await claim('r-one', 'A')).toMatchObject({ ours: true, over: false });
      const refused = await claim('r-one', 'B');
      expect(refused.ours).toBe(false);
      expect(refused.over).toBe(false);
      expect(refused.othersExpireInMs).toBeGreaterThan(0);
      expect(refused.othersExpireInMs).toBeLessThanOrEqual(60_000);
      expect((await claim('r-one', 'A')).ours).toBe(true);
      // Another holder's release does nothing; the holder's own deletes the row.
      await releaseRunDisplay(database.db, { platform: 'slack', runId: 'r-one', holder: 'B' });
      expect((await claim('r-one', 'B')).ours).toBe(false);
      await releaseRunDisplay(database.db, { platform: 'slack', runId: 'r-one', holder: 'A' });
      expect(await database.db.select().from(runDisplayClaims).where(eq(runDisplayClaims.runId, 'r-one'))).toEqual([]);
      expect((await claim('r-one', 'B')).ours).toBe(true);
      // Per platform: the playground's claim on the same run is another row.
      expect((await claimRunDisplay(database.db, { platform: 'playground', runId: 'r-one', holder: 'A', leaseMs: 60_000 })).ours).toBe(
        true,
      );

      // A holder that stops renewing is replaced once its claim has expired (the database's clock).
      await insertRun(database, 'r-expiry');
      expect((await claim('r-expiry', 'A', 200)).ours).toBe(true);
      expect((await claim('r-expiry', 'B', 200)).ours).toBe(false);
      await waitFor(async () => (await claim('r-expiry', 'B', 60_000)).ours, 'B to take the expired claim over', 30_000);
      expect((await claim('r-expiry', 'A')).ours).toBe(false);
    });

    it('eight processes asking at once: exactly one wins', async () => {
      await insertRun(database, 'r-race');
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => claim('r-race', `P${i}`)));
      expect(results.filter((r) => r.ours)).toHaveLength(1);
      const rows = await database.db.select().from(runDisplayClaims).where(eq(runDisplayClaims.runId, 'r-race'));
      expect(rows).toHaveLength(1);
      expect(rows[0]!.holder).toBe(`P${results.findIndex((r) => r.ours)}`);
    });

    it('a run whose display ended (done marker) or that is gone is over: no claim is made for it', async () => {
      await insertRun(database, 'r-done');
      expect((await claim('r-done', 'A')).ours).toBe(true);
      await database.db.execute(sql`insert into platform_messages (platform, message_id, channel_id, run_id, kind, event_key)
        values ('slack', 'r-done:end:done', 'C', 'r-done', 'info', 'r-done:end:done')`);
      await releaseRunDisplay(database.db, { platform: 'slack', runId: 'r-done', holder: 'A' });
      // A process that was behind does not bring the row back.
      expect(await claim('r-done', 'B')).toEqual({ ours: false, over: true, othersExpireInMs: null });
      expect(await database.db.select().from(runDisplayClaims).where(eq(runDisplayClaims.runId, 'r-done'))).toEqual([]);
      expect(await claim('r-missing', 'A')).toMatchObject({ ours: false, over: true });
      // A forgotten run takes its claims with it.
      await insertRun(database, 'r-forgotten');
      expect((await claim('r-forgotten', 'A')).ours).toBe(true);
      await database.db.execute(sql`delete from runs where id = 'r-forgotten'`);
      expect(await queryRows(database.db, sql`select 1 from run_display_claims where run_id = 'r-forgotten'`)).toEqual([]);
    });
  });

  describe(`run display claims: two Slack apps on one database show each run once (${backend.name})`, () => {
    const fake = new FakeSlack();
    let database: Database;
    let core: TestCore;
    const generator = new GatedGenerator({ delayMs: 150 });
    const apps: SlackAdapter[] = [];
    const logs = captureLogger();
    let triggers = 0;

    beforeAll(async () => {
      database = await backend.open();
      core = await openTestCore({ database, seedGallery: false, generator });
      await fake.start();
      // Slow answers: a post is out well before its record, so two processes looking at once would both post.
      fake.beforeAnswer = () => new Promise((r) => setTimeout(r, 40));
    }, 120_000);
    afterAll(async () => {
      for (const app of apps) await app.stop();
      await core?.close();
      await database?.close();
      await fake.stop();
    });

    /** Two replicas: A (receives the commands; can be cut off from the database) and B. */
    async function openPair(): Promise<{ a: SlackAdapter; b: SlackAdapter; cutA: () => void }> {
      const cuttable = cutOffable(core.app.services);
      const pair: SlackAdapter[] = [];
      for (const services of [cuttable.services, core.app.services]) {
        const app = createSlackAdapter({
          config: {
            SLACK_BOT_TOKEN: fake.token,
            SLACK_SIGNING_SECRET: SIGNING_SECRET,
            SLACK_API_URL: fake.apiUrl,
            SLACK_PORT: 0,
            HOST: '127.0.0.1',
          },
          services,
          log: logs.logger,
          db: database.db,
          postIntervalMs: 5,
          sharePollMs: 5,
          runFeedPollMs: 30,
          runDisplayLeaseMs: LEASE_MS,
        });
        await app.start();
        apps.push(app);
        pair.push(app);
      }
      return { a: pair[0]!, b: pair[1]!, cutA: cuttable.cut };
    }

    /** `/optimize` typed in the channel, received by `app` (the load balancer's pick). */
    async function optimize(app: SlackAdapter, user: string, prompt: string): Promise<string> {
      const triggerId = `trig${++triggers}`;
      const form = new URLSearchParams({
        team_id: fake.teamId,
        channel_id: fake.channelId,
        user_id: user,
        user_name: user.toLowerCase(),
        command: '/optimize',
        text: `prompt:"${prompt}" iterations:${K} candidates:${N}`,
        response_url: fake.responseUrl(triggerId),
        trigger_id: triggerId,
      }).toString();
      const ts = Math.floor(Date.now() / 1000);
      const res = await fetch(app.url(), {
        method: 'POST',
        body: form,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-slack-request-timestamp': String(ts),
          'x-slack-signature': sign(SIGNING_SECRET, ts, form),
        },
      });
      expect(res.status).toBe(200);
      const parent = await waitFor(
        () => fake.messages.find((m) => !m.threadTs && m.channel === fake.channelId && m.text.includes(prompt)),
        'the run thread',
      );
      const [run] = await queryRows<{ id: string }>(
        database.db,
        sql`select id from runs where initial_prompt = ${prompt} order by created_at desc limit 1`,
      );
      expect(parent).toBeTruthy();
      return run!.id;
    }

    const inThread = (runId: string): FakeSlackMessage[] => {
      const keyed = fake.messages.filter((m) => slackEventKey(m)?.startsWith(`${runId}:`));
      const threadTs = keyed.find((m) => m.threadTs)?.threadTs;
      return fake.messages.filter((m) => m.threadTs === threadTs && !m.ephemeralFor);
    };

    /**
     * Every event key of the run in Slack at most once and recorded with that message, the ones every run
     * shows all there, the closing notice once. (How many progress messages a run leaves depends on how
     * its events were batched, e.g. around a takeover; each is still posted once.)
     */
    async function expectEachKeyOnce(runId: string): Promise<void> {
      const keys = inThread(runId)
        .map(slackEventKey)
        .filter((k): k is string => Boolean(k));
      expect(keys.length - new Set(keys).size, `repeated keys: ${keys.filter((k, i) => keys.indexOf(k) !== i).join(', ')}`).toBe(0);
      expect(essentialKeys(runId).filter((k) => !keys.includes(k))).toEqual([]);
      const notices = fake.messages.filter((m) => slackEventKey(m) === `${runId}:end:done`);
      expect(notices).toHaveLength(1);
      for (const m of inThread(runId)) {
        const key = slackEventKey(m);
        if (key) expect((await core.app.services.messages.byEventKey('slack', key))?.messageId, key).toBe(`${m.channel}:${m.ts}`);
      }
      expect(await core.app.services.messages.byEventKey('slack', `${runId}:end:done`)).toBeTruthy();
      // Released at the end: no claim row is left behind.
      expect(await queryRows(database.db, sql`select holder from run_display_claims where run_id = ${runId}`)).toEqual([]);
    }

    const shownToEnd = (runId: string) =>
      waitFor(
        async () => (await core.app.services.messages.byEventKey('slack', `${runId}:end:done`)) !== undefined,
        'the run shown to its end',
        120_000,
      );

    // The iterations' grid pictures (file shares) posted so far.
    const candidatesOf = (runId: string) => inThread(runId).filter((m) => m.files.length > 0);
    const holders = async (runId: string) =>
      (await queryRows<{ holder: string }>(database.db, sql`select holder from run_display_claims where run_id = ${runId}`)).map(
        (r) => r.holder,
      );
    const tookOver = (runId: string) =>
      logs.lines().some((l) => l.msg === 'took over showing a run another process was showing' && l.runId === runId);
    async function stopApps(...stopping: SlackAdapter[]): Promise<void> {
      for (const app of stopping) {
        apps.splice(apps.indexOf(app), 1);
        await app.stop();
      }
    }

    it('both apps read the feed; the one holding the claim posts, each event key once', async () => {
      const { a, b } = await openPair();
      const runId = await optimize(a, 'UANN000001', 'a lighthouse at dusk');
      await shownToEnd(runId);
      await Promise.all([a.idle(), b.idle()]);
      await Promise.all([a.runDisplay.poll(), b.runDisplay.poll()]);
      await expectEachKeyOnce(runId);
      // The app that received the command showed the run from start to end.
      expect(tookOver(runId)).toBe(false);
      await stopApps(a, b);
    }, 180_000);

    it('the holder stops mid-run (a rolling update): it gives the run up, the other shows the rest, each event key once', async () => {
      const { a, b } = await openPair();
      const runId = await optimize(a, 'UCAT000001', 'a meadow at noon');
      await waitFor(() => candidatesOf(runId).length >= 2, 'the first candidates posted by the holder', 120_000);
      const [holder] = await holders(runId);
      expect(holder).toBeTruthy();
      await stopApps(a);
      // Given up on the way out, not left to expire: the claim is gone, or already the other app's.
      expect(await holders(runId)).not.toContain(holder);
      await shownToEnd(runId);
      await b.idle();
      await b.runDisplay.poll();
      expect(tookOver(runId)).toBe(true);
      await expectEachKeyOnce(runId);
      await stopApps(b);
    }, 180_000);

    it('the holder cut off mid-run without giving its claim up: the other takes over after expiry and finishes', async () => {
      const { a, b, cutA } = await openPair();
      const runId = await optimize(a, 'UBEA000001', 'a harbor in the fog');
      await waitFor(() => candidatesOf(runId).length >= 2, 'the first candidates posted by the holder', 120_000);
      const before = new Set(inThread(runId).map((m) => m.ts));
      cutA();
      await shownToEnd(runId);
      await b.idle();
      await b.runDisplay.poll();
      // The rest came after the cut, so from the other app: A could not read the feed any more.
      expect(inThread(runId).filter((m) => !before.has(m.ts)).length).toBeGreaterThan(0);
      expect(tookOver(runId)).toBe(true);
      await expectEachKeyOnce(runId);
      await stopApps(b, a);
    }, 180_000);
  });
}

/**
 * The services as a process reaches them, with a switch that cuts it off from the database: from then
 * on every read and write fails, as for a process that hangs or lost its network — to the others it is
 * dead, and it cannot give its claims up.
 */
function cutOffable(services: Services): { services: Services; cut: () => void } {
  let cut = false;
  const guard =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    (...a: A): Promise<R> =>
      cut ? Promise.reject(new Error('cut off from the database (test)')) : f(...a);
  const { runs, messages } = services;
  const guardedMessages = Object.fromEntries(
    Object.entries(messages).map(([name, f]) => [name, guard(f as (...a: unknown[]) => Promise<unknown>)]),
  ) as unknown as Services['messages'];
  return {
    cut: () => (cut = true),
    services: {
      ...services,
      runs: {
        start: guard((r) => runs.start(r)),
        cancel: guard((u, id) => runs.cancel(u, id)),
        subscribe: (listener) => runs.subscribe(listener),
        setDestination: guard((id, d) => runs.setDestination(id, d)),
        feed: guard((p, c) => runs.feed(p, c)),
      },
      messages: guardedMessages,
    },
  };
}

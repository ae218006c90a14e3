/**
 * Discord sharding end to end: the real discord.js bot, twice — two gateway "processes" (two adapters
 * on one database, each with its own shard and its own REST tag in the fake) against a fake Discord
 * with 2 shards and a server on each. Each opens a session on its shard only; a server's commands,
 * reactions and run display are handled by the process of its shard and never by the other; commands
 * are registered once (by the process running shard 0). A third process asking for a held shard waits
 * and connects once the holder stops — the fake never sees two sessions of one shard.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// discord.js first (see tests/discord.test.ts: the module order matters under vitest).
import { openDiscordHarness, type DiscordHarness } from './helpers/discord-harness';
import { FakeDiscord, type RecordedRequest } from './fakes/discord-server';
import { RATING_EMOJI } from '../src/platforms/emoji';
import { eq } from 'drizzle-orm';
import { liveLeases } from '../src/db/leases';
import { runs } from '../src/db/schema';
import { openTestCore, type TestCore } from './helpers/core';
import { openFreshPostgres, TEST_DATABASE_URL } from './helpers/db';
import type { Database } from '../src/db/connection';
import { captureLogger } from './helpers/log-capture';
import { waitFor } from './helpers/wait';

const fake = new FakeDiscord({ shards: 2 });
let core: TestCore;
/** With TEST_DATABASE_URL the shared database is real PostgreSQL (else PGlite). */
let postgres: Database | undefined;
let a: DiscordHarness;
let b: DiscordHarness;
let g0: { guildId: string; channelId: string };
let g1: { guildId: string; channelId: string };

/** REST requests of one process (by its tag) that match. */
const requestsOf = (tag: string, match: (r: RecordedRequest) => boolean) => fake.requests.filter((r) => r.client === tag && match(r));

beforeAll(async () => {
  await fake.start();
  g0 = fake.addGuild({ shard: 0, name: 'Server on shard 0' });
  g1 = fake.addGuild({ shard: 1, name: 'Server on shard 1' });
  postgres = TEST_DATABASE_URL ? await openFreshPostgres() : undefined;
  core = await openTestCore({ database: postgres });
  a = await openDiscordHarness({ core, fake, clientTag: 'a', shardConfig: { DISCORD_SHARD_COUNT: 2, DISCORD_SHARD_IDS: [0] } });
  // The StatefulSet form: process 1 of 2 (and the count from GET /gateway/bot).
  b = await openDiscordHarness({
    core,
    fake,
    clientTag: 'b',
    shardConfig: { DISCORD_SHARD_COUNT: 'auto', DISCORD_GATEWAY_INDEX: 1, DISCORD_GATEWAYS: 2 },
  });
}, 180_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await core?.close();
  await postgres?.close();
  await fake.stop();
}, 60_000);

/** Sends a slash command in a channel; resolves with its interaction id once both processes are idle. */
async function command(user: string, name: string, channelId: string, options: { name: string; type: number; value: unknown }[] = []) {
  const iid = fake.interact(a.idOf(user), name, options, { channelId });
  await waitFor(() => fake.requests.some((r) => r.path.startsWith(`/interactions/${iid}/`)), `the ack of /${name}`);
  await Promise.all([a.adapter.idle(), b.adapter.idle()]);
  return iid;
}

describe('two gateway processes with one shard each', () => {
  it('each opens a session on its own shard only, and commands are registered once, by the shard-0 process', async () => {
    expect([...fake.gateway.identifiedShards].sort()).toEqual([
      [0, 2],
      [1, 2],
    ]);
    expect(fake.gateway.overlaps).toEqual([]);
    expect(a.adapter.shards.plan).toEqual({ count: 2, ids: [0] });
    expect(b.adapter.shards.plan).toEqual({ count: 2, ids: [1] });
    expect(a.adapter.client.guilds.cache.has(g0.guildId)).toBe(true);
    expect(a.adapter.client.guilds.cache.has(g1.guildId)).toBe(false);
    expect(b.adapter.client.guilds.cache.has(g1.guildId)).toBe(true);
    expect(b.adapter.client.guilds.cache.has(g0.guildId)).toBe(false);
    expect(fake.commandPuts).toHaveLength(1);
    expect(requestsOf('a', (r) => r.method === 'PUT' && r.path.endsWith('/commands'))).toHaveLength(1);
    expect(requestsOf('b', (r) => r.path.endsWith('/commands'))).toEqual([]);
    expect(a.adapter.health()).toMatchObject({ ok: true, detail: expect.stringMatching(/^gateway ready: shard 0 ready/) });
    expect(b.adapter.health()).toMatchObject({ ok: true, detail: expect.stringMatching(/^gateway ready: shard 1 ready/) });
    const leases = await liveLeases(core.app.database.db, `discord:${fake.applicationId}:shard:`);
    expect(leases.map((l) => l.name)).toEqual([`discord:${fake.applicationId}:shard:0/2`, `discord:${fake.applicationId}:shard:1/2`]);
    expect(new Set(leases.map((l) => l.holder)).size).toBe(2);
  });

  it('a command in a server is answered by the process of its shard, never by the other', async () => {
    const on1 = await command('ann', 'help', g1.channelId);
    const on0 = await command('ann', 'help', g0.channelId);
    const answeredBy = (iid: string) => [
      ...new Set(fake.requests.filter((r) => r.path.startsWith(`/interactions/${iid}/`)).map((r) => r.client)),
    ];
    expect(answeredBy(on1)).toEqual(['b']);
    expect(answeredBy(on0)).toEqual(['a']);
  });

  it('a reaction in a server is rated by the process of its shard only', async () => {
    await command('bea', 'rate', g1.channelId, [{ name: 'count', type: 4, value: 1 }]);
    const image = await waitFor(
      () =>
        fake
          .channelMessages(g1.channelId)
          .find((m) => m.attachments.length && RATING_EMOJI.every((e) => m.reactions.get(e)?.has(fake.botUser.id))),
      'a rateable image in the shard-1 server',
    );
    expect(requestsOf('a', (r) => r.path.startsWith(`/channels/${g1.channelId}/`))).toEqual([]);
    const [aCalls, bCalls] = [a.services.ratingCalls.length, b.services.ratingCalls.length];
    fake.react(a.idOf('bea'), image.id, RATING_EMOJI[6]!);
    await waitFor(() => b.services.ratingCalls.length > bCalls, 'the rating by the shard-1 process');
    await Promise.all([a.adapter.idle(), b.adapter.idle()]);
    expect(a.services.ratingCalls.length).toBe(aCalls);
    expect(b.services.ratingCalls.slice(bCalls).map((c) => [c.userKey, c.score])).toEqual([[b.userKey('bea'), 7]]);
  });

  it('runs in both servers at once: each is shown by its own process, every message once', { timeout: 180_000 }, async () => {
    const optimize = [
      { name: 'prompt', type: 3, value: 'a lighthouse at dusk' },
      { name: 'iterations', type: 4, value: 1 },
      { name: 'candidates', type: 4, value: 2 },
    ];
    await Promise.all([command('cat', 'optimize', g0.channelId, optimize), command('dan', 'optimize', g1.channelId, optimize)]);
    const finished = (channelId: string) => fake.channelMessages(channelId).some((m) => m.content.startsWith('✅ Run finished'));
    await waitFor(() => finished(g0.channelId) && finished(g1.channelId), 'both runs to finish', 150_000);
    await Promise.all([a.adapter.runDisplay.poll(), b.adapter.runDisplay.poll()]);
    const threadIn = (channelId: string) => fake.threads().find((t) => t.parent_id === channelId)!;
    for (const [mine, other, guild] of [
      ['a', 'b', g0],
      ['b', 'a', g1],
    ] as const) {
      const thread = threadIn(guild.channelId);
      const posts = fake.requests.filter((r) => r.method === 'POST' && r.path === `/channels/${thread.id}/messages`);
      expect(posts.length).toBeGreaterThan(3);
      expect(new Set(posts.map((r) => r.client))).toEqual(new Set([mine]));
      expect(requestsOf(other, (r) => r.path.includes(thread.id))).toEqual([]);
      const contents = fake.channelMessages(thread.id).map((m) => m.content);
      expect(new Set(contents).size).toBe(contents.length);
      expect(contents.filter((c) => c.startsWith('🎨 **Optimizing**'))).toHaveLength(1);
    }
  });

  it(
    'a run of a server on another shard is never shown here, even with its own process not showing it yet',
    { timeout: 180_000 },
    async () => {
      // The owner's display is held back, so only the filter (not exactly-once) keeps the other process off it.
      await b.adapter.runDisplay.stop();
      const notices = () => fake.channelMessages(g1.channelId).filter((m) => m.content.startsWith('✅ Run finished')).length;
      const noticesBefore = notices();
      await command('fay', 'optimize', g1.channelId, [
        { name: 'prompt', type: 3, value: 'a quiet harbor' },
        { name: 'iterations', type: 4, value: 1 },
        { name: 'candidates', type: 4, value: 2 },
      ]);
      const runOf = async () =>
        (
          await core.app.database.db
            .select()
            .from(runs)
            .where(eq(runs.userKey, b.userKey('fay')))
        )[0];
      await waitFor(async () => (await runOf())?.status === 'finished', 'the run to finish', 150_000);
      const thread = fake
        .threads()
        .filter((t) => t.parent_id === g1.channelId)
        .at(-1)!;
      await a.adapter.runDisplay.poll();
      await a.adapter.runDisplay.poll();
      expect(requestsOf('a', (r) => r.path.includes(thread.id))).toEqual([]);
      expect(fake.channelMessages(thread.id)).toEqual([]);
      b.adapter.runDisplay.start();
      await waitFor(() => notices() > noticesBefore, 'the outcome notice, once the owner shows the run');
      expect(fake.channelMessages(thread.id).length).toBeGreaterThan(3);
      expect(requestsOf('a', (r) => r.path.includes(thread.id))).toEqual([]);
    },
  );

  it('a third process asking for a held shard waits, and connects once the holder stops', { timeout: 180_000 }, async () => {
    const { logger, lines } = captureLogger('info');
    const identifies = fake.identifies;
    let c: DiscordHarness | undefined;
    const opening = openDiscordHarness({
      core,
      fake,
      clientTag: 'c',
      log: logger,
      shardConfig: { DISCORD_SHARD_COUNT: 2, DISCORD_SHARD_IDS: [1] },
      shardLeaseTiming: { retryMs: 50 },
    }).then((h) => (c = h));
    await waitFor(
      () => lines().find((l) => l.msg.startsWith('waiting to connect Discord: shard 1 is held by')),
      'the third process to wait',
    );
    expect(fake.identifies).toBe(identifies);
    expect(c).toBeUndefined();
    await b.close();
    await opening;
    try {
      expect(fake.gateway.identifiedShards.at(-1)).toEqual([1, 2]);
      expect(fake.gateway.overlaps).toEqual([]);
      const iid = await command('eve', 'help', g1.channelId);
      expect(new Set(fake.requests.filter((r) => r.path.startsWith(`/interactions/${iid}/`)).map((r) => r.client))).toEqual(new Set(['c']));
    } finally {
      await c!.close();
    }
  });
});

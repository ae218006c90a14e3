/**
 * The Slack app: v0-signed requests to the real Bolt HTTPReceiver, the real WebClient against the
 * fake Slack Web API (tests/fakes/slack-server.ts). Signatures and replay window, ack before work,
 * reactions → ratings (retries deduplicated, bots ignored), 429 + Retry-After, parse errors, and a
 * whole /optimize run offline on the real core (sketch + genetic, PGlite / PostgreSQL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { findCommand } from '../commands/index';
import { parseOptionText } from '../commands/options';
import { createApp, type App } from '../src/app';
import { testConfig } from '../src/config';
import type { Database } from '../src/db/connection';
import { queryRows } from '../src/db/util';
import { silentLogger } from '../src/log';
import { RATING_SLACK_NAMES } from '../src/platforms/emoji';
import { createSlackAdapter } from '../src/platforms/slack/adapter';
import { dbEventClaimer } from '../src/platforms/slack/event-dedupe';
import { renderSlackManifest } from '../src/platforms/slack/manifest';
import { ChannelQueue } from '../src/platforms/slack/queue';
import { parseUserMention, toSlackText } from '../src/platforms/slack/text';
import { testBackends } from './helpers/db';
import { createFakeServices, type FakeServices } from './helpers/services';
import { openSlackHarness, SIGNING_SECRET, sign, type SlackHarness } from './helpers/slack-harness';
import { waitFor } from './helpers/wait';
import { FakeSlack } from './fakes/slack-server';

describe('slash command text (Slack passes one string)', () => {
  const optimize = findCommand('optimize')!;
  const mention = (v: string) => parseUserMention(v, 'T1');
  it('parses key:value options, quoted values and a free-text remainder (the prompt)', () => {
    expect(parseOptionText(optimize, 'prompt:"a red fox" iterations:3', mention)).toEqual({ prompt: 'a red fox', iterations: '3' });
    expect(parseOptionText(optimize, 'iterations:3 a red fox candidates:2', mention)).toEqual({
      prompt: 'a red fox',
      iterations: '3',
      candidates: '2',
    });
    expect(parseOptionText(optimize, 'prompt:“a fox iterations:9” feedback:s+p', mention)).toEqual({
      prompt: 'a fox iterations:9',
      feedback: 's+p',
    });
    expect(() => parseOptionText(optimize, 'prompt:"a red fox', mention)).toThrow(/quote is not closed[\s\S]*Usage: \/optimize/);
    expect(() => parseOptionText(optimize, 'prompt:fox iterations:3 stray words', mention)).toThrow(/already given/);
  });
  it('maps <@U…|name> to a person of the verified workspace, and nothing else', () => {
    const profile = findCommand('profile')!;
    expect(parseOptionText(profile, 'user:<@U123ABC|ann>', mention)).toEqual({
      user: { platform: 'slack', workspaceId: 'T1', userId: 'U123ABC', displayName: 'ann' },
    });
    expect(parseOptionText(profile, '<@W9ZZ>', mention)).toEqual({
      user: { platform: 'slack', workspaceId: 'T1', userId: 'W9ZZ', displayName: undefined },
    });
    expect(() => parseOptionText(profile, 'user:@ann', mention)).toThrow(/don't know the person/);
  });
  it('escapes text so nothing can ping or link, and speaks mrkdwn', () => {
    expect(toSlackText('**Run** for <!channel> & <@U1>')).toBe('*Run* for &lt;!channel&gt; &amp; &lt;@U1&gt;');
  });
});

describe('per-channel queue', () => {
  it('paces posts per channel and honors Retry-After on a 429, losing nothing', async () => {
    const slept: number[] = [];
    const now = 0;
    const q = new ChannelQueue({ postIntervalMs: 1000, now: () => now, sleep: async (ms) => void slept.push(ms) });
    let calls = 0;
    const limited = Object.assign(new Error('rate limited'), { code: 'slack_webapi_rate_limited_error', retryAfter: 3 });
    const posted: string[] = [];
    await Promise.all([
      q.run('C1', 'post', async () => void posted.push('a')),
      q.run('C1', 'post', async () => {
        if (calls++ === 0) throw limited;
        posted.push('b');
      }),
      q.run('C2', 'post', async () => void posted.push('c')),
    ]);
    expect(posted.sort()).toEqual(['a', 'b', 'c']);
    expect(slept).toContain(1000); // b waited for a's slot in C1
    expect(slept).toContain(3000); // and for Retry-After
    expect(q.rateLimited).toBe(1);
  });
});

describe('slack app against the fake Slack (in-memory services)', () => {
  let h: SlackHarness;
  let services: FakeServices;
  beforeAll(async () => {
    services = await createFakeServices();
    h = await openSlackHarness({ services });
  });
  afterAll(async () => {
    await h?.close();
  });
  const rateable = () => h.messages().then((ms) => ms.filter((m) => m.rateable && m.imageId && m.conversationId === h.channelId));

  it('rejects a bad signature with 401 and a timestamp older than 5 minutes', async () => {
    const form = new URLSearchParams({
      command: '/help',
      text: '',
      user_id: 'U1',
      team_id: h.fake.teamId,
      channel_id: h.fake.channelId,
      trigger_id: 't-bad',
    }).toString();
    const before = h.fake.calls.length;
    const bad = await h.send(form, 'application/x-www-form-urlencoded', {
      signature: sign('not-the-secret', Math.floor(Date.now() / 1000), form),
    });
    expect(bad.status).toBe(401);
    const old = Math.floor(Date.now() / 1000) - 6 * 60;
    const stale = await h.send(form, 'application/x-www-form-urlencoded', { ts: old, signature: sign(SIGNING_SECRET, old, form) });
    expect(stale.status).toBe(401);
    await h.adapter.idle();
    expect(h.fake.calls.length).toBe(before);
    expect(h.adapter.stats.commands).toBe(0);
  });

  it('acks a slash command before any slow work: the HTTP response arrives before the first post', async () => {
    const original = services.people.touch;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    services.people.touch = async (p, s) => {
      await held;
      return original(p, s);
    };
    try {
      const handled = h.adapter.stats.commands;
      const res = await h.slash('zed', 'rate', 'count:1', { wait: false });
      expect(res.status).toBe(200);
      // The response is out while the handler still waits on the "database": nothing was posted yet.
      const seenBefore = h.fake.calls
        .slice(0, res.callsSeenAtResponse)
        .filter((c) => c.method === 'chat.postMessage' || c.method.startsWith('files.'));
      expect(seenBefore).toHaveLength(0);
      release();
      await waitFor(() => h.fake.callsOf('files.completeUploadExternal').length > 0, 'the image post after the ack');
      await waitFor(() => h.adapter.stats.commands > handled, 'the command to finish');
      await h.adapter.idle();
    } finally {
      services.people.touch = original;
    }
  });

  it('/rate uploads PNGs with files.uploadV2 and adds :one: … :keycap_ten: in order', async () => {
    const before = (await rateable()).length;
    await h.slash('amy', 'rate', 'count:2');
    const imgs = (await rateable()).slice(before);
    expect(imgs).toHaveLength(2);
    expect(h.fake.uploaded().every((f) => f.png && f.bytes > 100)).toBe(true);
    const [channel, ts] = imgs[0]!.id.split(':');
    const adds = h.fake
      .callsOf('reactions.add')
      .filter((c) => c.body.channel === channel && c.body.timestamp === ts)
      .map((c) => c.body.name);
    expect(adds).toEqual([...RATING_SLACK_NAMES]);
    // The message ts came from files.info shares (polled until Slack reported the share).
    expect(h.fake.callsOf('files.info').length).toBeGreaterThanOrEqual(2);
  });

  it('reaction add, change and remove give the right rating; skin tones stripped; other emoji and bots ignored', async () => {
    const [img] = await rateable();
    const key = `${h.userKey('ben')}|${img!.imageId}`;
    await h.reaction('add', 'ben', img!.id, 'seven');
    expect(services.ratingsMap.get(key)).toBe(7);
    await h.reaction('add', 'ben', img!.id, 'nine::skin-tone-3');
    expect(services.ratingsMap.get(key)).toBe(9);
    await h.reaction('remove', 'ben', img!.id, 'nine::skin-tone-3');
    expect(services.ratingsMap.get(key)).toBe(7);
    await h.reaction('remove', 'ben', img!.id, 'seven');
    expect(services.ratingsMap.has(key)).toBe(false);
    await h.reaction('add', 'ben', img!.id, 'keycap_ten');
    expect(services.ratingsMap.get(key)).toBe(10);

    const calls = services.ratingCalls.length;
    await h.reaction('add', 'ben', img!.id, 'thumbsup');
    await h.reaction('add', h.fake.botUserId, img!.id, 'three');
    h.fake.bots.add(h.idOf('otherbot'));
    await h.reaction('add', 'otherbot', img!.id, 'four');
    expect(services.ratingCalls.length).toBe(calls);
    expect(services.ratingsMap.has(`${h.userKey('otherbot')}|${img!.imageId}`)).toBe(false);
    // The person is keyed with the workspace from the verified event envelope.
    expect(h.userKey('ben')).toBe(`slack:${h.fake.teamId}:${h.idOf('ben')}`);
  });

  it('a retried event (same event_id, X-Slack-Retry-Num: 1) makes one rating', async () => {
    const [, img] = await rateable();
    const calls = services.ratingCalls.length;
    const dups = h.adapter.stats.duplicates;
    const first = await h.reaction('add', 'cal', img!.id, 'six', { eventId: 'Ev-RETRY-1', eventTs: '1800009999.000100' });
    const retry = await h.reaction('add', 'cal', img!.id, 'six', { eventId: 'Ev-RETRY-1', eventTs: '1800009999.000100', retryNum: 1 });
    expect([first.status, retry.status]).toEqual([200, 200]);
    expect(services.ratingCalls.length).toBe(calls + 1);
    expect(h.adapter.stats.duplicates).toBe(dups + 1);
    expect(services.ratingsMap.get(`${h.userKey('cal')}|${img!.imageId}`)).toBe(6);
  });

  it('a rating that fails after the ack is retried; one that keeps failing gives its claim back so a redelivery lands', async () => {
    const [, , img] = await rateable();
    const key = `${h.userKey('dee')}|${img!.imageId}`;
    const original = services.ratings.rate;
    let failures = 1;
    services.ratings.rate = async (...args) => {
      if (failures-- > 0) throw new Error('connection reset (transient)');
      return original(...args);
    };
    try {
      await h.reaction('add', 'dee', img!.id, 'five', { eventId: 'Ev-FLAKY-1', eventTs: '1800020000.000100' });
      await h.adapter.idle();
      expect(services.ratingsMap.get(key)).toBe(5); // the passing failure was retried in-process

      failures = 3; // every in-process attempt fails
      await h.reaction('add', 'dee', img!.id, 'eight', { eventId: 'Ev-FLAKY-2', eventTs: '1800020001.000100' });
      await h.adapter.idle();
      expect(services.ratingsMap.get(key)).toBe(5);
      // The claim was released: Slack's redelivery of the same event is handled, not dropped as a duplicate.
      await h.reaction('add', 'dee', img!.id, 'eight', { eventId: 'Ev-FLAKY-2', eventTs: '1800020001.000100', retryNum: 1 });
      await h.adapter.idle();
      expect(services.ratingsMap.get(key)).toBe(8);
    } finally {
      services.ratings.rate = original;
    }
  });

  it('a 429 with Retry-After: 1 delays the post; it still lands and nothing is lost', async () => {
    const posts = h.fake.callsOf('chat.postMessage').filter((c) => c.status === 200).length;
    h.fake.rateLimit('chat.postMessage', 1, 1);
    await h.slash('dee', 'rate', 'count:1');
    const all = h.fake.callsOf('chat.postMessage');
    expect(all.filter((c) => c.status === 429)).toHaveLength(1);
    // The intro line is the one post of /rate that uses chat.postMessage: it arrived after the 429.
    expect(all.filter((c) => c.status === 200).length).toBe(posts + 1);
    expect(h.fake.messages.some((m) => m.text.startsWith('Here is 1 image to rate'))).toBe(true);
    expect(h.adapter.queue.rateLimited).toBeGreaterThanOrEqual(1);
  });

  it('a parse error answers with the command usage, privately, in the ack', async () => {
    const before = h.fake.calls.length;
    const res = await h.slash('eve', 'optimize', 'prompt:"a lighthouse iterations:3');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ response_type: 'ephemeral' });
    expect(JSON.parse(res.text).text).toMatch(/quote is not closed[\s\S]*Usage: \/optimize prompt:&lt;text&gt;/);
    const res2 = await h.slash('eve', 'rate', 'count:lots');
    expect(JSON.parse(res2.text).text).toMatch(/count must be a whole number from 1 to 10[\s\S]*Usage: \/rate/);
    expect(h.fake.calls.length).toBe(before);
  });

  it('/profile user:<@U…|name> reaches the handler as that person; a bare @name is refused in the ack; /help is private', async () => {
    await h.slash('fay', 'profile', `user:<@${h.idOf('ben')}|ben>`);
    const last = h.fake.messages.filter((m) => m.ephemeralFor === h.idOf('fay')).at(-1)!;
    // Resolved to a person (not a parse error): the privacy rule of /profile answers.
    expect(last.text).not.toMatch(/don't know the person/);
    expect(last.text).toMatch(/taste profile/);
    const res = await h.slash('fay', 'profile', 'user:@ben');
    expect(JSON.parse(res.text).text).toMatch(/don't know the person "@ben"[\s\S]*Usage: \/profile/);
    await h.slash('fay', 'help', '');
    expect(h.fake.messages.filter((m) => m.ephemeralFor === h.idOf('fay')).at(-1)!.text).toContain('*Privacy:*');
    await h.slash('fay', 'tl-help', ''); // a renamed command (another app owns /help) maps to the same one
    expect(h.fake.messages.filter((m) => m.ephemeralFor === h.idOf('fay') && m.text.includes('*Privacy:*'))).toHaveLength(2);
  });

  it('a redelivered /optimize (same trigger_id) starts one run; typed mentions cannot ping', async () => {
    const threadsBefore = (await h.threadIds()).length;
    await h.slash('gus', 'optimize', 'prompt:"a harbor for <!channel> and <@U0BOSS>" iterations:1 candidates:1', { triggerId: 'trig-dup' });
    await h.slash('gus', 'optimize', 'prompt:"a harbor for <!channel> and <@U0BOSS>" iterations:1 candidates:1', { triggerId: 'trig-dup' });
    await waitFor(async () => h.fake.messages.some((m) => m.text.startsWith('✅ Run finished:')), 'the run to finish');
    await h.adapter.idle();
    expect((await h.threadIds()).length).toBe(threadsBefore + 1);
    expect(services.events.filter((e) => e.type === 'run.started')).toHaveLength(1);
    const header = h.fake.messages.find((m) => m.text.includes('a harbor for'))!;
    expect(header.text).toContain('&lt;!channel&gt;');
    expect(h.fake.messages.some((m) => /<!channel>|<@U0BOSS>/.test(m.text))).toBe(false);
  });
});

describe('Socket Mode (SLACK_APP_TOKEN)', () => {
  it('connects over the WebSocket, acks envelopes, and a redelivered event rates once', async () => {
    const services = await createFakeServices();
    const fake = new FakeSlack();
    await fake.start();
    const adapter = createSlackAdapter({
      config: { SLACK_BOT_TOKEN: fake.token, SLACK_APP_TOKEN: fake.appToken, SLACK_API_URL: fake.apiUrl },
      services,
      log: silentLogger,
      postIntervalMs: 20,
      sharePollMs: 5,
    });
    try {
      await adapter.start();
      await waitFor(() => fake.socketClients === 1, 'the socket connection');
      const cmd = {
        command: '/rate',
        text: 'count:1',
        user_id: 'USOCK1',
        user_name: 'sol',
        team_id: fake.teamId,
        channel_id: fake.channelId,
        trigger_id: 'trig-sock',
        response_url: fake.responseUrl('trig-sock'),
        api_app_id: 'A0FAKE',
      };
      fake.sendEnvelope({ envelope_id: 'env-1', type: 'slash_commands', payload: cmd, accepts_response_payload: true });
      await waitFor(() => fake.socketAcks.some((a) => a.envelope_id === 'env-1'), 'the ack of the command envelope');
      await waitFor(() => adapter.stats.commands === 1, 'the command');
      await adapter.idle();
      const img = fake.messages.find((m) => m.files.length === 1)!;
      expect(RATING_SLACK_NAMES.every((n) => img.reactions.get(n)?.has(fake.botUserId))).toBe(true);
      const event = {
        team_id: fake.teamId,
        api_app_id: 'A0FAKE',
        type: 'event_callback',
        event_id: 'Ev-SOCK-1',
        event_time: 1800200000,
        event: {
          type: 'reaction_added',
          user: 'USOCK1',
          reaction: 'five',
          item: { type: 'message', channel: img.channel, ts: img.ts },
          event_ts: '1800200000.000100',
        },
      };
      fake.sendEnvelope({ envelope_id: 'env-2', type: 'events_api', payload: event });
      fake.sendEnvelope({ envelope_id: 'env-3', type: 'events_api', payload: event, retry_attempt: 1, retry_reason: 'timeout' });
      await waitFor(() => adapter.stats.events === 2, 'both deliveries');
      await adapter.idle();
      expect(services.ratingCalls.filter((c) => c.kind === 'rate')).toHaveLength(1);
      expect(
        services.ratingsMap.get(`slack:${fake.teamId}:USOCK1|${services.messagesMap.get(`slack|${img.channel}:${img.ts}`)!.imageId}`),
      ).toBe(5);
    } finally {
      await adapter.stop();
      await fake.stop();
    }
  });
});

describe('Socket Mode: a dropped socket', () => {
  const setup = async (opts: { socketGapReconcileMs?: number }) => {
    const services = await createFakeServices();
    const fake = new FakeSlack();
    await fake.start();
    const adapter = createSlackAdapter({
      config: { SLACK_BOT_TOKEN: fake.token, SLACK_APP_TOKEN: fake.appToken, SLACK_API_URL: fake.apiUrl },
      // The SDK waits this long (times the failures so far) before each reconnect, so it is short; but a
      // pong later than this also drops the socket, so not so short that a busy machine's pauses do.
      services,
      log: silentLogger,
      postIntervalMs: 20,
      sharePollMs: 5,
      socketPingTimeoutMs: 2_000,
      ...opts,
    });
    await adapter.start();
    await waitFor(() => adapter.lastReconcile, 'the startup read-back');
    const cmd = {
      command: '/rate',
      text: 'count:1',
      user_id: 'USOCK1',
      user_name: 'sol',
      team_id: fake.teamId,
      channel_id: fake.channelId,
      trigger_id: 'trig-drop',
      response_url: fake.responseUrl('trig-drop'),
      api_app_id: 'A0FAKE',
    };
    fake.sendEnvelope({ envelope_id: 'env-drop-1', type: 'slash_commands', payload: cmd, accepts_response_payload: true });
    await waitFor(() => adapter.stats.commands === 1, 'the command');
    await adapter.idle();
    const img = fake.messages.find((m) => m.files.length === 1)!;
    const key = `slack:${fake.teamId}:USOCK2|${services.messagesMap.get(`slack|${img.channel}:${img.ts}`)!.imageId}`;
    /** The socket drops and stays down until `during` has run; returns once it is connected again. */
    const outage = async (during: () => void) => {
      fake.socketsRefused = true;
      fake.dropSockets();
      await waitFor(() => !adapter.health().ok, 'readiness to turn red');
      expect(adapter.health().detail).toBe('Socket Mode reconnecting');
      during();
      fake.socketsRefused = false;
      await waitFor(() => fake.socketClients === 1 && adapter.health().ok, 'the socket to come back');
    };
    return {
      services,
      fake,
      adapter,
      img,
      key,
      outage,
      close: async () => {
        await adapter.stop();
        await fake.stop();
      },
    };
  };

  it('turns readiness red while it is down and, after a long gap, reads back the reactions given meanwhile', async () => {
    const t = await setup({ socketGapReconcileMs: 0 });
    try {
      expect(t.adapter.health()).toEqual({ ok: true, detail: 'Socket Mode connected' });
      const startup = t.adapter.lastReconcile;
      // No event reaches the app while its socket is down (and Slack's few retries are long over).
      await t.outage(() => t.fake.setReaction('add', 'USOCK2', t.img.channel, t.img.ts, 'seven'));
      await waitFor(() => t.adapter.lastReconcile !== startup && t.adapter.lastReconcile, 'the read-back after the reconnect');
      await t.adapter.idle();
      expect(t.adapter.lastReconcile).toMatchObject({ added: 1, failed: 0 });
      expect(t.services.ratingsMap.get(t.key)).toBe(7);
    } finally {
      await t.close();
    }
  });

  it("a short gap (Slack recycling the connection) is left to Slack's retries: no read-back", async () => {
    const t = await setup({});
    try {
      const startup = t.adapter.lastReconcile;
      const readsBefore = t.fake.callsOf('reactions.get').length;
      await t.outage(() => {});
      await t.adapter.idle();
      expect(t.adapter.lastReconcile).toBe(startup);
      expect(t.fake.callsOf('reactions.get')).toHaveLength(readsBefore);
    } finally {
      await t.close();
    }
  });
});

describe('the Slack manifest', () => {
  it('is generated from commands/ and deploy/slack-manifest.yml is up to date', () => {
    const yml = renderSlackManifest({ baseUrl: 'https://tasteloop.example.com' });
    for (const name of ['/rate', '/optimize', '/cancel', '/profile', '/help']) expect(yml).toContain(`command: "${name}"`);
    expect(yml).toMatch(/bot_events:\n\s+- reaction_added\n\s+- reaction_removed/);
    for (const scope of [
      'commands',
      'chat:write',
      'files:write',
      'files:read',
      'reactions:read',
      'reactions:write',
      'users:read',
      'im:write',
      'channels:history',
      'groups:history',
    ])
      expect(yml).toContain(`- ${scope}\n`);
    const checkedIn = readFileSync(path.resolve(import.meta.dirname, '../deploy/slack-manifest.yml'), 'utf8');
    expect(checkedIn, 'run `npm run slack:manifest` after changing commands/').toBe(yml);
  });
});

for (const backend of testBackends()) {
  describe(`slack app on the real core (${backend.name}, sketch + genetic, offline)`, () => {
    let database: Database;
    let app: App;
    let h: SlackHarness;
    beforeAll(async () => {
      database = await backend.open();
      const config = testConfig({
        DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tl-slack-')),
        IMAGE_SIZE: '128',
        IMAGEGEN: 'sketch',
        OPTIMIZER: 'genetic',
      });
      app = await createApp(config, {
        log: silentLogger,
        database,
        seedGallery: true,
        queue: 'inprocess',
        runOptions: { outboxPollMs: 50 },
      });
      await app.start();
      app.drawGallery();
      await app.gallery.done;
      h = await openSlackHarness({ services: app.services, db: database.db });
    }, 120_000);
    afterAll(async () => {
      await h?.close();
      await app?.close();
      await database?.close();
    });

    it('a whole /optimize run goes into a thread: header, a grid per iteration, progress kept last, final summary', async () => {
      await h.slash('ivy', 'optimize', 'a quiet harbor at dawn iterations:2 candidates:2');
      const done = await waitFor(() => h.fake.messages.find((m) => m.text.startsWith('✅ Run finished:')), 'the run to finish', 120_000);
      await h.adapter.idle();
      const thread = h.fake.messages.find((m) => m.threadTs)!.threadTs!;
      const inThread = h.fake.messages.filter((m) => m.threadTs === thread);
      expect(inThread[0]!.text).toContain('a quiet harbor at dawn');
      // One grid picture per iteration with a tile menu per candidate (rated through the menus, not reactions).
      const grids = inThread.filter((m) => m.files.length === 1 && /^\*(Your prompt|Iteration \d+)\*/.test(m.text));
      expect(grids).toHaveLength(1 + 2);
      expect(grids.map((g) => (g.blocks ?? []).filter((b) => b.type === 'actions').length)).toEqual([1, 2, 2]);
      // The best image with the summary, rateable by reaction.
      const images = inThread.filter((m) => m.files.length === 1 && m.text.includes('Run finished'));
      expect(images).toHaveLength(1);
      expect(images.every((m) => RATING_SLACK_NAMES.every((n) => m.reactions.get(n)?.has(h.fake.botUserId)))).toBe(true);
      // One progress message, the thread's last: posted anew after each iteration's grid, the older one deleted.
      const progress = inThread.filter((m) => /^(⏳ Iteration|✅ Done)/.test(m.text));
      expect(progress).toHaveLength(1);
      expect(inThread.at(-1)!.text).toMatch(/^✅ Done/);
      expect(h.fake.callsOf('chat.delete').length).toBeGreaterThanOrEqual(2);
      expect(inThread.find((m) => m.text.includes('Run finished'))!.text).toMatch(
        /Run finished\*: (from \d+\.\d\/10 to \d+\.\d\/10 \(predicted for you\) in \d+ iterations?|your own prompt stayed the best at \d+\.\d\/10 \(predicted for you\))/,
      );
      expect(done.threadTs).toBeUndefined(); // the closing notice is in the channel

      // Its images are rateable by reaction, found by (channel, ts) in platform_messages; a retry is deduplicated.
      const first = images[0]!;
      const id = `${first.channel}:${first.ts}`;
      await h.reaction('add', 'ivy', id, 'eight', { eventId: 'Ev-REAL-1', eventTs: '1800100000.000100' });
      await h.reaction('add', 'ivy', id, 'eight', { eventId: 'Ev-REAL-1', eventTs: '1800100000.000100', retryNum: 1 });
      const key = h.userKey('ivy');
      const rows = await queryRows<{ score: number }>(database.db, sql`select score from ratings where user_key = ${key}`);
      expect(rows.map((r) => Number(r.score))).toEqual([8]);
      const events = await queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from rating_events where user_key = ${key}`);
      expect(Number(events[0]!.n)).toBe(1);
      const claimed = await queryRows<{ n: number }>(
        database.db,
        sql`select count(*)::int as n from processed_events where event_key = 'slack:event:Ev-REAL-1'`,
      );
      expect(Number(claimed[0]!.n)).toBe(1);
    }, 180_000);

    it('processed_events lets exactly one of 16 concurrent claims of one event win', async () => {
      const claimer = dbEventClaimer(database.db);
      const wins = await Promise.all(Array.from({ length: 16 }, () => claimer.claim('slack:event:Ev-RACE')));
      expect(wins.filter(Boolean)).toHaveLength(1);
    });
  });
}

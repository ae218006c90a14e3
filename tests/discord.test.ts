/**
 * The real discord.js client against the fake Discord (tests/fakes/discord-server.ts) and the real
 * core (createApp on PGlite, offline backends; only the image provider is a holdable double): commands,
 * reactions → ratings, uncached messages and restarts, RESUME replays, /optimize into a thread,
 * 429s, cancel, private errors, no mentions, and the interaction token's 13-minute cutoff.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// discord.js first: under vitest's module runner, loading the core's modules before discord.js makes
// discord.js's bundled util.inspect fail at import ("string "Set()" is not iterable").
import { createDiscordAdapter, WEBHOOK_CUTOFF_MS } from '../src/platforms/discord/adapter';
import { openDiscordHarness, type DiscordHarness } from './helpers/discord-harness';
import sharp from 'sharp';
import { desc, eq, sql } from 'drizzle-orm';
import { runs } from '../src/db/schema';
import { ONBOARDING_PROMPTS } from '../src/core/gallery';
import { GatedGenerator, openTestCore, type TestCore } from './helpers/core';
import { RATING_EMOJI } from '../src/platforms/emoji';
import { silentLogger } from '../src/log';
import { waitFor } from './helpers/wait';

const KEY7 = RATING_EMOJI[6]!;
const KEY9 = RATING_EMOJI[8]!;

/** The REAL core (PGlite, offline backends) shared by this file's harnesses; its image generator can be held mid-run. */
const gen = new GatedGenerator();
let core: TestCore;
beforeAll(async () => {
  core = await openTestCore({ generator: gen });
});
afterAll(async () => {
  gen.release();
  await core?.close();
});

async function runOf(h: DiscordHarness, user: string) {
  const rows = await core.app.database.db
    .select()
    .from(runs)
    .where(eq(runs.userKey, h.userKey(user)))
    .orderBy(desc(runs.createdAt))
    .limit(1);
  return rows[0];
}

describe('discord bot against the fake Discord', () => {
  let h: DiscordHarness;
  beforeAll(async () => {
    h = await openDiscordHarness({ core });
  });
  afterAll(async () => {
    await h?.close();
  });

  const rateImages = async () => (await h.messages()).filter((m) => m.rateable && m.conversationId === h.fake.channelId);

  it('acknowledges before slow work (defer first): the ack is out while the database is still busy', async () => {
    const original = h.services.people.touch;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered = false;
    h.services.people.touch = async (p, s) => {
      entered = true;
      await held;
      return original(p, s);
    };
    try {
      const iid = h.fake.interact(h.idOf('zed'), 'rate', [{ name: 'count', type: 4, value: 1 }]);
      await waitFor(() => entered, 'the handler to reach the database');
      expect(h.fake.requests.some((r) => r.path === `/interactions/${iid}/itoken-${iid}/callback` && r.body.type === 5)).toBe(true);
      release();
      await waitFor(() => h.fake.requests.some((r) => r.path.startsWith(`/webhooks/${h.fake.applicationId}/itoken-${iid}`)), 'the answer');
      await h.adapter.idle();
    } finally {
      h.services.people.touch = original;
    }
  });

  it('registers the slash commands on connect with the exact option names', () => {
    const cmds = h.fake.commands.get(h.fake.guildId) as {
      name: string;
      options: { name: string; min_value?: number; max_value?: number; max_length?: number; choices?: { value: string }[] }[];
    }[];
    const opt = (c: string) => cmds.find((x) => x.name === c)!.options;
    expect(cmds.map((c) => c.name).sort()).toEqual(['cancel', 'compare', 'help', 'optimize', 'privacy', 'profile', 'rate', 'suggest']);
    expect(opt('rate')).toMatchObject([{ name: 'count', min_value: 1, max_value: 10 }, { name: 'mode' }]);
    expect(opt('rate')[1]!.choices!.map((c) => c.value)).toEqual(['rate', 'pick']);
    expect(opt('suggest')).toMatchObject([{ name: 'count', min_value: 1, max_value: 10 }, { name: 'weekly' }]);
    expect(opt('optimize').map((o) => o.name)).toEqual([
      'prompt',
      'iterations',
      'candidates',
      'feedback',
      'optimizer',
      'for',
      'objective',
      'taste',
    ]);
    expect(opt('optimize')[0]!.max_length).toBe(500);
    expect(
      opt('optimize')
        .find((o) => o.name === 'feedback')!
        .choices!.map((c) => c.value),
    ).toEqual(['none', 's+p', 's+p+f', 's+p+f+I']);
    expect(
      opt('optimize')
        .find((o) => o.name === 'optimizer')!
        .choices!.map((c) => c.value),
    ).toEqual(['llm', 'genetic', 'random']);
    expect(opt('profile')).toMatchObject([{ name: 'user', type: 6 }, { name: 'show' }]);
  });

  it('/rate acks first, then posts each image as a PNG with the 1️⃣…🔟 reactions in order', async () => {
    const first = h.fake.requests.length;
    const already = (await rateImages()).length;
    const iid = await h.interaction('ann', 'rate', { count: 2 });
    const reqs = h.fake.requests.slice(first);
    expect(reqs[0]!.path).toBe(`/interactions/${iid}/itoken-${iid}/callback`);
    expect(reqs[0]!.body.type).toBe(5);
    const posts = reqs.filter((r) => r.method === 'POST' && r.path === `/channels/${h.fake.channelId}/messages`);
    expect(posts).toHaveLength(2);
    for (const p of posts) {
      expect(p.auth).toMatch(/^Bot /);
      expect(p.files).toHaveLength(1);
      expect(p.files[0]!.type).toBe('image/png');
      expect((await sharp(p.files[0]!.bytes).metadata()).format).toBe('png');
    }
    const imgs = (await rateImages()).slice(already);
    expect(imgs).toHaveLength(2);
    const reactionPuts = reqs.filter(
      (r) => r.method === 'PUT' && r.path.startsWith(`/channels/${h.fake.channelId}/messages/${imgs[0]!.id}/reactions/`),
    );
    expect(reactionPuts.map((r) => r.path.split('/')[6])).toEqual([...RATING_EMOJI]);
    // Paths arrive URL-encoded, as on Discord.
    expect(reactionPuts[0]!.rawPath).toContain(encodeURIComponent(RATING_EMOJI[0]!));
  });

  it('reaction add, change and remove give the right rating; bots, custom and other emoji are ignored; no replies', async () => {
    const [img] = await rateImages();
    const ben = () => h.rating('ben', img!.imageId!);
    const reqsBefore = h.fake.requests.length;
    await h.rate('ben', img!.id, 7);
    expect(await ben()).toBe(7);
    await h.rate('ben', img!.id, 9);
    expect(await ben()).toBe(9);
    await h.unrate('ben', img!.id, 9);
    expect(await ben()).toBe(7); // the latest remaining vote wins
    await h.unrate('ben', img!.id, 7);
    expect(await ben()).toBeNull();

    const calls = h.services.ratingCalls.length;
    h.fake.react(h.idOf('robot'), img!.id, KEY7, { bot: true });
    h.fake.react(h.idOf('ben'), img!.id, { id: '5550001', name: 'seven' });
    h.fake.react(h.idOf('ben'), img!.id, '\u{1F44D}');
    // A last, real rating proves the three before were processed and ignored.
    await h.rate('cat', img!.id, 3);
    expect(h.services.ratingCalls.slice(calls).map((c) => [c.userKey, c.score])).toEqual([[h.userKey('cat'), 3]]);
    expect(h.fake.requests.slice(reqsBefore)).toHaveLength(0); // no reply per reaction
    expect(h.services.ratingCalls.at(-1)!.ctx).toMatchObject({
      source: 'discord',
      scopeId: h.fake.guildId,
      channelId: h.fake.channelId,
      messageId: img!.id,
    });
  });

  it('a reaction without the U+FE0F selector and a 🔟 count too', async () => {
    const [, img] = await rateImages();
    await h.rate('dan', img!.id, 2); // via RATING_EMOJI (with FE0F)
    const before = h.services.ratingCalls.length;
    h.fake.react(h.idOf('dan'), img!.id, '5\u20E3');
    await waitFor(() => h.services.ratingCalls.length > before, 'the FE0F-less rating');
    expect(await h.rating('dan', img!.imageId!)).toBe(5);
    h.fake.react(h.idOf('dan'), img!.id, '\u{1F51F}');
    await waitFor(async () => (await h.rating('dan', img!.imageId!)) === 10, '🔟');
  });

  it('reactions on messages that are not in the client cache are handled', async () => {
    const [img] = await rateImages();
    for (const ch of h.adapter.client.channels.cache.values()) if ('messages' in ch) ch.messages.cache.clear();
    await h.rate('eve', img!.id, 8);
    expect(await h.rating('eve', img!.imageId!)).toBe(8);
    await h.unrate('eve', img!.id, 8);
    expect(await h.rating('eve', img!.imageId!)).toBeNull();
  });

  it('after RESUME: events missed while disconnected arrive, and a replayed event makes no duplicate', async () => {
    const [img] = await rateImages();
    await h.rate('fay', img!.id, 6);
    const resumed = h.fake.dropConnection({ replayDelivered: 1 }); // also replays the already-delivered add
    h.fake.react(h.idOf('fay'), img!.id, KEY9); // sent while the socket is down
    await resumed;
    expect(h.fake.resumes).toBe(1);
    expect(h.fake.identifies).toBe(1);
    await waitFor(async () => (await h.rating('fay', img!.imageId!)) === 9, 'the missed reaction');
    await h.adapter.idle();
    const replays = h.fake.dispatched.filter(
      (d) => d.t === 'MESSAGE_REACTION_ADD' && (d.d as { user_id: string }).user_id === h.idOf('fay'),
    );
    expect(replays.length).toBeGreaterThanOrEqual(3); // 6, replayed 6, 9
    const fayCalls = h.services.ratingCalls.filter((c) => c.userKey === h.userKey('fay'));
    expect(fayCalls.filter((c) => c.changed)).toHaveLength(2); // add 6, add 9; the replay changed nothing
    expect(await h.core.app.services.ratings.count(h.userKey('fay'))).toBe(1);
  });

  it('survives a 429 from the REST API (discord.js limiter retries)', async () => {
    h.fake.injectRateLimit((m, p) => m === 'POST' && p === `/channels/${h.fake.channelId}/messages`, 0.3, 1);
    const before = (await rateImages()).length;
    const first = h.fake.requests.length;
    await h.interaction('gus', 'rate', { count: 2 });
    expect((await rateImages()).length).toBe(before + 2);
    const posts = h.fake.requests.slice(first).filter((r) => r.method === 'POST' && r.path === `/channels/${h.fake.channelId}/messages`);
    expect(posts).toHaveLength(3); // one refused with 429, then both images
  });

  it('posts a 4096² image (re-encoded well under upload limits)', async () => {
    const noise = await sharp(Buffer.from(Array.from({ length: 512 * 512 * 3 }, (_, i) => (i * 2654435761) % 251)), {
      raw: { width: 512, height: 512, channels: 3 },
    })
      .resize(4096, 4096, { kernel: 'nearest' })
      .png()
      .toBuffer();
    // The newest rendering of the first onboarding prompt: what /rate offers a new person first.
    const big = await core.app.images.put(noise, {
      source: 'onboarding',
      prompt: ONBOARDING_PROMPTS[0]!.prompt,
      seed: ONBOARDING_PROMPTS[0]!.seed,
    });
    expect(big.width).toBe(4096);
    const first = h.fake.requests.length;
    await h.interaction('hal', 'rate', { count: 1 });
    const post = h.fake.requests.slice(first).find((r) => r.files.length);
    expect(post).toBeDefined();
    expect(post!.files[0]!.size).toBeLessThan(4 * 1024 * 1024);
    const meta = await sharp(post!.files[0]!.bytes).metadata();
    expect(Math.max(meta.width, meta.height)).toBeLessThanOrEqual(1536);
    expect(await h.imageOf((await rateImages()).at(-1)!.id)).toBe(big.id);
  });

  it('/optimize runs into a thread with the bot token, one grid per iteration, progress kept last, a final summary, no mentions', async () => {
    const first = h.fake.requests.length;
    await h.interaction('ivy', 'optimize', {
      prompt: '@everyone <@123> a lighthouse',
      iterations: 3,
      candidates: 2,
      optimizer: 'genetic',
      feedback: 's+p',
    });
    const thread = await waitFor(() => h.fake.threads().at(-1), 'the thread');
    await waitFor(
      () => h.fake.channelMessages(h.fake.channelId).some((m) => m.content.startsWith('✅ Run finished')),
      'the outcome notice',
    );
    const reqs = h.fake.requests.slice(first);
    const inThread = reqs.filter((r) => r.path.startsWith(`/channels/${thread.id}/`));
    expect(inThread.length).toBeGreaterThan(0);
    expect(inThread.every((r) => r.auth?.startsWith('Bot '))).toBe(true);
    const msgs = h.fake.channelMessages(thread.id);
    expect(msgs[0]!.content).toContain('a lighthouse');
    expect(msgs[0]!.content).toContain('optimizer genetic');
    // One progress message, the thread's last up to "Done": posted anew after each iteration's grid, the older one deleted.
    expect(msgs.filter((m) => /^(⏳ Iteration|✅ Done)/.test(m.content))).toHaveLength(1);
    const progress = msgs.find((m) => m.content.startsWith('✅ Done'))!;
    expect(msgs.at(-1)!.id).toBe(progress.id);
    const progressPosts = reqs.filter(
      (r) => r.method === 'POST' && r.path === `/channels/${thread.id}/messages` && /^(⏳ Iteration|✅ Done)/.test(r.body.content),
    );
    const deletes = reqs.filter((r) => r.method === 'DELETE' && r.path.startsWith(`/channels/${thread.id}/messages/`));
    expect(deletes).toHaveLength(progressPosts.length - 1);
    // One grid per iteration (initial + 3), its picture attached and a tile menu per candidate, and the best image.
    const grids = msgs.filter((m) => /^\*\*(Your prompt|Iteration \d+)\*\*/.test(m.content));
    expect(grids).toHaveLength(1 + 3);
    expect(grids.every((g) => g.attachments.length === 1 && g.attachments[0]!.filename.endsWith('.png'))).toBe(true);
    expect(grids.map((g) => g.components.length)).toEqual([1, 2, 2, 2]);
    expect(msgs.filter((m) => m.attachments.length && m.content.includes('/10'))).toHaveLength(1 + 3 + 1); // grids + best image
    expect(msgs.at(-2)!.content).toMatch(
      // The outcome in plain words (the measures are the summary's Details part).
      /Run finished\*\*: (from \d+\.\d\/10 to \d+\.\d\/10 \(predicted for you\) in \d+ iterations?|your own prompt stayed the best at \d+\.\d\/10 \(predicted for you\))/,
    );
    // Every run message went out once: one POST per nonce.
    const nonces = reqs.filter((r) => r.method === 'POST' && r.path === `/channels/${thread.id}/messages`).map((r) => r.body.nonce);
    expect(nonces.every((n) => typeof n === 'string')).toBe(true);
    expect(new Set(nonces).size).toBe(nonces.length);
    // Every message with content carries allowed_mentions parse [].
    const withText = reqs.filter((r) => r.body && typeof r.body.content === 'string');
    expect(withText.length).toBeGreaterThan(10);
    for (const r of withText) expect(r.body.allowed_mentions).toEqual({ parse: [] });
    // (The core's prompt hygiene may also neutralize mentions; allowed_mentions is what guarantees no ping.)
  });

  it('a crash after each post but before its record posts nothing twice: the nonce returns the first message', async () => {
    const run = (await runOf(h, 'ivy'))!;
    const thread = (run.destination as { threadId: string }).threadId;
    // Let the previous test's display settle first: under load its last records can still be in flight,
    // and one written after the deletes below would make the replay look already done.
    await waitFor(
      async () => (await h.services.messages.byEventKey('discord', `${run.id}:end:done`)) !== undefined,
      'the first display to end',
    );
    await h.adapter.runDisplay.poll();
    const before = h.fake.channelMessages(thread).map((m) => m.id);
    const postsBefore = h.fake.requests.filter((r) => r.method === 'POST' && r.path === `/channels/${thread}/messages`).length;
    // As if the process had died right after every post: no run message of the thread is recorded.
    await core.app.database.db.execute(
      sql`delete from platform_messages where platform = 'discord' and run_id = ${run.id} and channel_id = ${thread}`,
    );
    await core.app.database.db.execute(
      sql`delete from platform_messages where platform = 'discord' and event_key = ${run.id + ':end:done'}`,
    );
    await h.adapter.runDisplay.poll(); // replays the whole run from the outbox
    await waitFor(async () => (await h.services.messages.byEventKey('discord', `${run.id}:end:done`)) !== undefined, 'the replay to end');
    const reposts = h.fake.requests.filter((r) => r.method === 'POST' && r.path === `/channels/${thread}/messages`).length - postsBefore;
    expect(reposts).toBeGreaterThanOrEqual(before.length - 1); // everything was sent again (the progress message is found by its nonce too)…
    expect(h.fake.channelMessages(thread).map((m) => m.id)).toEqual(before); // …and Discord returned the first messages: no duplicates
  });

  it('/cancel stops the caller’s run', async () => {
    gen.hold();
    try {
      await h.interaction('jay', 'optimize', { prompt: 'a slow run', iterations: 4, candidates: 1 });
      await waitFor(() => gen.waiting > 0, 'the run to be held inside an image generation');
      await h.interaction('kim', 'cancel'); // someone else: nothing to cancel
      expect((await runOf(h, 'jay'))!.status).toBe('running');
      await h.interaction('jay', 'cancel');
      const replies = [...h.fake.messages.values()].filter((m) => m.flags & 64).map((m) => m.content);
      expect(replies).toContain('You have no run in progress.');
      expect(replies.some((t) => t.startsWith('🛑 Stopping your run'))).toBe(true);
      // Cancel stops the generation in flight (no release needed).
      await waitFor(async () => (await runOf(h, 'jay'))!.status === 'cancelled', 'the run to be cancelled');
      const thread = h.fake.threads().at(-1)!;
      await waitFor(() => h.fake.channelMessages(thread.id).some((m) => m.content.includes('Run cancelled')), 'the cancelled summary');
    } finally {
      gen.release();
    }
  });

  it('a ❌ on the run header by the requester stops the run (by others: ignored)', async () => {
    gen.hold();
    try {
      await h.interaction('lea', 'optimize', { prompt: 'another slow run', iterations: 4, candidates: 1 });
      await waitFor(() => gen.waiting > 0, 'the run to be held inside an image generation');
      const thread = h.fake.threads().at(-1)!;
      const header = await waitFor(
        () => h.fake.channelMessages(thread.id).find((m) => m.content.includes('another slow run')),
        'the header',
      );
      h.fake.react(h.idOf('max'), header.id, '\u274C');
      // A rating by the same person after it proves the ❌ was handled (events arrive in order) — and ignored.
      const [img] = await rateImages();
      await h.rate('max', img!.id, 5);
      expect((await runOf(h, 'lea'))!.status).toBe('running');
      h.fake.react(h.idOf('lea'), header.id, '\u274C');
      await waitFor(async () => (await runOf(h, 'lea'))!.status === 'cancelled', 'the cancel');
      await waitFor(() => h.fake.channelMessages(thread.id).some((m) => m.content.includes('Run cancelled')), 'the cancelled summary');
    } finally {
      gen.release();
    }
  });

  it('bad input gets a private explanation; an unexpected failure a reference id', async () => {
    await h.interaction('ned', 'optimize', { prompt: 'x'.repeat(501) });
    const mine = () => [...h.fake.messages.values()].filter((m) => !m.deleted && m.content);
    const err = mine().find((m) => m.content.includes('prompt must be at most 500 characters'))!;
    expect(err.flags & 64).toBe(64);
    expect(err.content).not.toMatch(/reference/);
    // The public "thinking…" placeholder of /optimize was removed, not left dangling.
    expect([...h.fake.messages.values()].filter((m) => m.deleted).length).toBeGreaterThan(0);

    // The one place a core method is replaced: to make an unexpected failure happen on purpose.
    const profiles = h.services.profiles;
    const original = profiles.view;
    profiles.view = async () => {
      throw new Error('db exploded: secret details');
    };
    try {
      await h.interaction('ned', 'profile');
    } finally {
      profiles.view = original;
    }
    const boom = mine().find((m) => m.content.includes('Something went wrong'))!;
    expect(boom.flags & 64).toBe(64);
    expect(boom.content).toMatch(/reference \*\*E-[0-9A-F]{8}\*\*/);
    expect(boom.content).not.toContain('exploded');
  });

  it('/profile and /help answer privately', async () => {
    await h.interaction('ben', 'profile');
    await h.interaction('ben', 'help');
    const priv = [...h.fake.messages.values()].filter((m) => m.flags & 64 && !m.deleted).map((m) => m.content);
    expect(priv.some((t) => /Your taste profile\*\* — \d+ ratings?\b/.test(t))).toBe(true);
    expect(priv.some((t) => t.includes('**Privacy:**'))).toBe(true);
  });

  it('after a restart, reactions on images posted before it still rate (found by message id in the database)', async () => {
    const [img] = await rateImages();
    await h.adapter.stop();
    const again = createDiscordAdapter({
      config: { DISCORD_TOKEN: h.fake.token, DISCORD_APPLICATION_ID: h.fake.applicationId, DISCORD_API_URL: h.fake.apiUrl },
      services: h.services,
      log: silentLogger,
    });
    await again.start();
    await waitFor(() => again.client.guilds.cache.get(h.fake.guildId)?.available, 'the guild');
    expect(h.fake.identifies).toBe(2);
    const before = h.services.ratingCalls.length;
    h.fake.react(h.idOf('oli'), img!.id, KEY7);
    await waitFor(() => h.services.ratingCalls.length > before, 'the rating after restart');
    expect(await h.rating('oli', img!.imageId!)).toBe(7);
    await again.stop();
  });
});

describe('the interaction token’s lifetime (injected clock)', () => {
  let h: DiscordHarness;
  let now = Date.parse('2025-01-01T12:00:00Z');
  beforeAll(async () => {
    h = await openDiscordHarness({ clock: () => now, core });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a 25-minute run never touches the interaction webhook after 13 minutes; it posts with the bot token', async () => {
    gen.hold();
    await h.interaction('pat', 'optimize', { prompt: 'a very long run', iterations: 3, candidates: 1 });
    await waitFor(() => gen.waiting > 0, 'the run to be held inside an image generation');
    const webhook = (r: { path: string }) => r.path.startsWith('/webhooks/') || r.path.startsWith('/interactions/');
    expect(h.fake.requests.filter(webhook).length).toBeGreaterThanOrEqual(2); // ack + "run started" while young
    now += 25 * 60 * 1000;
    expect(25 * 60 * 1000).toBeGreaterThan(WEBHOOK_CUTOFF_MS);
    const cut = h.fake.requests.length;
    gen.release();
    const notice = await waitFor(
      () => h.fake.channelMessages(h.fake.channelId).find((m) => m.content.startsWith('✅ Run finished')),
      'the outcome notice',
    );
    expect(notice.viaWebhook).toBe(false);
    const after = h.fake.requests.slice(cut);
    expect(after.filter(webhook)).toHaveLength(0);
    expect(after.filter((r) => r.method === 'POST' && r.path === `/channels/${h.fake.channelId}/messages`)).toHaveLength(1);
    expect(after.every((r) => r.auth?.startsWith('Bot '))).toBe(true);
  });
});

describe('attachment ingest (per server, off by default)', () => {
  let h: DiscordHarness;
  const enabled = new Set<string>();
  beforeAll(async () => {
    h = await openDiscordHarness({ core, messageContent: true, ingestAttachments: async (scope) => enabled.has(scope) });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('ignores ratings on a person’s image while off; ingests and rates it once the server turns it on', async () => {
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 10, b: 90 } } })
      .png()
      .toBuffer();
    const posted = h.fake.postAsUser(h.idOf('qua'), png);
    h.fake.react(h.idOf('rex'), posted.id, KEY7);
    // A known message rated afterwards proves the first reaction was processed (and ignored).
    await h.interaction('rex', 'rate', { count: 1 });
    const [img] = (await h.messages()).filter((m) => m.rateable);
    await h.rate('rex', img!.id, 2);
    expect(await h.services.messages.lookup('discord', posted.id)).toBeUndefined();

    enabled.add(h.fake.guildId);
    const before = h.services.ratingCalls.length;
    h.fake.react(h.idOf('rex'), posted.id, KEY7);
    await waitFor(() => h.services.ratingCalls.length > before, 'the rating of the attachment');
    const rec = (await h.services.messages.lookup('discord', posted.id))!;
    expect(rec.kind).toBe('attachment');
    expect((await h.services.images.get(rec.imageId!))!).toMatchObject({
      source: 'attachment',
      ownerKey: h.userKey('qua'),
      width: 40,
      height: 30,
    });
    expect(await h.rating('rex', rec.imageId!)).toBe(7);
  });
});

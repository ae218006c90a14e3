/**
 * The Discord adapter when things around it go wrong: reactions given while it was away (offline past
 * the resume window, so the gateway cannot replay them) are read back, a channel it may no longer read
 * keeps its ratings, and a revoked token is reported once with the fix and turns readiness red. The real
 * discord.js client against the fake Discord, the real core on PGlite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RATING_EMOJI } from '../src/platforms/emoji';
import { openDiscordHarness, discordIdOf, type DiscordHarness } from './helpers/discord-harness';
import { captureLogger } from './helpers/log-capture';
import { waitFor } from './helpers/wait';

describe('discord: recovering from time away, lost access and a revoked token', () => {
  let h: DiscordHarness;
  let images: { id: string; imageId: string }[];

  const logs = captureLogger();
  beforeAll(async () => {
    h = await openDiscordHarness({ log: logs.logger });
    await h.command('ann', 'rate', { count: 3 });
    const msgs = await waitFor(async () => {
      const m = (await h.messages()).filter((x) => x.rateable && x.imageId);
      return m.length >= 3 ? m : null;
    }, 'three rateable images');
    images = msgs.map((m) => ({ id: m.id, imageId: m.imageId! }));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a session Discord will not resume: the events sent meanwhile are lost, the REST pass restores them', async () => {
    const [a, b] = images as [{ id: string; imageId: string }, { id: string; imageId: string }];
    await h.rate('ivy', a.id, 4);
    const before = h.adapter.lastReconcile;
    const identifies = h.fake.identifies;
    h.fake.expireSession();
    // Not ready while the gateway is down (what /readyz reports), ready again once reconnected.
    await waitFor(() => !h.adapter.health().ok, 'the adapter to report the lost gateway');
    expect(h.adapter.health().detail).toMatch(/^gateway /);
    // While disconnected: ivy changes her mind, jon rates b.
    h.fake.unreact(h.idOf('ivy'), a.id, RATING_EMOJI[3]!);
    h.fake.react(h.idOf('ivy'), a.id, RATING_EMOJI[8]!);
    h.fake.react(h.idOf('jon'), b.id, RATING_EMOJI[1]!);
    await waitFor(() => h.adapter.lastReconcile !== before && h.adapter.lastReconcile, 'a reconcile after the new session');
    await h.adapter.idle();
    expect(h.fake.identifies).toBe(identifies + 1); // a new session, not a resume
    expect(h.adapter.health()).toMatchObject({ ok: true });
    expect(await h.rating('ivy', a.imageId)).toBe(9);
    expect(await h.rating('jon', b.imageId)).toBe(2);
    expect(h.adapter.lastReconcile).toMatchObject({ added: 2, removed: 1, failed: 0 });
  });

  it('reads every page of a crowded reaction, leaves bots out, and rides out a 429', async () => {
    const c = images[2]!;
    const people = Array.from({ length: 130 }, (_, i) => `crowd${i}`);
    h.fake.injectRateLimit((method, path) => method === 'GET' && path.includes('/reactions/'), 0.3, 1);
    const report = await h.away((p) => {
      for (const u of people) p.rate(u, c.id, 7);
      // Another app's bot reacting is not a person rating.
      h.fake.react(discordIdOf('some-bot'), c.id, RATING_EMOJI[0]!, { bot: true });
    });
    const pages = h.fake.requests.filter(
      (r) => r.method === 'GET' && r.path.startsWith(`/channels/${h.fake.channelId}/messages/${c.id}/reactions/`),
    );
    expect(pages.length).toBeGreaterThanOrEqual(3); // 429 + page of 100 + page of the rest
    expect(report).toMatchObject({ added: 130, removed: 0, failed: 0 });
    const rated = await Promise.all(people.map((u) => h.rating(u, c.imageId)));
    expect(rated.every((r) => r === 7)).toBe(true);
    expect(await h.rating('some-bot', c.imageId)).toBeNull();
  });

  it('a channel the bot may no longer read: its ratings stay, and the log says which permission to give back', async () => {
    const c = images[2]!;
    const before = await h.rating('crowd0', c.imageId);
    await h.command('ann', 'rate', { count: 6 }); // more messages in the channel than workers in a pass
    const requestsBefore = h.fake.requests.length;
    h.fake.unreadableChannels.add(h.fake.channelId);
    try {
      const report = await h.away((p) => p.unrate('crowd0', c.id, 7));
      expect(report.forbidden).toBeGreaterThanOrEqual(9);
      expect(report.failed).toBe(0);
      // Asked once per channel: the rest of that channel's messages are not asked again in this pass.
      const asked = h.fake.requests.filter((r) => r.method === 'GET' && r.path.startsWith(`/channels/${h.fake.channelId}/messages/`));
      expect(asked.filter((r) => r.seq > requestsBefore).length).toBeLessThanOrEqual(4); // at most one per worker already in flight
      expect(await h.rating('crowd0', c.imageId)).toBe(before);
      expect(
        logs
          .lines()
          .some((l) => l.level === 'warn' && /lacks access there — give the bot View Channel and Read Message History/.test(l.msg)),
      ).toBe(true);
    } finally {
      h.fake.unreadableChannels.clear();
    }
  });

  // Last: it leaves this harness without a working token.
  it('turns readiness red with the fix, logs it once, and sends the dead token no more', async () => {
    expect(h.adapter.health().ok).toBe(true);
    h.fake.revokeToken();
    await h.command('ann', 'rate', { count: 1 }); // posting the image needs the bot token → 401
    await waitFor(() => !h.adapter.health().ok, 'readiness to turn red');
    expect(h.adapter.health().detail).toBe('Discord rejected the bot token (401): replace DISCORD_TOKEN and restart');
    const after401 = h.fake.requests.length;
    await h.command('ann', 'rate', { count: 1 });
    await h.command('ben', 'profile');
    const botAuth = h.fake.requests.slice(after401).filter((r) => r.auth?.startsWith('Bot '));
    expect(botAuth).toEqual([]);
    const errors = logs
      .lines()
      .filter((l) => l.level === 'error' && /Discord rejected the bot token \(401 Unauthorized\).*DISCORD_TOKEN/.test(l.msg));
    expect(errors).toHaveLength(1);
    // The people who typed the commands still got an answer through the interaction (no bot token needed).
    expect(h.fake.requests.slice(after401).some((r) => r.path.startsWith('/interactions/') || r.path.startsWith('/webhooks/'))).toBe(true);
  });
});

/**
 * The Slack app when things around it go wrong: reactions given while it was away (longer than Slack's
 * hour of event retries) are read back, a channel it was removed from keeps its ratings, and a revoked
 * token is reported once with the fix and turns readiness red. The real Bolt app and WebClient against
 * the fake Slack API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSlackHarness, type SlackHarness } from './helpers/slack-harness';
import { captureLogger } from './helpers/log-capture';
import { waitFor } from './helpers/wait';

describe('slack: recovering from time away, lost access and a revoked token', () => {
  let h: SlackHarness;
  const logs = captureLogger();
  beforeAll(async () => {
    h = await openSlackHarness({ log: logs.logger });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('reads reactions.get for recent rateable messages, leaves bots out, and waits out a 429', async () => {
    await h.command('ann', 'rate', { count: 2 });
    const [a, b] = await waitFor(async () => {
      const m = (await h.messages()).filter((x) => x.rateable && x.imageId && x.conversationId === h.channelId);
      return m.length >= 2 ? m : null;
    }, 'two rateable images');
    h.fake.bots.add(h.idOf('helperbot'));
    h.fake.rateLimit('reactions.get', 1, 1);
    const report = await h.away((p) => {
      p.rate('kim', a!.id, 8);
      p.rate('kim', b!.id, 3);
      p.rate('helperbot', a!.id, 10);
    });
    expect(report).toMatchObject({ messages: 2, added: 2, removed: 0, failed: 0 });
    expect(await h.rating('kim', a!.imageId!)).toBe(8);
    expect(await h.rating('kim', b!.imageId!)).toBe(3);
    expect(await h.rating('helperbot', a!.imageId!)).toBeNull();
    // The 429 was answered by waiting Retry-After and asking again, not by giving up on the message.
    expect(h.fake.callsOf('reactions.get').filter((c) => c.status === 429)).toHaveLength(1);
    expect(h.fake.callsOf('reactions.get').filter((c) => c.status === 200)).toHaveLength(2);
  });

  it('a channel the app was removed from: ratings stay, and the log says what to fix', async () => {
    const [a] = (await h.messages()).filter((x) => x.rateable && x.imageId && x.conversationId === h.channelId);
    h.fake.unreadableChannels.add(h.fake.channelId);
    try {
      const report = await h.away((p) => p.unrate('kim', a!.id, 8));
      expect(report).toMatchObject({ forbidden: 2, failed: 0 });
      expect(await h.rating('kim', a!.imageId!)).toBe(8);
      expect(
        logs
          .lines()
          .some((l) => l.level === 'warn' && /add the reactions:read scope \(reinstall the app\) and \/invite the bot/.test(l.msg)),
      ).toBe(true);
    } finally {
      h.fake.unreadableChannels.clear();
    }
  });

  // Last: it leaves this harness without a working token.
  it('turns readiness red with the fix and logs it once', async () => {
    expect(h.adapter.health().ok).toBe(true);
    const answeredBefore = h.fake.messages.filter((m) => m.channel === 'response_url' && m.ephemeralFor).length;
    h.fake.revokeToken();
    await h.command('ann', 'rate', { count: 1 }); // posting the image needs the token → token_revoked
    await waitFor(() => !h.adapter.health().ok, 'readiness to turn red');
    expect(h.adapter.health().detail).toBe('Slack refused the bot token (token_revoked): replace SLACK_BOT_TOKEN and restart');
    await h.command('ann', 'rate', { count: 1 });
    const errors = logs
      .lines()
      .filter((l) => l.level === 'error' && /Slack refused the bot token \(token_revoked\).*SLACK_BOT_TOKEN/.test(l.msg));
    expect(errors).toHaveLength(1);
    // The person who typed the command got a private answer through response_url (no token needed).
    expect(h.fake.messages.filter((m) => m.channel === 'response_url' && m.ephemeralFor).length).toBeGreaterThan(answeredBefore);
  });
});

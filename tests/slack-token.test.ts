/**
 * A Slack bot token revoked while the app runs (app uninstalled, token rotated): the real Bolt app and
 * WebClient against the fake Slack API. The app must say what happened and what to do (once) and
 * report not-ready; people still get an answer through the command's response_url.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSlackHarness, type SlackHarness } from './helpers/slack-harness';
import { captureLogger } from './helpers/log-capture';
import { waitFor } from './helpers/wait';

describe('slack: a revoked bot token', () => {
  let h: SlackHarness;
  const logs = captureLogger();
  beforeAll(async () => {
    h = await openSlackHarness({ log: logs.logger });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('turns readiness red with the fix and logs it once', async () => {
    expect(h.adapter.health().ok).toBe(true);
    h.fake.revokeToken();
    await h.command('ann', 'rate', { count: 1 }); // posting the image needs the token → token_revoked
    await waitFor(() => !h.adapter.health().ok, 'readiness to turn red');
    expect(h.adapter.health().detail).toBe('Slack refused the bot token (token_revoked): replace SLACK_BOT_TOKEN and restart');
    await h.command('ann', 'rate', { count: 1 });
    const errors = logs.lines().filter((l) => l.level === 'error' && /Slack refused the bot token \(token_revoked\).*SLACK_BOT_TOKEN/.test(l.msg));
    expect(errors).toHaveLength(1);
    // The person who typed the command got a private answer through response_url (no token needed).
    expect(h.fake.messages.some((m) => m.channel === 'response_url' && m.ephemeralFor)).toBe(true);
  });
});

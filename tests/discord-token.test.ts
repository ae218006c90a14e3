/**
 * A bot token reset or revoked while the bot runs: the real discord.js client against the fake Discord.
 * The bot must say what happened and what to do (once), report not-ready, and stop sending the dead
 * token (every 401 counts toward Discord's invalid-request limit, which blocks an IP at 10,000).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDiscordHarness, type DiscordHarness } from './helpers/discord-harness';
import { captureLogger } from './helpers/log-capture';
import { waitFor } from './helpers/wait';

describe('discord: a revoked bot token', () => {
  let h: DiscordHarness;
  const logs = captureLogger();
  beforeAll(async () => {
    h = await openDiscordHarness({ log: logs.logger });
  });
  afterAll(async () => {
    await h?.close();
  });

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
    const errors = logs.lines().filter((l) => l.level === 'error' && /Discord rejected the bot token \(401 Unauthorized\).*DISCORD_TOKEN/.test(l.msg));
    expect(errors).toHaveLength(1);
    // The people who typed the commands still got an answer through the interaction (no bot token needed).
    expect(h.fake.requests.slice(after401).some((r) => r.path.startsWith('/interactions/') || r.path.startsWith('/webhooks/'))).toBe(true);
  });
});

/**
 * Discord starts in a process that has drawn charts, and asks only for intents a new application has.
 *
 * vega-lite installs `Set.prototype.toJSON` when it loads; discord.js's event emitter (through its
 * bundled node-inspect-extracted) then fails at load with `string "Set()" is not iterable`. The bot
 * used to load the chart stack on its main thread as soon as the app was built (core profiles →
 * charts), so `npm start` with DISCORD_TOKEN exited before connecting. These tests load the app and
 * draw a profile's charts FIRST, and only then load discord.js (dynamic imports keep that order),
 * exactly as `npm start` does.
 *
 * Then the gateway's privileged intents: Discord closes the connection with 4014 when a bot asks for
 * one its application was not granted. The fake Discord does the same and grants none by default.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestCore } from './helpers/core';
import type { DiscordHarness } from './helpers/discord-harness';
import { captureLogger } from './helpers/log-capture';

const MESSAGE_CONTENT = 1 << 15;

let core: TestCore;

beforeAll(async () => {
  // The app first: everything `npm start` builds before it connects a chat platform.
  const { openTestCore } = await import('./helpers/core');
  core = await openTestCore();
});
afterAll(async () => {
  await core?.close();
});

describe('the chart stack and discord.js in one process', () => {
  let h: DiscordHarness | undefined;
  afterAll(async () => {
    await h?.close();
  });

  it('draws a profile (distribution chart and grid) and a group heatmap, then starts the Discord bot against the fake Discord', async () => {
    const services = core.app.services;
    const ctx = { source: 'test', scopeId: 'g1' };
    const people = ['ann', 'bob', 'cy'].map((userId) => ({ platform: 'playground' as const, userId, displayName: userId }));
    const ids = (await services.taste.nextToRate(await services.people.touch(people[0]!, 'g1'), 6)).map((i) => i.id);
    expect(ids.length).toBeGreaterThan(2);
    for (const [p, person] of people.entries()) {
      await services.people.touch(person, 'g1');
      for (const [i, id] of ids.entries()) await services.ratings.rate(person, id, 1 + ((i * (p + 2)) % 10), ctx);
      await services.privacy.setSharing(person, true, 'g1');
    }
    const view = await services.profiles.view({ viewer: people[0]!, scopeId: 'g1' });
    expect(view.distributionChart?.subarray(1, 4).toString()).toBe('PNG');
    expect(view.grid?.subarray(1, 4).toString()).toBe('PNG');
    const compared = await services.profiles.compare({ requester: people[0]!, people, scopeId: 'g1' });
    expect(compared.heatmap?.subarray(1, 4).toString()).toBe('PNG');

    // Only now does discord.js load — the order in which `npm start` loads them.
    const { openDiscordHarness } = await import('./helpers/discord-harness');
    h = await openDiscordHarness({ core });
    expect(h.health().ok).toBe(true);
    await h.command('ann', 'profile');
    const replies = await h.messages();
    expect(replies.some((m) => /rating/i.test(m.text))).toBe(true);
    // The charts were drawn in the chart worker's realm: this thread's built-ins are as Node made them.
    expect(Object.getOwnPropertyNames(Set.prototype)).not.toContain('toJSON');
    // A new application has no privileged intent: the bot asks for none by default.
    expect(h.fake.identifyIntents.length).toBeGreaterThan(0);
    expect(h.fake.identifyIntents.every((i) => (i & MESSAGE_CONTENT) === 0)).toBe(true);
  });
});

describe('privileged intents', () => {
  it('DISCORD_MESSAGE_CONTENT=on without the portal switch: one clear log line with the fix, /readyz red, no reconnect loop', async () => {
    const { FakeDiscord } = await import('./fakes/discord-server');
    const { createDiscordAdapter } = await import('../src/platforms/discord/adapter');
    const fake = new FakeDiscord();
    await fake.start();
    const { logger, lines } = captureLogger();
    const adapter = createDiscordAdapter({
      config: {
        DISCORD_TOKEN: fake.token,
        DISCORD_APPLICATION_ID: fake.applicationId,
        DISCORD_API_URL: fake.apiUrl,
        DISCORD_MESSAGE_CONTENT: 'on',
      },
      services: core.app.services,
      log: logger,
    });
    try {
      // Start resolves: exiting would only make an orchestrator restart the bot into the same refusal.
      await adapter.start();
      const health = adapter.health();
      expect(health.ok).toBe(false);
      expect(health.detail).toMatch(/Message Content/);
      const refused = lines().filter((l) => /4014/.test(l.msg));
      expect(refused).toHaveLength(1);
      expect(refused[0]!.level).toBe('error');
      expect(refused[0]!.msg).toMatch(/developer portal/);
      expect(refused[0]!.msg).toMatch(/DISCORD_MESSAGE_CONTENT=off/);
      // It asked once and did not try again.
      await new Promise((r) => setTimeout(r, 500));
      expect(fake.identifyIntents).toHaveLength(1);
      expect(fake.identifyIntents[0]! & MESSAGE_CONTENT).toBe(MESSAGE_CONTENT);
    } finally {
      await adapter.stop();
      await fake.stop();
    }
  });

  it('with the intent granted and DISCORD_MESSAGE_CONTENT=on the bot asks for it and connects', async () => {
    const { FakeDiscord } = await import('./fakes/discord-server');
    const { createDiscordAdapter } = await import('../src/platforms/discord/adapter');
    const fake = new FakeDiscord({ privilegedIntents: MESSAGE_CONTENT });
    await fake.start();
    const adapter = createDiscordAdapter({
      config: {
        DISCORD_TOKEN: fake.token,
        DISCORD_APPLICATION_ID: fake.applicationId,
        DISCORD_API_URL: fake.apiUrl,
        DISCORD_MESSAGE_CONTENT: 'on',
      },
      services: core.app.services,
      log: captureLogger().logger,
    });
    try {
      await adapter.start();
      expect(adapter.health().ok).toBe(true);
      expect(fake.identifyIntents[0]! & MESSAGE_CONTENT).toBe(MESSAGE_CONTENT);
    } finally {
      await adapter.stop();
      await fake.stop();
    }
  });

  it('a server that opted in to attachment ingest while the intent is off is told (once) what the operator must do', async () => {
    const { openDiscordHarness } = await import('./helpers/discord-harness');
    const { logger, lines } = captureLogger();
    const h = await openDiscordHarness({ core, log: logger, ingestAttachments: async () => true });
    try {
      const png = Buffer.from('89504e470d0a1a0a', 'hex');
      for (const user of ['dee', 'eve']) {
        const posted = h.fake.postAsUser(h.idOf('fay'), png);
        h.fake.react(h.idOf(user), posted.id, '7️⃣');
      }
      // A rating on a known message afterwards proves both reactions above were processed.
      await h.command('dee', 'rate', { count: 1 });
      const [img] = (await h.messages()).filter((m) => m.rateable);
      await h.rate('dee', img!.id, 3);
      const told = lines().filter((l) => l.level === 'warn' && /Message Content/.test(l.msg));
      expect(told).toHaveLength(1);
      expect(told[0]!.msg).toMatch(/DISCORD_MESSAGE_CONTENT=on/);
      expect(told[0]!.msg).toMatch(/developer portal/);
    } finally {
      await h.close();
    }
  });
});

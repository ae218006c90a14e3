import type { MadeForYou } from '../src/core/made-for-you';
import { userKeyOf } from '../src/core/identity';
import { createPlaygroundAdapter, personFor } from '../src/platforms/playground/adapter';
import { CHANNEL_ID } from '../src/platforms/playground/state';
import { openTestCore } from './helpers/core';
import { PlaygroundClient } from './helpers/playground-client';
import { platformContract, type AdapterHarness } from './platform-contract';
import { silentLogger } from '../src/log';

platformContract('playground (real core on PGlite)', async (): Promise<AdapterHarness> => {
  const core = await openTestCore();
  const adapter = createPlaygroundAdapter({ services: core.app.services, log: silentLogger, port: 0, runFeedPollMs: 50 });
  await adapter.start();
  const res = await fetch(adapter.url());
  if (!res.ok) throw new Error('playground not serving');
  const options = (o: Record<string, string | number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k}:${v}`)
      .join(' ');
  const userKey = (user: string) => userKeyOf(personFor(user));
  // One browser session per person, as several people at their own browsers.
  const clients = new Map<string, Promise<PlaygroundClient>>();
  const as = (user: string) => {
    if (!clients.has(user)) clients.set(user, PlaygroundClient.as(adapter.url(), user));
    return clients.get(user)!;
  };
  return {
    rating: (user, imageId) => core.rating(userKey(user), imageId),
    channelId: CHANNEL_ID,
    // Through HTTP, as the page does: 200 = it ran, 422 = refused before running (answered privately).
    command: async (user, name, o = {}) => {
      const r = await (await as(user)).command(`/${name} ${options(o)}`);
      if (r.status !== 200 && r.status !== 422) throw new Error(`command failed: ${r.status} ${JSON.stringify(r.body)}`);
    },
    messages: async () =>
      [...adapter.state.messages.values()]
        .filter((m) => m.author.bot && !m.removed)
        .map((m) => ({
          files: (m.files ?? []).map((f) => f.name),
          tiles: m.grid?.tiles.flatMap((t) => (t.imageId ? [t.imageId] : [])),
          picks: m.pick?.imageIds.length,
          details: m.details,
          id: m.id,
          conversationId: m.conversationId,
          text: m.text,
          imageId: m.imageId ?? null,
          rateable: m.rateable,
          ephemeral: Boolean(m.ephemeralFor),
          edits: m.edits,
        })),
    threadIds: async () => [...adapter.state.threads.keys()],
    rate: async (user, messageId, score) => {
      const r = await (await as(user)).rate(messageId, score);
      if (r.status !== 200) throw new Error(`rate failed: ${r.status} ${JSON.stringify(r.body)}`);
    },
    unrate: async (user, messageId, score) => {
      // The page's button toggles: clicking your current rating clears it; clearing another score is a no-op.
      const m = adapter.state.messages.get(messageId);
      if (m?.ratings[personFor(user).userId] !== score) return;
      const r = await (await as(user)).rate(messageId, null);
      if (r.status !== 200) throw new Error(`unrate failed: ${r.status} ${JSON.stringify(r.body)}`);
    },
    tile: async (user, messageId, imageId, choice) => {
      const r = await (await as(user)).post('/api/tile', { messageId, imageId, choice });
      if (r.status !== 200) throw new Error(`tile click failed: ${r.status} ${JSON.stringify(r.body)}`);
    },
    pick: async (user, messageId, number) => {
      const r = await (await as(user)).post('/api/pick', { messageId, number });
      if (r.status !== 200) throw new Error(`pick failed: ${r.status} ${JSON.stringify(r.body)}`);
      return (r.body as { text?: string }).text;
    },
    picksOf: async (user) => (await core.app.services.picks!.list(userKey(user))).map((p) => ({ winner: p.winner, losers: p.losers })),
    userKey,
    madeForYouTick: async () => void (await (core.app.services.madeForYou as MadeForYou).runDue()),
    health: () => adapter.health(),
    close: async () => {
      await adapter.stop();
      await core.close();
    },
  };
});

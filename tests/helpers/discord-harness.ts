/** The real discord.js bot wired to the fake Discord and the REAL core (tests/helpers/core.ts), for tests. */
import { createHash } from 'node:crypto';
import { findCommand } from '../../commands/index';
import { silentLogger, type Logger } from '../../src/log';
import { userKeyOf } from '../../src/core/identity';
import type { Services } from '../../src/core/services';
import { RATING_EMOJI } from '../../src/platforms/emoji';
import { createDiscordAdapter, type DiscordAdapter, type DiscordAdapterOptions } from '../../src/platforms/discord/adapter';
import { startDiscordRestProxy } from '../../src/platforms/discord/rest-proxy';
import { FakeDiscord, MESSAGE_CONTENT_INTENT, shardOf } from '../fakes/discord-server';
import type { MadeForYou } from '../../src/core/made-for-you';
import { observeRatings, openTestCore, type RatingCall, type TestCore, type TestCoreOptions } from './core';
import { waitFor } from './wait';
import type { AdapterHarness, HarnessMessage } from '../platform-contract';

export interface DiscordHarness extends AdapterHarness {
  fake: FakeDiscord;
  adapter: DiscordAdapter;
  core: TestCore;
  /** The services the adapter uses: the core's, with rating calls observed. */
  services: Services & { ratingCalls: RatingCall[] };
  idOf(user: string): string;
  /** Sends a slash command; resolves when the bot has handled it. Returns the interaction id. */
  interaction(user: string, name: string, options?: Record<string, string | number>): Promise<string>;
  /** Stops the bot, lets reactions change meanwhile, starts it again and waits for its reconcile. */
  away: NonNullable<AdapterHarness['away']>;
  /** The image a bot message carries, from platform_messages. */
  imageOf(messageId: string): Promise<string | null>;
}

export interface DiscordHarnessOptions {
  clock?: () => number;
  log?: Logger;
  ingestAttachments?: (scopeId: string) => Promise<boolean>;
  /** Share one core between harnesses of a file (PGlite costs ~1 GB per instance); closed by its owner. */
  core?: TestCore;
  coreOptions?: TestCoreOptions;
  /** Send the bot's REST through the shared rate-limit proxy (rest-proxy.ts), as a multi-process deployment does. */
  restProxy?: boolean;
  /** The operator turned on the Message Content intent (portal and DISCORD_MESSAGE_CONTENT=on). */
  messageContent?: boolean;
  /**
   * Another harness's fake Discord (several gateway processes of one bot): used, not stopped on close.
   * Its guilds on this process's shards are waited for; commands only when this process leads (shard 0).
   */
  fake?: FakeDiscord;
  /** Sharding settings of this process (DISCORD_SHARD_COUNT, DISCORD_SHARD_IDS, …). */
  shardConfig?: DiscordAdapterOptions['config'];
  shardLeaseTiming?: DiscordAdapterOptions['shardLeaseTiming'];
  /** Tags this process's REST requests in the fake (RecordedRequest.client). */
  clientTag?: string;
}

export const discordIdOf = (user: string) =>
  (BigInt(`0x${createHash('sha256').update(user).digest('hex').slice(0, 12)}`) + 100000000000000000n).toString();

export async function openDiscordHarness(opts: DiscordHarnessOptions = {}): Promise<DiscordHarness> {
  const core = opts.core ?? (await openTestCore(opts.coreOptions));
  const services = observeRatings(core.app.services);
  const fake = opts.fake ?? new FakeDiscord({ privilegedIntents: opts.messageContent ? MESSAGE_CONTENT_INTENT : 0 });
  if (!opts.fake) await fake.start();
  const proxy = opts.restProxy
    ? await startDiscordRestProxy({ port: 0, host: '127.0.0.1', upstreamApi: fake.apiUrl, log: silentLogger })
    : null;
  const apiUrl = proxy ? `${proxy.url}/api` : opts.clientTag ? fake.apiUrlFor(opts.clientTag) : fake.apiUrl;
  const makeAdapter = () =>
    createDiscordAdapter({
      config: {
        DISCORD_TOKEN: fake.token,
        DISCORD_APPLICATION_ID: fake.applicationId,
        DISCORD_API_URL: apiUrl,
        DISCORD_GUILD_ID: fake.guildId,
        DISCORD_MESSAGE_CONTENT: opts.messageContent ? 'on' : 'off',
        ...opts.shardConfig,
      },
      // Shard leases in the test database, as in a deployment.
      db: core.app.database.db,
      shardLeaseTiming: opts.shardLeaseTiming,
      services,
      log: opts.log ?? silentLogger,
      clock: opts.clock,
      ingestAttachments: opts.ingestAttachments,
      runFeedPollMs: 50,
    });
  let adapter = makeAdapter();
  const startAdapter = async () => {
    const puts = fake.commandPuts.length;
    await adapter.start();
    const plan = adapter.shards.plan!;
    const ours = [...fake.guilds.keys()].filter((g) => plan.ids.includes(shardOf(g, plan.count)));
    await waitFor(() => ours.every((g) => adapter.client.guilds.cache.get(g)?.available), 'the guilds of its shards');
    if (adapter.shards.leader) await waitFor(() => fake.commandPuts.length > puts, 'command registration');
    await waitFor(() => adapter.lastReconcile, 'the reconcile of the new session');
  };
  await startAdapter();

  const idOf = discordIdOf;
  const interaction = async (user: string, name: string, o: Record<string, string | number> = {}) => {
    const def = findCommand(name);
    const options = Object.entries(o).map(([k, v]) => {
      const spec = def?.options.find((s) => s.name === k);
      return {
        name: k,
        type: spec?.type === 'integer' ? 4 : spec?.type === 'user' ? 6 : 3,
        value: spec?.type === 'user' ? idOf(String(v)) : v,
      };
    });
    const users = Object.fromEntries(
      Object.entries(o)
        .filter(([k]) => def?.options.find((s) => s.name === k)?.type === 'user')
        .map(([, v]) => [idOf(String(v)), fake.user(idOf(String(v)), String(v))]),
    );
    const iid = fake.interact(idOf(user), name, options, Object.keys(users).length ? { users } : {});
    await waitFor(() => fake.requests.some((r) => r.path.startsWith(`/interactions/${iid}/`)), `the ack of /${name}`);
    await adapter.idle();
    return iid;
  };
  const ratingStep = async (fn: () => void) => {
    const before = services.ratingCalls.length;
    fn();
    await waitFor(() => services.ratingCalls.length > before, 'the rating to be handled');
    await adapter.idle();
  };
  const imageOf = async (messageId: string) => (await services.messages.lookup('discord', messageId))?.imageId ?? null;
  const messages = async (): Promise<HarnessMessage[]> =>
    Promise.all(
      [...fake.messages.values()]
        .filter((m) => !m.deleted && (m.content || m.attachments.length))
        .map(async (m) => ({
          id: m.id,
          conversationId: m.channel_id,
          text: m.content,
          imageId: await imageOf(m.id),
          rateable: RATING_EMOJI.every((e) => m.reactions.get(e)?.has(fake.botUser.id)),
          ephemeral: Boolean(m.flags & 64),
          edits: m.edits,
          files: m.attachments.map((a) => a.filename),
          tiles: controlsOf(m)
            .filter((c) => c.custom_id.startsWith('tl:tile:'))
            .map((c) => c.custom_id.slice('tl:tile:'.length)),
          picks: controlsOf(m).filter((c) => c.custom_id.startsWith('tl:pick:')).length,
        })),
    );
  type Control = { custom_id: string };
  const controlsOf = (m: { components: { components?: Control[] }[] }): Control[] => m.components.flatMap((row) => row.components ?? []);
  /** A click on a component of a message; resolves once it was acknowledged and handled. Returns the interaction id. */
  const click = async (user: string, messageId: string, customId: string, values?: string[]) => {
    const iid = fake.clickComponent(idOf(user), messageId, customId, values);
    await waitFor(() => fake.requests.some((r) => r.path.startsWith(`/interactions/${iid}/`)), 'the ack of the click');
    await adapter.idle();
    return iid;
  };
  const userKey = (user: string) => userKeyOf({ platform: 'discord', userId: idOf(user) });
  return {
    fake,
    core,
    services,
    idOf,
    interaction,
    messages,
    imageOf,
    userKey,
    get adapter() {
      return adapter;
    },
    health: () => adapter.health(),
    away: async (during) => {
      await adapter.stop();
      await waitFor(() => !fake.connected, 'the gateway session to close');
      // Reactions while the bot is down: their events are queued for a RESUME that never comes (the
      // restarted bot starts a new session), exactly as on Discord.
      await during({
        rate: (user, messageId, score) => fake.react(idOf(user), messageId, RATING_EMOJI[score - 1]!),
        unrate: (user, messageId, score) => fake.unreact(idOf(user), messageId, RATING_EMOJI[score - 1]!),
        deleteMessage: (messageId) => {
          const m = fake.messages.get(messageId);
          if (m) m.deleted = true;
        },
      });
      adapter = makeAdapter();
      await startAdapter();
      await adapter.idle();
      return adapter.lastReconcile!;
    },
    rating: (user, imageId) => core.rating(userKey(user), imageId),
    channelId: fake.channelId,
    command: async (user, name, o) => void (await interaction(user, name, o)),
    threadIds: async () => fake.threads().map((t) => t.id),
    madeForYouTick: async () => void (await (core.app.services.madeForYou as MadeForYou).runDue()),
    tile: async (user, messageId, imageId, choice) => void (await click(user, messageId, `tl:tile:${imageId}`, [choice])),
    pick: async (user, messageId, number) => {
      const m = fake.messages.get(messageId);
      const button = m && controlsOf(m).find((c) => c.custom_id.startsWith('tl:pick:') && c.custom_id.endsWith(`:${number}`));
      if (!button) throw new Error(`no pick button ${number} on ${messageId}`);
      const iid = await click(user, messageId, button.custom_id);
      return [...fake.messages.values()].find((x) => x.interactionId === iid && x.content)?.content;
    },
    picksOf: async (user) => (await services.picks!.list(userKey(user))).map((p) => ({ winner: p.winner, losers: p.losers })),
    details: async (user, messageId) => {
      const m = fake.messages.get(messageId);
      const button = m && controlsOf(m).find((c) => c.custom_id.startsWith('tl:details:'));
      if (!button) return undefined;
      const iid = await click(user, messageId, button.custom_id);
      return [...fake.messages.values()].find((x) => x.interactionId === iid && x.content)?.content;
    },
    rate: (user, messageId, score) => ratingStep(() => fake.react(idOf(user), messageId, RATING_EMOJI[score - 1]!)),
    unrate: (user, messageId, score) => ratingStep(() => fake.unreact(idOf(user), messageId, RATING_EMOJI[score - 1]!)),
    close: async () => {
      await adapter.stop();
      // The contract passing proves nothing about the proxy unless the bot's requests went through it.
      if (proxy && proxy.stats.forwarded < 20)
        throw new Error(`the REST proxy forwarded only ${proxy.stats.forwarded} requests: the bot did not use it`);
      await proxy?.close();
      if (!opts.fake) await fake.stop();
      if (!opts.core) await core.close();
    },
  };
}

/**
 * The Discord bot (discord.js 14). It only translates: slash commands → the shared handlers
 * (commands-handler.ts), reactions → ratings (reaction-handler.ts), neutral messages → Discord
 * messages (context.ts). This file creates the client, wires its events to the handlers, and starts
 * and stops it. Long work posts with the bot token into threads; the interaction webhook is used only
 * while its token is surely alive (< 13 of 15 minutes).
 */
import { Events, Routes, type Client, type Interaction } from 'discord.js';
import type { Logger } from 'pino';
import { COMMANDS } from '../../../commands/index';
import type { Config } from '../../config';
import type { Services } from '../../core/services';
import type { Db } from '../../db/connection';
import {
  DEFAULT_RECONCILE_DAYS,
  processHolder,
  reconcileRecentMessages,
  reconcileScheduler,
  type ReconcileReport,
} from '../reaction-read-back';
import { RunDisplay } from '../run-display';
import type { ChatAdapter } from '../types';
import { createDiscordClient, discordHealth, loginDiscord } from './client';
import { createCommandHandler } from './commands-handler';
import { createComponentHandler } from './component-handler';
import { toDiscordCommands } from './commands';
import { discordOutgoing, PLATFORM, type DiscordContext } from './context';
import { GatewayShards } from './gateway-shards';
import { createReactionHandler } from './reaction-handler';
import { readDiscordReactions } from './reactions';
import { discordRunThreads } from './run-threads';
import type { LeaseTiming } from './shard-leases';

export { WEBHOOK_CUTOFF_MS } from './commands-handler';
export { discordRestOptions } from './client';

export interface DiscordAdapterOptions {
  config: Partial<
    Pick<
      Config,
      | 'DISCORD_TOKEN'
      | 'DISCORD_APPLICATION_ID'
      | 'DISCORD_API_URL'
      | 'DISCORD_GUILD_ID'
      | 'REACTION_RECONCILE_DAYS'
      | 'DISCORD_MESSAGE_CONTENT'
      | 'DISCORD_SHARD_COUNT'
      | 'DISCORD_SHARD_IDS'
      | 'DISCORD_GATEWAY_INDEX'
      | 'DISCORD_GATEWAYS'
    >
  >;
  /**
   * The deployment's database: each shard's session is opened only under its lease there
   * (shard-leases.ts), so two processes never run one shard. Without it (tests, tools) no lease is taken.
   */
  db?: Db;
  /** Lease ttl / renewal / retry periods (tests shorten them). */
  shardLeaseTiming?: Partial<LeaseTiming>;
  services: Services;
  log: Logger;
  /**
   * Per server, off by default (scope_settings.ingest_attachments): rating an image a person posted
   * ingests it into the image store first. Works only with DISCORD_MESSAGE_CONTENT=on: without the
   * Message Content intent Discord sends messages of other people without their attachments.
   */
  ingestAttachments?: (scopeId: string) => Promise<boolean>;
  /** ms since epoch; injectable so tests can age an interaction past its token's lifetime. */
  clock?: () => number;
  /** How often the run display reads the outbox feed (ms). */
  runFeedPollMs?: number;
}

export interface DiscordAdapter extends ChatAdapter {
  readonly client: Client;
  readonly runDisplay: RunDisplay;
  /** Resolves when every command and reaction being handled has finished (tests, shutdown). */
  idle(): Promise<void>;
  /** The last finished pass over recent messages' reactions (after each new gateway session). */
  readonly lastReconcile: ReconcileReport | null;
  /** This process's shards (known once start() decided them). */
  readonly shards: GatewayShards;
}

export function createDiscordAdapter(opts: DiscordAdapterOptions): DiscordAdapter {
  const { config, services, log } = opts;
  const clock = opts.clock ?? Date.now;
  if (!config.DISCORD_TOKEN || !config.DISCORD_APPLICATION_ID)
    throw new Error('DISCORD_TOKEN and DISCORD_APPLICATION_ID are required for Discord');
  const token = config.DISCORD_TOKEN;
  const appId = config.DISCORD_APPLICATION_ID;
  const messageContent = config.DISCORD_MESSAGE_CONTENT === 'on';
  const { client, state } = createDiscordClient(config, messageContent, log);
  const inFlight = new Set<Promise<unknown>>();
  let stopping = false;
  const guarded = (what: string, p: Promise<unknown>) => {
    const tracked = p.catch((err: unknown) => log.error({ err }, `${what} failed`));
    inFlight.add(tracked);
    void tracked.finally(() => inFlight.delete(tracked));
  };

  // Who this process is in the shard leases and the shared read-back (unique per adapter instance).
  const holder = processHolder(PLATFORM);
  const shards = new GatewayShards({
    client,
    token,
    appId,
    settings: config,
    db: opts.db,
    holder,
    log,
    timing: opts.shardLeaseTiming,
    // Another process may own these shards now: end our sessions before both handle their events.
    onLost: () => void client.destroy(),
  });
  const out = discordOutgoing(client, services);
  // Runs are shown from the outbox into their thread, re-attached by id (also after a restart).
  const runDisplay = new RunDisplay({
    platform: PLATFORM,
    services,
    log,
    pollMs: opts.runFeedPollMs,
    conversation: (id, dest) => out.conversation(id, dest.scopeId),
    // Each gateway shows the runs of the servers on its shards, so two gateways never post one event.
    shows: (dest) => shards.owns(dest.scopeId),
    threads: discordRunThreads(client),
  });
  const ctx: DiscordContext = { client, services, log, clock, runDisplay, ...out };
  const onCommand = createCommandHandler(ctx);
  const onComponent = createComponentHandler(ctx);
  const onReaction = createReactionHandler(ctx, { enabled: opts.ingestAttachments, messageContent });

  let lastReconcile: ReconcileReport | null = null;
  // One read-back pass per platform across every gateway (read_back_passes), whichever shard asked.
  const readBackHolder = holder;
  const reconciler = reconcileScheduler(async (neededSince) => {
    lastReconcile = await reconcileRecentMessages({
      coordinate: { holder: readBackHolder, neededSince },
      platform: PLATFORM,
      services,
      log,
      days: config.REACTION_RECONCILE_DAYS ?? DEFAULT_RECONCILE_DAYS,
      read: (m) => readDiscordReactions(client.rest, client.user?.id, m),
      shouldStop: () => stopping || state.tokenRejected,
      clock,
      forbiddenHint: 'give the bot View Channel and Read Message History in those channels (and their threads)',
    });
  });

  client.on(Events.InteractionCreate, (i: Interaction) => {
    if (stopping) return;
    if (i.isChatInputCommand()) guarded('command', onCommand(i));
    else if (i.isMessageComponent()) guarded('component', onComponent(i));
  });
  client.on(Events.MessageReactionAdd, (r, u) => guarded('reaction add', onReaction('add', r, u)));
  client.on(Events.MessageReactionRemove, (r, u) => guarded('reaction remove', onReaction('remove', r, u)));
  // Every new gateway session (the first, and any after Discord refused to RESUME) may have missed
  // reactions; a RESUME replays them, so it needs no pass.
  client.on(Events.ShardReady, () => {
    if (!stopping) guarded('reaction reconcile', reconciler.request());
  });
  client.once(Events.ClientReady, () => {
    // A deployment-wide chore: done once, by the gateway that runs shard 0.
    if (!shards.leader) return log.info('discord commands are registered by the gateway process that runs shard 0');
    guarded(
      'command registration',
      registerCommands(client, appId, config.DISCORD_GUILD_ID).then((n) => log.info({ commands: n }, 'discord commands registered')),
    );
  });
  client.on(Events.Error, (err) => log.error({ err }, 'discord client error'));

  return {
    name: PLATFORM,
    client,
    runDisplay,
    idle: async () => {
      while (inFlight.size) await Promise.allSettled([...inFlight]);
    },
    get lastReconcile() {
      return lastReconcile;
    },
    shards,
    health: () => discordHealth(client, state, stopping, shards.problem),
    async start() {
      if (!(await shards.open(() => stopping))) return;
      if (stopping) return await shards.close();
      try {
        if (!(await loginDiscord(client, token, state, log))) return await shards.close();
      } catch (err) {
        await shards.close();
        throw err;
      }
      runDisplay.start();
      log.info({ user: client.user?.tag, shards: shards.plan?.ids }, 'discord connected');
    },
    async stop() {
      stopping = true;
      await Promise.race([Promise.allSettled([...inFlight, runDisplay.stop()]), new Promise((r) => setTimeout(r, 5000).unref())]);
      await client.destroy();
      // Only after the sessions are closed: the next holder may connect the moment it is free.
      await shards.close();
    },
  };
}

/** Bulk-overwrites the slash commands (a guild's when guildId is given, else global). Returns how many. */
export async function registerCommands(client: Pick<Client, 'rest'>, appId: string, guildId?: string): Promise<number> {
  const body = toDiscordCommands(COMMANDS);
  await client.rest.put(guildId ? Routes.applicationGuildCommands(appId, guildId) : Routes.applicationCommands(appId), { body });
  return body.length;
}

/**
 * The Discord bot (discord.js 14). It only translates: slash commands → the shared handlers,
 * reactions → ratings, neutral messages → Discord messages. Long work posts with the bot token into
 * threads; the interaction webhook is used only while its token is surely alive (< 13 of 15 minutes).
 */
import {
  Client,
  Events,
  GatewayIntentBits,
  MessageFlags,
  Partials,
  Routes,
  ChannelType,
  Status,
  type ChatInputCommandInteraction,
  type Interaction,
  type MessageReaction,
  type PartialMessageReaction,
  type PartialUser,
  type User,
  type RawFile,
  type InteractionReplyOptions,
} from 'discord.js';
import type { Logger } from 'pino';
import { findCommand, COMMANDS } from '../../../commands/index';
import type { RawOptions } from '../../../commands/options';
import type { Config } from '../../config';
import { userKeyOf, type PersonRef } from '../../core/identity';
import type { Services } from '../../core/services';
import { dispatchCommand } from '../dispatch';
import { emojiToRating, isCancelEmoji, RATING_EMOJI } from '../emoji';
import { storeReactionRating } from '../retry';
import { recordPosted } from '../record';
import { RunDisplay } from '../run-display';
import type { ChatAdapter, CommandContext, Conversation, OutMessage, ReplyOptions } from '../types';
import { toDiscordCommands } from './commands';
import { encodeForUpload } from './upload';
import { createHash } from 'node:crypto';
import { readDiscordReactions } from './reactions';
import { DEFAULT_RECONCILE_DAYS, processHolder, reconcileRecentMessages, reconcileScheduler, type ReconcileReport } from '../reconcile';

const PLATFORM = 'discord';
/** The interaction token lives 15 minutes; stop using it well before. */
export const WEBHOOK_CUTOFF_MS = 13 * 60 * 1000;
const MAX_CONTENT = 2000;
const NO_MENTIONS = { parse: [] as never[] };

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
    >
  >;
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
}

export function createDiscordAdapter(opts: DiscordAdapterOptions): DiscordAdapter {
  const { config, services, log } = opts;
  const clock = opts.clock ?? Date.now;
  if (!config.DISCORD_TOKEN || !config.DISCORD_APPLICATION_ID)
    throw new Error('DISCORD_TOKEN and DISCORD_APPLICATION_ID are required for Discord');
  const token = config.DISCORD_TOKEN;
  const appId = config.DISCORD_APPLICATION_ID;

  const messageContent = config.DISCORD_MESSAGE_CONTENT === 'on';
  const client = new Client({
    intents: [
      GatewayIntentBits.Guilds,
      GatewayIntentBits.GuildMessageReactions,
      // Privileged: a new application does not have it, and Discord closes the gateway (4014) for
      // asking. Only the operator knows whether it was turned on in the developer portal.
      ...(messageContent ? [GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent] : []),
    ],
    // Without these, reactions on uncached messages (older ones, or after a restart) are dropped;
    // without Partials.User, removals are silently dropped.
    partials: [Partials.Message, Partials.Reaction, Partials.User, Partials.Channel, Partials.GuildMember],
    allowedMentions: NO_MENTIONS,
    rest: discordRestOptions(config),
  });
  // A 401 means the token was reset or revoked: discord.js stops sending it; say what to do, once, and
  // report not-ready until an operator puts the new token in (a restart with it clears this).
  let tokenRejected = false;
  /** The gateway closed with 4014: a privileged intent this application lacks was asked for. */
  let intentsRefused = false;
  client.rest.on('response', (_request, response) => {
    if (response.status !== 401 || tokenRejected) return;
    tokenRejected = true;
    log.error(
      'Discord rejected the bot token (401 Unauthorized): nothing can be posted or read. Put the current token from the developer portal (Bot → Reset Token) in DISCORD_TOKEN and restart.',
    );
  });
  // Discord blocks an IP for an hour after 10,000 invalid requests in 10 minutes: warn well before.
  client.rest.on('invalidRequestWarning', ({ count, remainingTime }) => {
    log.warn(
      { count, resetInMs: remainingTime },
      `Discord has counted ${count} invalid requests (401/403/429) in its current 10-minute window; at 10,000 it blocks this IP for an hour — check the bot's permissions and token`,
    );
  });
  const inFlight = new Set<Promise<unknown>>();
  let stopping = false;
  const track = (p: Promise<unknown>) => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  // ---------- outgoing ----------

  async function messageBody(msg: OutMessage): Promise<{ body: Record<string, unknown>; files?: RawFile[] }> {
    const body: Record<string, unknown> = { content: truncate(msg.text), allowed_mentions: NO_MENTIONS };
    if (msg.idempotencyKey) {
      // Discord returns the first message for a repeated nonce (within minutes) instead of posting
      // again: closes the window between a post and its record in platform_messages.
      body.nonce = nonceFor(msg.idempotencyKey);
      body.enforce_nonce = true;
    }
    const files: RawFile[] = [];
    if (msg.image)
      files.push({
        name: 'image.png',
        data: await encodeForUpload(await services.images.readBytes(msg.image.imageId)),
        contentType: 'image/png',
      });
    // Charts, grids and exports (issue 6) ride along as further attachments.
    for (const f of msg.files ?? []) files.push({ name: f.name, data: f.data, contentType: f.contentType });
    if (!files.length) return { body };
    body.attachments = files.map((f, id) => ({ id, filename: f.name }));
    return { body, files };
  }

  /** A channel or thread, written to with the bot token (valid for as long as the bot runs). */
  function conversation(channelId: string, scopeId: string | undefined): Conversation {
    return {
      id: channelId,
      mention: `<#${channelId}>`,
      async post(msg) {
        const { body, files } = await messageBody(msg);
        const res = (await client.rest.post(Routes.channelMessages(channelId), { body, files })) as { id: string };
        await recordPosted(services, PLATFORM, { messageId: res.id, channelId, scopeId }, msg);
        if (msg.image?.rateable) {
          // Sequential on purpose: Discord orders reactions by arrival; the REST limiter paces them.
          for (const e of RATING_EMOJI) await client.rest.put(Routes.channelMessageOwnReaction(channelId, res.id, encodeURIComponent(e)));
        }
        return res.id;
      },
      async edit(messageId, msg) {
        await client.rest.patch(Routes.channelMessage(channelId, messageId), {
          body: { content: truncate(msg.text), allowed_mentions: NO_MENTIONS },
        });
      },
    };
  }

  // Runs are shown from the outbox into their thread, re-attached by id (also after a restart).
  const runDisplay = new RunDisplay({
    platform: PLATFORM,
    services,
    log,
    pollMs: opts.runFeedPollMs,
    conversation: (id, dest) => conversation(id, dest.scopeId),
  });

  // ---------- commands ----------

  async function onCommand(i: ChatInputCommandInteraction): Promise<void> {
    const receivedAt = clock();
    const def = findCommand(i.commandName);
    const channel = conversation(i.channelId, i.guildId ?? undefined);
    // Acknowledge before any work (the 3-second rule): database latency must not cost the answer.
    const deferredEphemeral = def ? Boolean(def.private) : true;
    let acked = false;
    try {
      await i.deferReply(deferredEphemeral ? { flags: MessageFlags.Ephemeral } : {});
      acked = true;
    } catch (err) {
      log.warn({ err, command: i.commandName }, 'could not acknowledge an interaction');
    }
    let originalFilled = false;
    const webhookAlive = () => clock() - receivedAt < WEBHOOK_CUTOFF_MS;

    const reply = async (msg: OutMessage, ro?: ReplyOptions): Promise<void> => {
      const ephemeral = Boolean(ro?.ephemeral);
      if (!acked || !webhookAlive()) {
        // The interaction token is (nearly) expired: public answers go to the channel with the bot
        // token; private ones cannot be delivered privately any more, so they are only logged.
        if (ephemeral) return void log.info({ command: i.commandName }, 'dropped a private reply: interaction token expired');
        await channel.post(msg);
        return;
      }
      const { body, files } = await messageBody(msg);
      const payload: InteractionReplyOptions = {
        content: body.content as string,
        allowedMentions: NO_MENTIONS,
        files: files?.map((f) => ({ attachment: f.data as Buffer, name: f.name })),
      };
      if (!originalFilled) {
        originalFilled = true;
        if (ephemeral && !deferredEphemeral) {
          // A public "thinking…" cannot turn private: remove it and answer privately.
          await i.deleteReply().catch(() => undefined);
          await i.followUp({ ...payload, flags: MessageFlags.Ephemeral });
        } else {
          await i.editReply({ content: payload.content, allowedMentions: NO_MENTIONS, files: payload.files });
        }
        return;
      }
      await i.followUp({ ...payload, flags: ephemeral ? MessageFlags.Ephemeral : undefined });
    };

    const person = personOf(i.user);
    const base: Omit<CommandContext, 'options'> = {
      platform: PLATFORM,
      person,
      scopeId: i.guildId ?? undefined,
      channel,
      invocationId: i.id,
      services,
      log,
      reply,
      runDisplay,
      defer: async () => {},
      openThread: async (title) => {
        const t = (await client.rest.post(Routes.threads(i.channelId), {
          body: { name: title.slice(0, 100), type: ChannelType.PublicThread, auto_archive_duration: 1440 },
        })) as { id: string };
        return conversation(t.id, i.guildId ?? undefined);
      },
    };
    await dispatchCommand(i.commandName, rawOptions(i), base);
  }

  function rawOptions(i: ChatInputCommandInteraction): RawOptions {
    const raw: RawOptions = {};
    // Option names reach the handler by name, exactly as declared in commands/.
    for (const o of i.options.data) {
      if (o.user) raw[o.name] = personOf(o.user);
      else if (o.value !== undefined) raw[o.name] = o.value;
    }
    return raw;
  }

  // ---------- reactions ----------

  let lastReconcile: ReconcileReport | null = null;
  // Who this process is when several share the read-back (one pass per platform across them).
  const readBackHolder = processHolder(PLATFORM);
  const reconciler = reconcileScheduler(async (neededSince) => {
    lastReconcile = await reconcileRecentMessages({
      coordinate: { holder: readBackHolder, neededSince },
      platform: PLATFORM,
      services,
      log,
      days: config.REACTION_RECONCILE_DAYS ?? DEFAULT_RECONCILE_DAYS,
      read: (m) => readDiscordReactions(client.rest, client.user?.id, m),
      shouldStop: () => stopping || tokenRejected,
      clock,
      forbiddenHint: 'give the bot View Channel and Read Message History in those channels (and their threads)',
    });
  });

  async function onReaction(
    kind: 'add' | 'remove',
    reaction: MessageReaction | PartialMessageReaction,
    user: User | PartialUser,
  ): Promise<void> {
    if (user.id === client.user?.id || user.bot) return;
    const emoji = { name: reaction.emoji.name, id: reaction.emoji.id };
    const rating = emojiToRating(emoji);
    const cancel = kind === 'add' && isCancelEmoji(emoji);
    if (rating === null && !cancel) return;
    const eventTime = new Date(clock());
    // By message id from the database, not the client cache: works for old messages and after restarts.
    let known = await services.messages.lookup(PLATFORM, reaction.message.id);
    if (!known && rating !== null) known = await ingestAttachment(reaction);
    if (!known) return;
    const person = personOf(user);
    if (cancel) {
      if (known.kind === 'header' && known.runId) await services.runs.cancel(userKeyOf(person), known.runId);
      return;
    }
    if (!known.imageId || rating === null) return;
    const ctx = {
      source: PLATFORM,
      scopeId: reaction.message.guildId ?? undefined,
      channelId: reaction.message.channelId,
      messageId: reaction.message.id,
    };
    // Gateway events are never resent: retry a passing storage failure here (the ledger is idempotent).
    await storeReactionRating(
      services,
      { kind, person, imageId: known.imageId, rating, ctx, eventTime },
      { log, what: 'rating from a Discord reaction' },
    );
  }

  /** Servers already told that their opt-in needs DISCORD_MESSAGE_CONTENT (said once per server). */
  const toldNoMessageContent = new Set<string>();

  /** The attachment-ingest path: only where the server turned it on, only PNG/JPEG/WebP images. */
  async function ingestAttachment(reaction: MessageReaction | PartialMessageReaction) {
    const scopeId = reaction.message.guildId;
    if (!scopeId || !opts.ingestAttachments || !(await opts.ingestAttachments(scopeId))) return undefined;
    if (!messageContent) {
      if (!toldNoMessageContent.has(scopeId)) {
        toldNoMessageContent.add(scopeId);
        log.warn(
          { scopeId },
          `server ${scopeId} turned on attachment ingest, but the bot runs without the Message Content intent, so Discord sends it no attachments: turn on "Message Content Intent" for this application in the Discord developer portal (Bot → Privileged Gateway Intents) and set DISCORD_MESSAGE_CONTENT=on`,
        );
      }
      return undefined;
    }
    const channelId = reaction.message.channelId;
    const raw = (await client.rest.get(Routes.channelMessage(channelId, reaction.message.id))) as {
      author?: { id: string; bot?: boolean };
      attachments?: { url: string; content_type?: string; size: number }[];
    };
    const att = raw.attachments?.find((a) => /^image\/(png|jpeg|webp)$/.test(a.content_type ?? '') && a.size <= 20 * 1024 * 1024);
    if (!att || !raw.author || raw.author.bot) return undefined;
    const res = await fetch(att.url, { signal: AbortSignal.timeout(15_000) });
    if (!res.ok) return undefined;
    const image = await services.images.ingest(Buffer.from(await res.arrayBuffer()), {
      source: 'attachment',
      ownerKey: userKeyOf({ platform: PLATFORM, userId: raw.author.id }),
    });
    await services.messages.record({
      platform: PLATFORM,
      messageId: reaction.message.id,
      channelId,
      scopeId,
      imageId: image.id,
      kind: 'attachment',
    });
    return { imageId: image.id, runId: null, kind: 'attachment', channelId };
  }

  const guarded = (what: string, p: Promise<void>) => track(p.catch((err: unknown) => log.error({ err }, `${what} failed`)));

  client.on(Events.InteractionCreate, (i: Interaction) => {
    if (stopping || !i.isChatInputCommand()) return;
    guarded('command', onCommand(i));
  });
  client.on(Events.MessageReactionAdd, (r, u) => guarded('reaction add', onReaction('add', r, u)));
  client.on(Events.MessageReactionRemove, (r, u) => guarded('reaction remove', onReaction('remove', r, u)));
  // Every new gateway session (the first, and any after Discord refused to RESUME) may have missed
  // reactions; a RESUME replays them, so it needs no pass.
  client.on(Events.ShardReady, () => {
    if (!stopping) guarded('reaction reconcile', reconciler.request());
  });
  client.once(Events.ClientReady, () => {
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
    health() {
      if (stopping) return { ok: false, detail: 'stopping' };
      if (tokenRejected) return { ok: false, detail: 'Discord rejected the bot token (401): replace DISCORD_TOKEN and restart' };
      if (intentsRefused)
        return {
          ok: false,
          detail:
            'Discord refused the Message Content intent (4014): turn it on in the developer portal or set DISCORD_MESSAGE_CONTENT=off, then restart',
        };
      const shards = [...client.ws.shards.values()];
      if (shards.length > 0 && shards.every((s) => s.status === Status.Ready))
        return { ok: true, detail: `gateway ready, heartbeat ${client.ws.ping} ms` };
      return { ok: false, detail: `gateway ${shards.map((s) => Status[s.status]).join(', ') || 'not connected'}` };
    },
    async start() {
      const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
      try {
        await client.login(token);
      } catch (err) {
        if (!isDisallowedIntents(err)) throw err;
        // Gateway close 4014: no retry can succeed until the operator acts, so exiting would only make
        // the orchestrator restart us into the same refusal. Stay up, say it once, report not-ready.
        intentsRefused = true;
        log.error(
          `Discord refused the gateway connection (close code 4014, disallowed intents): the bot asked for the Message Content intent (DISCORD_MESSAGE_CONTENT=on), which this application does not have. Turn on "Message Content Intent" in the Discord developer portal (your application → Bot → Privileged Gateway Intents), or set DISCORD_MESSAGE_CONTENT=off, then restart.`,
        );
        return;
      }
      await ready;
      runDisplay.start();
      log.info({ user: client.user?.tag }, 'discord connected');
    },
    async stop() {
      stopping = true;
      await Promise.race([Promise.allSettled([...inFlight, runDisplay.stop()]), new Promise((r) => setTimeout(r, 5000).unref())]);
      await client.destroy();
    },
  };
}

/** discord.js rejects login with this when the gateway closes with 4014 (disallowed intents). */
function isDisallowedIntents(err: unknown): boolean {
  return err instanceof Error && /disallowed intents/i.test(err.message);
}

/**
 * REST options of every bot process. DISCORD_API_URL points REST at a compatible server — the shared
 * rate-limit proxy of a multi-process deployment (rest-proxy.ts), or a fake in tests; the gateway
 * address then comes from its /gateway/bot. Every 250th invalid request (401/403/429) in Discord's
 * 10-minute window is reported.
 */
export function discordRestOptions(config: Partial<Pick<Config, 'DISCORD_API_URL'>>): {
  api?: string;
  invalidRequestWarningInterval: number;
} {
  return { ...(config.DISCORD_API_URL ? { api: config.DISCORD_API_URL } : {}), invalidRequestWarningInterval: 250 };
}

/** Bulk-overwrites the slash commands (a guild's when guildId is given, else global). Returns how many. */
export async function registerCommands(client: Pick<Client, 'rest'>, appId: string, guildId?: string): Promise<number> {
  const body = toDiscordCommands(COMMANDS);
  await client.rest.put(guildId ? Routes.applicationGuildCommands(appId, guildId) : Routes.applicationCommands(appId), { body });
  return body.length;
}

function personOf(u: User | PartialUser): PersonRef {
  return { platform: PLATFORM, userId: u.id, displayName: u.globalName ?? u.username ?? undefined };
}

/** Discord nonces are at most 25 characters: a digest of the event key. */
export function nonceFor(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 25);
}

function truncate(text: string): string {
  return text.length > MAX_CONTENT ? `${text.slice(0, MAX_CONTENT - 1)}…` : text;
}

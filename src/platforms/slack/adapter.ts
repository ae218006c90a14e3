/**
 * The Slack app (@slack/bolt 5). It only translates, like the Discord bot: slash commands → the
 * shared handlers (commands/), reactions → ratings, neutral messages → Slack messages.
 *
 * - HTTP mode (HTTPReceiver, v0 request signatures) by default; Socket Mode when SLACK_APP_TOKEN is set.
 *   In Socket Mode readiness follows the socket, and after the socket comes back the reactions of recent
 *   messages are read back (events Slack could not deliver meanwhile may never be retried).
 * - Every slash command is acknowledged first (Slack's 3-second rule); the work runs after the ack.
 * - Images: files.uploadV2 into the channel / the run's thread; the message `ts` that carries the
 *   file is read back from files.info (`shares`) so reactions find the image via platform_messages.
 * - Run messages carry their outbox event key (event-marks.ts: message metadata, or the block_id of
 *   an image share's text). When a run is caught up with after a restart, the thread's (channel's)
 *   history is read once and a post found there is recorded instead of posted again
 *   (Conversation.findPosted): a crash between a post and its record leaves no copy.
 * - Outgoing calls go through one queue per channel (queue.ts): about one post per second, 429s
 *   honored with Retry-After. The WebClient itself never retries (one retry layer only).
 * - Retries never act twice: events are claimed by event_id, commands by trigger_id (processed_events).
 */
import { App, HTTPReceiver, LogLevel, SocketModeReceiver, webApi, type Logger as SlackLogger, type SlashCommand } from '@slack/bolt';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { COMMANDS, findCommand } from '../../../commands/index';
import { parseOptionText, validateOptions, type RawOptions } from '../../../commands/options';
import type { Config } from '../../config';
import type { Db } from '../../db/connection';
import { CommandInputError } from '../../core/errors';
import { userKeyOf, type PersonRef } from '../../core/identity';
import type { Services } from '../../core/services';
import { DEFAULT_RECONCILE_DAYS, processHolder, reconcileRecentMessages, reconcileScheduler, type ReconcileReport } from '../reconcile';
import { describeFailure, dispatchCommand } from '../dispatch';
import { encodeForUpload } from '../discord/upload';
import { emojiToRating, isCancelEmoji, RATING_SLACK_NAMES } from '../emoji';
import { recordPosted } from '../record';
import { RunDisplay } from '../run-display';
import { storeReactionRating } from '../retry';
import type { ChatAdapter, CommandContext, Conversation, OutFile, OutMessage, ReplyOptions } from '../types';
import { dbEventClaimer, memoryEventClaimer, scheduleProcessedEventsPruning, type EventClaimer, type PruneSchedule } from './event-dedupe';
import { ChannelQueue } from './queue';
import { readSlackReactions } from './reactions';
import { watchSocketMode, type SocketWatch } from './socket-watch';
import { eventMetadata, markedTextBlocks, PostedIndex, type HistoryMessage } from './event-marks';
import {
  decodeSlackEntities,
  parseSlackMessageId,
  parseUserMention,
  slackConversationId,
  slackMessageId,
  toSlackText,
  tsToDate,
} from './text';

const PLATFORM = 'slack';
export const SLACK_EVENTS_PATH = '/slack/events';

type WebClient = InstanceType<typeof webApi.WebClient>;

export interface SlackAdapterOptions {
  config: Partial<
    Pick<
      Config,
      'SLACK_BOT_TOKEN' | 'SLACK_SIGNING_SECRET' | 'SLACK_APP_TOKEN' | 'SLACK_API_URL' | 'SLACK_PORT' | 'HOST' | 'REACTION_RECONCILE_DAYS'
    >
  >;
  services: Services;
  log: Logger;
  /** The database: retries are deduplicated in processed_events (shared by every process). */
  db?: Db;
  /** Overrides the dedupe store (default: `db` when given, else process memory). */
  claimer?: EventClaimer;
  /** ms since epoch; event times come from Slack's `event_ts` when present. */
  clock?: () => number;
  /** Gap between posts in one channel (default 1000 ms, Slack's guidance). */
  postIntervalMs?: number;
  /** Delay between files.info polls while Slack shares an upload (default 400 ms). */
  sharePollMs?: number;
  /** Socket Mode: how long to wait for a pong, and the base of the reconnect back-off (default 5000 ms, the SDK's). */
  socketPingTimeoutMs?: number;
  /** Socket Mode: a socket down at least this long reads reactions back when it returns (default 60 s). */
  socketGapReconcileMs?: number;
  /** How often the run display reads the outbox feed (ms). */
  runFeedPollMs?: number;
  /** processed_events pruning (with `db`): rows older than `days` (7) go at start and every `everyMs` (daily). */
  pruneProcessedEvents?: { days?: number; everyMs?: number };
}

export interface SlackAdapter extends ChatAdapter {
  /** The bot's own user id (auth.test), once started. */
  readonly botUserId: string | undefined;
  readonly queue: ChannelQueue;
  readonly runDisplay: RunDisplay;
  /** The request URL Slack posts to (HTTP mode), once started: http://host:port/slack/events. */
  url(): string;
  /** Resolves when every command and event being handled has finished and the queues are empty (tests, shutdown). */
  idle(): Promise<void>;
  /** Deliveries fully handled so far (tests wait on these instead of sleeping; also handy in logs). */
  readonly stats: { commands: number; events: number; duplicates: number };
  /** The last finished pass over recent messages' reactions (run at every start). */
  readonly lastReconcile: ReconcileReport | null;
}

export function createSlackAdapter(opts: SlackAdapterOptions): SlackAdapter {
  const { config, services, log } = opts;
  const clock = opts.clock ?? Date.now;
  const token = config.SLACK_BOT_TOKEN;
  if (!token) throw new Error('SLACK_BOT_TOKEN is required for Slack');
  const socketMode = Boolean(config.SLACK_APP_TOKEN);
  if (!socketMode && !config.SLACK_SIGNING_SECRET)
    throw new Error('SLACK_SIGNING_SECRET is required for Slack in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)');
  const claimer = opts.claimer ?? (opts.db ? dbEventClaimer(opts.db) : memoryEventClaimer());
  const sharePollMs = opts.sharePollMs ?? 400;
  const socketGapReconcileMs = opts.socketGapReconcileMs ?? 60_000;
  const queue = new ChannelQueue({ postIntervalMs: opts.postIntervalMs ?? 1000, log });
  const slackLogger = toSlackLogger(log);
  const clientOptions: webApi.WebClientOptions = {
    slackApiUrl: config.SLACK_API_URL ? withTrailingSlash(config.SLACK_API_URL) : undefined,
    // One retry layer only: 429s are thrown at once and retried by the channel queue after
    // Retry-After; other failures are not retried blindly, since a repeated post can post twice.
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    timeout: 30_000,
    logger: slackLogger,
  };
  // A revoked or rotated token, or an uninstalled app, fails every call: say what to do, once, and
  // report not-ready (every Web API call goes through apiCall, so one place sees them all).
  let tokenRejected: string | null = null;
  class ObservedWebClient extends webApi.WebClient {
    override async apiCall(method: string, options?: Record<string, unknown>): Promise<webApi.WebAPICallResult> {
      try {
        return await super.apiCall(method, options);
      } catch (err) {
        const code = (err as { data?: { error?: string } }).data?.error;
        if (code && AUTH_ERRORS.has(code) && !tokenRejected) {
          tokenRejected = code;
          log.error(
            { error: code },
            `Slack refused the bot token (${code}): nothing can be posted or read. Reinstall the app to the workspace if it was removed, put the current xoxb- token in SLACK_BOT_TOKEN and restart.`,
          );
        }
        throw err;
      }
    }
  }
  const web: WebClient = new ObservedWebClient(token, clientOptions);

  let app: App | null = null;
  let server: Server | null = null;
  let botUserId: string | undefined;
  let botId: string | undefined;
  let stopping = false;
  /** Socket Mode only: the socket's state as the SocketModeClient reports it. */
  let socket: SocketWatch | null = null;
  let pruning: PruneSchedule | null = null;
  const stats = { commands: 0, events: 0, duplicates: 0 };
  const inFlight = new Set<Promise<unknown>>();
  const track = (what: string, work: () => Promise<void>) => {
    const p = work().catch((err: unknown) => log.error({ err }, `slack ${what} failed`));
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  // ---------- outgoing ----------

  /** Where a file upload became a message: Slack shares uploads asynchronously, so poll files.info. */
  async function findShareTs(fileId: string, channel: string): Promise<string> {
    for (let attempt = 0; attempt < 25; attempt++) {
      const info = (await queue.run('files.info', 'call', () => web.files.info({ file: fileId }))) as {
        file?: { shares?: Record<string, Record<string, { ts: string }[]> | undefined> };
      };
      const shares = info.file?.shares;
      const ts = shares?.public?.[channel]?.[0]?.ts ?? shares?.private?.[channel]?.[0]?.ts;
      if (ts) return ts;
      await new Promise((r) => setTimeout(r, sharePollMs * Math.min(1 + attempt, 5)));
    }
    throw new Error(`Slack did not report the message of file ${fileId} in ${channel}`);
  }

  /** Extra files (charts, grids, exports): one files.uploadV2 call, shown in the channel / thread. */
  async function uploadFiles(channel: string, threadTs: string | undefined, files: OutFile[], comment?: string): Promise<void> {
    await queue.run(channel, 'post', () =>
      web.files.uploadV2({
        channel_id: channel,
        ...(threadTs ? { thread_ts: threadTs } : {}),
        ...(comment ? { initial_comment: comment } : {}),
        file_uploads: files.map((f) => ({ file: f.data, filename: f.name })),
      }),
    );
  }

  /** The :one: … :keycap_ten: rating reactions, in order so people see 1…10 (again after a crash: already_reacted is fine). */
  async function addRatingControls(channel: string, ts: string): Promise<void> {
    // Not paced like posts (reactions.add has its own, larger tier).
    for (const name of RATING_SLACK_NAMES) {
      await queue
        .run(channel, 'call', () => web.reactions.add({ channel, timestamp: ts, name }))
        .catch((err: unknown) => {
          if ((err as { data?: { error?: string } }).data?.error !== 'already_reacted') throw err;
        });
    }
  }

  /** Pages of history read at most when looking for lost posts (200 messages each). */
  const RECOVERY_PAGES = 25;
  let historyScopeWarned = false;
  const isOwn = (m: HistoryMessage) => (botUserId !== undefined && m.user === botUserId) || (botId !== undefined && m.bot_id === botId);

  /**
   * This app's marked messages in a thread (conversations.replies) or a channel since `sinceTs`
   * (conversations.history), with their metadata (include_all_metadata). Undefined when Slack refuses
   * (a missing history scope): then nothing can be found and posts go out as before.
   */
  async function readPostedIndex(
    channel: string,
    threadTs: string | undefined,
    sinceTs: string | undefined,
  ): Promise<PostedIndex | undefined> {
    const index = new PostedIndex();
    let cursor: string | undefined;
    try {
      for (let page = 0; page < RECOVERY_PAGES; page++) {
        const res = (await queue.run(channel, 'call', () =>
          threadTs
            ? web.conversations.replies({ channel, ts: threadTs, include_all_metadata: true, limit: 200, ...(cursor ? { cursor } : {}) })
            : web.conversations.history({
                channel,
                include_all_metadata: true,
                limit: 200,
                ...(sinceTs ? { oldest: sinceTs, inclusive: true } : {}),
                ...(cursor ? { cursor } : {}),
              }),
        )) as { messages?: HistoryMessage[]; has_more?: boolean; response_metadata?: { next_cursor?: string } };
        index.add(res.messages ?? [], isOwn);
        cursor = res.response_metadata?.next_cursor || undefined;
        if (!res.has_more || !cursor) return index;
      }
      log.warn(
        { channel, threadTs, pages: RECOVERY_PAGES },
        'looked through the most recent history only for run messages posted before a restart',
      );
      return index;
    } catch (err) {
      const code = (err as { data?: { error?: string } }).data?.error;
      if (code === 'missing_scope') {
        if (!historyScopeWarned) {
          historyScopeWarned = true;
          log.warn(
            { error: code },
            'could not read the conversation history to find run messages posted before a restart: a crash right after a post may show it twice. Add the channels:history and groups:history scopes (reinstall the app).',
          );
        }
      } else {
        log.warn(
          { err, channel, threadTs },
          'could not read the conversation history to find run messages posted before a restart; posting them again',
        );
      }
      return undefined;
    }
  }

  /** `sinceTs`: channel conversations only read history from there on (a run's notice comes after its thread). */
  function conversation(
    channel: string,
    threadTs: string | undefined,
    scopeId: string | undefined,
    label?: string,
    sinceTs?: string,
  ): Conversation {
    /** Read once per conversation object (RunDisplay makes one per batch of a run's events). */
    let posted: Promise<PostedIndex | undefined> | null = null;
    return {
      id: slackConversationId(channel, threadTs),
      mention: label ?? 'this channel',
      async post(msg) {
        const text = toSlackText(msg.text);
        const key = msg.idempotencyKey;
        let ts: string;
        if (msg.image) {
          const png = await encodeForUpload(await services.images.readBytes(msg.image.imageId));
          // A run's image: its text goes in a section block marked with the event key (a share cannot carry metadata).
          const caption = key ? { blocks: markedTextBlocks(text, key) } : { initial_comment: text };
          const res = (await queue.run(channel, 'post', () =>
            web.files.uploadV2({
              channel_id: channel,
              ...(threadTs ? { thread_ts: threadTs } : {}),
              ...caption,
              file: png,
              filename: 'tasteloop.png',
              title: 'Tasteloop image',
              alt_text: 'An image to rate',
            } as Parameters<WebClient['files']['uploadV2']>[0]),
          )) as { files?: { files?: { id?: string }[] }[] };
          const fileId = res.files?.[0]?.files?.[0]?.id;
          if (!fileId) throw new Error('files.uploadV2 returned no file id');
          ts = await findShareTs(fileId, channel);
        } else {
          const res = await queue.run(channel, 'post', () =>
            web.chat.postMessage({
              channel,
              thread_ts: threadTs,
              text,
              mrkdwn: true,
              link_names: false,
              unfurl_links: false,
              unfurl_media: false,
              ...(key ? { metadata: eventMetadata(key) } : {}),
            }),
          );
          if (!res.ts) throw new Error('chat.postMessage returned no ts');
          ts = res.ts;
        }
        const messageId = slackMessageId(channel, ts);
        if (msg.files?.length) await uploadFiles(channel, threadTs, msg.files);
        await recordPosted(services, PLATFORM, { messageId, channelId: channel, scopeId }, msg);
        if (msg.image?.rateable) await addRatingControls(channel, ts);
        return messageId;
      },
      async findPosted(msg) {
        if (!msg.idempotencyKey) return undefined;
        const index = await (posted ??= readPostedIndex(channel, threadTs, sinceTs));
        const ts = index?.find(msg.idempotencyKey);
        if (!ts) return undefined;
        const messageId = slackMessageId(channel, ts);
        await recordPosted(services, PLATFORM, { messageId, channelId: channel, scopeId }, msg);
        // The crash may have come before every rating reaction was added.
        if (msg.image?.rateable) await addRatingControls(channel, ts);
        return messageId;
      },
      async edit(messageId, msg) {
        const { channel: ch, ts } = parseSlackMessageId(messageId);
        await queue.run(ch, 'call', () => web.chat.update({ channel: ch, ts, text: toSlackText(msg.text) }));
      },
    };
  }

  /**
   * A conversation from its id alone (`C123` or `C123/1700000000.000100`), e.g. a run's stored thread.
   * `sinceTs`: for a channel, where looking for lost posts starts.
   */
  function conversationById(id: string, scopeId: string | undefined, sinceTs?: string): Conversation {
    const [channel, threadTs] = id.split('/') as [string, string | undefined];
    return conversation(channel, threadTs, scopeId, threadTs ? 'the run’s thread' : undefined, sinceTs);
  }

  // Runs are shown from the outbox into their thread, re-attached by id (also after a restart).
  // Slack has no nonce: run messages carry their event key and are looked for before a repeat (findPosted).
  const runDisplay = new RunDisplay({
    platform: PLATFORM,
    services,
    log,
    pollMs: opts.runFeedPollMs,
    // The run's notice goes to the command's channel after its thread was opened: history from there on.
    conversation: (id, dest) => conversationById(id, dest.scopeId, dest.threadId?.split('/')[1]),
  });

  // ---------- commands ----------

  async function onCommand(
    command: SlashCommand,
    ack: (response?: { response_type: 'ephemeral'; text: string }) => Promise<void>,
    respond: (msg: { response_type: 'ephemeral'; text: string }) => Promise<unknown>,
  ): Promise<void> {
    // `/tl-rate` or `/tasteloop-rate` also work, for workspaces where another app owns `/rate`.
    const name = command.command.replace(/^\//, '').replace(/^(?:tasteloop|tl)[-_]/, '');
    // Identity and workspace come from the verified request, never from the command text.
    const person: PersonRef = { platform: PLATFORM, workspaceId: command.team_id, userId: command.user_id, displayName: command.user_name };
    let raw: RawOptions;
    try {
      const def = findCommand(name);
      if (!def) throw new CommandInputError(`I don't know ${command.command}. Commands: ${COMMANDS.map((c) => `/${c.name}`).join(', ')}.`);
      raw = decodeStrings(parseOptionText(def, command.text ?? '', (v) => parseUserMention(v, command.team_id)));
      validateOptions(def, raw); // pure: a mistake is answered in the ack itself, privately
    } catch (err) {
      await ack({ response_type: 'ephemeral', text: toSlackText(describeFailure(err, log, { command: name }).text) });
      stats.commands++;
      return;
    }
    await ack();
    if (stopping) return;
    track(`/${name}`, async () => {
      try {
        await runCommand(name, raw, command, person, respond);
      } finally {
        stats.commands++;
      }
    });
  }

  async function runCommand(
    name: string,
    raw: RawOptions,
    command: SlashCommand,
    person: PersonRef,
    respond: (msg: { response_type: 'ephemeral'; text: string }) => Promise<unknown>,
  ): Promise<void> {
    // A redelivered command (same trigger) must not run twice.
    if (!(await claimer.claim(`slack:cmd:${command.trigger_id}`, userKeyOf(person)))) return void stats.duplicates++;
    const channel = conversation(command.channel_id, undefined, command.team_id);
    const reply = async (msg: OutMessage, ro?: ReplyOptions): Promise<void> => {
      if (!ro?.ephemeral) return void (await channel.post(msg));
      // Slack cannot attach files to ephemeral messages: private answers carry their text only.
      const text = toSlackText(msg.text);
      try {
        await queue.run(command.channel_id, 'post', () =>
          web.chat.postEphemeral({ channel: command.channel_id, user: command.user_id, text }),
        );
      } catch (err) {
        // Not a member of that conversation (a DM, a private channel): the command's response_url still works.
        log.debug({ err }, 'chat.postEphemeral failed; answering through response_url');
        await respond({ response_type: 'ephemeral', text });
      }
      if (msg.files?.length) {
        // Files cannot be ephemeral in Slack: private ones (charts, a data export) go to a direct message.
        try {
          const im = await queue.run('conversations.open', 'call', () => web.conversations.open({ users: command.user_id }));
          if (!im.channel?.id) throw new Error('conversations.open returned no channel');
          await uploadFiles(im.channel.id, undefined, msg.files, 'Your files from Tasteloop (only you can see this conversation).');
        } catch (err) {
          log.warn({ err }, 'could not send private files by direct message');
        }
      }
    };
    const base: Omit<CommandContext, 'options'> = {
      platform: PLATFORM,
      person,
      scopeId: command.team_id,
      channel,
      invocationId: command.trigger_id,
      services,
      log,
      reply,
      runDisplay,
      defer: async () => {},
      openThread: async (title) => {
        // A thread in Slack is a parent message; its ts is the thread id.
        const parent = await queue.run(command.channel_id, 'post', () =>
          web.chat.postMessage({
            channel: command.channel_id,
            text: toSlackText(title),
            link_names: false,
            unfurl_links: false,
            unfurl_media: false,
          }),
        );
        if (!parent.ts) throw new Error('chat.postMessage returned no ts');
        return conversation(command.channel_id, parent.ts, command.team_id, `the thread “${title.replace(/[“”]/g, '')}”`);
      },
    };
    // A forgotten person leaves no dedupe row behind (it names them).
    if ((await dispatchCommand(name, raw, base)) === 'forgotten') await claimer.release(`slack:cmd:${command.trigger_id}`).catch(() => {});
  }

  // ---------- reactions ----------

  const botCache = new Map<string, Promise<boolean>>();
  /** Other apps' bot users react too; they never rate. users.info is asked once per user. */
  function isBotUser(userId: string): Promise<boolean> {
    if (userId === botUserId || userId === 'USLACKBOT') return Promise.resolve(true);
    let p = botCache.get(userId);
    if (!p) {
      p = queue
        .run('users.info', 'call', () => web.users.info({ user: userId }))
        .then((r) => Boolean(r.user?.is_bot || r.user?.is_app_user))
        .catch((err: unknown) => {
          botCache.delete(userId);
          log.warn({ err, userId }, 'users.info failed; treating the reacting user as a person');
          return false;
        });
      botCache.set(userId, p);
      if (botCache.size > 10_000) botCache.delete(botCache.keys().next().value as string);
    }
    return p;
  }

  interface ReactionEvent {
    user: string;
    reaction: string;
    item: { type: string; channel?: string; ts?: string };
    event_ts?: string;
  }

  async function onReaction(
    kind: 'add' | 'remove',
    event: ReactionEvent,
    envelope: { team_id?: string; event_id?: string },
  ): Promise<void> {
    if (event.item.type !== 'message' || !event.item.channel || !event.item.ts) return;
    if (event.user === botUserId) return;
    const rating = emojiToRating(event.reaction);
    const cancel = kind === 'add' && isCancelEmoji(event.reaction);
    if (rating === null && !cancel) return;
    const channel = event.item.channel;
    const messageId = slackMessageId(channel, event.item.ts);
    // By (channel, ts) from the database: works for old messages and after restarts.
    const known = await services.messages.lookup(PLATFORM, messageId);
    if (!known) return;
    if (await isBotUser(event.user)) return;
    const person: PersonRef = { platform: PLATFORM, workspaceId: envelope.team_id, userId: event.user };
    // Slack redelivers an event it thinks we missed (X-Slack-Retry-Num), with the same event_id.
    const eventKey = envelope.event_id
      ? `slack:event:${envelope.event_id}`
      : `slack:reaction:${kind}:${messageId}:${event.user}:${event.reaction}:${event.event_ts}`;
    if (!(await claimer.claim(eventKey, userKeyOf(person)))) return void stats.duplicates++;
    try {
      if (cancel) {
        if (known.kind === 'header' && known.runId) await services.runs.cancel(userKeyOf(person), known.runId);
        return;
      }
      if (!known.imageId || rating === null) return;
      const eventTime = tsToDate(event.event_ts) ?? new Date(clock());
      const ctx = { source: PLATFORM, scopeId: envelope.team_id, channelId: channel, messageId };
      // The event was acked already, so Slack will not resend it: retry a passing failure here. The
      // ledger is idempotent by event time, so a repeat is harmless.
      const stored = await storeReactionRating(
        services,
        { kind, person, imageId: known.imageId, rating, ctx, eventTime },
        { log, what: 'rating from a Slack reaction' },
      );
      // A forgotten person leaves no dedupe row behind (it names them); a redelivery is refused again.
      if (stored === 'forgotten') await claimer.release(eventKey).catch(() => {});
    } catch (err) {
      // Give the claim back: a redelivery (or a later reconcile) can still apply it.
      await claimer.release(eventKey).catch(() => {});
      throw err;
    }
  }

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
      read: (m) =>
        readSlackReactions(
          {
            reactionsGet: (args) => queue.run('reactions.get', 'call', () => web.reactions.get(args)),
            isBot: (u) => u === botUserId || isBotUser(u),
          },
          m,
        ),
      shouldStop: () => stopping || tokenRejected !== null,
      clock,
      forbiddenHint: 'add the reactions:read scope (reinstall the app) and /invite the bot to those channels',
    });
  });

  function register(a: App): void {
    a.command(/^\/.+/, async ({ command, ack, respond }) => {
      await onCommand(command, ack, respond);
    });
    const onEvent =
      (kind: 'add' | 'remove') =>
      async ({ event, body }: { event: unknown; body: unknown }) => {
        if (stopping) return;
        track(`reaction ${kind}`, async () => {
          try {
            await onReaction(kind, event as ReactionEvent, body as never);
          } finally {
            stats.events++;
          }
        });
      };
    a.event('reaction_added', onEvent('add'));
    a.event('reaction_removed', onEvent('remove'));
    a.error(async (err) => {
      log.error({ err }, 'slack app error');
    });
  }

  return {
    name: PLATFORM,
    queue,
    stats,
    runDisplay,
    get botUserId() {
      return botUserId;
    },
    get lastReconcile() {
      return lastReconcile;
    },
    health() {
      if (stopping) return { ok: false, detail: 'stopping' };
      if (tokenRejected)
        return { ok: false, detail: `Slack refused the bot token (${tokenRejected}): replace SLACK_BOT_TOKEN and restart` };
      if (!app) return { ok: false, detail: 'not started' };
      if (socketMode) {
        const state = socket?.state ?? 'connecting';
        return state === 'connected' ? { ok: true, detail: 'Socket Mode connected' } : { ok: false, detail: `Socket Mode ${state}` };
      }
      return { ok: true, detail: `listening on ${this.url()}` };
    },
    url() {
      const a = server?.address() as AddressInfo | null | undefined;
      if (!a) throw new Error('the Slack HTTP receiver is not started');
      return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}${SLACK_EVENTS_PATH}`;
    },
    async idle() {
      while (inFlight.size) await Promise.allSettled([...inFlight]);
      await queue.drain();
    },
    async start() {
      // Fails fast with Slack's own reason (invalid_auth, …) before anything listens.
      const auth = await web.auth.test();
      botUserId = auth.user_id;
      botId = auth.bot_id;
      if (opts.db && !pruning) {
        // Retry dedupe rows are needed for minutes; without pruning the table grows forever.
        pruning = scheduleProcessedEventsPruning(opts.db, { log, ...opts.pruneProcessedEvents });
        await pruning.first;
      }
      const common = {
        token,
        botId: auth.bot_id,
        botUserId: auth.user_id,
        clientOptions,
        logger: slackLogger,
        logLevel: LogLevel.INFO,
        // Bots are filtered in onReaction (our own id, and other apps' bots via users.info), and every
        // delivery is counted there; Bolt's own filter would drop ours silently before that.
        ignoreSelf: false,
      };
      if (socketMode) {
        const receiver = new SocketModeReceiver({
          appToken: config.SLACK_APP_TOKEN!,
          logger: slackLogger,
          logLevel: LogLevel.INFO,
          installerOptions: { clientOptions },
          clientPingTimeout: opts.socketPingTimeoutMs,
        });
        socket = watchSocketMode(receiver.client, {
          gapMs: socketGapReconcileMs,
          isStopping: () => stopping,
          onBackAfterGap: (downMs) => {
            log.info({ downMs }, 'slack socket back after a long gap: reading back reactions given while it was down');
            track('reaction reconcile', () => reconciler.request());
          },
          onGaveUp: () => log.warn('slack socket disconnected and will not reconnect by itself'),
        });
        app = new App({ ...common, receiver });
        register(app);
        await app.start();
        runDisplay.start();
        log.info({ team: auth.team, bot: auth.user }, 'slack connected (Socket Mode)');
        track('reaction reconcile', () => reconciler.request());
        return;
      }
      const receiver = new HTTPReceiver({
        signingSecret: config.SLACK_SIGNING_SECRET!,
        endpoints: SLACK_EVENTS_PATH,
        // Respond as soon as ack() is called; the work continues after the response (3-second rule).
        processBeforeResponse: false,
        logger: slackLogger,
      });
      app = new App({ ...common, receiver });
      register(app);
      server = (await app.start({ port: config.SLACK_PORT ?? 3001, host: config.HOST ?? '127.0.0.1' }));
      runDisplay.start();
      log.info({ team: auth.team, bot: auth.user, url: this.url() }, 'slack app listening (HTTP mode)');
      // Slack retries an event for about an hour; reactions from a longer outage are read back here.
      track('reaction reconcile', () => reconciler.request());
    },
    async stop() {
      stopping = true;
      pruning?.stop();
      pruning = null;
      const settle = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(r, 5000).unref())]);
      await settle(Promise.allSettled([this.idle(), runDisplay.stop()]));
      if (server) {
        server.closeAllConnections();
        server = null;
      }
      if (app) await app.stop().catch((err: unknown) => log.warn({ err }, 'stopping the slack app failed'));
      app = null;
    },
  };
}

/** Web API errors meaning the token itself is no good (not a missing scope or a bad argument). */
const AUTH_ERRORS = new Set(['invalid_auth', 'not_authed', 'token_revoked', 'token_expired', 'account_inactive', 'no_permission_for_team']);

/** String option values arrive with Slack's entity escaping; people meant the characters. */
function decodeStrings(raw: RawOptions): RawOptions {
  const out: RawOptions = {};
  for (const [k, v] of Object.entries(raw)) out[k] = typeof v === 'string' ? decodeSlackEntities(v) : v;
  return out;
}

function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** Bolt and the WebClient log through pino, so their messages get the same redaction. */
function toSlackLogger(log: Logger): SlackLogger {
  const child = log.child({ lib: 'slack' });
  let level = LogLevel.INFO;
  const fmt = (msg: unknown[]) => msg.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' ');
  return {
    debug: (...m: unknown[]) => child.debug(fmt(m)),
    info: (...m: unknown[]) => child.info(fmt(m)),
    warn: (...m: unknown[]) => child.warn(fmt(m)),
    error: (...m: unknown[]) => child.error(fmt(m)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

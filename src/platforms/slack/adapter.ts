/**
 * The Slack app (@slack/bolt 5). It only translates, like the Discord bot: slash commands → the
 * shared handlers (commands-handler.ts), reactions → ratings (reaction-handler.ts), neutral messages
 * → Slack messages (outgoing.ts). This file builds the shared context, wires the handlers to the
 * receiver (receiver.ts), and starts and stops the app.
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
import type { Logger } from 'pino';
import type { Config } from '../../config';
import type { Db } from '../../db/connection';
import type { Services } from '../../core/services';
import {
  DEFAULT_RECONCILE_DAYS,
  processHolder,
  reconcileRecentMessages,
  reconcileScheduler,
  type ReconcileReport,
} from '../reaction-read-back';
import { RunDisplay } from '../run-display';
import type { ChatAdapter } from '../types';
import { botUserCheck, type BotUserCheck } from './bot-users';
import { createCommandHandler } from './commands-handler';
import { PLATFORM, type SlackContext, type SlackState } from './context';
import { slackRunThreads } from './run-threads';
import { dbEventClaimer, memoryEventClaimer, scheduleProcessedEventsPruning, type EventClaimer, type PruneSchedule } from './event-dedupe';
import { slackOutgoing } from './outgoing';
import { ChannelQueue } from './queue';
import { createReactionHandler } from './reaction-handler';
import { readSlackReactions } from './reactions';
import { receiverUrl, startSlackApp, type SlackRunning } from './receiver';
import { createSlackWebClient } from './web-client';

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
  /** How long the run display's claim on a run lasts without renewal (RunDisplayOptions.claimLeaseMs). */
  runDisplayLeaseMs?: number;
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
  const token = config.SLACK_BOT_TOKEN;
  if (!token) throw new Error('SLACK_BOT_TOKEN is required for Slack');
  const socketMode = Boolean(config.SLACK_APP_TOKEN);
  if (!socketMode && !config.SLACK_SIGNING_SECRET)
    throw new Error('SLACK_SIGNING_SECRET is required for Slack in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)');
  const state: SlackState = { stopping: false, tokenRejected: null };
  const queue = new ChannelQueue({ postIntervalMs: opts.postIntervalMs ?? 1000, log });
  const { web, clientOptions, slackLogger } = createSlackWebClient(config, token, log, state);
  const running: SlackRunning = { app: null, server: null, socket: null };
  let pruning: PruneSchedule | null = null;
  const inFlight = new Set<Promise<unknown>>();
  const track = (what: string, work: () => Promise<void>) => {
    const p = work().catch((err: unknown) => log.error({ err }, `slack ${what} failed`));
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  const out = slackOutgoing({ web, queue, services, log, state, sharePollMs: opts.sharePollMs ?? 400 });
  // Runs are shown from the outbox into their thread, re-attached by id (also after a restart).
  // Slack has no nonce: run messages carry their event key and are looked for before a repeat (findPosted).
  const runDisplay = new RunDisplay({
    platform: PLATFORM,
    services,
    log,
    pollMs: opts.runFeedPollMs,
    claimLeaseMs: opts.runDisplayLeaseMs,
    // A stored id is `C123` or `C123/1700000000.000100` (a thread). The run's notice goes to the
    // command's channel after its thread was opened: history from there on.
    conversation: (id, dest) => {
      const [channel, threadTs] = id.split('/') as [string, string | undefined];
      return out.conversation(channel, threadTs, dest.scopeId, threadTs ? 'the run’s thread' : undefined, dest.threadId?.split('/')[1]);
    },
    threads: slackRunThreads,
  });
  const ctx: SlackContext = {
    ...out,
    web,
    queue,
    services,
    log,
    state,
    track,
    runDisplay,
    clock: opts.clock ?? Date.now,
    claimer: opts.claimer ?? (opts.db ? dbEventClaimer(opts.db) : memoryEventClaimer()),
    stats: { commands: 0, events: 0, duplicates: 0 },
  };
  const isBotUser = botUserCheck(ctx);
  const handlers = { onCommand: createCommandHandler(ctx), onReaction: createReactionHandler(ctx, isBotUser) };

  const readBack = slackReadBack(ctx, config, isBotUser);

  return {
    name: PLATFORM,
    queue,
    stats: ctx.stats,
    runDisplay,
    get botUserId() {
      return state.botUserId;
    },
    get lastReconcile() {
      return readBack.last;
    },
    health() {
      if (state.stopping) return { ok: false, detail: 'stopping' };
      if (state.tokenRejected)
        return { ok: false, detail: `Slack refused the bot token (${state.tokenRejected}): replace SLACK_BOT_TOKEN and restart` };
      if (!running.app) return { ok: false, detail: 'not started' };
      if (socketMode) {
        const s = running.socket?.state ?? 'connecting';
        return s === 'connected' ? { ok: true, detail: 'Socket Mode connected' } : { ok: false, detail: `Socket Mode ${s}` };
      }
      return { ok: true, detail: `listening on ${this.url()}` };
    },
    url: () => receiverUrl(running.server),
    async idle() {
      while (inFlight.size) await Promise.allSettled([...inFlight]);
      await queue.drain();
    },
    async start() {
      // Fails fast with Slack's own reason (invalid_auth, …) before anything listens.
      const auth = await web.auth.test();
      state.botUserId = auth.user_id;
      state.botId = auth.bot_id;
      if (opts.db && !pruning) {
        // Retry dedupe rows are needed for minutes; without pruning the table grows forever.
        pruning = scheduleProcessedEventsPruning(opts.db, { log, ...opts.pruneProcessedEvents });
        await pruning.first;
      }
      const onBackAfterGap = (downMs: number) => {
        log.info({ downMs }, 'slack socket back after a long gap: reading back reactions given while it was down');
        track('reaction reconcile', () => readBack.request());
      };
      const receiverOptions = { config, token, clientOptions, slackLogger, onBackAfterGap };
      const socketOptions = { socketPingTimeoutMs: opts.socketPingTimeoutMs, socketGapReconcileMs: opts.socketGapReconcileMs ?? 60_000 };
      await startSlackApp(ctx, running, { ...receiverOptions, ...socketOptions }, handlers, auth);
      runDisplay.start();
      if (socketMode) log.info({ team: auth.team, bot: auth.user }, 'slack connected (Socket Mode)');
      else log.info({ team: auth.team, bot: auth.user, url: this.url() }, 'slack app listening (HTTP mode)');
      // Slack retries an event for about an hour; reactions from a longer outage are read back here.
      track('reaction reconcile', () => readBack.request());
    },
    async stop() {
      state.stopping = true;
      pruning?.stop();
      pruning = null;
      const settle = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(r, 5000).unref())]);
      await settle(Promise.allSettled([this.idle(), runDisplay.stop()]));
      if (running.server) {
        running.server.closeAllConnections();
        running.server = null;
      }
      if (running.app) await running.app.stop().catch((err: unknown) => log.warn({ err }, 'stopping the slack app failed'));
      running.app = null;
    },
  };
}

/**
 * The pass over recent messages' reactions that brings the ledger in line after the app was away: at
 * every start and after a long Socket Mode gap. Other apps' bots are left out, as on the live path.
 */
function slackReadBack(
  ctx: SlackContext,
  config: SlackAdapterOptions['config'],
  isBotUser: BotUserCheck,
): { request: () => Promise<void>; readonly last: ReconcileReport | null } {
  const { services, log, queue, web, state } = ctx;
  let last: ReconcileReport | null = null;
  // Who this process is when several share the read-back (one pass per platform across them).
  const readBackHolder = processHolder(PLATFORM);
  const reconciler = reconcileScheduler(async (neededSince) => {
    last = await reconcileRecentMessages({
      coordinate: { holder: readBackHolder, neededSince },
      platform: PLATFORM,
      services,
      log,
      days: config.REACTION_RECONCILE_DAYS ?? DEFAULT_RECONCILE_DAYS,
      read: (m) =>
        readSlackReactions(
          {
            reactionsGet: (args) => queue.run('reactions.get', 'call', () => web.reactions.get(args)),
            isBot: (u) => u === state.botUserId || isBotUser(u),
          },
          m,
        ),
      shouldStop: () => state.stopping || state.tokenRejected !== null,
      clock: ctx.clock,
      forbiddenHint: 'add the reactions:read scope (reinstall the app) and /invite the bot to those channels',
    });
  });
  return {
    request: () => reconciler.request(),
    get last() {
      return last;
    },
  };
}

/**
 * How Slack reaches the app: an HTTPReceiver (v0 request signatures) by default, or Socket Mode when
 * SLACK_APP_TOKEN is set — then readiness follows the socket, and after the socket comes back from a
 * long gap the reactions of recent messages are read back (events Slack could not deliver meanwhile
 * may never be retried). Either way the Bolt App routes slash commands and reaction events to the
 * handlers.
 */
import { registerRunActions } from './action-handler';
import { App, HTTPReceiver, LogLevel, SocketModeReceiver, type Logger as SlackLogger, type webApi } from '@slack/bolt';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../../config';
import type { CommandHandler } from './commands-handler';
import { SLACK_EVENTS_PATH, type SlackContext } from './context';
import type { ReactionEvent, ReactionHandler } from './reaction-handler';
import { watchSocketMode, type SocketWatch } from './socket-watch';

/** What runs once started; filled as it comes up (health reads it while it does). */
export interface SlackRunning {
  app: App | null;
  server: Server | null;
  /** Socket Mode only: the socket's state as the SocketModeClient reports it. */
  socket: SocketWatch | null;
}

export interface ReceiverOptions {
  config: Partial<Pick<Config, 'SLACK_SIGNING_SECRET' | 'SLACK_APP_TOKEN' | 'SLACK_PORT' | 'HOST'>>;
  token: string;
  clientOptions: webApi.WebClientOptions;
  slackLogger: SlackLogger;
  /** Socket Mode: how long to wait for a pong, and the base of the reconnect back-off. */
  socketPingTimeoutMs?: number;
  /** Socket Mode: a socket down at least this long calls onBackAfterGap when it returns. */
  socketGapReconcileMs: number;
  onBackAfterGap: (downMs: number) => void;
}

export async function startSlackApp(
  ctx: SlackContext,
  running: SlackRunning,
  o: ReceiverOptions,
  handlers: { onCommand: CommandHandler; onReaction: ReactionHandler },
  auth: { bot_id?: string; user_id?: string },
): Promise<void> {
  const common = {
    token: o.token,
    botId: auth.bot_id,
    botUserId: auth.user_id,
    clientOptions: o.clientOptions,
    logger: o.slackLogger,
    logLevel: LogLevel.INFO,
    // Bots are filtered in the reaction handler (our own id, and other apps' bots via users.info), and
    // every delivery is counted there; Bolt's own filter would drop ours silently before that.
    ignoreSelf: false,
  };
  if (o.config.SLACK_APP_TOKEN) {
    const receiver = new SocketModeReceiver({
      appToken: o.config.SLACK_APP_TOKEN,
      logger: o.slackLogger,
      logLevel: LogLevel.INFO,
      installerOptions: { clientOptions: o.clientOptions },
      clientPingTimeout: o.socketPingTimeoutMs,
    });
    running.socket = watchSocketMode(receiver.client, {
      gapMs: o.socketGapReconcileMs,
      isStopping: () => ctx.state.stopping,
      onBackAfterGap: o.onBackAfterGap,
      onGaveUp: () => ctx.log.warn('slack socket disconnected and will not reconnect by itself'),
    });
    running.app = new App({ ...common, receiver });
    register(ctx, running.app, handlers);
    await running.app.start();
    return;
  }
  const receiver = new HTTPReceiver({
    signingSecret: o.config.SLACK_SIGNING_SECRET!,
    endpoints: SLACK_EVENTS_PATH,
    // Respond as soon as ack() is called; the work continues after the response (3-second rule).
    processBeforeResponse: false,
    logger: o.slackLogger,
  });
  running.app = new App({ ...common, receiver });
  register(ctx, running.app, handlers);
  running.server = await running.app.start({ port: o.config.SLACK_PORT ?? 3001, host: o.config.HOST ?? '127.0.0.1' });
}

function register(ctx: SlackContext, a: App, handlers: { onCommand: CommandHandler; onReaction: ReactionHandler }): void {
  a.command(/^\/.+/, async ({ command, ack, respond }) => {
    await handlers.onCommand(command, ack, respond);
  });
  const onEvent =
    (kind: 'add' | 'remove') =>
    ({ event, body }: { event: unknown; body: unknown }): Promise<void> => {
      // Acked at once; the work is tracked (idle() waits for it) and counted when done.
      if (!ctx.state.stopping)
        ctx.track(`reaction ${kind}`, async () => {
          try {
            await handlers.onReaction(kind, event as ReactionEvent, body as never);
          } finally {
            ctx.stats.events++;
          }
        });
      return Promise.resolve();
    };
  registerRunActions(ctx, a, handlers.onCommand);
  a.event('reaction_added', onEvent('add'));
  a.event('reaction_removed', onEvent('remove'));
  a.error((err) => {
    ctx.log.error({ err }, 'slack app error');
    return Promise.resolve();
  });
}

/** The request URL Slack posts to (HTTP mode): http://host:port/slack/events. */
export function receiverUrl(server: Server | null): string {
  const a = server?.address() as AddressInfo | null | undefined;
  if (!a) throw new Error('the Slack HTTP receiver is not started');
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}${SLACK_EVENTS_PATH}`;
}

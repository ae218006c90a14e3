/**
 * What the Slack handlers share. The adapter (adapter.ts) builds one SlackContext and hands it to the
 * command and reaction handlers and the receiver, so none of them reaches into another's closure.
 * `state` is the part that changes while the app runs: who the bot is (known after auth.test),
 * whether it is stopping, and whether Slack refused its token.
 */
import type { Logger } from 'pino';
import type { Conversation, OutFile } from '../../../commands/kit/types';
import type { Services } from '../../core/services';
import type { RunDisplay } from '../run-display';
import type { EventClaimer } from './event-dedupe';
import type { ChannelQueue } from './queue';
import type { WebClient } from './web-client';

export const PLATFORM = 'slack';
export const SLACK_EVENTS_PATH = '/slack/events';

export interface SlackState {
  /** The bot's own user id and bot id (auth.test), once started. */
  botUserId?: string;
  botId?: string;
  stopping: boolean;
  /** Slack's error code once it refused the bot token (revoked, rotated, app uninstalled). */
  tokenRejected: string | null;
}

export interface SlackContext {
  web: WebClient;
  /** Every outgoing call goes through it: paced per channel, 429s retried after Retry-After. */
  queue: ChannelQueue;
  services: Services;
  log: Logger;
  /** ms since epoch; event times come from Slack's `event_ts` when present. */
  clock: () => number;
  /** "Have we handled this already?" for event and command redeliveries. */
  claimer: EventClaimer;
  state: SlackState;
  /** Deliveries fully handled so far. */
  stats: { commands: number; events: number; duplicates: number };
  /** Runs work after the ack, counted in idle(); a failure is logged as `slack ${what} failed`. */
  track: (what: string, work: () => Promise<void>) => void;
  runDisplay: RunDisplay;
  /** A channel (or a thread under it) to post into; `label` is how people are told where it is. */
  conversation: (
    channel: string,
    threadTs: string | undefined,
    scopeId: string | undefined,
    label?: string,
    sinceTs?: string,
  ) => Conversation;
  /** Extra files (charts, grids, exports): one files.uploadV2 call, shown in the channel / thread. */
  uploadFiles: (channel: string, threadTs: string | undefined, files: OutFile[], comment?: string) => Promise<void>;
}

/**
 * The real Slack app (Bolt HTTPReceiver + the real WebClient) wired to the fake Slack Web API, for
 * tests. Requests to the app are signed like Slack signs them (v0 HMAC-SHA256 over `v0:ts:body`).
 */
import { createHash, createHmac } from 'node:crypto';
import { findCommand } from '../../commands/index';
import { userKeyOf } from '../../src/core/identity';
import type { Services } from '../../src/core/services';
import type { Db } from '../../src/db/connection';
import { RATING_SLACK_NAMES } from '../../src/platforms/emoji';
import { createSlackAdapter, type SlackAdapter } from '../../src/platforms/slack/adapter';
import type { EventClaimer } from '../../src/platforms/slack/event-dedupe';
import { slackConversationId, slackMessageId } from '../../src/platforms/slack/text';
import { silentLogger, type Logger } from '../../src/log';
import { FakeSlack, type FakeSlackMessage } from '../fakes/slack-server';
import { EVENT_METADATA_TYPE } from '../../src/platforms/slack/event-marks';
import type { AdapterHarness, HarnessMessage } from '../platform-contract';
import { createFakeServices, type FakeServices, type FakeServicesOptions } from './services';
import { waitFor } from './wait';

export const SIGNING_SECRET = 'fake-signing-secret-0123456789abcdef';

/** The run event key a Slack message carries (event-marks.ts): its metadata, or the block_id of an image share's text. */
export function slackEventKey(m: Pick<FakeSlackMessage, 'metadata' | 'blocks'>): string | undefined {
  if (m.metadata?.event_type === EVENT_METADATA_TYPE) return String(m.metadata.event_payload.event_key);
  const mark = m.blocks?.find((b) => b.block_id?.startsWith(`${EVENT_METADATA_TYPE}:`))?.block_id;
  return mark?.slice(EVENT_METADATA_TYPE.length + 1);
}

export interface SignedResponse {
  status: number;
  text: string;
  /** How many Web API calls the fake had seen when this response arrived (ordering assertions). */
  callsSeenAtResponse: number;
}

export interface SlackHarness extends AdapterHarness {
  fake: FakeSlack;
  adapter: SlackAdapter;
  services: Services;
  idOf(user: string): string;
  /** Ephemeral answers that came back in the slash command's HTTP response (the ack). */
  ackReplies: { user: string; text: string }[];
  /** POSTs a signed body to the app; `ts` (seconds) and the signature can be overridden. */
  send(body: string, contentType: string, o?: { ts?: number; signature?: string; retryNum?: number }): Promise<SignedResponse>;
  /** Sends a signed slash command; by default resolves once the app has handled it (`wait: false`: once acked). */
  slash(user: string, name: string, text: string, o?: { triggerId?: string; wait?: boolean }): Promise<SignedResponse>;
  /** Stops the bot, lets reactions change meanwhile, starts it again and waits for its reconcile. */
  away: NonNullable<AdapterHarness['away']>;
  /** Sends a reaction event; resolves when the app has handled it. */
  reaction(
    kind: 'add' | 'remove',
    user: string,
    messageId: string,
    reaction: string,
    o?: { eventId?: string; retryNum?: number; eventTs?: string },
  ): Promise<SignedResponse>;
}

export interface SlackHarnessOptions {
  services?: Services;
  fakeServices?: FakeServicesOptions;
  db?: Db;
  claimer?: EventClaimer;
  log?: Logger;
  postIntervalMs?: number;
  /** The effective rating from the real core (TestCore.rating); default: the in-memory services' map. */
  rating?: (userKey: string, imageId: string) => Promise<number | null>;
}

export function sign(secret: string, ts: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`;
}

export async function openSlackHarness(opts: SlackHarnessOptions = {}): Promise<SlackHarness> {
  const services = opts.services ?? (await createFakeServices(opts.fakeServices));
  const fake = new FakeSlack();
  fake.shareDelayPolls = 1;
  await fake.start();
  const makeAdapter = () =>
    createSlackAdapter({
      config: {
        SLACK_BOT_TOKEN: fake.token,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: fake.apiUrl,
        SLACK_PORT: 0,
        HOST: '127.0.0.1',
      },
      services,
      log: opts.log ?? silentLogger,
      db: opts.db,
      claimer: opts.claimer,
      postIntervalMs: opts.postIntervalMs ?? 20,
      sharePollMs: 5,
    });
  let adapter = makeAdapter();
  await adapter.start();
  await waitFor(() => adapter.lastReconcile, 'the startup reconcile');

  const idOf = (user: string) => `U${createHash('sha256').update(user).digest('hex').slice(0, 9).toUpperCase()}`;
  const ackReplies: SlackHarness['ackReplies'] = [];
  let triggers = 0;
  let events = 0;
  // Event times as Slack stamps them: the wall clock (seconds.microseconds), strictly increasing, so
  // a reconcile and live events order the way they happened.
  let lastEventMs = 0;
  const nextEventTs = () => {
    lastEventMs = Math.max(lastEventMs + 1, Date.now());
    return `${Math.floor(lastEventMs / 1000)}.${String((lastEventMs % 1000) * 1000).padStart(6, '0')}`;
  };

  const send: SlackHarness['send'] = async (body, contentType, o = {}) => {
    const ts = o.ts ?? Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      'content-type': contentType,
      'x-slack-request-timestamp': String(ts),
      'x-slack-signature': o.signature ?? sign(SIGNING_SECRET, ts, body),
    };
    if (o.retryNum !== undefined) {
      headers['x-slack-retry-num'] = String(o.retryNum);
      headers['x-slack-retry-reason'] = 'http_timeout';
    }
    const res = await fetch(adapter.url(), { method: 'POST', headers, body });
    const text = await res.text();
    return { status: res.status, text, callsSeenAtResponse: fake.calls.length };
  };

  const slash: SlackHarness['slash'] = async (user, name, text, o = {}) => {
    const triggerId = o.triggerId ?? `trig${++triggers}.${Date.now()}`;
    const form = new URLSearchParams({
      token: 'deprecated-verification-token',
      team_id: fake.teamId,
      team_domain: 'fake',
      channel_id: fake.channelId,
      channel_name: 'general',
      user_id: idOf(user),
      user_name: user,
      command: `/${name}`,
      text,
      api_app_id: 'A0FAKE',
      is_enterprise_install: 'false',
      response_url: fake.responseUrl(triggerId),
      trigger_id: triggerId,
    }).toString();
    const before = adapter.stats.commands;
    const res = await send(form, 'application/x-www-form-urlencoded');
    if (res.text) {
      const body = JSON.parse(res.text) as { text?: string };
      if (body.text) ackReplies.push({ user, text: body.text });
    }
    if (o.wait === false) return res;
    if (res.status === 200) await waitFor(() => adapter.stats.commands > before, `/${name} to be handled`);
    await adapter.idle();
    return res;
  };

  const reaction: SlackHarness['reaction'] = async (kind, user, messageId, name, o = {}) => {
    const [channel, ts] = messageId.split(':') as [string, string];
    fake.setReaction(kind, user.startsWith('U') ? user : idOf(user), channel, ts, name);
    const eventTs = o.eventTs ?? nextEventTs();
    const envelope = {
      token: 'deprecated',
      team_id: fake.teamId,
      api_app_id: 'A0FAKE',
      type: 'event_callback',
      event_id: o.eventId ?? `Ev${++events}${Date.now()}`,
      event_time: Number(eventTs.split('.')[0]),
      authorizations: [{ team_id: fake.teamId, user_id: fake.botUserId, is_bot: true }],
      event: {
        type: kind === 'add' ? 'reaction_added' : 'reaction_removed',
        user: user.startsWith('U') ? user : idOf(user),
        reaction: name,
        item: { type: 'message', channel, ts },
        item_user: fake.botUserId,
        event_ts: eventTs,
      },
    };
    const before = adapter.stats.events;
    const res = await send(JSON.stringify(envelope), 'application/json', { retryNum: o.retryNum });
    if (res.status === 200) await waitFor(() => adapter.stats.events > before, 'the reaction event to be handled');
    await adapter.idle();
    return res;
  };

  /** A signed block_actions payload, as Slack sends a click on a control of message `messageId`; resolves once handled. */
  const blockAction = async (user: string, messageId: string, action: Record<string, unknown>): Promise<string> => {
    const [channel, ts] = messageId.split(':') as [string, string];
    const m = fake.find(channel, ts);
    const triggerId = `trig${++triggers}.${Date.now()}`;
    const payload = {
      type: 'block_actions',
      user: { id: idOf(user), username: user, name: user, team_id: fake.teamId },
      api_app_id: 'A0FAKE',
      token: 'deprecated-verification-token',
      container: { type: 'message', message_ts: ts, channel_id: channel, is_ephemeral: false },
      trigger_id: triggerId,
      team: { id: fake.teamId, domain: 'fake' },
      channel: { id: channel, name: 'general' },
      message: { type: 'message', ts, ...(m?.threadTs ? { thread_ts: m.threadTs } : {}), text: m?.text ?? '' },
      response_url: fake.responseUrl(triggerId),
      actions: [{ action_ts: nextEventTs(), ...action }],
    };
    const before = adapter.stats.events;
    const res = await send(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), 'application/x-www-form-urlencoded');
    if (res.status !== 200) throw new Error(`block action refused: ${res.status} ${res.text}`);
    await waitFor(() => adapter.stats.events > before, 'the block action to be handled');
    await adapter.idle();
    return triggerId;
  };
  type Block = { type: string; block_id?: string; elements?: { action_id?: string; value?: string; options?: { value: string }[] }[] };
  const controlsOf = (m: FakeSlackMessage) =>
    ((m.blocks ?? []) as Block[]).flatMap((b) => (b.type === 'actions' ? (b.elements ?? []) : []));

  const userKey = (user: string) => userKeyOf({ platform: 'slack', workspaceId: fake.teamId, userId: idOf(user) });
  const optionText = (name: string, o: Record<string, string | number>) =>
    Object.entries(o)
      .map(([k, v]) => {
        const spec = findCommand(name)?.options.find((s) => s.name === k);
        if (spec?.type === 'user') return `${k}:<@${idOf(String(v))}|${v}>`;
        return typeof v === 'string' && /\s/.test(v) ? `${k}:"${v}"` : `${k}:${v}`;
      })
      .join(' ');

  const messages = async (): Promise<HarnessMessage[]> => {
    const fromApi = fake.messages.map((m) => {
      const id = slackMessageId(m.channel, m.ts);
      return {
        id,
        conversationId: m.channel === 'response_url' ? fake.channelId : slackConversationId(m.channel, m.threadTs),
        text: m.text,
        imageId: null as string | null,
        rateable: RATING_SLACK_NAMES.every((n) => m.reactions.get(n)?.has(fake.botUserId)),
        ephemeral: Boolean(m.ephemeralFor),
        edits: m.edits,
        files: m.files.map((f) => fake.fileName(f) ?? f),
        tiles: controlsOf(m)
          .filter((e) => e.action_id === 'tl_tile')
          .map((e) => e.options![0]!.value.split('|')[1]!),
        picks: controlsOf(m).filter((e) => e.action_id?.startsWith('tl_pick_')).length,
      };
    });
    // Which image a message carries, as the adapter recorded it (platform_messages).
    for (const m of fromApi) m.imageId = (await services.messages.lookup('slack', m.id))?.imageId ?? null;
    const fromAcks = ackReplies.map((a, i) => ({
      id: `ack${i}`,
      conversationId: fake.channelId,
      text: a.text,
      imageId: null,
      rateable: false,
      ephemeral: true,
      edits: 0,
    }));
    return [...fromApi, ...fromAcks];
  };

  return {
    fake,
    services,
    idOf,
    ackReplies,
    send,
    slash,
    reaction,
    messages,
    get adapter() {
      return adapter;
    },
    health: () => adapter.health(),
    away: async (during) => {
      await adapter.stop();
      // While the app is down reactions change on Slack and their events are never delivered (a
      // longer outage than Slack's hour of retries).
      await during({
        rate: (user, messageId, score) => {
          const [channel, ts] = messageId.split(':') as [string, string];
          fake.setReaction('add', idOf(user), channel, ts, RATING_SLACK_NAMES[score - 1]!);
        },
        unrate: (user, messageId, score) => {
          const [channel, ts] = messageId.split(':') as [string, string];
          fake.setReaction('remove', idOf(user), channel, ts, RATING_SLACK_NAMES[score - 1]!);
        },
        deleteMessage: (messageId) => {
          const [channel, ts] = messageId.split(':') as [string, string];
          fake.deleteMessage(channel, ts);
        },
      });
      adapter = makeAdapter();
      await adapter.start();
      await waitFor(() => adapter.lastReconcile, 'the reconcile after the restart');
      await adapter.idle();
      return adapter.lastReconcile!;
    },
    channelId: fake.channelId,
    command: async (user, name, o = {}) => void (await slash(user, name, optionText(name, o))),
    threadIds: async () => [
      ...new Set(fake.messages.filter((m) => m.threadTs && !m.ephemeralFor).map((m) => slackConversationId(m.channel, m.threadTs))),
    ],
    tile: async (user, messageId, imageId, choice) => {
      const block = ((fake.find(...(messageId.split(':') as [string, string]))?.blocks ?? []) as Block[]).find((b) =>
        b.elements?.some((e) => e.action_id === 'tl_tile' && e.options?.some((o) => o.value === `${choice}|${imageId}`)),
      );
      if (!block) throw new Error(`no tile control for ${imageId} on ${messageId}`);
      const value = `${choice}|${imageId}`;
      await blockAction(user, messageId, {
        type: 'static_select',
        action_id: 'tl_tile',
        block_id: block.block_id,
        selected_option: { text: { type: 'plain_text', text: choice }, value },
      });
    },
    pick: async (user, messageId, number) => {
      const m = fake.find(...(messageId.split(':') as [string, string]));
      const button = m && controlsOf(m).find((e) => e.action_id === `tl_pick_${number}`);
      if (!button) throw new Error(`no pick button ${number} on ${messageId}`);
      const trigger = await blockAction(user, messageId, {
        type: 'button',
        action_id: button.action_id,
        block_id: 'tl_pick',
        value: button.value,
      });
      return fake.messages.find((r) => r.channel === 'response_url' && r.ephemeralFor === trigger)?.text;
    },
    picksOf: async (user) => (await services.picks!.list(userKey(user))).map((p) => ({ winner: p.winner, losers: p.losers })),
    details: async (user, messageId) => {
      const m = fake.find(...(messageId.split(':') as [string, string]));
      const button = m && controlsOf(m).find((e) => e.action_id === 'tl_details');
      if (!button) return undefined;
      const trigger = await blockAction(user, messageId, {
        type: 'button',
        action_id: 'tl_details',
        block_id: 'tl_details',
        value: button.value,
      });
      return fake.messages.find((r) => r.channel === 'response_url' && r.ephemeralFor === trigger)?.text;
    },
    rate: async (user, messageId, score) => void (await reaction('add', user, messageId, RATING_SLACK_NAMES[score - 1]!)),
    unrate: async (user, messageId, score) => void (await reaction('remove', user, messageId, RATING_SLACK_NAMES[score - 1]!)),
    userKey,
    rating: async (user, imageId) => {
      if (opts.rating) return opts.rating(userKey(user), imageId);
      return (services as FakeServices).ratingsMap.get(`${userKey(user)}|${imageId}`) ?? null;
    },
    close: async () => {
      await adapter.stop();
      await fake.stop();
    },
  };
}

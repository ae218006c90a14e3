/**
 * What the Discord handlers share: the client, the core's services, and the way out — a channel or
 * thread written to with the bot token. The adapter (adapter.ts) builds one DiscordContext and hands
 * it to the command and reaction handlers, so none of them reaches into another's closure.
 */
import { Routes, type Client, type PartialUser, type RawFile, type User } from 'discord.js';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { PersonRef } from '../../core/identity';
import type { Services } from '../../core/services';
import { RATING_EMOJI } from '../emoji';
import { recordPosted } from '../record';
import type { RunDisplay } from '../run-display';
import type { Conversation, OutMessage } from '../../../commands/kit/types';
import { componentsFor } from './components';
import { encodeForUpload } from './upload';

export const PLATFORM = 'discord';
const MAX_CONTENT = 2000;
export const NO_MENTIONS = { parse: [] as never[] };

export interface DiscordContext {
  client: Client;
  services: Services;
  log: Logger;
  /** ms since epoch (tests age interactions with it). */
  clock: () => number;
  runDisplay: RunDisplay;
  /** A channel or thread, written to with the bot token (valid for as long as the bot runs). */
  conversation: (channelId: string, scopeId: string | undefined) => Conversation;
  /** A message as Discord's REST body, with its image and files as attachments. */
  messageBody: (msg: OutMessage) => Promise<{ body: Record<string, unknown>; files?: RawFile[] }>;
}

/** The outgoing half of a DiscordContext: how a neutral message becomes a Discord post. */
export function discordOutgoing(client: Client, services: Services): Pick<DiscordContext, 'conversation' | 'messageBody'> {
  async function messageBody(msg: OutMessage): Promise<{ body: Record<string, unknown>; files?: RawFile[] }> {
    const body: Record<string, unknown> = { content: truncate(msg.text), allowed_mentions: NO_MENTIONS };
    // A grid's tile menus and a summary's Details button (components.ts).
    const components = componentsFor(msg);
    if (components) body.components = components;
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
    // Charts, grids and exports ride along as further attachments.
    for (const f of msg.files ?? []) files.push({ name: f.name, data: f.data, contentType: f.contentType });
    if (!files.length) return { body };
    body.attachments = files.map((f, id) => ({ id, filename: f.name }));
    return { body, files };
  }

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
      async remove(messageId) {
        await client.rest.delete(Routes.channelMessage(channelId, messageId)).catch((err: unknown) => {
          // Unknown Message: deleted already (by a person, or by this bot before a restart).
          if ((err as { code?: number }).code !== 10008) throw err;
        });
      },
    };
  }

  return { messageBody, conversation };
}

export function personOf(u: User | PartialUser): PersonRef {
  return { platform: PLATFORM, userId: u.id, displayName: u.globalName ?? u.username ?? undefined };
}

/** Discord nonces are at most 25 characters: a digest of the event key. */
export function nonceFor(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 25);
}

function truncate(text: string): string {
  return text.length > MAX_CONTENT ? `${text.slice(0, MAX_CONTENT - 1)}…` : text;
}

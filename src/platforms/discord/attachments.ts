/**
 * Rating an image a person posted: where the server turned it on (scope_settings.ingest_attachments),
 * a rating reaction on a message the bot did not record ingests the message's PNG/JPEG/WebP
 * attachment into the image store and records the message, so the reaction (and later ones) rate it.
 */
import { Routes, type MessageReaction, type PartialMessageReaction } from 'discord.js';
import { userKeyOf } from '../../core/identity';
import type { KnownMessage } from '../reactions';
import { PLATFORM, type DiscordContext } from './context';

export interface AttachmentIngestOptions {
  /** Whether the server turned attachment ingest on; absent = off everywhere. */
  enabled?: (scopeId: string) => Promise<boolean>;
  /** The bot runs with the Message Content intent (without it Discord sends no attachments). */
  messageContent: boolean;
}

/** Returns the ingest step for one reaction's message: what it recorded, or undefined when it did not. */
export function attachmentIngester(
  ctx: Pick<DiscordContext, 'client' | 'services' | 'log'>,
  opts: AttachmentIngestOptions,
): (reaction: MessageReaction | PartialMessageReaction) => Promise<KnownMessage | undefined> {
  const { client, services, log } = ctx;
  /** Servers already told that their opt-in needs DISCORD_MESSAGE_CONTENT (said once per server). */
  const toldNoMessageContent = new Set<string>();

  return async function ingestAttachment(reaction) {
    const scopeId = reaction.message.guildId;
    if (!scopeId || !opts.enabled || !(await opts.enabled(scopeId))) return undefined;
    if (!opts.messageContent) {
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
  };
}

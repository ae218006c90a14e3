/**
 * A gateway reaction event → the one rating path (../reactions.ts). Discord's part is small: its own
 * and other bots' reactions are dropped here, and a rating on a message the bot never recorded may
 * ingest the message's attachment (attachments.ts).
 */
import type { MessageReaction, PartialMessageReaction, PartialUser, User } from 'discord.js';
import { applyRatingGesture, type GestureOutcome } from '../reactions';
import { attachmentIngester, type AttachmentIngestOptions } from './attachments';
import { PLATFORM, personOf, type DiscordContext } from './context';

export type ReactionHandler = (
  kind: 'add' | 'remove',
  reaction: MessageReaction | PartialMessageReaction,
  user: User | PartialUser,
) => Promise<GestureOutcome | 'bot'>;

export function createReactionHandler(ctx: DiscordContext, ingest: AttachmentIngestOptions): ReactionHandler {
  const { client, services, log } = ctx;
  const ingestAttachment = attachmentIngester(ctx, ingest);
  return async function onReaction(kind, reaction, user) {
    if (user.id === client.user?.id || user.bot) return 'bot';
    const message = reaction.message;
    // Gateway events are never resent: applyRatingGesture retries a passing storage failure.
    return applyRatingGesture(
      services,
      {
        kind,
        person: personOf(user),
        platform: PLATFORM,
        messageId: message.id,
        channelId: message.channelId,
        scopeId: message.guildId ?? undefined,
        emoji: { name: reaction.emoji.name, id: reaction.emoji.id },
        eventTime: new Date(ctx.clock()),
      },
      { log, what: 'rating from a Discord reaction', hooks: { adoptUnknown: () => ingestAttachment(reaction) } },
    );
  };
}

/**
 * A reaction_added / reaction_removed event → the one rating path (../reactions.ts). Slack's part:
 * its own reactions are dropped at once, other apps' bots only once the message is known (most
 * reactions are on other messages and need no users.info call), and the event is claimed by its
 * event_id so that Slack's redelivery of an event it thinks we missed applies nothing twice.
 */
import { userKeyOf, type PersonRef } from '../../core/identity';
import { applyRatingGesture, type GestureOutcome } from '../reactions';
import type { BotUserCheck } from './bot-users';
import { PLATFORM, type SlackContext } from './context';
import { slackMessageId, tsToDate } from './text';

export interface ReactionEvent {
  user: string;
  reaction: string;
  item: { type: string; channel?: string; ts?: string };
  event_ts?: string;
}

export type ReactionHandler = (
  kind: 'add' | 'remove',
  event: ReactionEvent,
  envelope: { team_id?: string; event_id?: string },
) => Promise<GestureOutcome | 'not-a-message' | 'bot'>;

export function createReactionHandler(ctx: SlackContext, isBotUser: BotUserCheck): ReactionHandler {
  const { services, log, claimer, stats } = ctx;
  return async function onReaction(kind, event, envelope) {
    if (event.item.type !== 'message' || !event.item.channel || !event.item.ts) return 'not-a-message';
    if (event.user === ctx.state.botUserId) return 'bot';
    const channel = event.item.channel;
    const messageId = slackMessageId(channel, event.item.ts);
    const person: PersonRef = { platform: PLATFORM, workspaceId: envelope.team_id, userId: event.user };
    // Slack redelivers an event it thinks we missed (X-Slack-Retry-Num), with the same event_id.
    const eventKey = envelope.event_id
      ? `slack:event:${envelope.event_id}`
      : `slack:reaction:${kind}:${messageId}:${event.user}:${event.reaction}:${event.event_ts}`;
    // The event was acked already, so Slack will not resend it: applyRatingGesture retries a passing failure.
    const outcome = await applyRatingGesture(
      services,
      {
        kind,
        person,
        platform: PLATFORM,
        messageId,
        channelId: channel,
        scopeId: envelope.team_id,
        emoji: event.reaction,
        eventTime: tsToDate(event.event_ts) ?? new Date(ctx.clock()),
      },
      {
        log,
        what: 'rating from a Slack reaction',
        hooks: {
          admit: async () => !(await isBotUser(event.user)),
          once: { claim: () => claimer.claim(eventKey, userKeyOf(person)), release: () => claimer.release(eventKey) },
        },
      },
    );
    if (outcome === 'duplicate') stats.duplicates++;
    return outcome;
  };
}

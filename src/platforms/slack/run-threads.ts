/**
 * How a made-for-you run's thread opens on Slack (run-thread.ts): a thread is the replies to a parent
 * message, its id the parent's channel and ts — nothing to create, and the same parent always gives
 * the same thread.
 */
import type { ThreadOpener } from '../run-thread';
import { parseSlackMessageId, slackConversationId } from './text';

/** Web API errors after which the channel takes no posts from the bot (gone, archived, not a member, not allowed). */
const UNREACHABLE_ERRORS = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'restricted_action',
  'no_permission',
  'access_denied',
  'missing_scope',
]);

export const slackRunThreads: ThreadOpener = {
  threadOn: ({ messageId }) => {
    const { channel, ts } = parseSlackMessageId(messageId);
    return Promise.resolve(slackConversationId(channel, ts));
  },
  unreachable: (err) => UNREACHABLE_ERRORS.has((err as { data?: { error?: string } }).data?.error ?? ''),
};

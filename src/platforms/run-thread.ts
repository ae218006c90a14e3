/**
 * Opens the thread of a run that has none yet: a made-for-you run, started by the weekly worker
 * (core/made-for-you.ts) rather than by a command, which opens its own thread (run-presenter.ts).
 * Only the process holding the run's display claim gets here (run-display.ts), and it:
 * 1. posts the parent message in the channel the person opted in from, under the event key
 *    `${runId}:made-for-you` — exactly once, like every run message: found again by its key after a
 *    restart (platform_messages, or Conversation.findPosted while catching up; Discord's nonce);
 * 2. opens the thread on that parent (RunDisplayOptions.threadOn). The same parent always gives the
 *    same thread — Discord: a message's thread has the message's id and cannot be started twice;
 *    Slack: the thread is the parent's ts; playground: the thread hangs on its parent message;
 * 3. stores the thread on the run with a conditional update BEFORE anything is posted into it
 *    (messages.attachRunThread): of two processes that got this far, the first one's thread stays.
 * A channel that takes no posts at all (deleted, archived, no permission: RunDisplayOptions.unreachable)
 * fails with ChannelUnavailableError, which RunDisplay answers by giving the run up.
 */
import { ChannelUnavailableError } from '../core/errors';
import type { MadeForYouPost } from '../core/made-for-you';
import type { Services } from '../core/services';
import { quoteUserText } from '../../commands/kit/format';
import type { Conversation, OutMessage } from '../../commands/kit/types';

/** The platform's part in opening a run's thread (see RunDisplayOptions). */
export interface ThreadOpener {
  /** The thread on a parent message this bot posted (opened now, or the one opened before): its conversation id. */
  threadOn(parent: { channelId: string; messageId: string; title: string }): Promise<string>;
  /** Whether a failed post means the channel takes no posts at all (gone, no permission) rather than "try again later". */
  unreachable?(err: unknown): boolean;
  /** How the parent message names the person (Discord `<@id>`; default: their name). */
  mention?(userId: string, displayName: string): string;
}

export interface OpenRunThread {
  runId: string;
  platform: string;
  services: Services;
  /** The channel the run's parent message goes to. */
  channel: Conversation;
  dest: { channelId: string; title?: string; madeForYou: MadeForYouPost };
  opener: ThreadOpener;
  /** Look for a parent posted before a crash but never recorded (the run is being caught up with). */
  recovering: boolean;
}

export const madeForYouParentKey = (runId: string): string => `${runId}:made-for-you`;

/** The thread's id, stored on the run; throws ChannelUnavailableError when the channel takes no posts. */
export async function openRunThread(o: OpenRunThread): Promise<string> {
  const { services, platform, dest, opener } = o;
  const key = madeForYouParentKey(o.runId);
  try {
    const parent = parentMessage(o.runId, dest.madeForYou, opener);
    let parentId = (await services.messages.byEventKey(platform, key))?.messageId;
    if (!parentId && o.recovering && o.channel.findPosted) parentId = await o.channel.findPosted({ ...parent, idempotencyKey: key });
    parentId ??= await o.channel.post({ ...parent, idempotencyKey: key });
    const title = dest.title ?? `Made for you, ${dest.madeForYou.displayName}`;
    const threadId = await opener.threadOn({ channelId: dest.channelId, messageId: parentId, title });
    if (!services.messages.attachRunThread) {
      await services.runs.setDestination(o.runId, { threadId });
      return threadId;
    }
    return (await services.messages.attachRunThread(o.runId, threadId)) ?? threadId;
  } catch (err) {
    if (opener.unreachable?.(err))
      throw new ChannelUnavailableError(`the bot cannot post in channel ${dest.channelId} (${String(err)})`, { cause: err });
    throw err;
  }
}

/** What the channel sees: whom the run is for, where it starts, how to teach it and how to stop it. */
function parentMessage(runId: string, post: MadeForYouPost, opener: ThreadOpener): OutMessage {
  const who = opener.mention?.(post.userId, post.displayName) ?? post.displayName;
  return {
    kind: 'info',
    runId,
    userText: true,
    text:
      `🎁 **Made for you, ${who}**: a short run from your top-rated image ${quoteUserText(post.prompt, 300)} — ` +
      'rate the results in the thread to teach it more. Stop these with `/suggest weekly:off`.',
  };
}

/** What the person is told on their next /suggest when the channel took no posts (with the logged reference). */
export function notPostedReason(referenceId: string): string {
  return (
    `I could not post it in the channel where you turned it on — the channel is gone or I may not post there (reference ${referenceId}). ` +
    'Turn it on again with /suggest weekly:on in a channel where I can post.'
  );
}

/**
 * Finding run messages this app posted before a restart: a thread's replies (conversations.replies)
 * or a channel's history since a point (conversations.history), read with their metadata
 * (include_all_metadata) into a PostedIndex. A crash between a post and its record then leaves no copy.
 */
import type { Logger } from 'pino';
import type { SlackState } from './context';
import { PostedIndex, type HistoryMessage } from './event-marks';
import type { ChannelQueue } from './queue';
import type { WebClient } from './web-client';

/** Pages of history read at most when looking for lost posts (200 messages each). */
const RECOVERY_PAGES = 25;

export type PostedIndexReader = (
  channel: string,
  threadTs: string | undefined,
  sinceTs: string | undefined,
) => Promise<PostedIndex | undefined>;

/**
 * Returns the reader: this app's marked messages in a thread or a channel since `sinceTs`. Undefined
 * when Slack refuses (a missing history scope): then nothing can be found and posts go out as before.
 */
export function postedIndexReader(deps: { web: WebClient; queue: ChannelQueue; log: Logger; state: SlackState }): PostedIndexReader {
  const { web, queue, log, state } = deps;
  let historyScopeWarned = false;
  const isOwn = (m: HistoryMessage) =>
    (state.botUserId !== undefined && m.user === state.botUserId) || (state.botId !== undefined && m.bot_id === state.botId);

  return async function readPostedIndex(channel, threadTs, sinceTs) {
    const index = new PostedIndex();
    let cursor: string | undefined;
    try {
      for (let page = 0; page < RECOVERY_PAGES; page++) {
        const res = (await queue.run(channel, 'call', () =>
          threadTs
            ? web.conversations.replies({ channel, ts: threadTs, include_all_metadata: true, limit: 200, ...(cursor ? { cursor } : {}) })
            : web.conversations.history({
                channel,
                include_all_metadata: true,
                limit: 200,
                ...(sinceTs ? { oldest: sinceTs, inclusive: true } : {}),
                ...(cursor ? { cursor } : {}),
              }),
        )) as { messages?: HistoryMessage[]; has_more?: boolean; response_metadata?: { next_cursor?: string } };
        index.add(res.messages ?? [], isOwn);
        cursor = res.response_metadata?.next_cursor || undefined;
        if (!res.has_more || !cursor) return index;
      }
      log.warn(
        { channel, threadTs, pages: RECOVERY_PAGES },
        'looked through the most recent history only for run messages posted before a restart',
      );
      return index;
    } catch (err) {
      const code = (err as { data?: { error?: string } }).data?.error;
      if (code === 'missing_scope') {
        if (!historyScopeWarned) {
          historyScopeWarned = true;
          log.warn(
            { error: code },
            'could not read the conversation history to find run messages posted before a restart: a crash right after a post may show it twice. Add the channels:history and groups:history scopes (reinstall the app).',
          );
        }
      } else {
        log.warn(
          { err, channel, threadTs },
          'could not read the conversation history to find run messages posted before a restart; posting them again',
        );
      }
      return undefined;
    }
  };
}

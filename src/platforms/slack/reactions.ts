/**
 * Reading a message's rating reactions back over Slack's Web API, for reconciling after the app was
 * away (src/platforms/reaction-read-back.ts): `reactions.get` with `full=true` lists every reacting user. Bots
 * and other apps are left out, as on the live path. A person's workspace is the one the message was
 * posted in (Slack user ids are unique only per workspace); without it the message is skipped rather
 * than an identity guessed.
 */
import type { PersonRef } from '../../core/identity';
import type { ObservedVotes } from '../../core/reaction-sync';
import type { RateableMessage } from '../../core/services';
import { emojiToRating } from '../emoji';

export interface SlackReactionDeps {
  /** reactions.get through the app's rate-limit queue. */
  reactionsGet(args: { channel: string; timestamp: string; full: true }): Promise<unknown>;
  isBot(userId: string): boolean | Promise<boolean>;
}

/** The message no longer exists, or the app may not read it (a scope or channel membership is missing). */
const GONE_ERRORS = new Set(['message_not_found', 'channel_not_found', 'is_archived', 'no_item_specified']);
const FORBIDDEN_ERRORS = new Set(['not_in_channel', 'missing_scope', 'access_denied', 'no_permission']);

export async function readSlackReactions(deps: SlackReactionDeps, m: RateableMessage): Promise<ObservedVotes[] | 'gone' | 'forbidden'> {
  const workspaceId = m.scopeId;
  if (!workspaceId) return 'gone';
  const ts = m.messageId.slice(m.messageId.indexOf(':') + 1);
  let res: { message?: { reactions?: { name?: string; users?: string[] }[] } };
  try {
    res = (await deps.reactionsGet({ channel: m.channelId, timestamp: ts, full: true })) as typeof res;
  } catch (err) {
    const code = (err as { data?: { error?: string } }).data?.error;
    if (code && GONE_ERRORS.has(code)) return 'gone';
    if (code && FORBIDDEN_ERRORS.has(code)) return 'forbidden';
    throw err;
  }
  const people = new Map<string, { person: PersonRef; scores: Set<number> }>();
  for (const r of res.message?.reactions ?? []) {
    const rating = emojiToRating(r.name);
    if (rating === null) continue;
    for (const user of r.users ?? []) {
      if (await deps.isBot(user)) continue;
      const entry = people.get(user) ?? { person: { platform: 'slack', workspaceId, userId: user }, scores: new Set<number>() };
      entry.scores.add(rating);
      people.set(user, entry);
    }
  }
  return [...people.values()];
}

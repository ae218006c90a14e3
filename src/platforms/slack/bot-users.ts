/**
 * Other apps' bot users react too; they never rate. Whether a user is a bot is asked of users.info
 * once per user (a failed answer is not kept: the user counts as a person and is asked again later).
 */
import type { SlackContext } from './context';

/** At most this many users are remembered; the oldest goes first. */
const MAX_CACHED = 10_000;

export type BotUserCheck = (userId: string) => Promise<boolean>;

export function botUserCheck(ctx: Pick<SlackContext, 'web' | 'queue' | 'log' | 'state'>): BotUserCheck {
  const { web, queue, log, state } = ctx;
  const botCache = new Map<string, Promise<boolean>>();
  return function isBotUser(userId) {
    if (userId === state.botUserId || userId === 'USLACKBOT') return Promise.resolve(true);
    let p = botCache.get(userId);
    if (!p) {
      p = queue
        .run('users.info', 'call', () => web.users.info({ user: userId }))
        .then((r) => Boolean(r.user?.is_bot || r.user?.is_app_user))
        .catch((err: unknown) => {
          botCache.delete(userId);
          log.warn({ err, userId }, 'users.info failed; treating the reacting user as a person');
          return false;
        });
      botCache.set(userId, p);
      if (botCache.size > MAX_CACHED) botCache.delete(botCache.keys().next().value as string);
    }
    return p;
  };
}

/**
 * Reading a message's rating reactions back over Discord's REST API, for reconciling after the bot
 * was away (src/platforms/reaction-read-back.ts): GET the message for its reaction counts, then the users of
 * each rating emoji, 100 per page, normal and burst ("super") reactions alike. Bots — this one
 * included — are left out, as on the live path.
 */
import { Routes, type REST } from 'discord.js';
import type { PersonRef } from '../../core/identity';
import type { ObservedVotes } from '../../core/reaction-sync';
import type { RateableMessage } from '../../core/services';
import { emojiToRating } from '../emoji';

interface DiscordReaction {
  emoji: { id: string | null; name: string | null };
  count: number;
  count_details?: { burst: number; normal: number };
  me: boolean;
  me_burst?: boolean;
}

interface ReactionUser {
  id: string;
  bot?: boolean;
  username?: string;
  global_name?: string | null;
}

const PAGE = 100;

export async function readDiscordReactions(
  rest: Pick<REST, 'get'>,
  botUserId: string | undefined,
  m: RateableMessage,
): Promise<ObservedVotes[] | 'gone' | 'forbidden'> {
  let raw: { reactions?: DiscordReaction[] };
  try {
    raw = (await rest.get(Routes.channelMessage(m.channelId, m.messageId))) as typeof raw;
  } catch (err) {
    const why = unreachable(err);
    if (why) return why;
    throw err;
  }
  const people = new Map<string, { person: PersonRef; scores: Set<number> }>();
  for (const r of raw.reactions ?? []) {
    const rating = emojiToRating({ name: r.emoji.name, id: r.emoji.id });
    if (rating === null) continue;
    const burst = r.count_details?.burst ?? 0;
    const normal = r.count_details?.normal ?? r.count - burst;
    // Only the kinds someone besides the bot used (the bot puts one of each rating emoji on the message).
    const types = [...(normal - (r.me ? 1 : 0) > 0 ? [0] : []), ...(burst - (r.me_burst ? 1 : 0) > 0 ? [1] : [])];
    // Rating emoji are always Unicode (emojiToRating rejects custom ones), so the name is the identifier.
    const emoji = encodeURIComponent(r.emoji.name ?? '');
    for (const type of types) {
      let after: string | undefined;
      for (;;) {
        const query = new URLSearchParams({ limit: String(PAGE), type: String(type), ...(after ? { after } : {}) });
        let page: ReactionUser[];
        try {
          page = (await rest.get(Routes.channelMessageReaction(m.channelId, m.messageId, emoji), { query })) as ReactionUser[];
        } catch (err) {
          const why = unreachable(err);
          if (why) return why;
          throw err;
        }
        for (const u of page) {
          if (u.bot || u.id === botUserId) continue;
          const entry = people.get(u.id) ?? {
            person: { platform: 'discord', userId: u.id, displayName: u.global_name ?? u.username ?? undefined },
            scores: new Set<number>(),
          };
          entry.scores.add(rating);
          people.set(u.id, entry);
        }
        if (page.length < PAGE) break;
        after = page[page.length - 1]!.id;
      }
    }
  }
  return [...people.values()];
}

/** Unknown channel / message → 'gone'; missing access or permissions → 'forbidden'; anything else is an error. */
const GONE_CODES = new Set([10003, 10008]);
const FORBIDDEN_CODES = new Set([50001, 50013]);
function unreachable(err: unknown): 'gone' | 'forbidden' | null {
  const e = err as { code?: unknown; status?: unknown };
  if ((typeof e?.code === 'number' && FORBIDDEN_CODES.has(e.code)) || e?.status === 403) return 'forbidden';
  if ((typeof e?.code === 'number' && GONE_CODES.has(e.code)) || e?.status === 404) return 'gone';
  return null;
}

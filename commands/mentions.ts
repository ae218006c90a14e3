/**
 * People named in a text option, for /compare users:… and /optimize for:… .
 *
 * Why one string option and not user1…user8: Discord's typed user options would work there, but
 * Slack slash commands deliver plain text. A string of mentions works on every platform; how a
 * platform writes a person (Discord `<@id>`, Slack `<@U123|name>`, the playground `@name`) is its
 * MentionStyle, handed in with the command. The platform and the workspace of the people named come
 * from the invoking person (the verified event), never from the text.
 */
import { CommandInputError, ProfileNotAvailableError } from '../src/core/errors';
import { userKeyOf, type PersonRef } from '../src/core/identity';
import type { MentionStyle } from './kit/types';

/** How a list of people looks in a usage line. */
export const PEOPLE_PLACEHOLDER = '@a @b …';

export function parseMentions(text: string, requester: PersonRef, style: MentionStyle, usage?: string): PersonRef[] {
  const out: PersonRef[] = [];
  const tokens = text
    .replace(/>\s*</g, '> <')
    .split(/[\s,]+/)
    .filter(Boolean);
  for (const token of tokens) {
    const person = readMention(token, requester, style);
    if (!person) throw new CommandInputError(`I couldn't read "${token.slice(0, 40)}" as a person: mention people with @.`, usage);
    out.push(person);
  }
  const seen = new Set<string>();
  return out.filter((p) => (seen.has(p.userId) ? false : (seen.add(p.userId), true)));
}

function readMention(token: string, requester: PersonRef, style: MentionStyle): PersonRef | undefined {
  const m = style.pattern.exec(token);
  if (!m) return undefined;
  const userId = style.typedNames ? m[1]!.toLowerCase() : m[1]!;
  const displayName = m[2] || (style.typedNames ? userId.charAt(0).toUpperCase() + userId.slice(1) : undefined);
  return {
    platform: requester.platform,
    userId,
    ...(displayName ? { displayName } : {}),
    // An id names someone within the invoker's workspace (Slack); platforms without workspaces have none.
    ...(requester.workspaceId ? { workspaceId: requester.workspaceId } : {}),
  };
}

/**
 * Runs `work` for the people the asker named; a refusal from the core comes back naming which of
 * them cannot be used here (the same words whatever the reason). Only people the asker named
 * themselves are ever named, as they wrote them.
 */
export async function namingRefused<T>(people: readonly PersonRef[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof ProfileNotAvailableError) || err.names) throw err;
    const refused = err.refusedKeys ? people.filter((p) => err.refusedKeys!.includes(userKeyOf(p))) : people.length === 1 ? people : [];
    if (!refused.length) throw err;
    throw new ProfileNotAvailableError({ refusedKeys: refused.map(userKeyOf), names: refused.map(writtenName) });
  }
}

/** How the asker wrote a person: the name their mention carried, else the platform's mention tag. */
function writtenName(p: PersonRef): string {
  return p.displayName ?? `<@${p.userId}>`;
}

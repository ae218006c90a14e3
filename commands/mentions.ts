/**
 * People named in a text option, for /compare users:… and /optimize for:… .
 *
 * Why one string option and not user1…user8: Discord's typed user options would work there, but
 * Slack slash commands deliver plain text. A string of mentions works on both: Discord turns an
 * @-mention typed into a string option into `<@id>` (or `<@!id>`), Slack delivers `<@U123|name>`
 * (with "Escape channels, users, and links" on). The playground takes `@name`. The platform and the
 * Slack workspace come from the invoking person (the verified event), never from the text.
 */
import { CommandInputError } from '../src/core/errors';
import type { PersonRef } from '../src/core/identity';

const TAG = /^<@!?([A-Za-z0-9]+)(?:\|([^>]*))?>$/;

export function parseMentions(text: string, requester: PersonRef, usage?: string): PersonRef[] {
  const out: PersonRef[] = [];
  const tokens = text
    .replace(/>\s*</g, '> <')
    .split(/[\s,]+/)
    .filter(Boolean);
  for (const token of tokens) {
    const tag = TAG.exec(token);
    if (tag && requester.platform !== 'playground') {
      const person: PersonRef = { platform: requester.platform, userId: tag[1]!, ...(tag[2] ? { displayName: tag[2] } : {}) };
      if (requester.platform === 'slack' && requester.workspaceId) person.workspaceId = requester.workspaceId;
      out.push(person);
      continue;
    }
    if (requester.platform === 'playground' && /^@?[A-Za-z0-9_-]{1,32}$/.test(token)) {
      const id = token.replace(/^@/, '').toLowerCase();
      out.push({ platform: 'playground', userId: id, displayName: id.charAt(0).toUpperCase() + id.slice(1) });
      continue;
    }
    throw new CommandInputError(`I couldn't read "${token.slice(0, 40)}" as a person: mention people with @.`, usage);
  }
  const seen = new Set<string>();
  return out.filter((p) => (seen.has(p.userId) ? false : (seen.add(p.userId), true)));
}

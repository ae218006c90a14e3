/**
 * The taste-code parts of /profile: the line naming the current code under a profile, and the list of
 * a person's codes (`/profile show:history`). Codes come from `services.tasteCodes` (core/taste-codes*.ts).
 */
import type { PersonRef } from '../src/core/identity';
import type { TasteCodeView } from '../src/core/taste-codes';
import { plural } from './kit/format';
import type { CommandContext } from './kit/types';

/** How many codes the history lists. */
const HISTORY_LIMIT = 15;

/** `2026-12-05 14:03 UTC`: the same on every platform and in every time zone. */
function when(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * The line under a profile naming its current taste code (a new snapshot when the scorer moved on), or
 * '' where taste codes are not wired or the person has no ratings and it is someone else's profile.
 */
export async function tasteCodeLine(ctx: CommandContext, target: PersonRef | undefined): Promise<string> {
  const codes = ctx.services.tasteCodes;
  if (!codes) return '';
  const current = await codes.current({ viewer: ctx.person, target, scopeId: ctx.scopeId });
  if (!current) return target ? '' : 'Taste code: you get one once you have rated a few images.';
  const what = `**${current.code}** (${plural(current.ratings, 'rating')}, ${when(current.createdAt)})`;
  if (target) return `Their taste code: ${what} — \`/optimize taste:${current.code}\` optimizes for their taste as it is now.`;
  const sharing = await ctx.services.privacy.isSharing(ctx.person);
  return (
    `Your taste code: ${what}. \`/optimize taste:${current.code}\` optimizes for your taste as it is now, even after you rate more; ` +
    (sharing
      ? 'others can use it too, since you share your profile (`/privacy share:off` stops that). '
      : 'only you can use it unless you share your profile (`/privacy share:on`). ') +
    '`/profile show:history` lists your codes.'
  );
}

/** `/profile show:history`: the person's codes, newest first, with their dates and rating counts. */
export async function replyHistory(ctx: CommandContext): Promise<void> {
  const codes = ctx.services.tasteCodes;
  if (!codes) {
    await ctx.reply({ kind: 'info', text: 'Taste codes are not available on this bot.' }, { ephemeral: true });
    return;
  }
  const list = await codes.history(ctx.person, { scopeId: ctx.scopeId, limit: HISTORY_LIMIT });
  await ctx.reply({ kind: 'info', text: renderHistory(list) }, { ephemeral: true });
}

/** The history in words: code, ratings, date and method per line. */
function renderHistory(list: readonly TasteCodeView[]): string {
  if (list.length === 0) return 'You have no taste codes yet: /profile gives you one once you have rated a few images.';
  const lines = [`**Your taste codes** (newest first, ${plural(list.length, 'code')})`];
  list.forEach((c, i) =>
    lines.push(`• ${c.code} — ${plural(c.ratings, 'rating')}, ${when(c.createdAt)}, method ${c.method}${i === 0 ? ' (latest)' : ''}`),
  );
  lines.push('Use one with `/optimize prompt:… taste:<code>`; `/privacy action:forget` deletes them all.');
  return lines.join('\n');
}

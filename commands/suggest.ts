/**
 * /suggest [count] — images from this server's pool (rated or generated here) that the person's scorer
 * predicts they would like most and they have not seen, each rateable and with its reason in words.
 */
import type { SuggestResult } from '../src/core/suggestions';
import { cleanUserText, formatScore } from './kit/format';
import { defineCommand } from './kit/usage';

export const SUGGEST_DEFAULT_COUNT = 4;

export const suggest = defineCommand({
  name: 'suggest',
  description: 'Images rated or made here that you have not seen and would probably like, and why',
  options: [{ name: 'count', type: 'integer', description: 'How many images (1–10)', min: 1, max: 10, default: SUGGEST_DEFAULT_COUNT }],
  async execute(ctx) {
    await ctx.defer();
    const count = (ctx.options.count as number | undefined) ?? SUGGEST_DEFAULT_COUNT;
    // A forgotten person stops here with the usual reply (ForgottenError).
    const userKey = await ctx.services.people.touch(ctx.person, ctx.scopeId);
    const suggestions = ctx.services.suggestions;
    if (!suggestions || ctx.scopeId === undefined) {
      const text = suggestions
        ? 'Suggestions come from the images of a server or workspace: run /suggest in one of its channels.'
        : 'Suggestions are not available on this bot.';
      await ctx.reply({ kind: 'info', text }, { ephemeral: true });
      return;
    }
    const result = await suggestions.suggest({ userKey, scopeId: ctx.scopeId, count });
    if (result.kind !== 'suggestions') {
      await ctx.reply({ kind: 'info', text: notSuggestedText(result) }, { ephemeral: true });
      return;
    }
    const name = cleanUserText(ctx.person.displayName ?? 'you', 80);
    const leanings = result.leanings ? ` Picked for what your ratings lean towards: ${result.leanings}.` : '';
    await ctx.reply({
      kind: 'info',
      userText: true,
      text: `**Suggestions for ${name}** — ${result.suggestions.length === 1 ? '1 image' : `${result.suggestions.length} images`} rated or made here that you have not seen, picked from ${result.poolSize}.${leanings} Rate them too: ${ctx.surface.rateHow}.`,
    });
    for (const [i, s] of result.suggestions.entries()) {
      await ctx.channel.post({
        kind: 'rate',
        text: `Suggestion ${i + 1}/${result.suggestions.length} · predicted ${formatScore(s.predicted)} · ${s.reason.text}`,
        image: { imageId: s.image.id, rateable: true },
      });
    }
  },
});

/** Why there is nothing to show: too few ratings for a personal scorer, or nothing unseen here. */
export function notSuggestedText(result: Exclude<SuggestResult, { kind: 'suggestions' }>): string {
  if (result.kind === 'learning')
    return `I don't know your taste yet — rate a few images with /rate first (${result.ratings} of ${result.needed} ratings so far).`;
  return 'There is nothing here you have not seen yet: every image rated or made here is one you rated or made yourself. Try again after others rate or run /optimize.';
}

/**
 * /suggest [count] — images from this server's pool (rated or generated here) that the person's scorer
 * predicts they would like most and they have not seen, each rateable and with its reason in words.
 * /suggest weekly:on|off — opts in to (or out of) a weekly "made for you" run posted in this channel.
 */
import type { SuggestResult } from '../src/core/suggestions';
import type { CommandContext } from './kit/types';
import { cleanUserText, formatScore } from './kit/format';
import { defineCommand } from './kit/usage';

export const SUGGEST_DEFAULT_COUNT = 4;
const WEEKLY_CHOICES = ['on', 'off'] as const;

export const suggest = defineCommand({
  name: 'suggest',
  description: 'Images rated or made here that you have not seen and would probably like, and why',
  options: [
    { name: 'count', type: 'integer', description: 'How many images (1–10)', min: 1, max: 10, default: SUGGEST_DEFAULT_COUNT },
    { name: 'weekly', type: 'choice', description: 'A weekly run made for you in this channel: on or off', choices: WEEKLY_CHOICES },
  ],
  async execute(ctx) {
    await ctx.defer();
    const count = (ctx.options.count as number | undefined) ?? SUGGEST_DEFAULT_COUNT;
    // A forgotten person stops here with the usual reply (ForgottenError).
    const userKey = await ctx.services.people.touch(ctx.person, ctx.scopeId);
    const weekly = ctx.options.weekly as (typeof WEEKLY_CHOICES)[number] | undefined;
    if (weekly) {
      await ctx.reply({ kind: 'info', text: await setWeekly(ctx, userKey, weekly === 'on') }, { ephemeral: true });
      return;
    }
    // Why last week's "made for you" was skipped, said once.
    const skipped = await ctx.services.madeForYou?.untoldSkip(userKey);
    if (skipped) await ctx.reply({ kind: 'info', text: `Your weekly "made for you" run was skipped: ${skipped}` }, { ephemeral: true });
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

/** Opts in or out of the weekly run; the private reply says what will happen and how to stop it. */
async function setWeekly(ctx: CommandContext, userKey: string, on: boolean): Promise<string> {
  const service = ctx.services.madeForYou;
  if (!service) return 'Weekly "made for you" runs are not available on this bot.';
  if (!on)
    return (await service.optOut(userKey))
      ? 'Done: no more weekly "made for you" runs. Turn them back on with /suggest weekly:on.'
      : 'You had no weekly "made for you" runs. Turn them on with /suggest weekly:on.';
  const result = await service.optIn({
    userKey,
    platform: ctx.platform,
    channelId: ctx.channel.id,
    displayName: cleanUserText(ctx.person.displayName ?? ctx.person.userId, 80),
    ...(ctx.scopeId !== undefined ? { scopeId: ctx.scopeId } : {}),
  });
  if (result.kind === 'no-ratings')
    return 'Rate a few images first (with /rate): the weekly run starts from the images you rated 7 or more.';
  const every = result.intervalHours % 24 === 0 ? `${result.intervalHours / 24} days` : `${result.intervalHours} hours`;
  return `You're in: every ${every} I'll start a short run (2 rounds of 4 images) in this channel, "Made for you", from one of your top-rated images, within your daily image quota. Stop with /suggest weekly:off.`;
}

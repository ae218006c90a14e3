/** /profile [user] — ratings count, scorer method and its cross-validated quality, top images. */
import { ProfileNotAvailableError } from '../src/core/errors';
import { userKeyOf, type PersonRef } from '../src/core/identity';
import type { ScorerQuality } from '../src/core/records';
import { meterLine } from '../src/core/scorer/confidence';
import type { ProfileSummary } from '../src/core/services';
import { formatScore, plural } from './kit/format';
import { defineCommand } from './kit/usage';
import { namingRefused } from './mentions';
import { replyHistory, tasteCodeLine } from './taste-codes';

export const profile = defineCommand({
  name: 'profile',
  description: "Show what Tasteloop has learned about your (or someone's) taste",
  private: true,
  options: [
    { name: 'user', type: 'user', description: 'Whose profile (default: yours)' },
    {
      name: 'show',
      type: 'choice',
      description: 'What to show: the profile (default), or your taste codes (history)',
      choices: ['profile', 'history'],
    },
  ],
  async execute(ctx) {
    await ctx.defer({ ephemeral: true });
    if (ctx.options.show === 'history') return replyHistory(ctx);
    const target = (ctx.options.user as PersonRef | undefined) ?? ctx.person;
    const self = userKeyOf(target) === userKeyOf(ctx.person);
    if (ctx.services.profiles) {
      // The rich profile: description, charts and grid; another person's only when they share it here.
      const profiles = ctx.services.profiles;
      const view = await namingRefused(self ? [] : [target], () =>
        profiles.view({ viewer: ctx.person, target: self ? undefined : target, scopeId: ctx.scopeId }),
      );
      const files = [
        ...(view.grid ? [{ name: 'taste-grid.png', contentType: 'image/png', data: view.grid }] : []),
        ...(view.distributionChart ? [{ name: 'ratings.png', contentType: 'image/png', data: view.distributionChart }] : []),
      ];
      // The taste code after the profile was allowed: the same check again in the core, then a snapshot if the scorer moved on.
      const code = await tasteCodeLine(ctx, self ? undefined : target);
      const text = `${renderProfile(view.summary, self ? 'Your' : `${view.name}’s`)}\n${view.description}${code ? `\n${code}` : ''}`;
      await ctx.reply({ kind: 'info', text, userText: true, ...(files.length ? { files } : {}) }, { ephemeral: true });
      return;
    }
    // Without the profiles service nobody else's profile is shown: the privacy checks live there.
    if (!self) throw new ProfileNotAvailableError();
    const key = self ? await ctx.services.people.touch(ctx.person, ctx.scopeId) : userKeyOf(target);
    const summary = await ctx.services.taste.profile(key);
    const code = await tasteCodeLine(ctx, undefined);
    await ctx.reply(
      { kind: 'info', text: `${renderProfile(summary, self ? 'Your' : `${target.displayName ?? 'Their'}’s`)}${code ? `\n${code}` : ''}` },
      { ephemeral: true },
    );
    for (const { image, score } of summary.topImages.slice(0, 3)) {
      await ctx.reply(
        { kind: 'info', text: `Rated ${formatScore(score)}`, image: { imageId: image.id, rateable: false } },
        { ephemeral: true },
      );
    }
  },
});

/**
 * The cross-validated quality in words. Measured on ratings the model did not see while learning, and
 * only claimed when its 95% interval excludes zero: ten ratings cannot tell a taste from luck.
 */
export function qualityWords(q: ScorerQuality): string {
  if (q.srocc === null) return 'not enough ratings yet to test it (rate a few more)';
  const mae = q.mae === null ? '' : ` and is off by ${q.mae.toFixed(2)} points on average (MAE)`;
  const low = q.sroccLow ?? null;
  const high = q.sroccHigh ?? null;
  const range = low === null || high === null ? null : `${low.toFixed(2)} to ${high.toFixed(2)}`;
  if (low !== null && high !== null && low <= 0 && high >= 0)
    return (
      `not enough ratings to tell yet — on ratings it has not seen its ordering correlates ${q.srocc.toFixed(2)} (SROCC), ` +
      `but anything from ${range} fits (95% interval), so rate more${mae}, tested on ${plural(q.n, 'rating')}`
    );
  return (
    `it puts ratings it has not seen in the right order with a correlation of ${q.srocc.toFixed(2)} (SROCC; 1 = perfect, 0 = guessing` +
    `${range ? `; 95% interval ${range}` : ''})${mae}, tested on ${plural(q.n, 'rating')}`
  );
}

/** Pure so tests can check the wording ("1 rating", "0 ratings", "12 ratings and 5 picks", `6.4/10`). */
export function renderProfile(s: ProfileSummary, whose: string): string {
  const lines = [
    `**${whose} taste profile** — ${plural(s.ratings, 'rating')}${s.picks ? ` and ${plural(s.picks, 'pick')}` : ''}`,
    `Prediction quality: ${qualityWords(s.quality)}. Method: ${s.method}.`,
  ];
  if (s.confidence) lines.push(meterLine(s.confidence, whose === 'Your' ? 'your' : whose));
  if (s.topImages.length)
    lines.push(
      `Top rated: ${s.topImages
        .slice(0, 3)
        .map((t) => formatScore(t.score))
        .join(', ')}`,
    );
  if (s.predictedFavorites.length)
    lines.push(
      `Predicted favorites: ${s.predictedFavorites
        .slice(0, 3)
        .map((t) => formatScore(t.predicted))
        .join(', ')}`,
    );
  if (s.ratings === 0 && !s.picks) lines.push('Use /rate to get started.');
  return lines.join('\n');
}

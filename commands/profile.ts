/** /profile [user] — ratings count, scorer method and its cross-validated quality, top images. */
import { ProfileNotAvailableError } from '../src/core/errors';
import { userKeyOf, type PersonRef } from '../src/core/identity';
import type { ProfileSummary } from '../src/core/services';
import { formatScore, plural } from './kit/format';
import { defineCommand } from './kit/usage';

export const profile = defineCommand({
  name: 'profile',
  description: "Show what Tasteloop has learned about your (or someone's) taste",
  private: true,
  options: [{ name: 'user', type: 'user', description: 'Whose profile (default: yours)' }],
  async execute(ctx) {
    await ctx.defer({ ephemeral: true });
    const target = (ctx.options.user as PersonRef | undefined) ?? ctx.person;
    const self = userKeyOf(target) === userKeyOf(ctx.person);
    if (ctx.services.profiles) {
      // The rich profile: description, charts and grid; another person's only when they share it here.
      const view = await ctx.services.profiles.view({ viewer: ctx.person, target: self ? undefined : target, scopeId: ctx.scopeId });
      const files = [
        ...(view.grid ? [{ name: 'taste-grid.png', contentType: 'image/png', data: view.grid }] : []),
        ...(view.distributionChart ? [{ name: 'ratings.png', contentType: 'image/png', data: view.distributionChart }] : []),
      ];
      const text = `${renderProfile(view.summary, self ? 'Your' : `${view.name}’s`)}\n${view.description}`;
      await ctx.reply({ kind: 'info', text, userText: true, ...(files.length ? { files } : {}) }, { ephemeral: true });
      return;
    }
    // Without the profiles service nobody else's profile is shown: the privacy checks live there.
    if (!self) throw new ProfileNotAvailableError();
    const key = self ? await ctx.services.people.touch(ctx.person, ctx.scopeId) : userKeyOf(target);
    const summary = await ctx.services.taste.profile(key);
    await ctx.reply(
      { kind: 'info', text: renderProfile(summary, self ? 'Your' : `${target.displayName ?? 'Their'}’s`) },
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

/** Pure so tests can check the wording ("1 rating", "0 ratings", `6.4/10`). */
export function renderProfile(s: ProfileSummary, whose: string): string {
  const q = s.quality;
  const quality =
    q.srocc === null
      ? 'not enough ratings yet to cross-validate (rate a few more)'
      : `cross-validated SROCC ${q.srocc.toFixed(2)}${q.mae === null ? '' : `, MAE ${q.mae.toFixed(2)}`} over ${plural(q.n, 'rating')}`;
  const lines = [`**${whose} taste profile** — ${plural(s.ratings, 'rating')}`, `Scorer: ${s.method} · quality: ${quality}`];
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
  if (s.ratings === 0) lines.push('Use /rate to get started.');
  return lines.join('\n');
}

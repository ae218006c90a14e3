/**
 * /compare users:@a @b [@c …] — taste match of 2–8 people (naming one other person compares them
 * with you): a percentage per pair with its explanation, a heatmap for groups, the image that brings
 * the group together and the most divisive one. Others must have opted in (`/privacy share:on`) and
 * be in this server/workspace; see src/core/privacy.ts.
 */
import { defineCommand } from './kit/usage';
import { namingRefused, parseMentions, PEOPLE_PLACEHOLDER } from './mentions';
import { textOption } from './options';

export const compare = defineCommand({
  name: 'compare',
  description: 'How alike are your tastes? Compare 2–8 people',
  options: [
    {
      name: 'users',
      type: 'string',
      description: 'Mention 1–8 people (one = compare with you)',
      required: true,
      maxLength: 600,
      placeholder: PEOPLE_PLACEHOLDER,
    },
  ],
  async execute(ctx) {
    const people = parseMentions(textOption(ctx.options, 'users'), ctx.person, ctx.mentions, compare.usage);
    await ctx.defer();
    const view = await namingRefused(people, () => ctx.services.profiles.compare({ requester: ctx.person, people, scopeId: ctx.scopeId }));
    await ctx.reply({
      kind: 'info',
      text: view.text,
      userText: true,
      ...(view.heatmap ? { files: [{ name: 'taste-match.png', contentType: 'image/png', data: view.heatmap }] } : {}),
    });
    await ctx.reply({
      kind: 'info',
      text: '🤝 The image that brings you together',
      image: { imageId: view.consensusImageId, rateable: false },
    });
    if (view.divisiveImageId !== view.consensusImageId) {
      await ctx.reply({
        kind: 'info',
        text: '⚡ The image you disagree about most',
        image: { imageId: view.divisiveImageId, rateable: false },
      });
    }
  },
});

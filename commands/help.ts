/** /help — what the bot does, how rating works on this platform, and privacy. */
import type { PlatformSurface } from './kit/types';
import { defineCommand } from './kit/usage';

/** The help text for a platform: rating as it looks there, emphasis only where it renders. */
export function helpText(surface: PlatformSurface): string {
  const your = surface.italics ? '*your*' : 'your';
  return [
    '**Tasteloop** learns your visual taste from your ratings, then improves image prompts for you.',
    `• \`/rate [count]\` posts up to 10 images; to rate one, ${surface.rateHow} (1 = not for me, 10 = love it). To take a rating back, ${surface.unrateHow}; your latest rating counts. \`/rate mode:pick\` shows four images instead: pick the one you like best — each pick teaches your model too.`,
    `• \`/optimize prompt:<text>\` makes images in a thread: it tries new versions of your prompt, and each image gets the score ${your} taste model predicts for you. Rate its images too — every rating teaches the model.`,
    '• `/profile` shows how many ratings and picks you gave, how well your model predicts them and what you like. `/suggest [count]` finds images made or rated here that you have not seen and would probably like. `/compare users:@a @b` shows how well tastes match; `/optimize … for:@a @b objective:mean|min` makes images for a group. `/cancel` stops your run.',
    '**Privacy:** Tasteloop stores your platform user id, the ratings you give and the prompts you run, to train a taste model that is yours alone; images you rate stay in its image store. Others can see or use your profile only after you opt in with `/privacy share:on`, and only from a server or workspace you share; only the configured image and text providers see prompts. `/privacy action:export` gives you your data as JSON, and `/privacy action:forget` deletes it for good — after that Tasteloop stores nothing from you until you run `/privacy action:resume`.',
  ].join('\n');
}

export const help = defineCommand({
  name: 'help',
  description: 'What Tasteloop does, how rating works, and privacy',
  private: true,
  options: [],
  async execute(ctx) {
    await ctx.reply({ kind: 'info', text: helpText(ctx.surface) }, { ephemeral: true });
  },
});

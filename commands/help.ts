/** /help — what the bot does, the rating scale, and privacy in one paragraph. */
import { defineCommand } from './kit/usage';

export const HELP_TEXT = [
  '**Tasteloop** learns your visual taste from your ratings, then optimizes image prompts for you.',
  '• `/rate [count]` posts images; react 1️⃣…🔟 to rate them (1 = not for me, 10 = love it). Remove a reaction to take the rating back; your latest remaining reaction counts.',
  '• `/optimize prompt:<text>` runs an optimization in a thread: new prompts, new images, each scored by *your* taste model. Rate its images too — every rating improves the model.',
  '• `/profile` shows how many ratings you have, how well your model predicts them and what you like. `/compare users:@a @b` shows how well tastes match; `/optimize … for:@a @b objective:mean|min` makes images for a group. `/cancel` (or ❌ on the run header) stops your run.',
  '**Privacy:** Tasteloop stores your platform user id, the ratings you give and the prompts you run, to train a taste model that is yours alone; images you rate stay in its image store. Others can see or use your profile only after you opt in with `/privacy share:on`, and only from a server or workspace you share; only the configured image and text providers see prompts. `/privacy action:export` gives you your data as JSON, and `/privacy action:forget` deletes it for good — after that Tasteloop stores nothing from you until you run `/privacy action:resume`.',
].join('\n');

export const help = defineCommand({
  name: 'help',
  description: 'What Tasteloop does, how rating works, and privacy',
  private: true,
  options: [],
  async execute(ctx) {
    await ctx.reply({ kind: 'info', text: HELP_TEXT }, { ephemeral: true });
  },
});

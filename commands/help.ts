/** /help — what the bot does, the rating scale, and privacy in one paragraph. */
import type { CommandDefinition } from './types';

export const HELP_TEXT = [
  '**Tasteloop** learns your visual taste from your ratings, then optimizes image prompts for you.',
  '• `/rate [count]` posts images; react 1️⃣…🔟 to rate them (1 = not for me, 10 = love it). Remove a reaction to take the rating back; your latest remaining reaction counts.',
  '• `/optimize prompt:<text>` runs an optimization in a thread: new prompts, new images, each scored by *your* taste model. Rate its images too — every rating improves the model.',
  '• `/profile` shows how many ratings you have and how well your model predicts them. `/cancel` (or ❌ on the run header) stops your run.',
  '**Privacy:** Tasteloop stores your platform user id, the ratings you give and the prompts you run, to train a taste model that is yours alone; images you rate stay in its image store. Nothing is shared with other people unless you opt in, and only the configured image and text providers see prompts. Ask an admin to export or delete your data at any time.',
].join('\n');

export const help: CommandDefinition = {
  name: 'help',
  description: 'What Tasteloop does, how rating works, and privacy',
  usage: '/help',
  private: true,
  options: [],
  async execute(ctx) {
    await ctx.reply({ kind: 'info', text: HELP_TEXT }, { ephemeral: true });
  },
};

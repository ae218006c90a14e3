/** /cancel — stops the caller's active run (a ❌ on the run header does the same). */
import { defineCommand } from './kit/usage';

export const cancel = defineCommand({
  name: 'cancel',
  description: 'Stop your running optimization',
  private: true,
  options: [],
  async execute(ctx) {
    const userKey = await ctx.services.people.touch(ctx.person, ctx.scopeId);
    const runId = await ctx.services.runs.cancel(userKey);
    await ctx.reply(
      { kind: 'info', text: runId ? '🛑 Stopping your run; its thread gets a last summary.' : 'You have no run in progress.' },
      { ephemeral: true },
    );
  },
});

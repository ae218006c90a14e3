/**
 * /privacy — control over one's own data:
 *   /privacy share:on|off             let others see your profile, compare with you and include you in group runs
 *                                     (only from servers/workspaces you are both in)
 *   /privacy action:status            what is shared
 *   /privacy action:export            everything stored about you, as a JSON file
 *   /privacy action:forget confirm:yes  delete it all and store nothing from you afterwards (asks first without confirm:yes)
 *   /privacy action:resume            opt back in after a forget (nothing from before comes back)
 *
 * A forgotten person gets the ForgottenError reply from every other command (the core refuses to
 * store for them); here status and export say so too, and forget may be repeated (it is idempotent).
 */
import { CommandInputError, ForgottenError, ProfileNotAvailableError } from '../src/core/errors';
import { plural } from './kit/format';
import { defineCommand } from './kit/usage';

export const FORGET_WARNING =
  '⚠️ This deletes your ratings, your taste model, your runs, the images made from your prompts and the images you uploaded, for good, and Tasteloop stores nothing from you afterwards (until you run `/privacy action:resume`). To go ahead, run `/privacy action:forget confirm:yes`.';

export const RESUMED = '✅ Welcome back: Tasteloop stores your ratings and runs again. Nothing from before was kept, so start with /rate.';
export const NOT_FORGOTTEN = 'Tasteloop has not forgotten you, so there is nothing to resume.';

export const privacy = defineCommand({
  name: 'privacy',
  description: 'Share your taste profile, export or delete your data',
  private: true,
  options: [
    { name: 'share', type: 'choice', description: 'Let people in this server see and use your profile', choices: ['on', 'off'] },
    {
      name: 'action',
      type: 'choice',
      description: 'status, export your data, forget you, or resume after a forget',
      choices: ['status', 'export', 'forget', 'resume'],
    },
    { name: 'confirm', type: 'choice', description: 'Confirm forget', choices: ['yes'] },
  ],
  async execute(ctx) {
    const api = ctx.services.privacy;
    if (!api) throw new ProfileNotAvailableError();
    const share = ctx.options.share as 'on' | 'off' | undefined;
    const action = (ctx.options.action as string | undefined) ?? (share ? undefined : 'status');
    if (share && action) throw new CommandInputError('Use share or action, not both.', privacy.usage);
    await ctx.defer({ ephemeral: true });
    if (share) {
      await api.setSharing(ctx.person, share === 'on', ctx.scopeId);
      await ctx.reply(
        {
          kind: 'info',
          text:
            share === 'on'
              ? '✅ Your profile is shared: people in servers you are both in can see it, compare with you and include you in group runs.'
              : '🔒 Your profile is private again: only you can see or use it.',
        },
        { ephemeral: true },
      );
      return;
    }
    if (action === 'resume') {
      const resumed = await api.resume(ctx.person);
      await ctx.reply({ kind: 'info', text: resumed ? RESUMED : NOT_FORGOTTEN }, { ephemeral: true });
      return;
    }
    if (action === 'status') {
      if (await api.isForgotten(ctx.person)) throw new ForgottenError();
      const on = await api.isSharing(ctx.person);
      await ctx.reply(
        {
          kind: 'info',
          text: on
            ? 'Your profile is shared (`/privacy share:off` to stop).'
            : 'Your profile is private (`/privacy share:on` to share it).',
        },
        { ephemeral: true },
      );
      return;
    }
    if (action === 'export') {
      const { filename, json } = await api.export(ctx.person);
      await ctx.reply(
        {
          kind: 'info',
          text: `📦 Everything Tasteloop stores about you is in **${filename}**.`,
          files: [{ name: filename, contentType: 'application/json', data: Buffer.from(json) }],
        },
        { ephemeral: true },
      );
      return;
    }
    if (ctx.options.confirm !== 'yes') {
      await ctx.reply({ kind: 'info', text: FORGET_WARNING }, { ephemeral: true });
      return;
    }
    const r = await api.forget(ctx.person);
    await ctx.reply(
      {
        kind: 'info',
        text: `🗑️ Done: deleted ${plural(r.ratings, 'rating')}, ${plural(r.runs, 'run')} and ${plural(r.images, 'image')} of yours. From now on Tasteloop stores nothing from you; \`/privacy action:resume\` starts again.`,
      },
      { ephemeral: true },
    );
  },
});

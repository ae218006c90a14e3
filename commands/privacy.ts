/**
 * /privacy — control over one's own data:
 *   /privacy share:on|off             let others see your profile, compare with you and include you in group runs
 *                                     (only from servers/workspaces you are both in)
 *   /privacy action:status            what is shared
 *   /privacy action:export            everything stored about you, as a JSON file
 *   /privacy action:forget confirm:yes  delete it all (asks first without confirm:yes)
 */
import { CommandInputError, ProfileNotAvailableError } from '../src/core/errors';
import { plural } from '../src/platforms/format';
import type { CommandDefinition } from './types';

const USAGE = '/privacy share:on|off · /privacy action:status|export · /privacy action:forget confirm:yes';

export const FORGET_WARNING =
  '⚠️ This deletes your ratings, your taste model, your runs and the images you uploaded, for good, and ignores anything you do with Tasteloop afterwards. To go ahead, run `/privacy action:forget confirm:yes`.';

export const privacy: CommandDefinition = {
  name: 'privacy',
  description: 'Share your taste profile, export or delete your data',
  usage: USAGE,
  private: true,
  options: [
    { name: 'share', type: 'choice', description: 'Let people in this server see and use your profile', choices: ['on', 'off'] },
    { name: 'action', type: 'choice', description: 'status, export your data, or forget you', choices: ['status', 'export', 'forget'] },
    { name: 'confirm', type: 'choice', description: 'Confirm forget', choices: ['yes'] },
  ],
  async execute(ctx) {
    const api = ctx.services.privacy;
    if (!api) throw new ProfileNotAvailableError();
    const share = ctx.options.share as 'on' | 'off' | undefined;
    const action = (ctx.options.action as string | undefined) ?? (share ? undefined : 'status');
    if (share && action) throw new CommandInputError('Use share or action, not both.', USAGE);
    await ctx.defer({ ephemeral: true });
    if (share) {
      await api.setSharing(ctx.person, share === 'on', ctx.scopeId);
      await ctx.reply({
        kind: 'info',
        text: share === 'on'
          ? '✅ Your profile is shared: people in servers you are both in can see it, compare with you and include you in group runs.'
          : '🔒 Your profile is private again: only you can see or use it.',
      }, { ephemeral: true });
      return;
    }
    if (action === 'status') {
      const on = await api.isSharing(ctx.person);
      await ctx.reply({ kind: 'info', text: on ? 'Your profile is shared (`/privacy share:off` to stop).' : 'Your profile is private (`/privacy share:on` to share it).' }, { ephemeral: true });
      return;
    }
    if (action === 'export') {
      const { filename, json } = await api.export(ctx.person);
      await ctx.reply({ kind: 'info', text: `📦 Everything Tasteloop stores about you is in **${filename}**.`, files: [{ name: filename, contentType: 'application/json', data: Buffer.from(json) }] }, { ephemeral: true });
      return;
    }
    if (ctx.options.confirm !== 'yes') {
      await ctx.reply({ kind: 'info', text: FORGET_WARNING }, { ephemeral: true });
      return;
    }
    const r = await api.forget(ctx.person);
    await ctx.reply({ kind: 'info', text: `🗑️ Done: deleted ${plural(r.ratings, 'rating')}, ${plural(r.runs, 'run')} and ${plural(r.images, 'uploaded image')}. Tasteloop will ignore your future events.` }, { ephemeral: true });
  },
};

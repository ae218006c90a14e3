/**
 * /optimize prompt:<text> … — starts a run and shows it in a thread (header, candidates, iteration
 * summaries, one progress message, final summary). The command acknowledges first: a run takes
 * minutes, the platform's acknowledgement window only seconds.
 */
import { InvalidPromptError } from '../src/core/errors';
import { userKeyOf } from '../src/core/identity';
import type { FeedbackSet, GroupObjective, OptimizerKind } from '../src/core/optimizer/events';
import { cleanUserText } from './kit/format';
import type { CommandContext } from './kit/types';
import { defineCommand } from './kit/usage';
import { namingRefused, parseMentions, PEOPLE_PLACEHOLDER } from './mentions';
import { lowMeterWarning, readMeter } from './meter';
import { textOption } from './options';

export const FEEDBACK_CHOICES = ['none', 's+p', 's+p+f', 's+p+f+I'] as const;
export const OPTIMIZER_CHOICES = ['llm', 'genetic', 'random'] as const;
export const MAX_PROMPT_CHARS = 500;
export const OBJECTIVE_CHOICES = ['mean', 'min'] as const;

/** How much of the prompt a run's thread title quotes: the owner's name still fits Discord's 100 characters. */
export const RUN_TITLE_PROMPT_CHARS = 60;

export const optimize = defineCommand({
  name: 'optimize',
  description: 'Optimize an image prompt for your taste',
  options: [
    { name: 'prompt', type: 'string', description: 'What to draw (up to 500 characters)', required: true, maxLength: MAX_PROMPT_CHARS },
    { name: 'iterations', type: 'integer', description: 'Optimization rounds (1–10)', min: 1, max: 10 },
    { name: 'candidates', type: 'integer', description: 'Images per round (1–8)', min: 1, max: 8 },
    {
      name: 'feedback',
      type: 'choice',
      description: 'What the optimizer learns from: scores, prompts, feedback text, images',
      choices: FEEDBACK_CHOICES,
    },
    { name: 'optimizer', type: 'choice', description: 'Who proposes new prompts', choices: OPTIMIZER_CHOICES },
    // Group runs: the people mentioned (mention yourself to be included); others must share their profile here.
    {
      name: 'for',
      type: 'string',
      description: 'Optimize for a group: mention 1–8 people (include yourself to count)',
      maxLength: 600,
      placeholder: PEOPLE_PLACEHOLDER,
    },
    {
      name: 'objective',
      type: 'choice',
      description: 'Group goal: mean score, or the least-happy member (min)',
      choices: OBJECTIVE_CHOICES,
    },
    // A taste code from /profile: that frozen taste (yours, or one its owner shares) scores the run.
    { name: 'taste', type: 'string', description: 'Optimize for a taste code from /profile (e.g. tl-7Q4K-M2XA)', maxLength: 40 },
  ],
  async execute(ctx) {
    const prompt = cleanUserText(textOption(ctx.options, 'prompt'), MAX_PROMPT_CHARS);
    if (!prompt) throw new InvalidPromptError('The prompt is empty once invisible characters are removed; describe an image.');
    const members = ctx.options.for ? await groupMembers(ctx) : undefined;
    // A taste code the person may not use is refused before the run's thread is announced.
    if (ctx.options.taste) await ctx.services.tasteCodes?.check(ctx.person, textOption(ctx.options, 'taste'), ctx.scopeId);
    // Said in the run's header and here: an offline renderer that ignores words should say which.
    const limits = ctx.services.imageLimits?.(prompt);
    await ctx.defer();
    const { thread } = await ctx.startRun(
      {
        requester: ctx.person,
        prompt,
        iterations: ctx.options.iterations as number | undefined,
        candidates: ctx.options.candidates as number | undefined,
        feedback: ctx.options.feedback as FeedbackSet | undefined,
        optimizer: ctx.options.optimizer as OptimizerKind | undefined,
        ...(members ? { members, objective: (ctx.options.objective as GroupObjective | undefined) ?? 'mean' } : {}),
        scopeId: ctx.scopeId,
        requestKey: `${ctx.platform}:${ctx.invocationId}`,
        destination: { platform: ctx.platform, channelId: ctx.channel.id, ...(ctx.scopeId ? { scopeId: ctx.scopeId } : {}) },
        ...(limits ? { note: limits } : {}),
        ...(ctx.options.taste ? { taste: textOption(ctx.options, 'taste') } : {}),
      },
      // Whose run it is, in the title: a channel's thread list tells several people's runs of one prompt apart.
      `🎨 ${prompt.slice(0, RUN_TITLE_PROMPT_CHARS)} — ${ctx.person.displayName ?? ctx.person.userId}`,
    );
    const started = `🎨 Run started — follow it in ${thread.mention}. Use /cancel to stop it.`;
    // A solo run aims at the requester's scorer: say so while it barely knows them.
    const warning = members || ctx.options.taste ? '' : lowMeterWarning(await readMeter(ctx, userKeyOf(ctx.person)));
    await ctx.reply({ kind: 'info', text: `${limits ? `${started}\n${limits}` : started}${warning}` });
  },
});

/** The group of a `for:` run as user keys: each other member must share their profile in this scope. */
async function groupMembers(ctx: CommandContext): Promise<string[]> {
  const people = parseMentions(textOption(ctx.options, 'for'), ctx.person, ctx.mentions, optimize.usage);
  return namingRefused(people, () => ctx.services.privacy.authorizeMembers(ctx.person, people, ctx.scopeId));
}

/**
 * /optimize prompt:<text> … — starts a run and shows it in a thread (header, candidates, iteration
 * summaries, one progress message, final summary). The command acknowledges first: a run takes
 * minutes, the platform's acknowledgement window only seconds.
 */
import { InvalidPromptError } from '../src/core/errors';
import type { FeedbackSet, OptimizerKind } from '../src/core/optimizer/events';
import { cleanUserText } from '../src/platforms/format';
import { startRunInThread } from '../src/platforms/run-presenter';
import { ProfileNotAvailableError } from '../src/core/errors';
import type { GroupObjective } from '../src/core/optimizer/events';
import { parseMentions } from './mentions';
import type { CommandDefinition } from './types';

export const FEEDBACK_CHOICES = ['none', 's+p', 's+p+f', 's+p+f+I'] as const;
export const OPTIMIZER_CHOICES = ['llm', 'genetic', 'random'] as const;
export const MAX_PROMPT_CHARS = 500;
export const OBJECTIVE_CHOICES = ['mean', 'min'] as const;

export const optimize: CommandDefinition = {
  name: 'optimize',
  description: 'Optimize an image prompt for your taste',
  usage:
    '/optimize prompt:<text> [iterations:1-10] [candidates:1-8] [feedback:none|s+p|s+p+f|s+p+f+I] [optimizer:llm|genetic|random] [for:@a @b …] [objective:mean|min]',
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
    // Group runs (issue 6): the people mentioned (mention yourself to be included); others must share their profile here.
    { name: 'for', type: 'string', description: 'Optimize for a group: mention 1–8 people (include yourself to count)', maxLength: 600 },
    {
      name: 'objective',
      type: 'choice',
      description: 'Group goal: mean score, or the least-happy member (min)',
      choices: OBJECTIVE_CHOICES,
    },
  ],
  async execute(ctx) {
    const prompt = cleanUserText(String(ctx.options.prompt ?? ''), MAX_PROMPT_CHARS);
    if (!prompt) throw new InvalidPromptError('The prompt is empty once invisible characters are removed; describe an image.');
    const members = ctx.options.for ? await groupMembers(ctx) : undefined;
    await ctx.defer();
    const { thread } = await startRunInThread({
      services: ctx.services,
      log: ctx.log,
      openThread: () => ctx.openThread(`🎨 ${prompt.slice(0, 90)}`),
      notify: (msg) => ctx.reply(msg),
      display: ctx.runDisplay,
      request: {
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
      },
    });
    await ctx.reply({ kind: 'info', text: `🎨 Run started — follow it in ${thread.mention}. Use /cancel to stop it.` });
  },
};

/** The group of a `for:` run as user keys: each other member must share their profile in this scope. */
async function groupMembers(ctx: Parameters<CommandDefinition['execute']>[0]): Promise<string[]> {
  const people = parseMentions(String(ctx.options.for), ctx.person, optimize.usage);
  if (!ctx.services.privacy) throw new ProfileNotAvailableError();
  return ctx.services.privacy.authorizeMembers(ctx.person, people, ctx.scopeId);
}

/**
 * Run parameters: validated once (zod), then frozen into the run row so a resumed run uses exactly
 * the parameters it started with.
 */
import { z } from 'zod';
import { LimitReachedError } from '../errors';
import type { FeedbackSet, OptimizerKind, RunParamsView } from './events';
import { RANKING_RULES } from './ranking';

export const FEEDBACK_SETS = ['none', 's+p', 's+p+f', 's+p+f+I'] as const satisfies readonly FeedbackSet[];
export const OPTIMIZER_KINDS = ['llm', 'genetic', 'random'] as const satisfies readonly OptimizerKind[];
export const MAX_PROMPT_CHARS = 1000;

export const runParamsSchema = z.object({
  prompt: z.string().trim().min(1, 'the prompt is empty').max(MAX_PROMPT_CHARS, `a prompt has at most ${MAX_PROMPT_CHARS} characters`),
  /** Objective: one person's scorer, or the mean / minimum of several members' predicted scores. */
  objective: z.enum(['single', 'mean', 'min']).default('single'),
  members: z.array(z.string().min(1)).min(1, 'a run needs at least one person'),
  /** N: prompts per iteration. */
  candidates: z.number().int().min(1).max(32).default(4),
  /** K: iterations after the initial prompt. */
  iterations: z.number().int().min(1).max(100).default(6),
  feedback: z.enum(FEEDBACK_SETS).default('s+p+f'),
  optimizer: z.enum(OPTIMIZER_KINDS).optional(),
  /** What the optimizer ranks candidates on (ranking.ts); absent = DEFAULT_RANKING, also for runs stored before it existed. */
  ranking: z.enum(RANKING_RULES).optional(),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(0),
  /** Stop after this many iterations without a new best (null = never). */
  patience: z.number().int().min(1).max(100).nullable().default(null),
  budget: z
    .object({
      maxImages: z.number().int().min(1).optional(),
      maxUsd: z.number().min(0).optional(),
    })
    .default({}),
  /** Image edge length requested from the generator. */
  size: z.number().int().min(64).max(2048).optional(),
  /** A taste code (core/taste-codes.ts): its frozen scorer scores the run instead of the requester's latest one. */
  taste: z.string().min(1).max(40).optional(),
});

export type RunParamsInput = z.input<typeof runParamsSchema>;
export type RunParams = Omit<z.output<typeof runParamsSchema>, 'optimizer'> & { optimizer: OptimizerKind };

export interface ResolveContext {
  /** Whether an optimizer LLM is configured. */
  llmAvailable: boolean;
  /** MAX_IMAGES_PER_RUN: hard cap on K × N. */
  maxImagesPerRun: number;
  /** Configured default optimizer (OPTIMIZER env): 'auto' picks llm when available, else genetic. */
  defaultOptimizer?: OptimizerKind | 'auto';
}

export interface ResolvedParams {
  params: RunParams;
  /** Something the person should be told, e.g. that the offline genetic optimizer is used. */
  note?: string;
}

/**
 * Validates and completes run parameters. Throws the zod error for malformed input (the caller maps it
 * to InvalidPromptError / CommandInputError) and LimitReachedError for the K × N cap.
 */
export function resolveRunParams(input: RunParamsInput, ctx: ResolveContext): ResolvedParams {
  const p = runParamsSchema.parse(input);
  let note: string | undefined;
  let optimizer: OptimizerKind;
  const fallback = ctx.defaultOptimizer && ctx.defaultOptimizer !== 'auto' ? ctx.defaultOptimizer : ctx.llmAvailable ? 'llm' : 'genetic';
  if (p.optimizer === 'llm' && !ctx.llmAvailable) {
    optimizer = 'genetic';
    note = 'No LLM is configured, so this run uses the offline genetic optimizer (keyword evolution) instead.';
  } else if (p.optimizer) {
    optimizer = p.optimizer;
  } else if (fallback === 'llm' && !ctx.llmAvailable) {
    optimizer = 'genetic';
    note = 'No LLM is configured, so this run uses the offline genetic optimizer (keyword evolution).';
  } else {
    optimizer = fallback;
    if (optimizer === 'genetic' && !ctx.llmAvailable)
      note = 'No LLM is configured, so this run uses the offline genetic optimizer (keyword evolution).';
  }
  const kn = p.iterations * p.candidates;
  if (kn > ctx.maxImagesPerRun) {
    throw new LimitReachedError(
      `That run would make ${p.iterations} × ${p.candidates} = ${kn} images; the limit is ${ctx.maxImagesPerRun} per run. ` +
        'Use fewer iterations or candidates.',
    );
  }
  if (p.objective === 'single' && p.members.length > 1) {
    // Several members with objective 'single' is ambiguous: treat it as the group mean.
    p.objective = 'mean';
  }
  return { params: { ...p, optimizer }, note };
}

/** Images a run will use at most: the initial prompt plus K × N, capped by the image budget. */
export function plannedImages(p: Pick<RunParams, 'iterations' | 'candidates' | 'budget'>): number {
  const full = 1 + p.iterations * p.candidates;
  return p.budget.maxImages !== undefined ? Math.min(full, p.budget.maxImages) : full;
}

export function paramsView(p: RunParams, extra: { generator: string; llm: string | null; scorer: string }): RunParamsView {
  return {
    prompt: p.prompt,
    iterations: p.iterations,
    candidates: p.candidates,
    feedback: p.feedback,
    optimizer: p.optimizer,
    objective: p.objective,
    members: p.members,
    seed: p.seed,
    generator: extra.generator,
    llm: p.optimizer === 'llm' ? extra.llm : null,
    scorer: extra.scorer,
  };
}

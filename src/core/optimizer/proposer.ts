/**
 * The one interface every optimizer implements (llm, genetic, random). Proposers are stateless: all
 * they need is the run's scored history, which the loop keeps in its JSON state, and a seeded rng
 * derived from (seed, iteration). That is what lets a crashed run resume with the same choices.
 */
import type { LlmMessageImage } from '../ports';
import type { OptimizerKind } from './events';
import type { UniformSource } from './rng';

export interface ScoredPrompt {
  prompt: string;
  /**
   * What the optimizer ranks on: the scorer's uncapped belief under the run's ranking rule (ranking.ts),
   * not bounded to 1–10. null when the candidate was skipped (moderation) or its image failed.
   */
  score: number | null;
  /** The 1–10 score shown to the person, for text an LLM reads (absent: `score`). */
  shown?: number | null;
  iteration: number;
  idx: number;
}

/** What the loop built from the last iteration, depending on the feedback set. */
export interface ProposalFeedback {
  /** s+p+f and up: one advice text per scored candidate of the last iteration. */
  texts?: { prompt: string; score: number; text: string }[];
  /** s+p+f+I: the last iteration's images themselves. */
  images?: { prompt: string; score: number; image: LlmMessageImage }[];
}

export interface ProposeContext {
  initialPrompt: string;
  iteration: number;
  signal?: AbortSignal;
  runId?: string;
  userKey?: string;
}

export interface PromptProposer {
  readonly kind: OptimizerKind;
  /** Whether the loop should pay for text feedback / images (only the LLM uses them). */
  readonly wantsFeedback: boolean;
  /** N diverse prompts spread around the initial prompt (iteration 0). */
  initial(prompt: string, n: number, rng: UniformSource, ctx: ProposeContext): Promise<string[]>;
  /** N new prompts that should score higher, given everything scored so far. */
  next(history: ScoredPrompt[], n: number, rng: UniformSource, ctx: ProposeContext, feedback?: ProposalFeedback): Promise<string[]>;
}

/**
 * The LLM seams the optimizer loop (src/core/optimizer) is written against. Kept small and stable:
 * implementations live beside this file (openai.ts); the core never imports an SDK.
 */
import type { UsageSink } from '../usage';

export type { UsageRecord, UsageSink } from '../usage';

export interface LlmMessageImage {
  mime: string;
  bytes: Buffer;
}

export interface ProposeRequest {
  /** 'initial': N diverse prompts spread around the initial prompt; 'improve': N prompts that should score higher. */
  task: 'initial' | 'improve';
  n: number;
  initialPrompt: string;
  /** For s+p and up: the whole prompt history, sorted by score (the implementation sorts again, best first). */
  history?: { prompt: string; score: number | null; iteration: number }[];
  /** For feedback set 'none': only the optimizer's previous prompts. */
  previousPrompts?: string[];
  /** For s+p+f: text feedback from the feedback LLM. */
  feedback?: string[];
  /** For s+p+f+I: the images themselves (sent as vision input). */
  images?: { prompt: string; score: number; image: LlmMessageImage }[];
  signal?: AbortSignal;
  runId?: string;
  userKey?: string;
}

export interface PromptOptimizerLlm {
  readonly model: string;
  /**
   * Returns up to `n` cleaned, deduplicated prompts (invisible Unicode stripped, length-limited).
   * Throws ProviderError on a reply that stays invalid after one corrective retry,
   * ProviderTimeoutError on the deadline, CancelledError when `signal` aborts.
   */
  proposePrompts(req: ProposeRequest): Promise<string[]>;
}

export interface FeedbackLlm {
  readonly model: string;
  /** One short piece of advice on what to change in `prompt` given its image and score. */
  feedback(req: { prompt: string; score: number; image: LlmMessageImage; signal?: AbortSignal; runId?: string; userKey?: string }): Promise<string>;
}

export interface ModerationResult {
  flagged: boolean;
  /** Category names that were flagged, e.g. ["violence"]. */
  categories: string[];
}

export interface Moderator {
  /** One result per text, in order. */
  check(texts: string[], signal?: AbortSignal): Promise<ModerationResult[]>;
}

/** Constructor options shared by the OpenAI-backed implementations. */
export interface LlmProviderOptions {
  onUsage?: UsageSink;
}

/**
 * The LLM seams the optimizer loop (src/core/optimizer) is written against. Kept small and stable:
 * implementations live beside this file (openai.ts); the core never imports an SDK.
 */
import type { UsageSink } from '../usage';

export type { UsageRecord, UsageSink } from '../usage';

export type {
  LlmMessageImage,
  ProposeRequest,
  PromptOptimizerLlm,
  FeedbackLlm,
  ModerationOptions,
  ModerationResult,
  Moderator,
} from '../../core/ports';

export interface LlmProviderOptions {
  onUsage?: UsageSink;
}

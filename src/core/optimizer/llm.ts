/**
 * The LLM optimizer: an adapter from PromptProposer to PromptOptimizerLlm that decides, per the
 * method's feedback ablation, exactly what the LLM gets to see:
 *   none      — only its own previous prompts (no scores)
 *   s+p       — scores + the whole prompt history, sorted by score (best first)
 *   s+p+f     — + text feedback from the feedback LLM on each (image, score) of the last iteration
 *   s+p+f+I   — + the last iteration's images themselves (vision input)
 * The request builder is pure so the ablations are tested without any LLM.
 */
import type { ProposeRequest, PromptOptimizerLlm } from '../ports';
import type { FeedbackSet } from './events';
import type { PromptProposer, ProposalFeedback, ProposeContext, ScoredPrompt } from './proposer';

export function feedbackHasText(set: FeedbackSet): boolean {
  return set === 's+p+f' || set === 's+p+f+I';
}
export function feedbackHasImages(set: FeedbackSet): boolean {
  return set === 's+p+f+I';
}

/** Sorted best first; unscored (skipped) prompts last, then by iteration for stability. */
export function sortHistoryByScore(history: ScoredPrompt[]): ScoredPrompt[] {
  return [...history].sort((a, b) => (b.score ?? -Infinity) - (a.score ?? -Infinity) || a.iteration - b.iteration || a.idx - b.idx);
}

export function buildImproveRequest(
  set: FeedbackSet,
  history: ScoredPrompt[],
  n: number,
  ctx: ProposeContext,
  feedback?: ProposalFeedback,
): ProposeRequest {
  const base: ProposeRequest = {
    task: 'improve',
    n,
    initialPrompt: ctx.initialPrompt,
    signal: ctx.signal,
    runId: ctx.runId,
    userKey: ctx.userKey,
  };
  if (set === 'none') {
    // Its own earlier prompts only: no scores, no initial-prompt score, no feedback.
    return { ...base, previousPrompts: history.filter((h) => h.iteration > 0).map((h) => h.prompt) };
  }
  const req: ProposeRequest = {
    ...base,
    // Ordered by what the run ranks on; the LLM reads the 1–10 scores a person sees.
    history: sortHistoryByScore(history).map((h) => ({ prompt: h.prompt, score: h.shown ?? h.score, iteration: h.iteration })),
  };
  if (feedbackHasText(set) && feedback?.texts?.length)
    req.feedback = feedback.texts.map((f) => `Prompt: ${f.prompt}\nScore: ${f.score.toFixed(2)}\nAdvice: ${f.text}`);
  if (feedbackHasImages(set) && feedback?.images?.length) req.images = feedback.images;
  return req;
}

export class LlmProposer implements PromptProposer {
  readonly kind = 'llm' as const;
  readonly wantsFeedback: boolean;

  constructor(
    private readonly llm: PromptOptimizerLlm,
    private readonly feedbackSet: FeedbackSet,
  ) {
    this.wantsFeedback = feedbackHasText(feedbackSet);
  }

  async initial(prompt: string, n: number, _rng: unknown, ctx: ProposeContext): Promise<string[]> {
    return this.llm.proposePrompts({
      task: 'initial',
      n,
      initialPrompt: prompt,
      signal: ctx.signal,
      runId: ctx.runId,
      userKey: ctx.userKey,
    });
  }

  async next(history: ScoredPrompt[], n: number, _rng: unknown, ctx: ProposeContext, feedback?: ProposalFeedback): Promise<string[]> {
    return this.llm.proposePrompts(buildImproveRequest(this.feedbackSet, history, n, ctx, feedback));
  }
}

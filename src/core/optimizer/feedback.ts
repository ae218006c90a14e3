/**
 * Feedback for the proposer after an iteration: per-candidate critiques from the feedback LLM (all
 * at once, bounded) and/or the scored images themselves, as the run's feedback setting asks.
 */
import { throwIfAborted } from './abort';
import { feedbackHasImages, feedbackHasText } from './llm';
import { DEFAULT_FEEDBACK_CONCURRENCY, type CandidateRecord, type LoopDeps } from './loop-types';
import { mapBounded } from './map-bounded';
import type { RunParams } from './params';
import type { ProposalFeedback } from './proposer';

export async function buildFeedback(
  candidates: CandidateRecord[],
  params: RunParams,
  deps: LoopDeps,
  signal: AbortSignal | undefined,
  runId: string,
  userKey: string | undefined,
): Promise<ProposalFeedback | undefined> {
  if (!deps.proposer.wantsFeedback || !feedbackHasText(params.feedback)) return undefined;
  const scored = candidates.filter((c) => c.imageId && c.score !== null);
  const withImages = await Promise.all(
    scored.map(async (c) => ({
      c,
      image: { mime: 'image/png', bytes: await deps.store.readBytes(c.imageId as string) },
    })),
  );
  const out: ProposalFeedback = {};
  if (deps.feedbackLlm) {
    const fb = deps.feedbackLlm;
    out.texts = [];
    // Every candidate's feedback at once (bounded by the feedback LLM's concurrency): one round of latency.
    await mapBounded(withImages, Math.max(1, deps.feedbackConcurrency ?? DEFAULT_FEEDBACK_CONCURRENCY), async ({ c, image }) => {
      throwIfAborted(signal);
      const text = await fb.feedback({ prompt: c.prompt, score: c.score as number, image, signal, runId, userKey });
      c.feedback = text;
    });
    out.texts = withImages.map(({ c }) => ({ prompt: c.prompt, score: c.score as number, text: c.feedback ?? '' }));
  }
  if (feedbackHasImages(params.feedback))
    out.images = withImages.map(({ c, image }) => ({ prompt: c.prompt, score: c.score as number, image }));
  return out;
}

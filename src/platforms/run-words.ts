/**
 * A run in words a person understands without having read the method's paper: how new prompts are
 * found (naming the optimizer and the feedback the run really uses, not the one it was asked for),
 * why a run stopped, and the method's measures each with a one-line explanation. Pure; render-run.ts
 * puts the pieces into messages.
 */
import type { FeedbackSet, OptimizerKind, RunMetricsView } from '../core/optimizer/events';
import { formatDelta, formatScore, formatUsd, plural } from '../../commands/kit/format';

/**
 * The heading of a run summary's measures. Everything after it is the "Details" part, kept apart
 * from the main lines so a platform can fold it away.
 */
export const DETAILS_HEADING = '**Details**';

/**
 * What the run's optimizer really learns from. Only the LLM reads the feedback setting: the genetic
 * search always selects by score and recombines prompts (s+p), the random baseline uses nothing.
 */
export function feedbackUsed(optimizer: OptimizerKind, requested: FeedbackSet): FeedbackSet {
  if (optimizer === 'llm') return requested;
  return optimizer === 'genetic' ? 's+p' : 'none';
}

const FEEDBACK_WORDS: Record<FeedbackSet, string> = {
  none: 'without seeing any scores',
  's+p': 'from the scores and prompts so far',
  's+p+f': 'from the scores and prompts so far and a written critique of each image',
  's+p+f+I': 'from the scores and prompts so far, a written critique of each image and the images themselves',
};

/** One sentence: who writes the new prompts and from what. */
export function methodSentence(optimizer: OptimizerKind, requested: FeedbackSet, llm?: string | null): string {
  const feedback = feedbackUsed(optimizer, requested);
  switch (optimizer) {
    case 'llm':
      return `New prompts are written by a language model${llm ? ` (${llm})` : ''} ${FEEDBACK_WORDS[feedback]}.`;
    case 'genetic':
      return 'New prompts come from a genetic search (offline, no language model): it mixes and changes the style words of the best-scoring prompts so far.';
    case 'random':
      return 'New prompts add random style words to yours (a baseline that ignores the scores).';
  }
}

/** The short technical form for people who know the method: `optimizer genetic · feedback s+p`. */
export function methodCode(optimizer: OptimizerKind, requested: FeedbackSet): string {
  return `optimizer ${optimizer} · feedback ${feedbackUsed(optimizer, requested)}`;
}

/** Why a run stopped, when it did not simply do all its iterations (undefined then). */
export function stopReasonWords(reason: string): string | undefined {
  switch (reason) {
    case 'completed':
    case 'cancelled':
      return undefined;
    case 'patience':
      return 'It stopped early: several iterations in a row found no better image.';
    case 'budget':
      return 'It stopped early: it reached its image or spending limit.';
    case 'no-prompts':
      return 'It stopped early: the optimizer found no new prompts to try.';
    default:
      return `It stopped early (${reason.slice(0, 60)}).`;
  }
}

/**
 * The main line of a summary: where the run started and where it got, on the 1–10 scale of the
 * person's (or group's) predicted taste.
 */
export function outcomeLine(m: RunMetricsView): string {
  const forWhom = m.bestMemberScores && Object.keys(m.bestMemberScores).length > 1 ? 'predicted for the group' : 'predicted for you';
  if (m.kStar === 0 || m.maxMinusInit <= 0)
    return `your own prompt stayed the best at ${formatScore(m.max)} (${forWhom}); no new prompt beat it.`;
  return `from ${formatScore(m.init)} to ${formatScore(m.max)} (${forWhom}) in ${plural(m.kStar, 'iteration')}.`;
}

/** The method's measures, one line each with what it means. */
export function metricLines(m: RunMetricsView): string[] {
  const lines = [
    `• max ${formatScore(m.max)} — the best predicted score of any image in this run`,
    `• max − init ${formatDelta(m.maxMinusInit)} — how much the best image beats the one from your own prompt`,
    `• K* ${m.kStar} — the iteration that first reached the best score (0 = your own prompt)`,
  ];
  if (m.maxSim === null) {
    lines.push('• max sim – — no image you rated highly to compare the best image with yet');
  } else {
    lines.push(
      `• max sim ${m.maxSim.toFixed(2)} — how alike the best image is to the most similar image you rated highly (1 = the same picture): near 1, the run rediscovered a favorite`,
      `• score of most sim ${formatScore(m.scoreOfMostSim)} — your rating of that most similar image`,
    );
  }
  lines.push(`• ${plural(m.imagesUsed, 'image')} made · cost ${formatUsd(m.costUsd)}`);
  return lines;
}

/**
 * RunEvent → platform-neutral messages. Pure: every platform renders a run identically, and the
 * presenter (run-presenter.ts) only applies the resulting operations to a Conversation.
 */
import type { FeedbackSet, OptimizerKind, RunEvent, RunMetricsView, RunParamsView } from '../core/optimizer/events';
import { cleanUserText, formatDelta, formatScore, formatUsd, plural, progressBar, quoteUserText } from '../../commands/kit/format';
import type { OutMessage, RunOutcome } from '../../commands/kit/types';
import { memberScoresText, renderIterationGrids } from './run-grid-message';
import { DETAILS_HEADING, methodCode, methodSentence, metricLines, outcomeLine, stopReasonWords } from './run-words';

export type RenderOp =
  /** A new message in the run's thread. */
  | { op: 'post'; key: string; message: OutMessage }
  /**
   * The run's progress message under `key`: edited in place if it exists, else posted — after which
   * the run's earlier progress messages (`replaces`, and any other this process knows) are removed,
   * so the progress message stays the thread's last.
   */
  | { op: 'progress'; key: string; message: OutMessage; replaces?: string[] }
  /** The run ended; `notice` is a one-line outcome for the channel where /optimize was typed. */
  | { op: 'done'; key: string; outcome: RunOutcome; notice: OutMessage };

export function renderRunEvent(event: RunEvent): RenderOp[] {
  switch (event.type) {
    case 'run.started':
      return [
        {
          op: 'post',
          key: event.key,
          message: { kind: 'header', runId: event.runId, userText: true, text: renderHeader(event.params, event.note) },
        },
        { op: 'progress', key: firstProgressKey(event.runId), message: progressMessage(event.runId, 0, event.params.iterations, 0, 0) },
      ];
    case 'iteration.images':
      return renderIterationGrids(event).map((g) => ({ op: 'post' as const, key: g.key, message: g.message }));
    case 'iteration.summary': {
      const lines = [
        `📊 **${event.iteration === 0 ? 'Your prompt scored' : `Iteration ${event.iteration} done`}** · best this iteration ${formatScore(event.bestThisIteration)} · best so far ${formatScore(event.bestSoFar)} · scores predicted by a taste model that learned from ${plural(event.scorerN, 'rating')}`,
      ];
      if (event.feedbackDigest) lines.push(`Critique from the language model: ${cleanUserText(event.feedbackDigest, 600)}`);
      return [{ op: 'post', key: event.key, message: { kind: 'iteration', runId: event.runId, userText: true, text: lines.join('\n') } }];
    }
    case 'run.progress':
      return [
        {
          op: 'progress',
          key: event.key,
          replaces: [event.iteration === 0 ? firstProgressKey(event.runId) : iterationProgressKey(event.runId, event.iteration - 1)],
          message: progressMessage(event.runId, event.iteration, event.iterations, event.imagesUsed, event.costUsd, event.elapsedMs),
        },
      ];
    case 'run.finished': {
      const m = event.metrics;
      return [
        { op: 'post', key: event.key, message: renderSummary(event.runId, '✅ **Run finished**', m, event.stopReason, event.method) },
        {
          op: 'progress',
          key: `${event.key}:progress`,
          replaces: lastProgressKeys(event.runId, m),
          message: {
            kind: 'progress',
            runId: event.runId,
            text: `✅ Done · ${progressBar(1, 1)} · ${plural(m.imagesUsed, 'image')} · ${formatUsd(m.costUsd)}`,
          },
        },
        {
          op: 'done',
          key: `${event.key}:done`,
          outcome: 'finished',
          notice: {
            kind: 'info',
            runId: event.runId,
            text: `✅ Run finished: best ${formatScore(m.max)} (${formatDelta(m.maxMinusInit)} over your own prompt). The best image and details are in the thread.`,
          },
        },
      ];
    }
    case 'run.failed': {
      // One reference per notice: the core's message may already name it (runs.ts writes it into the stored error).
      const message = cleanUserText(event.message, 300);
      const ref = event.referenceId && !message.includes(event.referenceId) ? ` (reference ${event.referenceId})` : '';
      const text = `⚠️ **Run failed**: ${message}${ref}`;
      return [
        { op: 'post', key: event.key, message: { kind: 'summary', runId: event.runId, text } },
        {
          op: 'progress',
          key: `${event.key}:progress`,
          message: { kind: 'progress', runId: event.runId, text: '⚠️ Stopped: the run failed.' },
        },
        { op: 'done', key: `${event.key}:done`, outcome: 'failed', notice: { kind: 'info', runId: event.runId, text } },
      ];
    }
    case 'run.cancelled': {
      const post: OutMessage = event.metrics
        ? renderSummary(event.runId, '🛑 **Run cancelled**', event.metrics, 'cancelled', undefined)
        : { kind: 'summary', runId: event.runId, text: '🛑 **Run cancelled** before any image was made.' };
      return [
        { op: 'post', key: event.key, message: post },
        {
          op: 'progress',
          key: `${event.key}:progress`,
          replaces: lastProgressKeys(event.runId, event.metrics),
          message: { kind: 'progress', runId: event.runId, text: '🛑 Cancelled.' },
        },
        {
          op: 'done',
          key: `${event.key}:done`,
          outcome: 'cancelled',
          notice: { kind: 'info', runId: event.runId, text: '🛑 Run cancelled. What it found so far is in the thread.' },
        },
      ];
    }
  }
}

export function renderHeader(p: RunParamsView, note?: string): string {
  const scoring =
    p.objective === 'single'
      ? 'Every image is scored by your taste model: the rating it predicts you would give (1 = not for you, 10 = love it).'
      : `Every image is scored by the taste models of ${p.members.length} people: ${p.objective === 'min' ? 'the lowest' : 'the average'} of the ratings they predict (1 = not for them, 10 = love it).`;
  const lines = [
    `🎨 **Optimizing** ${quoteUserText(p.prompt)}`,
    `${plural(p.iterations, 'iteration')} of ${plural(p.candidates, 'new image')} each. ${scoring}`,
    methodSentence(p.optimizer, p.feedback, p.llm),
    'Rate any image 1–10 to teach your taste model. Use /cancel to stop the run.',
    `Setup: ${methodCode(p.optimizer, p.feedback)} · images ${p.generator} · scorer ${p.scorer} · seed ${p.seed}`,
  ];
  if (note) lines.push(cleanUserText(note, 600));
  return lines.join('\n');
}

/** The summary's Details part: the method's measures, each explained. */
export function renderMetrics(m: RunMetricsView): string {
  return [DETAILS_HEADING, ...metricLines(m)].join('\n');
}

/**
 * The end-of-run summary: what the run achieved in plain words (from which score to which, the best
 * prompt, how prompts were found, why it stopped), then the Details part with the method's measures.
 */
function renderSummary(
  runId: string,
  title: string,
  m: RunMetricsView,
  stopReason: string,
  method: { optimizer: OptimizerKind; feedback: FeedbackSet } | undefined,
): OutMessage {
  const main = [`${title}: ${outcomeLine(m)}`];
  if (m.bestPrompt)
    main.push(`Best prompt (${formatScore(m.max)}${memberScoresText(m.bestMemberScores)}): ${quoteUserText(m.bestPrompt, 400)}`);
  if (method) main.push(methodSentence(method.optimizer, method.feedback));
  const stopped = stopReasonWords(cleanUserText(stopReason, 80));
  if (stopped) main.push(stopped);
  return {
    kind: 'summary',
    runId,
    userText: true,
    image: m.bestImageId ? { imageId: m.bestImageId, rateable: true } : undefined,
    text: main.join('\n'),
    ...(m.scoreHistory && m.scoreHistory.length > 1 ? { scoreChart: m.scoreHistory } : {}),
    details: renderMetrics(m),
  };
}

function progressMessage(runId: string, i: number, k: number, images: number, cost: number, elapsedMs?: number): OutMessage {
  return {
    kind: 'progress',
    runId,
    text: `⏳ Iteration ${i}/${k} · ${progressBar(i, k)} · ${plural(images, 'image')} · ${formatUsd(cost)}${etaText(i, k, elapsedMs)}`,
  };
}

/**
 * " · about 2 min left": the mean duration of the iterations done so far (iteration 0, the person's
 * own prompt, counts as one) times the iterations still to come.
 */
export function etaText(i: number, k: number, elapsedMs: number | undefined): string {
  if (elapsedMs === undefined || i >= k) return '';
  const leftMs = (elapsedMs / (i + 1)) * (k - i);
  if (leftMs < 60_000) return ` · about ${Math.max(1, Math.round(leftMs / 1000))} s left`;
  return ` · about ${Math.round(leftMs / 60_000)} min left`;
}

/** The progress message posted when the run starts (the first of the run's progress keys). */
export const firstProgressKey = (runId: string): string => `${runId}:progress`;
/** The progress message posted after iteration `it` (the run.progress event's key). */
const iterationProgressKey = (runId: string, it: number): string => `${runId}:it${it}:progress`;

/** The progress key a run's end replaces: the one after its last iteration (the first one when none ran). */
function lastProgressKeys(runId: string, m: RunMetricsView | null): string[] {
  const last = m?.scoreHistory?.at(-1)?.iteration;
  return [last === undefined ? firstProgressKey(runId) : iterationProgressKey(runId, last)];
}

/**
 * RunEvent → platform-neutral messages. Pure: every platform renders a run identically, and the
 * presenter (run-presenter.ts) only applies the resulting operations to a Conversation.
 */
import type { CandidateView, RunEvent, RunMetricsView, RunParamsView } from '../core/optimizer/events';
import { cleanUserText, formatDelta, formatScore, formatUsd, plural, progressBar, quoteUserText } from '../../commands/kit/format';
import type { OutMessage, RunOutcome } from '../../commands/kit/types';

export type RenderOp =
  /** A new message in the run's thread. */
  | { op: 'post'; key: string; message: OutMessage }
  /** Create the run's single progress message, or edit it in place if it exists. */
  | { op: 'progress'; key: string; message: OutMessage }
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
        { op: 'progress', key: `${event.key}:progress`, message: progressMessage(event.runId, 0, event.params.iterations, 0, 0) },
      ];
    case 'iteration.images':
      return event.candidates.map((c) => ({ op: 'post' as const, key: `${event.key}:${c.idx}`, message: renderCandidate(event.runId, c) }));
    case 'iteration.summary': {
      const lines = [
        `📊 **${event.iteration === 0 ? 'Initial prompt scored' : `Iteration ${event.iteration} done`}** · best this iteration ${formatScore(event.bestThisIteration)} · best so far ${formatScore(event.bestSoFar)} · scorer trained on ${plural(event.scorerN, 'rating')}`,
      ];
      if (event.feedbackDigest) lines.push(`Feedback: ${cleanUserText(event.feedbackDigest, 600)}`);
      return [{ op: 'post', key: event.key, message: { kind: 'iteration', runId: event.runId, userText: true, text: lines.join('\n') } }];
    }
    case 'run.progress':
      return [
        {
          op: 'progress',
          key: event.key,
          message: progressMessage(event.runId, event.iteration, event.iterations, event.imagesUsed, event.costUsd),
        },
      ];
    case 'run.finished': {
      const m = event.metrics;
      return [
        { op: 'post', key: event.key, message: renderSummary(event.runId, '✅ **Run finished**', m, event.stopReason) },
        {
          op: 'progress',
          key: `${event.key}:progress`,
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
            text: `✅ Run finished: best ${formatScore(m.max)} (${formatDelta(m.maxMinusInit)} over the first prompt). Details in the thread.`,
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
        ? renderSummary(event.runId, '🛑 **Run cancelled**', event.metrics, 'cancelled')
        : { kind: 'summary', runId: event.runId, text: '🛑 **Run cancelled** before any image was made.' };
      return [
        { op: 'post', key: event.key, message: post },
        { op: 'progress', key: `${event.key}:progress`, message: { kind: 'progress', runId: event.runId, text: '🛑 Cancelled.' } },
        {
          op: 'done',
          key: `${event.key}:done`,
          outcome: 'cancelled',
          notice: { kind: 'info', runId: event.runId, text: '🛑 Run cancelled.' },
        },
      ];
    }
  }
}

export function renderHeader(p: RunParamsView, note?: string): string {
  const who = p.objective === 'single' ? '' : ` · group of ${p.members.length} (${p.objective})`;
  const lines = [
    `🎨 **Optimizing** ${quoteUserText(p.prompt)}`,
    `Iterations ${p.iterations} · candidates ${p.candidates} · feedback ${p.feedback} · optimizer ${p.optimizer}${who} · seed ${p.seed}`,
    `Backends: images ${p.generator} · LLM ${p.llm ?? 'none'} · scorer ${p.scorer}`,
    `Rate any image with 1️⃣…🔟 to teach your scorer. React ❌ here or use /cancel to stop.`,
  ];
  if (note) lines.push(cleanUserText(note, 600));
  return lines.join('\n');
}

export function renderCandidate(runId: string, c: CandidateView): OutMessage {
  // Iteration 0 is the person's own prompt (the baseline every later score is compared with).
  const label = c.iteration === 0 ? '**Your prompt**' : `**Iteration ${c.iteration} · #${c.idx + 1}**`;
  if (c.withheld) {
    // Neutral and short: the image is not posted, and the prompt is not repeated next to it.
    const why =
      c.withheld === 'flagged'
        ? cleanUserText(c.skippedReason ?? 'the image was flagged by moderation', 200)
        : 'the image could not be checked by moderation';
    return { kind: 'candidate', runId, text: `${label} was withheld: ${why}.` };
  }
  if (!c.imageId) {
    return {
      kind: 'candidate',
      runId,
      userText: true,
      text: `${label} skipped (${cleanUserText(c.skippedReason ?? 'no image', 200)}) — ${quoteUserText(c.prompt, 400)}`,
    };
  }
  const members = memberScoresText(c.memberScores);
  return {
    kind: 'candidate',
    runId,
    userText: true,
    image: { imageId: c.imageId, rateable: true },
    text: `${label} ${formatScore(c.score)}${members} — ${quoteUserText(c.prompt, 400)}`,
  };
}

export function renderMetrics(m: RunMetricsView): string {
  const sim = m.maxSim === null ? '–' : m.maxSim.toFixed(2);
  return [
    `max ${formatScore(m.max)}`,
    `max − init ${formatDelta(m.maxMinusInit)}`,
    `K* ${m.kStar}`,
    `max sim ${sim}`,
    `score of most sim ${formatScore(m.scoreOfMostSim)}`,
    plural(m.imagesUsed, 'image'),
    `cost ${formatUsd(m.costUsd)}`,
  ].join(' · ');
}

/** " (ann: 6.1/10, bob: 7.3/10)" for group runs; nothing for one person (the score says it all). */
function memberScoresText(scores: Record<string, number> | undefined): string {
  if (!scores || Object.keys(scores).length < 2) return '';
  return ` (${Object.entries(scores)
    .map(([k, v]) => `${k.split(':').pop()}: ${formatScore(v)}`)
    .join(', ')})`;
}

function renderSummary(runId: string, title: string, m: RunMetricsView, stopReason: string): OutMessage {
  const best = m.bestPrompt
    ? `\nBest (${formatScore(m.max)}${memberScoresText(m.bestMemberScores)}): ${quoteUserText(m.bestPrompt, 400)}`
    : '';
  return {
    kind: 'summary',
    runId,
    userText: true,
    image: m.bestImageId ? { imageId: m.bestImageId, rateable: true } : undefined,
    text: `${title} (${cleanUserText(stopReason, 80)})${best}\n${renderMetrics(m)}`,
  };
}

function progressMessage(runId: string, i: number, k: number, images: number, cost: number): OutMessage {
  return {
    kind: 'progress',
    runId,
    text: `⏳ Iteration ${i}/${k} · ${progressBar(i, k)} · ${plural(images, 'image')} · ${formatUsd(cost)}`,
  };
}

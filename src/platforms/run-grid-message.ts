/**
 * An iteration of a run as grid messages: one picture of numbered tiles (drawn when posting, see
 * run-pictures.ts) with each candidate's prompt, shortened, in the text, and per-tile controls the
 * platforms render from `OutMessage.grid`. A message carries at most MAX_TILES_PER_MESSAGE tiles:
 * Discord allows five rows of components per message and each tile's controls are one select menu
 * (rate 1–10, more like this, bigger: one gesture), so a larger iteration becomes several grid
 * messages of near-equal size, each with its own event key.
 */
import type { CandidateView, RunEvent } from '../core/optimizer/events';
import { cleanUserText, formatScore, plural } from '../../commands/kit/format';
import type { OutGridTile, OutMessage } from '../../commands/kit/types';

export const MAX_TILES_PER_MESSAGE = 5;

type ImagesEvent = Extract<RunEvent, { type: 'iteration.images' }>;

/** The iteration's grid messages with their event keys (`…:grid`, or `…:grid1`, `…:grid2` … when split). */
export function renderIterationGrids(event: ImagesEvent): { key: string; message: OutMessage }[] {
  const tiles = event.candidates.map(toTile);
  const parts = splitEvenly(tiles, MAX_TILES_PER_MESSAGE);
  return parts.map((part, p) => ({
    key: parts.length === 1 ? `${event.key}:grid` : `${event.key}:grid${p + 1}`,
    message: {
      kind: 'grid',
      runId: event.runId,
      userText: true,
      text: gridText(event, part, p, parts.length),
      grid: { runId: event.runId, iteration: event.iteration, tiles: part },
    },
  }));
}

function toTile(c: CandidateView): OutGridTile {
  const missingReason = c.withheld ? 'withheld' : c.imageId ? undefined : 'skipped';
  return {
    number: c.idx + 1,
    imageId: c.withheld ? null : c.imageId,
    score: c.withheld ? null : c.score,
    // A withheld image's prompt is not repeated anywhere next to it.
    prompt: c.withheld ? '' : c.prompt,
    ...(missingReason ? { missingReason } : {}),
  };
}

/** Splits into the fewest parts of at most `max`, their sizes differing by one at most (16 → 4 × 4, not 5, 5, 5, 1). */
export function splitEvenly<T>(items: readonly T[], max: number): T[][] {
  const count = Math.max(1, Math.ceil(items.length / max));
  const size = Math.ceil(items.length / count);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out.length ? out : [[]];
}

function gridText(event: ImagesEvent, tiles: OutGridTile[], part: number, parts: number): string {
  const title =
    event.iteration === 0 ? '**Your prompt**' : `**Iteration ${event.iteration}**${parts > 1 ? ` (part ${part + 1} of ${parts})` : ''}`;
  const shown = tiles.filter((t) => t.imageId).length;
  const lines = [`${title} · ${plural(shown, 'image')}, predicted score on each tile`];
  for (const t of tiles) lines.push(tileLine(t, event.candidates[t.number - 1]));
  if (shown) lines.push('Each tile’s menu: rate it 1–10, “More like this” (a new run from its prompt) or “Bigger” (full size, here).');
  return lines.join('\n');
}

/** "3 · 7.4/10 — “a red fox …”" (withheld tiles never repeat their prompt). */
function tileLine(t: OutGridTile, c: CandidateView | undefined): string {
  if (c?.withheld) {
    const why =
      c.withheld === 'flagged'
        ? cleanUserText(c.skippedReason ?? 'flagged by moderation', 120)
        : 'the image could not be checked by moderation';
    return `${t.number} · withheld: ${why}`;
  }
  if (!t.imageId) return `${t.number} · skipped (${cleanUserText(c?.skippedReason ?? 'no image', 120)}) — “${shorten(t.prompt)}”`;
  return `${t.number} · ${formatScore(t.score)}${memberScoresText(c?.memberScores)} — “${shorten(t.prompt)}”`;
}

/** A prompt cut to about a line (the full prompt is what "More like this" and "Bigger" use). */
export function shorten(prompt: string, max = 90): string {
  const clean = cleanUserText(prompt, 400).replace(/\s+/g, ' ');
  return clean.length <= max ? clean : `${clean.slice(0, max - 1).trimEnd()}…`;
}

/** " (ann: 6.1/10, bob: 7.3/10)" for group runs; nothing for one person (the score says it all). */
export function memberScoresText(scores: Record<string, number> | undefined): string {
  if (!scores || Object.keys(scores).length < 2) return '';
  return ` (${Object.entries(scores)
    .map(([k, v]) => `${k.split(':').pop()}: ${formatScore(v)}`)
    .join(', ')})`;
}

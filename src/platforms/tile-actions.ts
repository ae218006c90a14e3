/**
 * What a run grid's per-tile controls do, the same on every platform (each platform only decodes its
 * click into a TileAction and answers it):
 * - rate: one vote per person per image, set outright like the playground's buttons — through the
 *   one rating path (reactions.ts storeVote, kind 'set'): idempotent, and a forgotten person's click
 *   stores nothing;
 * - more like this: the tile's prompt, handed to /optimize by the platform (the same command path as
 *   typing it: quotas, permissions and replies included);
 * - bigger: the tile's image full size in the run's thread, as a rateable message of its own.
 * A control carries the image id (64 hex characters), never a client-side index, so a click is
 * understood without any cache and after restarts.
 */
import type { Logger } from 'pino';
import { UserError } from '../core/errors';
import { userKeyOf, type PersonRef } from '../core/identity';
import { meterLine } from '../core/scorer/confidence';
import type { Services } from '../core/services';
import { formatScore } from '../../commands/kit/format';
import type { Conversation } from '../../commands/kit/types';
import { storeVote } from './reactions';
import { renderMetrics } from './render-run';
import { shorten } from './run-grid-message';

export type TileAction = { kind: 'rate'; score: number } | { kind: 'more' } | { kind: 'bigger' };

/** The choices of a tile's control, in menu order: value (what the platform sends back) and label. */
export const TILE_CHOICES: readonly { value: string; label: string }[] = [
  ...Array.from({ length: 10 }, (_, i) => ({ value: `r${10 - i}`, label: `Rate ${10 - i}` })),
  { value: 'more', label: 'More like this' },
  { value: 'big', label: 'Bigger' },
];

export function parseTileChoice(value: string): TileAction | null {
  if (value === 'more') return { kind: 'more' };
  if (value === 'big') return { kind: 'bigger' };
  const m = /^r(10|[1-9])$/.exec(value);
  return m ? { kind: 'rate', score: Number(m[1]) } : null;
}

const IMAGE_ID = /^[0-9a-f]{64}$/;

/** Whether `s` is an image id as a control may carry it. */
export function isImageId(s: string): boolean {
  return IMAGE_ID.test(s);
}

export interface TileRating {
  person: PersonRef;
  platform: string;
  scopeId?: string;
  channelId: string;
  /** The grid message the click came from. */
  messageId: string;
  imageId: string;
  score: number;
  eventTime?: Date;
}

/** Sets the person's rating of the tile's image. 'gone' = no such image (any more). */
export async function rateTile(services: Services, r: TileRating, log: Logger): Promise<'stored' | 'forgotten' | 'gone'> {
  if (!isImageId(r.imageId) || !(await services.images.get(r.imageId))) return 'gone';
  return storeVote(
    services,
    {
      kind: 'set',
      person: r.person,
      imageId: r.imageId,
      rating: r.score,
      ctx: { source: r.platform, scopeId: r.scopeId, channelId: r.channelId, messageId: r.messageId },
      eventTime: r.eventTime,
    },
    { log, what: `rating from a ${r.platform} tile control` },
  );
}

/** The words a tile rating is answered with (privately). */
export function tileRatingReply(outcome: 'stored' | 'forgotten' | 'gone', score: number): string {
  if (outcome === 'stored') return `Rated ${formatScore(score)}. Thanks — your taste model learns from it.`;
  if (outcome === 'forgotten') return 'You asked me to forget you, so I stored nothing. Use /privacy to change that.';
  return 'That image is gone, so there is nothing to rate.';
}

/** The prompt "More like this" starts a run from: the tile image's own. UserError when there is none. */
export async function tilePrompt(services: Services, imageId: string): Promise<string> {
  const image = isImageId(imageId) ? await services.images.get(imageId) : undefined;
  if (!image?.prompt) throw new UserError('That image is gone or has no prompt, so I cannot start a run like it.');
  return image.prompt;
}

/** Posts the tile's image full size into the thread, rateable there like any image. Returns the message id. */
export async function postBigger(services: Services, thread: Conversation, imageId: string, runId?: string): Promise<string> {
  const image = isImageId(imageId) ? await services.images.get(imageId) : undefined;
  if (!image) throw new UserError('That image is gone.');
  return thread.post({
    kind: 'candidate',
    runId,
    userText: true,
    image: { imageId, rateable: true },
    text: `🔍 Full size${image.prompt ? ` — “${shorten(image.prompt, 300)}”` : ''}`,
  });
}

/** How long a tile rating's answer waits for the confidence meter before going without it (Discord answers within 3 s). */
const METER_WAIT_MS = 1500;

/** The words a stored tile rating is answered with, plus the confidence meter when it is ready in time. */
export async function tileRatingAnswer(
  services: Services,
  person: PersonRef,
  outcome: 'stored' | 'forgotten' | 'gone',
  score: number,
): Promise<string> {
  const text = tileRatingReply(outcome, score);
  const confidence = services.taste.confidence?.bind(services.taste);
  if (outcome !== 'stored' || !confidence) return text;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), METER_WAIT_MS)));
  // The meter is a hint beside the acknowledgement: a slow or failed read leaves it out, never the answer.
  const reading = await Promise.race([confidence(userKeyOf(person)).catch(() => undefined), late]).finally(() => clearTimeout(timer));
  return reading ? `${text}\n${meterLine(reading)}` : text;
}

/** A run summary's Details, read again from the run (the toggle's answer). */
export async function runDetails(services: Services, runId: string): Promise<string> {
  const metrics = await services.runs.metrics?.(runId);
  return metrics ? renderMetrics(metrics) : 'The details of that run are not available any more.';
}

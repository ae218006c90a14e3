/**
 * A taste in words: which directions a person leans along (likes, dislikes), how that differs from the
 * community, and the one direction that separates two people most. Pure, over DirectionResponses.
 */
import type { DirectionResponse } from './profiles';
import type { TasteDirection } from './profile-directions';

/** Below this many rating points per SD a direction is not worth mentioning. */
export const NOTABLE_SLOPE = 0.15;

export interface TasteDescription {
  likes: string[];
  dislikes: string[];
  /** Things they like more than the community does. */
  moreThanCommunity: string[];
  /** Things they like less than the community does. */
  lessThanCommunity: string[];
  text: string;
}

/** Which words describe leaning towards a direction with this sign. */
function phraseFor(d: TasteDirection, sign: number): string {
  return sign >= 0 ? d.positive : (d.negative ?? d.positive);
}

function listWords(items: string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/**
 * Words for a set of responses. Two-pole directions (features) turn a negative slope into a like of
 * the other pole ("cool palettes"); single-pole phrases (CLIP) into a dislike.
 */
export function describeTaste(
  responses: readonly DirectionResponse[],
  opts: { max?: number; threshold?: number; subject?: string } = {},
): TasteDescription {
  const max = opts.max ?? 3;
  const t = opts.threshold ?? NOTABLE_SLOPE;
  const bySlope = [...responses].sort((a, b) => Math.abs(b.slope) - Math.abs(a.slope)).filter((r) => Math.abs(r.slope) >= t);
  const likes: string[] = [];
  const dislikes: string[] = [];
  for (const r of bySlope) {
    if (r.direction.negative !== null) {
      if (likes.length < max) likes.push(phraseFor(r.direction, r.slope));
    } else if (r.slope > 0) {
      if (likes.length < max) likes.push(r.direction.positive);
    } else if (dislikes.length < max) dislikes.push(r.direction.positive);
  }
  // Two-pole words already carry both ends; "not keen on" lists the poles they lean away from most.
  for (const r of bySlope) {
    if (dislikes.length >= Math.min(2, max)) break;
    if (r.direction.negative !== null) {
      const away = phraseFor(r.direction, -r.slope);
      if (!dislikes.includes(away)) dislikes.push(away);
    }
  }
  const byRel = [...responses].sort((a, b) => Math.abs(b.relative) - Math.abs(a.relative)).filter((r) => Math.abs(r.relative) >= t);
  const more: string[] = [];
  const less: string[] = [];
  for (const r of byRel) {
    const single = r.direction.negative === null;
    if (r.relative > 0 || !single) {
      if (more.length < max) more.push(phraseFor(r.direction, r.relative));
    } else if (less.length < max) less.push(r.direction.positive);
  }
  const who = opts.subject ?? 'You';
  const sentences: string[] = [];
  if (likes.length) sentences.push(`${who} lean${who === 'You' ? '' : 's'} towards ${listWords(likes)}.`);
  if (dislikes.length) sentences.push(`Less keen on ${listWords(dislikes)}.`);
  if (more.length)
    sentences.push(`Compared with the community: more into ${listWords(more)}${less.length ? `, less into ${listWords(less)}` : ''}.`);
  if (!sentences.length) sentences.push('No clear leanings yet: rate a few more images with different looks.');
  return { likes, dislikes, moreThanCommunity: more, lessThanCommunity: less, text: sentences.join(' ') };
}

/**
 * The direction that separates two people most (largest difference of their slopes), as a sentence:
 * "Ann leans towards warm palettes while Bob leans towards cool palettes."
 */
export function separatingSentence(
  a: { name: string; responses: readonly DirectionResponse[] },
  b: { name: string; responses: readonly DirectionResponse[] },
): string | null {
  let best: { d: TasteDirection; sa: number; sb: number } | null = null;
  for (const ra of a.responses) {
    const rb = b.responses.find((r) => r.direction.id === ra.direction.id);
    if (!rb) continue;
    if (!best || Math.abs(ra.slope - rb.slope) > Math.abs(best.sa - best.sb)) best = { d: ra.direction, sa: ra.slope, sb: rb.slope };
  }
  if (!best || Math.abs(best.sa - best.sb) < NOTABLE_SLOPE) return null;
  const [hi, lo, shi, slo] = best.sa >= best.sb ? [a.name, b.name, best.sa, best.sb] : [b.name, a.name, best.sb, best.sa];
  // The slopes are rating points per standard deviation of the direction over the images: "a
  // noticeably more … picture than a typical one" in words.
  const gap = (shi - slo).toFixed(1);
  const size = `a picture leaning noticeably more towards ${best.d.positive} than a typical one gets about ${gap} points more from ${hi} than from ${lo}`;
  if (best.d.negative !== null) {
    return `What separates ${hi} and ${lo} most: ${hi} leans towards ${best.d.positive} while ${lo} leans towards ${best.d.negative} (${size}).`;
  }
  return `What separates ${hi} and ${lo} most: ${hi} likes ${best.d.positive} much more than ${lo} does (${size}).`;
}

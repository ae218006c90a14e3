/**
 * Why /suggest picked an image, in words: which of the person's taste directions the image leans
 * along (the words /profile uses, from ./profile-directions), and which of the person's OWN
 * well-rated images it resembles ("like the ones you rated 9 and 10"). Pure, over embeddings and
 * the person's predictions; it never sees anyone else's ratings, so a reason cannot reveal them.
 */
import { NOTABLE_SLOPE } from './profile-words';
import type { TasteDirection } from './profile-directions';
import { positions, slopePerSd } from './profiles';

/** An image counts as leaning along a direction from this many standard deviations past the pool's mean. */
const SHARES_FROM_SD = 0.5;
/** A rating counts as "liked" for "like the ones you rated …" from this score. */
export const LIKED_FROM_SCORE = 7;
/** At most this many directions and this many of the person's images are named per suggestion. */
const MAX_PHRASES = 2;
const MAX_LIKE = 2;

/** One direction the person leans along, measured over the pool: how to place an image on it. */
interface Leaning {
  phrase: string;
  /** Rating points per SD along the direction (sign already folded into `side`). */
  strength: number;
  /** +1: they like the positive end; −1: the negative end. */
  side: 1 | -1;
  mean: number;
  sd: number;
  vector: Float64Array;
}

export interface ReasonBasis {
  leanings: Leaning[];
  /** The person's own ratings of LIKED_FROM_SCORE or more, with their embeddings. */
  liked: { vector: ArrayLike<number>; score: number }[];
  /** The pool's mean embedding: similarity is measured on what sets images apart, not what all share. */
  center: Float64Array;
}

export interface SuggestionReason {
  /** Taste directions the image shares with the person ("warm palettes"). */
  phrases: string[];
  /** Scores the person gave to their own images most like this one, ascending (e.g. [9, 10]). */
  likeScores: number[];
  text: string;
}

function meanAndSd(s: Float64Array): { mean: number; sd: number } {
  let mean = 0;
  for (const v of s) mean += v / s.length;
  let vs = 0;
  for (const v of s) vs += (v - mean) ** 2 / s.length;
  return { mean, sd: Math.sqrt(vs) };
}

/**
 * The person's leanings over the pool (how their predicted rating moves along each direction, as
 * /profile measures it) and the basis every suggestion's reason is read from.
 */
export function reasonBasis(
  directions: readonly TasteDirection[],
  poolVectors: readonly ArrayLike<number>[],
  poolPredicted: ArrayLike<number>,
  liked: { vector: ArrayLike<number>; score: number }[],
): ReasonBasis {
  const dim = poolVectors[0]?.length ?? 0;
  const center = new Float64Array(dim);
  for (const x of poolVectors) for (let j = 0; j < dim; j++) center[j] = center[j]! + (x[j] as number) / poolVectors.length;
  const leanings: Leaning[] = [];
  for (const d of directions) {
    const s = positions(poolVectors, d.vector);
    const slope = slopePerSd(poolPredicted, s);
    // A single-pole phrase leaned away from is a dislike: nothing to suggest by.
    if (Math.abs(slope) < NOTABLE_SLOPE || (slope < 0 && d.negative === null)) continue;
    const { mean, sd } = meanAndSd(s);
    if (sd <= 1e-12) continue;
    const side = slope >= 0 ? 1 : -1;
    leanings.push({ phrase: side > 0 ? d.positive : d.negative!, strength: Math.abs(slope), side, mean, sd, vector: d.vector });
  }
  leanings.sort((a, b) => b.strength - a.strength);
  return { leanings, liked: liked.filter((l) => l.score >= LIKED_FROM_SCORE), center };
}

function centeredCosine(a: ArrayLike<number>, b: ArrayLike<number>, center: Float64Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let j = 0; j < center.length; j++) {
    const x = (a[j] as number) - center[j]!;
    const y = (b[j] as number) - center[j]!;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

function listWords(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** "like one you rated 9", "like two you rated 10", "like the ones you rated 9 and 10". */
function likeWords(scores: readonly number[]): string {
  if (scores.length === 0) return '';
  if (scores.length === 1) return `like one you rated ${scores[0]}`;
  if (new Set(scores).size === 1) return `like ${scores.length === 2 ? 'two' : scores.length} you rated ${scores[0]}`;
  return `like the ones you rated ${listWords(scores.map(String))}`;
}

/** Why this image: the leanings it shares (strongest first) and the person's most similar liked images. */
export function reasonFor(vector: ArrayLike<number>, basis: ReasonBasis): SuggestionReason {
  const shared = basis.leanings
    .map((l) => {
      const z = (l.side * (positions([vector], l.vector)[0]! - l.mean)) / l.sd;
      return { phrase: l.phrase, weight: z >= SHARES_FROM_SD ? z * l.strength : 0 };
    })
    .filter((s) => s.weight > 0)
    .sort((a, b) => b.weight - a.weight)
    .slice(0, MAX_PHRASES)
    .map((s) => s.phrase);
  // Only images more alike than a typical pair of the pool are called "like" this one.
  const likeScores = basis.liked
    .map((l) => ({ score: l.score, similarity: centeredCosine(vector, l.vector, basis.center) }))
    .filter((l) => l.similarity > 0)
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, MAX_LIKE)
    .map((l) => l.score)
    .sort((a, b) => a - b);
  const parts = [shared.join(', '), likeWords(likeScores)].filter(Boolean);
  const text = parts.length ? parts.join(' — ') : 'close to what your scorer has learned you like';
  return { phrases: shared, likeScores, text };
}

/** The person's strongest leanings over the pool, for the set's heading ("warm palettes and dark scenes"). */
export function leaningWords(basis: ReasonBasis, max = 3): string {
  return listWords(basis.leanings.slice(0, max).map((l) => l.phrase));
}

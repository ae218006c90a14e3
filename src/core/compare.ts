/**
 * /compare for 2–8 people, as a pure computation over predictions and ratings.
 *
 * Taste match of a pair = agreement of their scorers on a shared reference set (the onboarding and
 * gallery images everyone can be predicted on): the Spearman rank correlation ρ of the two people's
 * predicted ratings. When the two also rated enough of the same images, the rank correlation of
 * those actual ratings is blended in (weight grows with the overlap, up to one half). The blended
 * ρ ∈ [−1, 1] is shown as a percentage, match = 50·(1 + ρ): 100% = the same order of preference,
 * 50% = unrelated, 0% = opposite. Ranks, not raw scores, so a generous and a strict rater with the
 * same taste still match.
 *
 * Consensus image = the highest minimum predicted rating over the members (the one nobody dislikes).
 * Divisive image = the largest spread of predictions after removing each member's own average
 * (leniency is not disagreement).
 */
import { srocc } from './scorer/quality-metrics';

export const MIN_MEMBERS = 2;
export const MAX_MEMBERS = 8;
/** Images both rated before their actual ratings count towards the match. */
export const MIN_SHARED_RATINGS = 5;
/** Overlap at which the shared ratings weigh as much as the predictions can (half). */
const SHARED_HALF_WEIGHT = 20;

export interface CompareMember {
  key: string;
  name: string;
  /** Predicted ratings of the reference images, in reference order. */
  predictions: ArrayLike<number>;
  /** Their actual ratings: imageId → score. */
  ratings: ReadonlyMap<string, number>;
}

export interface PairMatch {
  a: number;
  b: number;
  /** 0..100 */
  percent: number;
  /** Rank correlation of predictions on the reference set. */
  predictedRho: number;
  /** Rank correlation of ratings on images both rated (null when too few). */
  ratedRho: number | null;
  sharedRatings: number;
  /** Weight of ratedRho in the blend (0 when not used). */
  ratedWeight: number;
  /** A sentence explaining the number. */
  explanation: string;
}

export interface CompareResult {
  members: { key: string; name: string }[];
  pairs: PairMatch[];
  /** Index pair with the highest match. */
  closest: PairMatch;
  /** Index pair with the lowest match. */
  farthest: PairMatch;
  /** Reference index of the image with the highest minimum prediction, and each member's prediction. */
  consensus: { index: number; imageId: string; min: number; scores: number[] };
  /** Reference index of the image members disagree about most. */
  divisive: { index: number; imageId: string; spread: number; scores: number[] };
  referenceSize: number;
}

/** How to read a match percentage and a rank correlation: said once in a /compare reply. */
export const MATCH_SCALE =
  'How to read it: 100% = they like images in the same order, 50% = their tastes are unrelated, 0% = opposite. ' +
  'A rank correlation compares the order two people put images in (1 = the same order, 0 = unrelated, −1 = opposite); the percentage is 50 × (1 + correlation).';

export function matchPercent(rho: number): number {
  return Math.round(50 * (1 + Math.max(-1, Math.min(1, rho))));
}

/** How a match percentage reads in words. */
export function matchWords(percent: number): string {
  if (percent >= 85) return 'very similar tastes';
  if (percent >= 70) return 'similar tastes';
  if (percent >= 55) return 'somewhat related tastes';
  if (percent >= 45) return 'unrelated tastes';
  if (percent >= 30) return 'rather different tastes';
  return 'opposite tastes';
}

export function pairMatch(a: CompareMember, b: CompareMember, ia: number, ib: number, referenceSize: number): PairMatch {
  const predictedRho = srocc(a.predictions, b.predictions) ?? 0;
  const shared = [...a.ratings.keys()].filter((id) => b.ratings.has(id));
  let ratedRho: number | null = null;
  if (shared.length >= MIN_SHARED_RATINGS) {
    ratedRho = srocc(
      shared.map((id) => a.ratings.get(id)!),
      shared.map((id) => b.ratings.get(id)!),
    );
  }
  const ratedWeight = ratedRho === null ? 0 : Math.min(0.5, shared.length / (shared.length + SHARED_HALF_WEIGHT));
  const rho = (1 - ratedWeight) * predictedRho + ratedWeight * (ratedRho ?? 0);
  const percent = matchPercent(rho);
  // The scale itself is explained once per reply (MATCH_SCALE), not in every pair's sentence.
  const parts = [
    `${a.name} and ${b.name}: ${percent}% — ${matchWords(percent)}.`,
    `Their taste models put ${referenceSize} shared images in order with a rank correlation of ${predictedRho.toFixed(2)}`,
  ];
  if (ratedRho !== null) {
    const own = Math.round(ratedWeight * 100);
    parts[1] += `, and the ${shared.length} images both rated agree at ${ratedRho.toFixed(2)} (their own ratings make up ${own}% of the match, the models the other ${100 - own}%)`;
  } else if (shared.length > 0) {
    parts[1] += `; they rated only ${shared.length} of the same images, too few to count yet`;
  }
  parts[1] += '.';
  return { a: ia, b: ib, percent, predictedRho, ratedRho, sharedRatings: shared.length, ratedWeight, explanation: parts.join(' ') };
}

export function compareTastes(members: readonly CompareMember[], referenceIds: readonly string[]): CompareResult {
  if (members.length < MIN_MEMBERS || members.length > MAX_MEMBERS)
    throw new RangeError(`compare needs ${MIN_MEMBERS}–${MAX_MEMBERS} people (got ${members.length})`);
  const n = referenceIds.length;
  if (n < 2) throw new RangeError('compare needs at least 2 reference images');
  for (const m of members) if (m.predictions.length !== n) throw new RangeError(`predictions of ${m.key} do not cover the reference set`);

  const pairs: PairMatch[] = [];
  for (let i = 0; i < members.length; i++)
    for (let j = i + 1; j < members.length; j++) pairs.push(pairMatch(members[i]!, members[j]!, i, j, n));
  const closest = pairs.reduce((best, p) => (p.percent > best.percent ? p : best));
  const farthest = pairs.reduce((worst, p) => (p.percent < worst.percent ? p : worst));

  const means = members.map((m) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += m.predictions[i] as number;
    return s / n;
  });
  let consensus = { index: 0, min: -Infinity };
  let divisive = { index: 0, spread: -Infinity };
  for (let i = 0; i < n; i++) {
    const scores = members.map((m) => m.predictions[i] as number);
    const min = Math.min(...scores);
    if (min > consensus.min) consensus = { index: i, min };
    // Spread of leniency-free scores: the standard deviation across members.
    const centered = scores.map((s, k) => s - means[k]!);
    const mu = centered.reduce((a, b) => a + b, 0) / centered.length;
    const spread = Math.sqrt(centered.reduce((a, b) => a + (b - mu) ** 2, 0) / centered.length);
    if (spread > divisive.spread) divisive = { index: i, spread };
  }
  const scoresAt = (i: number) => members.map((m) => m.predictions[i] as number);
  return {
    members: members.map((m) => ({ key: m.key, name: m.name })),
    pairs,
    closest,
    farthest,
    consensus: { index: consensus.index, imageId: referenceIds[consensus.index]!, min: consensus.min, scores: scoresAt(consensus.index) },
    divisive: { index: divisive.index, imageId: referenceIds[divisive.index]!, spread: divisive.spread, scores: scoresAt(divisive.index) },
    referenceSize: n,
  };
}

/** Heatmap cells (both triangles and the 100% diagonal) for charts.heatmap. */
export function matchCells(result: CompareResult): { x: string; y: string; value: number }[] {
  const names = uniqueNames(result.members.map((m) => m.name));
  const cells: { x: string; y: string; value: number }[] = [];
  for (let i = 0; i < names.length; i++) {
    for (let j = 0; j < names.length; j++) {
      const p = i === j ? null : result.pairs.find((q) => (q.a === i && q.b === j) || (q.a === j && q.b === i));
      cells.push({ x: names[j]!, y: names[i]!, value: p ? p.percent : 100 });
    }
  }
  return cells;
}

/** Charts key categories by name: make equal display names distinct. */
export function uniqueNames(names: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((n) => {
    const k = (seen.get(n) ?? 0) + 1;
    seen.set(n, k);
    return k === 1 ? n : `${n} (${k})`;
  });
}

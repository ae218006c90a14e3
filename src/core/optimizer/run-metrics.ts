/**
 * End-of-run metrics as the method defines them. Pure functions: the loop gathers the inputs.
 *   init        — score of the initial prompt's image (iteration 0)
 *   max         — best score of any image of the run (including the initial one)
 *   max − init  — the gain
 *   K*          — the iteration where the max was first reached
 *   max sim     — cosine similarity between the best image and the most similar of the person's
 *                 earlier high-rated images; and that image's score (did we just rediscover a favorite?)
 */
import type { CandidateView, RunMetricsView } from './events';

export interface SimilarityResult {
  maxSim: number;
  scoreOfMostSim: number;
  imageId: string;
}

export function cosine(a: Float32Array | number[], b: Float32Array | number[]): number {
  if (a.length !== b.length) throw new Error(`vector length mismatch: ${a.length} vs ${b.length}`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/**
 * The person's "high-rated" earlier images: those rated ≥ threshold (7 by default); when there are
 * none, their top quartile (at least one image) so a harsh rater still gets a comparison.
 */
export function selectHighRated<T extends { score: number }>(rated: T[], threshold = 7): T[] {
  const high = rated.filter((r) => r.score >= threshold);
  if (high.length > 0 || rated.length === 0) return high;
  const sorted = [...rated].sort((a, b) => b.score - a.score);
  return sorted.slice(0, Math.max(1, Math.ceil(sorted.length / 4)));
}

/** The most similar earlier image to `best` (cosine), or null when there is none to compare with. */
export function mostSimilar(
  best: Float32Array,
  earlier: { imageId: string; score: number; vector: Float32Array }[],
): SimilarityResult | null {
  let out: SimilarityResult | null = null;
  for (const e of earlier) {
    const sim = cosine(best, e.vector);
    if (!out || sim > out.maxSim) out = { maxSim: sim, scoreOfMostSim: e.score, imageId: e.imageId };
  }
  return out;
}

export interface MetricsInput {
  candidates: (Pick<CandidateView, 'iteration' | 'score' | 'imageId' | 'prompt' | 'memberScores'> & Believed)[];
  imagesUsed: number;
  costUsd: number;
  similarity: Pick<SimilarityResult, 'maxSim' | 'scoreOfMostSim'> | null;
}

/** A candidate's uncapped posterior mean, when the objective reported one (see loop-types.ts). */
interface Believed {
  mean?: number | null;
}

/**
 * What "best" is judged on: the scorer's uncapped belief when known — two images shown 9.9 are not a
 * tie when the scorer believes one is better — else the shown score (candidates stored before beliefs).
 */
export function beliefOf(c: Pick<CandidateView, 'score'> & Believed): number | null {
  if (c.score === null || !Number.isFinite(c.score)) return null;
  return typeof c.mean === 'number' && Number.isFinite(c.mean) ? c.mean : c.score;
}

/** The best candidate: highest belief, earliest iteration on ties (that is what K* means). */
export function bestCandidate<T extends Pick<CandidateView, 'iteration' | 'score'> & Believed>(candidates: T[]): T | null {
  let best: T | null = null;
  let bestBelief = -Infinity;
  for (const c of candidates) {
    const b = beliefOf(c);
    if (b === null) continue;
    if (!best || b > bestBelief || (b === bestBelief && c.iteration < best.iteration)) {
      best = c;
      bestBelief = b;
    }
  }
  return best;
}

export function computeMetrics(input: MetricsInput): RunMetricsView {
  const initC = input.candidates.find((c) => c.iteration === 0 && c.score !== null);
  const best = bestCandidate(input.candidates);
  const init = initC?.score ?? NaN;
  const max = best?.score ?? NaN;
  return {
    init,
    max,
    maxMinusInit: max - init,
    kStar: best?.iteration ?? 0,
    maxSim: input.similarity?.maxSim ?? null,
    scoreOfMostSim: input.similarity?.scoreOfMostSim ?? null,
    imagesUsed: input.imagesUsed,
    costUsd: input.costUsd,
    bestImageId: best?.imageId ?? null,
    bestPrompt: best?.prompt ?? null,
    ...(best?.memberScores && Object.keys(best.memberScores).length > 1 ? { bestMemberScores: best.memberScores } : {}),
    scoreHistory: scoreHistory(input.candidates),
  };
}

/** Best and mean score of each iteration's scored candidates, in iteration order (the summary's chart). */
export function scoreHistory(
  candidates: Pick<CandidateView, 'iteration' | 'score'>[],
): { iteration: number; best: number; mean: number }[] {
  const byIteration = new Map<number, number[]>();
  for (const c of candidates)
    if (c.score !== null && Number.isFinite(c.score)) byIteration.set(c.iteration, [...(byIteration.get(c.iteration) ?? []), c.score]);
  return [...byIteration.entries()]
    .sort(([a], [b]) => a - b)
    .map(([iteration, scores]) => ({ iteration, best: Math.max(...scores), mean: scores.reduce((s, x) => s + x, 0) / scores.length }));
}

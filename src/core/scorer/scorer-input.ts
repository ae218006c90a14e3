/** What ScorerService accepts as a rating and as an embedding: checked before anything changes state. */
import { EmbeddingModelMismatchError, InvalidEmbeddingError, InvalidScoreError } from '../errors';

export function checkScore(score: number): void {
  if (typeof score !== 'number' || !Number.isInteger(score) || score < 1 || score > 10) throw new InvalidScoreError(score);
}

/** An embedding of the scorer's model and dimension, every value finite (one NaN would poison a fit). */
export function checkVector(scorer: { modelId: string; dim: number }, x: ArrayLike<number>, modelId?: string): void {
  if (modelId !== undefined && modelId !== scorer.modelId) throw new EmbeddingModelMismatchError(scorer.modelId, modelId);
  if (x.length !== scorer.dim) throw new EmbeddingModelMismatchError(`${scorer.modelId} (${scorer.dim}-d)`, `a ${x.length}-d vector`);
  for (let j = 0; j < x.length; j++) {
    if (!Number.isFinite(x[j])) throw new InvalidEmbeddingError(`embedding has a non-finite value at ${j}`);
  }
}

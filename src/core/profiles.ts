/**
 * Taste profiles, as pure computations over embeddings and predictions (no database, no platform).
 * This file measures; its neighbours name and draw:
 *
 * - Named taste directions (profile-directions.ts): unit vectors in embedding space with a human
 *   name, from the embedder's named feature groups or from CLIP text embeddings of descriptor phrases
 *   (profile-phrases.ts).
 * - A person's response to a direction (here): how their predicted rating moves along it over a
 *   reference set of images (the slope, in rating points per standard deviation of the images'
 *   position on the direction). For a linear scorer that is the person's weights projected onto the
 *   direction through the reference images' covariance; measured through predictions it works for
 *   every scorer method (kNN and blend too). "Likes more than the community does" = the same slope for
 *   the person's predictions minus the community (global) model's predictions, i.e. the weight
 *   DIFFERENCE.
 * - The words (profile-words.ts) and the charts (profile-pictures.ts).
 */
import type { TasteDirection } from './profile-directions';

export interface DirectionResponse {
  direction: TasteDirection;
  /** Person: rating points per SD along the direction, over the reference set. */
  slope: number;
  /** Person minus community: how much more (or less) they respond than the community does. */
  relative: number;
}

/** Position of each reference image on a direction (x·d). */
export function positions(X: readonly ArrayLike<number>[], d: Float64Array): Float64Array {
  return Float64Array.from(X, (x) => {
    let s = 0;
    for (let j = 0; j < d.length; j++) s += (x[j] as number) * d[j]!;
    return s;
  });
}

/** cov(y, s) / sd(s): change of y per standard deviation of s (0 when s does not vary). */
export function slopePerSd(y: ArrayLike<number>, s: ArrayLike<number>): number {
  const n = s.length;
  if (n < 2 || y.length !== n) return 0;
  let my = 0;
  let ms = 0;
  for (let i = 0; i < n; i++) {
    my += y[i] as number;
    ms += s[i] as number;
  }
  my /= n;
  ms /= n;
  let cov = 0;
  let vs = 0;
  for (let i = 0; i < n; i++) {
    const ds = (s[i] as number) - ms;
    cov += ((y[i] as number) - my) * ds;
    vs += ds * ds;
  }
  if (vs <= 1e-18) return 0;
  return cov / n / Math.sqrt(vs / n);
}

/**
 * Responses of a person to each direction over reference images X, given the person's predicted
 * ratings and the community model's predicted ratings of the same images.
 */
export function directionResponses(
  X: readonly ArrayLike<number>[],
  person: ArrayLike<number>,
  community: ArrayLike<number>,
  directions: readonly TasteDirection[],
): DirectionResponse[] {
  if (person.length !== X.length || community.length !== X.length)
    throw new RangeError('predictions and reference images differ in length');
  const diff = Float64Array.from(person, (p, i) => p - (community[i] as number));
  return directions.map((direction) => {
    const s = positions(X, direction.vector);
    return { direction, slope: slopePerSd(person, s), relative: slopePerSd(diff, s) };
  });
}

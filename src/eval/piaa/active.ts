/**
 * Active selection as the PIAA evaluation drives it: which of a person's candidate images to ask
 * them to rate next, using the product's own `nextToRate` (src/core/scorer/active.ts) on the
 * person's Bayesian finetune model. Between batches the model takes the new ratings and re-selects
 * its regularization, as the live scorer does.
 */
import { RatingStore, type PackedRatings } from '../../core/scorer/data';
import { IncrementalFinetune } from '../../core/scorer/finetune';
import { nextToRate, candidateGram } from '../../core/scorer/active';
import type { Community } from './methods';
import { priorOf } from './methods';

/** The model active selection reasons with, and the one the comparison evaluates. */
export const ACTIVE_MODEL = 'finetune';

/**
 * Order in which images of `pool` get rated: `start` first, then `batch` images per step chosen by
 * nextToRate given the ratings so far, until `total` images.
 */
export function activeOrder(pool: PackedRatings, community: Community, start: number[], total: number, batch = 1): number[] {
  const d = pool.dim;
  const rows = Array.from({ length: pool.n }, (_, i) => pool.X.subarray(i * d, (i + 1) * d));
  const model = new IncrementalFinetune(priorOf(community.global), new RatingStore(d, Math.max(8, total)));
  const chosen: number[] = [];
  const taken = new Set<number>();
  // The candidates never change during the loop: their dot products are paid once, not per step.
  const gram = candidateGram(rows);
  const take = (i: number) => {
    chosen.push(i);
    taken.add(i);
    model.add(rows[i]!, pool.y[i] as number);
  };
  for (const i of start) take(i);
  const limit = Math.min(total, pool.n);
  while (chosen.length < limit) {
    if (model.data.n >= 5) model.reselectLambda();
    // Every rated row is a candidate (chosen, in the order added): the model's X·x products come from the gram.
    const picks = nextToRate(model, rows, Math.min(batch, limit - chosen.length), taken, 'total', gram, chosen);
    if (picks.length === 0) break;
    for (const i of picks) take(i);
  }
  return chosen;
}

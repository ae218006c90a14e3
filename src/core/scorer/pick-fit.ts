/**
 * A person's picks in the live scorer (ScorerService): the pairwise preferences (winner over each other
 * image of a pick) held beside their ratings, and the linear model that fits both (./pairwise: the
 * Bradley–Terry joint fit on the finetune model and the community prior).
 *
 * Which methods learn from picks, and why:
 *  - finetune: its model becomes the joint posterior mode of ratings and picks, with the λ chosen for
 *    the ratings (or the prior's schedule at ratings + picks when there are no ratings to choose from);
 *  - blend: its linear half is that joint model (its neighbour half stays on ratings, see knn);
 *  - auto: cross-validation scores methods on ratings only, so it cannot credit picks. With picks, a
 *    method that ignores them would throw away what the person told us: auto keeps blend when it won,
 *    and uses finetune otherwise (a person with picks and no ratings gets a personal model, not the prior);
 *  - global ignores them: it is the community model plus the person's generosity, and a pick says nothing
 *    of generosity (the offset cancels in a difference);
 *  - knn ignores them: it averages the ratings of similar images, and a preference has no score to average;
 *  - maml ignores them: its init and step size were meta-learned to adapt on ratings.
 * Uncertainty (active selection, the shown sd) stays the ratings' posterior: picks only ever narrow it,
 * so what is asked next and the sd shown are at worst a little cautious.
 */
import type { PackedRatings } from './data';
import type { LinearModel } from './finetune-fit';
import type { GlobalModel } from './global';
import type { MethodName } from './auto';
import { fitJoint, type PairPreference } from './pairwise';

/** One preference the person expressed by a pick, with the images' ids (what a refit diffs) and vectors. */
export interface HeldPair extends PairPreference {
  readonly winnerId: string;
  readonly loserId: string;
}

/** The method used for a person with picks when `auto` chose `chosen` on their ratings (see above). */
export function pickAwareChoice(chosen: MethodName): MethodName {
  return chosen === 'blend' ? 'blend' : 'finetune';
}

/**
 * The finetune model fitted on the person's ratings and pairs together. `lambda`: the λ the ratings
 * chose (undefined without ratings: the prior's schedule at ratings + picks); `noiseVar`: the
 * person's rating noise, which also sets how sure a pick is (pairwise.ts: pickTemperature).
 */
export function jointModel(
  global: GlobalModel,
  data: PackedRatings,
  pairs: readonly HeldPair[],
  opts: { lambda: number | undefined; noiseVar: number; picks: number; offsetScale?: number },
): LinearModel {
  const prior = { w: global.w, bias: global.bias, lambdaSchedule: global.lambdaSchedule };
  // A prior without a usable noise variance would make every pair's weight NaN: the fit's own default then.
  const noiseVar = Number.isFinite(opts.noiseVar) && opts.noiseVar > 0 ? opts.noiseVar : undefined;
  return fitJoint(prior, data, pairs, {
    lambda: opts.lambda,
    noiseVar,
    offsetScale: opts.offsetScale,
    interactions: data.n + opts.picks,
  }).model;
}

/**
 * Which four images to show for a pick: the set whose pick would teach the person's scorer most.
 * A pick reveals the order of the pairs it contains; a pair (a, b) is informative when the scorer is
 * unsure of the score difference (posterior variance v_ab high) and cannot already call the winner
 * (predicted win chance near ½). Its expected information is taken as ½·log(1 + π(1−π)·v_ab/g²), the
 * Laplace-approximate gain of one Bradley–Terry observation, with π the win chance averaged over the
 * posterior (the probit approximation). The set is built greedily: the best pair first, then the image
 * adding the most to the pairs it forms with those already chosen.
 */
import { predictLinear } from './finetune-fit';
import { pickTemperature, scoreCovariance, type JointFit } from './pairwise';

export const PICK_SET_SIZE = 4;

const logistic = (u: number) => 1 / (1 + Math.exp(-u));

/** Expected information of observing which of a and b wins, for every pair of candidates (c×c). */
function pairGains(fit: JointFit, candidates: readonly ArrayLike<number>[]): Float64Array {
  const c = candidates.length;
  const mean = candidates.map((x) => predictLinear(fit.model, x));
  const cov = scoreCovariance(fit, candidates);
  const g2 = pickTemperature(fit.noiseVar) ** 2;
  const gains = new Float64Array(c * c);
  for (let a = 0; a < c; a++)
    for (let b = 0; b < a; b++) {
      const v = Math.max((cov[a * c + a] as number) + (cov[b * c + b] as number) - 2 * (cov[a * c + b] as number), 0);
      const win = logistic(((mean[a] as number) - (mean[b] as number)) / Math.sqrt(g2 + (Math.PI / 8) * v));
      const gain = 0.5 * Math.log1p((win * (1 - win) * v) / g2);
      gains[a * c + b] = gain;
      gains[b * c + a] = gain;
    }
  return gains;
}

/**
 * Indices of up to `size` candidates to show together, most informative set first found; `exclude` =
 * indices never to show (seen, rated). Fewer when fewer candidates remain.
 */
export function choosePickSet(
  fit: JointFit,
  candidates: readonly ArrayLike<number>[],
  size = PICK_SET_SIZE,
  exclude: ReadonlySet<number> = new Set(),
): number[] {
  const open = candidates.map((_, i) => i).filter((i) => !exclude.has(i));
  if (open.length <= size) return open;
  const c = candidates.length;
  const raw = pairGains(fit, candidates);
  // A prior without a usable noise variance (zero, or missing from an older stored model) makes every gain
  // NaN; no comparison with NaN is true, so the set would come out short. Such a pair teaches nothing known.
  const gains = raw.map((g) => (Number.isFinite(g) ? g : 0));
  let first: [number, number] = [open[0]!, open[1]!];
  let best = -Infinity;
  for (const a of open)
    for (const b of open)
      if (b < a && (gains[a * c + b] as number) > best) {
        best = gains[a * c + b] as number;
        first = [a, b];
      }
  const chosen = [...first];
  while (chosen.length < size) {
    let pick = -1;
    let pickGain = -Infinity;
    for (const j of open) {
      if (chosen.includes(j)) continue;
      const total = chosen.reduce((t, i) => t + (gains[i * c + j] as number), 0);
      if (total > pickGain) {
        pickGain = total;
        pick = j;
      }
    }
    chosen.push(pick >= 0 ? pick : open.find((j) => !chosen.includes(j))!);
  }
  return chosen;
}

/** One pick of `winner` among `shown` as its pairwise preferences: the winner over each other image. */
export function pickPairs<T>(shown: readonly T[], winner: T): { winner: T; loser: T }[] {
  return shown.filter((x) => x !== winner).map((loser) => ({ winner, loser }));
}

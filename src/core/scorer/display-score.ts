/**
 * Show what a person would say, rank on what the scorer believes.
 *
 * A scorer's prediction is a regression estimate of the rating, and nothing keeps it inside 1–10: an
 * optimizer pushes exactly towards images the model extrapolates beyond everything the person rated,
 * so clipping shows a wall of "10.0" that cannot tell good from better. Rankings use the uncapped
 * prediction; what is SHOWN goes through this map instead.
 *
 * The map is a moment-matched quantile map from the prediction's scale to the person's own use of
 * the rating scale, read in logit space where 1 and 10 are infinitely far:
 *
 *   z       = (raw − m) / s            where the person's ratings sit (m, s: mean and spread in rating units)
 *   logit   = μ + σ·z                  the same standing on the person's ratings in logit units, u = (y − 1) / 9
 *   display = 1 + 9·sigmoid(logit)     back on 1–10, never reaching either end
 *
 * It is strictly increasing (ties and order of raw predictions are kept), is close to the identity in
 * the middle of a person's scale (a rating-unit z-score is the same z-score of their logit ratings)
 * and compresses the ends smoothly instead of cutting them off: with a typical person (mean 5.5,
 * spread 2) a raw 10 shows as 9.4, a raw 12 as 9.8, and it takes a raw of about 14 to show 10.0. A
 * person who uses only 3–8 sees 9.1 for that raw 10, one who gives mostly 1s and 10s sees 9.75.
 *
 * Few ratings say little about a person's scale use, so their moments are shrunk to the community's:
 * the community mean rating with a typical within-person spread, counted as PRIOR_WEIGHT ratings.
 * A rating of 1 or 10 is read as the middle of its half-step cell (1.25, 9.75) so logits stay finite.
 */

/** How much the community's scale counts against a person's own ratings, in ratings. */
export const PRIOR_WEIGHT = 5;
/** Spread of one person's ratings around their own mean on a 1–10 scale, when nothing better is known. */
export const TYPICAL_SPREAD = 2;
/** Ratings at the ends are read half a step inwards (the middle of the cell a 1 or a 10 stands for). */
const END_INSET = 0.25;
const MIN_SPREAD = 0.25;

export interface DisplayMap {
  /** Mean and spread of the person's ratings (rating units), shrunk to the community's. */
  readonly mean: number;
  readonly spread: number;
  /** Mean and spread of the same ratings in logit units of (y − 1) / 9. */
  readonly logitMean: number;
  readonly logitSpread: number;
  /** Ratings the map was learned from (0 = the community's scale alone). */
  readonly n: number;
}

/** What is known of the community's scale use: its mean rating and (optionally) a within-person spread. */
export interface CommunityScale {
  mean: number;
  spread?: number;
}

function toLogit(rating: number): number {
  const y = Math.min(10 - END_INSET, Math.max(1 + END_INSET, rating));
  const u = (y - 1) / 9;
  return Math.log(u / (1 - u));
}

interface Moments {
  mean: number;
  second: number;
}

function moments(values: readonly number[], weights?: readonly number[]): Moments {
  let w = 0;
  let s = 0;
  let ss = 0;
  values.forEach((v, i) => {
    const wi = weights ? (weights[i] as number) : 1;
    w += wi;
    s += wi * v;
    ss += wi * v * v;
  });
  return w > 0 ? { mean: s / w, second: ss / w } : { mean: 0, second: 0 };
}

/**
 * The community's scale as a distribution over the ten ratings: a normal with the community's mean and
 * spread, discretized to 1..10. Its moments in rating and logit units are what a person is shrunk to.
 */
function communityMoments(c: CommunityScale): { rating: Moments; logit: Moments } {
  const mean = Number.isFinite(c.mean) ? c.mean : 5.5;
  const spread = Math.max(MIN_SPREAD, c.spread ?? TYPICAL_SPREAD);
  const ys = Array.from({ length: 10 }, (_, i) => i + 1);
  const ws = ys.map((y) => Math.exp(-0.5 * ((y - mean) / spread) ** 2));
  return { rating: moments(ys, ws), logit: moments(ys.map(toLogit), ws) };
}

function pooled(own: Moments, n: number, prior: Moments, k: number): { mean: number; spread: number } {
  const mean = (n * own.mean + k * prior.mean) / (n + k);
  const second = (n * own.second + k * prior.second) / (n + k);
  return { mean, spread: Math.sqrt(Math.max(0, second - mean * mean)) };
}

/** Learns a person's display map from their ratings (1–10) and the community's scale. */
export function fitDisplayMap(ratings: ArrayLike<number>, community: CommunityScale, priorWeight = PRIOR_WEIGHT): DisplayMap {
  const ys = Array.from(ratings).filter((y) => Number.isFinite(y));
  const prior = communityMoments(community);
  const k = ys.length === 0 ? 1 : priorWeight;
  const rating = pooled(moments(ys), ys.length, prior.rating, k);
  const logit = pooled(moments(ys.map(toLogit)), ys.length, prior.logit, k);
  return {
    mean: rating.mean,
    spread: Math.max(MIN_SPREAD, rating.spread),
    logitMean: logit.mean,
    logitSpread: Math.max(MIN_SPREAD / 2, logit.spread),
    n: ys.length,
  };
}

/** The 1–10 score shown for an uncapped prediction (strictly increasing in `raw`; never exactly 1 or 10). */
export function displayScore(map: DisplayMap, raw: number): number {
  if (Number.isNaN(raw)) return 1 + 9 / (1 + Math.exp(-map.logitMean));
  const z = (raw - map.mean) / map.spread;
  const logit = map.logitMean + map.logitSpread * z;
  return 1 + 9 / (1 + Math.exp(-logit));
}

/** Share of scores that read "10.0" once shown with one decimal: what saturation looks like to a person. */
export function shareShownAtTen(scores: readonly number[]): number {
  const finite = scores.filter((s) => Number.isFinite(s));
  if (finite.length === 0) return 0;
  return finite.filter((s) => s >= 9.95).length / finite.length;
}

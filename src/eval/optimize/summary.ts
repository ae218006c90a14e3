/** eval:optimize's per-row summary: means and spreads over runs of each row's run metrics. */
import { meanStd, round4 } from '../cli';

/** One optimization run's metrics, with the seed whose population it ran on (the unit of pairing). */
export interface RunOutcome {
  seed: number;
  max: number;
  maxMinusInit: number;
  kStar: number;
  trueGain: number;
  images: number;
  maxSim: number | null;
  scoreOfMostSim: number | null;
  bestSoFar: number[];
  /** Share of the run's scored candidates shown as "10.0" (calibrated display, display-score.ts). */
  shownAtTen?: number;
  /** The same share had the predictions been clipped to 1–10 and shown, as they were before the display map. */
  clippedAtTen?: number;
}

/** Means over a row's runs; every `_std` is the spread over runs (a standard deviation, not an error bar). */
export interface RowSummary {
  max: number;
  max_minus_init: number;
  k_star: number;
  true_gain: number;
  images: number;
  max_std: number;
  max_minus_init_std: number;
  k_star_std: number;
  true_gain_std: number;
  runs: number;
  best_so_far: number[];
  /** Share of all the row's scored candidates shown as "10.0", and as the clipped predictions would have read. */
  shown_at_10: number;
  clipped_at_10: number;
  max_sim?: number;
  score_of_most_sim?: number;
  max_sim_std?: number;
  score_of_most_sim_std?: number;
}

export function summarizeRows(outcomes: Record<string, RunOutcome[]>, personal: boolean): Record<string, RowSummary> {
  const out: Record<string, RowSummary> = {};
  for (const [row, rs] of Object.entries(outcomes)) {
    const s = (f: (r: RunOutcome) => number | null) => meanStd(rs.map(f));
    const max = s((r) => r.max);
    const gain = s((r) => r.maxMinusInit);
    const k = s((r) => r.kStar);
    const tg = s((r) => r.trueGain);
    const len = Math.max(...rs.map((r) => r.bestSoFar.length));
    const curve = Array.from({ length: len }, (_, i) =>
      round4(meanStd(rs.map((r) => r.bestSoFar[Math.min(i, r.bestSoFar.length - 1)] ?? null)).mean),
    );
    const summary: RowSummary = {
      max: round4(max.mean),
      max_minus_init: round4(gain.mean),
      k_star: round4(k.mean),
      true_gain: round4(tg.mean),
      images: round4(s((r) => r.images).mean),
      max_std: round4(max.std),
      max_minus_init_std: round4(gain.std),
      k_star_std: round4(k.std),
      true_gain_std: round4(tg.std),
      runs: rs.length,
      best_so_far: curve,
      // Every run scores the same number of candidates (equal budgets), so the mean of shares is the pooled share.
      shown_at_10: round4(s((r) => r.shownAtTen ?? null).mean),
      clipped_at_10: round4(s((r) => r.clippedAtTen ?? null).mean),
    };
    if (personal) {
      const ms = s((r) => r.maxSim);
      const sm = s((r) => r.scoreOfMostSim);
      Object.assign(summary, {
        max_sim: round4(ms.mean),
        score_of_most_sim: round4(sm.mean),
        max_sim_std: round4(ms.std),
        score_of_most_sim_std: round4(sm.std),
      });
    }
    out[row] = summary;
  }
  return out;
}

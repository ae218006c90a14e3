/** A community-calibrated λ per rating count (built by calibrate.ts, read by finetune's λ choice). */
export interface LambdaSchedule {
  /** Ascending rating counts, each with the λ that served community members with that many ratings best. */
  readonly points: readonly {
    readonly n: number;
    readonly lambda: number;
    readonly members: number;
    /** Mean SROCC that λ reached on the members' other ratings: the community's learning curve (confidence.ts). */
    readonly srocc?: number;
  }[];
}

/**
 * The scheduled λ for a person with n ratings: that of the largest calibrated count ≤ n (the first
 * one below it). null beyond the last calibrated count — there the person's own ratings are plenty
 * and leave-one-out takes over — or without a schedule.
 */
export function scheduledLambda(schedule: LambdaSchedule | undefined, n: number): number | null {
  const pts = schedule?.points;
  if (!pts || pts.length === 0) return null;
  if (n > (pts[pts.length - 1] as { n: number }).n) return null;
  let pick = pts[0] as { lambda: number };
  for (const p of pts) if (p.n <= n) pick = p;
  return pick.lambda;
}

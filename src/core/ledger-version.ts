/**
 * The ledger version a person's scorer moves to when a change this process committed is applied in
 * memory, computed instead of read: RatingLedger.versions is `count:max(id):sum(id)` over the person's
 * rating_events rows, so adding one row of id `e` gives `count+1 : max(max, e) : sum+e`.
 *
 * Only a change newer than every row the held version counts (e > max) is surely not among them; for
 * any other the caller reads the database instead. A change from elsewhere committed in between is not
 * counted here, so the computed version then differs from the database's and the usual version check
 * (a notification, or the check before use) refits from the database: never a version claimed wrongly.
 */
import { NO_VERSION } from './ratings';

/** The version after adding the audit rows `eventIds` (ascending) to `held`; null when one may already be counted. */
export function versionAfter(held: string, eventIds: readonly number[]): string | null {
  let count = 0n;
  let max = 0n;
  let sum = 0n;
  if (held !== NO_VERSION) {
    const parts = held.split(':');
    if (parts.length !== 3 || !parts.every((p) => /^\d+$/.test(p))) return null;
    [count, max, sum] = parts.map((p) => BigInt(p)) as [bigint, bigint, bigint];
  }
  for (const id of eventIds) {
    const e = BigInt(id);
    if (e <= max) return null;
    count += 1n;
    max = e;
    sum += e;
  }
  return `${count}:${max}:${sum}`;
}

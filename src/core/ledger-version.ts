/**
 * The ledger version a person's scorer moves to when a change this process committed is applied in
 * memory, computed instead of read: RatingLedger.versions is `count:max(id):sum(id)` over the person's
 * rating_events rows, so adding one row of id `e` gives `count+1 : max(max, e) : sum+e`.
 *
 * Only a change newer than every row the held version counts (e > max) is surely not among them; for
 * any other the caller reads the database instead. A change from elsewhere committed in between is not
 * counted here, so the computed version then differs from the database's and the usual version check
 * (a notification, or the check before use) refits from the database: never a version claimed wrongly.
 *
 * A person's picks (./picks-store) are part of the version after a `+p`: `count:max:sum+p<picks>:<hash>`
 * (just `count:max:sum` without picks, so the versions of people who never picked stay as they were).
 * A rating change applied in memory keeps the picks part as held: it does not touch the picks.
 */

/** Ledger version of a person who has no rating events nor picks (never rated, or forgotten). */
export const NO_VERSION = '0';

const PICKS_MARK = '+p';

/** The version of a person whose ratings are at `ratings` and whose picks read `picks` (RatingLedger.versions). */
export function withPicks(ratings: string, picks: string): string {
  return `${ratings}${PICKS_MARK}${picks}`;
}

/** The picks part of a version ('' without picks): what tells whether the picks a scorer holds are current. */
export function picksPart(version: string): string {
  const at = version.indexOf(PICKS_MARK);
  return at < 0 ? '' : version.slice(at + PICKS_MARK.length);
}

/** How many picks a version counts (0 without picks). */
export function picksCount(version: string): number {
  const part = picksPart(version);
  return part === '' ? 0 : Number(part.slice(0, part.indexOf(':')));
}

/** The version after adding the audit rows `eventIds` (ascending) to `held`; null when one may already be counted. */
export function versionAfter(heldVersion: string, eventIds: readonly number[]): string | null {
  const at = heldVersion.indexOf(PICKS_MARK);
  const held = at < 0 ? heldVersion : heldVersion.slice(0, at);
  const picks = at < 0 ? '' : heldVersion.slice(at);
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
  return `${count}:${max}:${sum}${picks}`;
}

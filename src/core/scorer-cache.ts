/**
 * Which people's scorers stay in memory: a least-recently-used order with each person's estimated bytes,
 * bounded by a byte budget (SCORER_CACHE_MB). It only keeps the accounts; the owner drops whoever it
 * names (after persisting them) and brings them back on their next use.
 */
import type { UserKey } from './identity';

export class ScorerCache {
  /** Insertion order = recency: the first key is the least recently used. */
  private readonly bytes = new Map<UserKey, number>();
  private total = 0;

  constructor(readonly budgetBytes: number) {
    if (!(budgetBytes > 0)) throw new RangeError(`scorer cache budget must be positive (got ${budgetBytes})`);
  }

  /** Marks the person most recently used and records what they hold now. */
  touch(userKey: UserKey, bytes: number): void {
    this.total -= this.bytes.get(userKey) ?? 0;
    this.bytes.delete(userKey);
    this.bytes.set(userKey, bytes);
    this.total += bytes;
  }

  remove(userKey: UserKey): void {
    this.total -= this.bytes.get(userKey) ?? 0;
    this.bytes.delete(userKey);
  }

  /**
   * Whom to drop to get back within the budget, least recently used first, skipping those `keep` holds
   * (in use right now). Removes them from the accounts; may leave the total over budget when everyone
   * left is kept.
   */
  evictions(keep: (userKey: UserKey) => boolean): UserKey[] {
    const out: UserKey[] = [];
    for (const [userKey, bytes] of this.bytes) {
      if (this.total <= this.budgetBytes) break;
      if (keep(userKey)) continue;
      this.bytes.delete(userKey);
      this.total -= bytes;
      out.push(userKey);
    }
    return out;
  }

  get usedBytes(): number {
    return this.total;
  }

  get size(): number {
    return this.bytes.size;
  }
}

/**
 * One gateway session per Discord shard across a deployment. Discord lets a second process IDENTIFY on
 * a shard that already has a session (a second replica, or the new pod of a rolling update next to the
 * old one), and then both receive and handle every event of its servers. So before a process connects a
 * shard it takes the shard's lease in the database (src/db/leases.ts), renews it while connected, and
 * gives it up on shutdown; a process that finds it held waits and asks again, taking it once the holder
 * releases it or stops renewing (died: the lease expires after `ttlMs`).
 *
 * Leases are taken in ascending shard order and a round stops at the first refusal, so two processes
 * wanting overlapping sets never hold one each of what the other waits for. The lease name carries the
 * shard count: a process with another count waits until no gateway of the old count holds anything, as
 * shards of different counts cover overlapping servers.
 *
 * If renewals fail for longer than the lease lasts, another process may have taken the shard: the
 * session must end before that can happen, so `onLost` is called while the lease still has a margin.
 */
import type { Logger } from 'pino';
import type { Db } from '../../db/connection';
import { liveLeases, releaseLease, takeLease } from '../../db/leases';

export interface LeaseTiming {
  /** How long a lease lasts without renewal: a dead holder's shard is free after this. */
  ttlMs: number;
  /** How often a held lease is renewed (well under ttlMs). */
  renewMs: number;
  /** How often a waiting process asks again. */
  retryMs: number;
}

export const DEFAULT_LEASE_TIMING: LeaseTiming = { ttlMs: 30_000, renewMs: 10_000, retryMs: 5_000 };

export const shardLeasePrefix = (appId: string): string => `discord:${appId}:shard:`;
export const shardLeaseName = (appId: string, id: number, count: number): string => `${shardLeasePrefix(appId)}${id}/${count}`;

export interface ShardLeasesOptions {
  db: Db;
  appId: string;
  count: number;
  ids: number[];
  /** This process (unique per adapter instance). */
  holder: string;
  log: Logger;
  timing?: Partial<LeaseTiming>;
  /** A held lease could not be kept (taken by another process, or unrenewed too long): end the sessions. */
  onLost: (why: string) => void;
}

export class ShardLeases {
  private readonly timing: LeaseTiming;
  private readonly held = new Set<number>();
  private renewTimer: NodeJS.Timeout | null = null;
  /** Local time by which the last successful renewal runs out (measured from before it was asked). */
  private validUntil = 0;
  private lost = false;
  private renewing = false;
  /** What the process waits for, for health and logs; null once every lease is held. */
  waitingFor: string | null = null;

  constructor(private readonly o: ShardLeasesOptions) {
    this.timing = { ...DEFAULT_LEASE_TIMING, ...o.timing };
  }

  holds(id: number): boolean {
    return this.held.has(id) && !this.lost;
  }

  /**
   * Takes every lease of this process's shards, waiting while others hold them. False if `shouldStop`
   * said stop first (then nothing is held).
   */
  async acquire(shouldStop: () => boolean): Promise<boolean> {
    let told = '';
    for (;;) {
      if (shouldStop()) {
        await this.release();
        return false;
      }
      const asked = Date.now();
      const blocker = await this.round();
      if (!blocker) {
        this.validUntil = asked + this.timing.ttlMs;
        this.waitingFor = null;
        if (told) this.o.log.info({ shards: this.o.ids }, 'took the Discord shard leases; connecting');
        return true;
      }
      this.waitingFor = blocker;
      // Said once per holder: a rolling update's new pod may wait a while for the old one to stop.
      if (blocker !== told) this.o.log.warn({ shards: this.o.ids }, `waiting to connect Discord: ${blocker}`);
      told = blocker;
      await new Promise((r) => setTimeout(r, this.timing.retryMs));
    }
  }

  /** One pass in shard order; returns what blocks (held elsewhere), or null when all are held. */
  private async round(): Promise<string | null> {
    const { db, appId, count, holder } = this.o;
    const others = (await liveLeases(db, shardLeasePrefix(appId))).filter((l) => l.holder !== holder && !l.name.endsWith(`/${count}`));
    if (others.length)
      return `${others[0]!.holder} still runs shards of another shard count (lease ${others[0]!.name}); change DISCORD_SHARD_COUNT only with every gateway stopped`;
    for (const id of this.o.ids) {
      const name = shardLeaseName(appId, id, count);
      if (await takeLease(db, { name, holder, ttlMs: this.timing.ttlMs })) {
        this.held.add(id);
        continue;
      }
      const owner = (await liveLeases(db, name)).find((l) => l.name === name)?.holder ?? 'another process';
      return `shard ${id} is held by ${owner} (it is released when that process stops, or expires ${Math.round(this.timing.ttlMs / 1000)} s after it last renewed)`;
    }
    return null;
  }

  /** Renews every held lease each `renewMs` until release(). */
  startRenewing(): void {
    if (this.renewTimer) return;
    this.renewTimer = setInterval(() => this.tick(), this.timing.renewMs);
    this.renewTimer.unref();
  }

  private tick(): void {
    if (this.lost || !this.held.size) return;
    // Another process may take a shard once its lease is out: stop first, with one renewal to spare —
    // whether the renewals failed or hang (a database that stopped answering).
    if (Date.now() + this.timing.renewMs >= this.validUntil) return this.lose('the shard leases could not be renewed before they ran out');
    if (this.renewing) return;
    this.renewing = true;
    void this.renew().finally(() => (this.renewing = false));
  }

  private async renew(): Promise<void> {
    const asked = Date.now();
    try {
      for (const id of this.held) {
        const name = shardLeaseName(this.o.appId, id, this.o.count);
        if (!(await takeLease(this.o.db, { name, holder: this.o.holder, ttlMs: this.timing.ttlMs })))
          return this.lose(`the lease of shard ${id} was taken by another process`);
      }
      this.validUntil = asked + this.timing.ttlMs;
    } catch (err) {
      this.o.log.warn({ err }, 'could not renew the Discord shard leases; retrying');
    }
  }

  private lose(why: string): void {
    if (this.lost) return;
    this.lost = true;
    this.o.log.error(
      { shards: [...this.held] },
      `${why}: closing this process's Discord sessions so no shard runs twice; restart the process to connect again`,
    );
    this.o.onLost(why);
  }

  /** Stops renewing and gives every lease back (a lease taken over meanwhile stays with its new holder). */
  async release(): Promise<void> {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
    const ids = [...this.held];
    this.held.clear();
    await Promise.all(
      ids.map((id) =>
        releaseLease(this.o.db, { name: shardLeaseName(this.o.appId, id, this.o.count), holder: this.o.holder }).catch((err: unknown) =>
          this.o.log.warn({ err, shard: id }, 'could not release a Discord shard lease; it expires by itself'),
        ),
      ),
    );
  }

  /** Whether every lease is still held (false after a loss). */
  get intact(): boolean {
    return !this.lost && this.held.size === this.o.ids.length;
  }
}

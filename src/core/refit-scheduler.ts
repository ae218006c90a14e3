/**
 * Coalesces scorer refits per person. A burst of ratings (100 in 10 s) must not queue 100 refits:
 * while a person's refit runs, further requests only mark them dirty, and one more refit runs after
 * the current one — which then sees every rating given so far. So per person at most two refits
 * exist at any moment (one running, one pending) and the last one always starts after the last
 * request. Different people never wait for each other.
 *
 * A request carries what is known of the change: a change this process committed (`requestChange`) can
 * be applied to the scorer in memory, anything else (`request`: a notification, a version check) needs
 * a refit from the database. A refit takes every change queued for the person since the last one, or
 * null when any request since needs the database.
 */
import { silentLogger, type Logger } from '../log';
import type { UserKey } from './identity';
import type { CommittedChange } from './records';

export interface RefitSchedulerOptions {
  /** `changes`: this process's changes since the last refit of the person, or null when the database must be read. */
  refit: (userKey: UserKey, changes: readonly CommittedChange[] | null) => Promise<void>;
  log?: Logger;
}

export interface RefitStats {
  /** Requests received. */
  requested: number;
  /** People with a refit pending behind a running one. */
  queued: number;
  /** Refits running now. */
  running: number;
  completed: number;
  failed: number;
  /** Requests absorbed into a running or pending refit. */
  coalesced: number;
}

interface PersonState {
  /** A request arrived while a refit was running: run once more afterwards. */
  dirty: boolean;
  /** The next refit must read the database (a request came without its change). */
  full: boolean;
  /** This process's changes not yet handed to a refit. */
  changes: CommittedChange[];
  /** Requests not yet handed to a refit: all but one of them are coalesced. */
  asked: number;
  /** Callers waiting for this person's refits to settle. */
  waiters: (() => void)[];
}

export class RefitScheduler {
  private readonly refit: RefitSchedulerOptions['refit'];
  private readonly log: Logger;
  /** People with a refit running (and maybe one pending). */
  private readonly active = new Map<UserKey, PersonState>();
  private idleWaiters: (() => void)[] = [];
  private counts = { requested: 0, completed: 0, failed: 0, coalesced: 0 };

  constructor(opts: RefitSchedulerOptions) {
    this.refit = opts.refit;
    this.log = opts.log ?? silentLogger;
  }

  /** Asks for a refit of this person's scorer. Never throws and never waits for the refit. */
  request(userKey: UserKey): void {
    this.enqueue(userKey).full = true;
  }

  /** Asks for a refit that may apply this change (committed by this process) without reading the database. */
  requestChange(userKey: UserKey, change: CommittedChange): void {
    this.enqueue(userKey).changes.push(change);
  }

  private enqueue(userKey: UserKey): PersonState {
    this.counts.requested++;
    const state = this.active.get(userKey);
    if (state) {
      state.dirty = true;
      state.asked++;
      return state;
    }
    const fresh: PersonState = { dirty: false, full: false, changes: [], asked: 1, waiters: [] };
    this.active.set(userKey, fresh);
    void this.loop(userKey);
    return fresh;
  }

  /**
   * Resolves when this person has no refit running or pending, so a prediction made after it sees every
   * rating committed before the call (human-in-the-loop scoring during a run).
   */
  settled(userKey: UserKey): Promise<void> {
    const state = this.active.get(userKey);
    if (!state) return Promise.resolve();
    return new Promise((resolve) => state.waiters.push(resolve));
  }

  /** True while this person has a refit running or pending (their scorer is about to change). */
  busy(userKey: UserKey): boolean {
    return this.active.has(userKey);
  }

  /** Resolves when no refit is running or pending (tests, graceful shutdown). */
  idle(): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stats(): RefitStats {
    let queued = 0;
    for (const s of this.active.values()) if (s.dirty) queued++;
    return { ...this.counts, queued, running: this.active.size };
  }

  private async loop(userKey: UserKey): Promise<void> {
    const state = this.active.get(userKey)!;
    do {
      try {
        // Deferred to a microtask so a synchronous throw or long synchronous part never runs in the rater's call
        // (and the request that started the loop has queued its change by then).
        await Promise.resolve().then(() => {
          // Everything asked so far goes into this refit: only a request from now on makes another.
          const changes = state.full ? null : state.changes;
          this.counts.coalesced += state.asked - 1;
          state.asked = 0;
          state.dirty = false;
          state.full = false;
          state.changes = [];
          return this.refit(userKey, changes);
        });
        this.counts.completed++;
      } catch (err) {
        this.counts.failed++;
        this.log.error({ err, userKey }, 'scorer refit failed');
      }
    } while (state.dirty);
    this.active.delete(userKey);
    for (const w of state.waiters) w();
    if (this.active.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}

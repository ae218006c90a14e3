/**
 * Writes people's scorer states in batches: the states put within `gatherMs` of each other, or while a
 * batch is being written, go together in one transaction (./scorer-state-store saveScorerStates: three
 * statements however many people). Per person only the latest state put matters, so a newer one
 * replaces one still waiting. One batch is written at a time, so a person's states land in the order
 * they were put.
 *
 * A failed batch is logged and dropped: a state is a cache of the ratings, and a person whose state is
 * missing or old is refitted from the ledger when next loaded.
 */
import type { Logger } from 'pino';
import type { Db } from '../db/connection';
import type { UserKey } from './identity';
import { saveScorerStates, type StoredScorerState } from './scorer-state-store';

/**
 * People per transaction at most: a bounded statement however far behind the writer fell. A state is
 * about 6 KB of parameters (Δ at d = 512 in base64, the ids), and building and sending them runs on the
 * event loop: 64 keep each batch to a few milliseconds there, where 500 stalled every rating for ~0.1 s.
 */
const MAX_BATCH = 64;

export class ScorerStateWriter {
  private waiting = new Map<UserKey, StoredScorerState>();
  private timer: NodeJS.Timeout | null = null;
  /** The batch being written and every one queued behind it. */
  private writing: Promise<void> | null = null;
  /** Settles when the states waiting now have been written (or given up on). */
  private next: { promise: Promise<void>; resolve: () => void } | null = null;

  constructor(
    private readonly db: Db,
    private readonly model: string,
    private readonly log: Logger,
    private readonly gatherMs = 100,
  ) {}

  /** Queues the person's state (replacing one of theirs still waiting); never throws, never waits. */
  put(userKey: UserKey, state: StoredScorerState): void {
    this.waiting.set(userKey, state);
    this.next ??= deferred();
    if (!this.timer && !this.writing) this.arm(this.gatherMs);
  }

  /** Drops the person's state still waiting (a forget: nothing of theirs is to be stored). */
  discard(userKey: UserKey): void {
    this.waiting.delete(userKey);
  }

  /** Resolves once the person's state put so far is in the database (or given up on). */
  async written(userKey: UserKey): Promise<void> {
    if (this.waiting.has(userKey)) await this.next?.promise;
    else await this.writing;
  }

  /** Writes everything waiting now and resolves when every batch has landed (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.waiting.size > 0 || this.writing) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.start();
      await (this.writing ?? this.next?.promise);
    }
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.start();
    }, ms);
    this.timer.unref();
  }

  private start(): void {
    if (this.writing || this.waiting.size === 0) return;
    const batch = [...this.waiting].slice(0, MAX_BATCH);
    for (const [userKey] of batch) this.waiting.delete(userKey);
    const done = this.waiting.size === 0 ? this.next : null;
    if (done) this.next = null;
    this.writing = saveScorerStates(
      this.db,
      this.model,
      batch.map(([userKey, state]) => ({ userKey, state })),
    )
      .then(
        () => undefined,
        (err: unknown) =>
          this.log.warn(
            { err, people: batch.length },
            'could not store scorer states; those people are refitted from their ratings when next loaded',
          ),
      )
      .finally(() => {
        this.writing = null;
        done?.resolve();
        // Put while this batch was written: they go next, together.
        if (this.waiting.size > 0) this.start();
      });
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Group commit for rating events: at most `slots` statements are in flight at once, and the votes that
 * arrive while they are all busy wait and then go together, up to `maxBatch` in one statement — one
 * round trip and one commit (one WAL flush) for all of them. A lone vote on an idle ledger is sent at
 * once, alone, so batching only ever adds the wait for a statement already in flight.
 *
 * Every vote is durable when its promise resolves (its batch committed). A batch that fails as a whole
 * for a reason that is not the batch's (a serialization failure or deadlock) is retried by the caller's
 * `send`; one that fails otherwise is split, each vote sent alone, so one bad vote fails only its own caller.
 */
export interface VoteBatcherOptions<V, R> {
  /** Applies the votes in one statement and answers one result per vote, in the votes' order. */
  send: (votes: readonly V[]) => Promise<R[]>;
  /** Statements in flight at most (default 4). */
  slots?: number;
  /** Votes per statement at most (default 64). */
  maxBatch?: number;
}

interface Waiting<V, R> {
  vote: V;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

export class VoteBatcher<V, R> {
  private readonly send: (votes: readonly V[]) => Promise<R[]>;
  private readonly slots: number;
  private readonly maxBatch: number;
  private queue: Waiting<V, R>[] = [];
  private inFlight = 0;
  private counts = { votes: 0, statements: 0 };

  constructor(opts: VoteBatcherOptions<V, R>) {
    this.send = opts.send;
    this.slots = Math.max(1, opts.slots ?? 4);
    this.maxBatch = Math.max(1, opts.maxBatch ?? 64);
  }

  /** Resolves with the vote's result once the statement carrying it committed. */
  submit(vote: V): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ vote, resolve, reject });
      this.pump();
    });
  }

  /** Votes sent and statements used so far (diagnostics, tests). */
  stats(): { votes: number; statements: number } {
    return { ...this.counts };
  }

  private pump(): void {
    while (this.inFlight < this.slots && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async run(batch: Waiting<V, R>[]): Promise<void> {
    try {
      const results = await this.sendCounted(batch.map((w) => w.vote));
      if (results.length !== batch.length) throw new Error(`a batch of ${batch.length} votes answered ${results.length} results`);
      batch.forEach((w, k) => w.resolve(results[k]!));
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      // Whose fault is unknown: each vote alone (one after another, within this slot), so only a bad one fails.
      for (const w of batch) {
        const alone = await this.sendCounted([w.vote]).then(
          ([result]) => ({ result }),
          (e: unknown) => ({ error: e }),
        );
        if ('error' in alone) w.reject(alone.error);
        else if (alone.result === undefined) w.reject(new Error('a vote sent alone answered no result'));
        else w.resolve(alone.result);
      }
    }
  }

  private sendCounted(votes: readonly V[]): Promise<R[]> {
    this.counts.votes += votes.length;
    this.counts.statements++;
    return this.send(votes);
  }
}

/**
 * The live hand-over of run events: outbox rows (written in the same transactions as the run's
 * state) are delivered to this process's subscribers in id order and marked delivered. Delivery is
 * at-least-once — a crash between handing an event over and marking it hands it over again — so
 * platforms make it exactly-once per message by the event key.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { queryRows } from '../db/util';
import type { Logger } from '../log';
import { Emitter } from './emitter';
import type { RunEvent } from './optimizer/events';

export class RunOutbox {
  private readonly events: Emitter<RunEvent>;
  private draining: Promise<number> | null = null;
  private redrain = false;

  constructor(
    private readonly db: Db,
    private readonly workerId: string,
    private readonly log: Logger,
  ) {
    this.events = new Emitter<RunEvent>((err) => this.log.error({ err }, 'run event listener failed'));
  }

  /** Adds a subscriber; returns its removal. */
  on(listener: (event: RunEvent) => void): () => void {
    return this.events.on(listener);
  }

  /** Delivers pending outbox rows now (coalesced: one drain at a time, another right after if asked). */
  kick(): Promise<number> {
    if (this.draining) {
      this.redrain = true;
      return this.draining;
    }
    this.draining = (async () => {
      let total = 0;
      do {
        this.redrain = false;
        total += await this.drain();
      } while (this.redrain);
      return total;
    })()
      .catch((err) => {
        this.log.warn({ err }, 'outbox delivery failed; will retry');
        return 0;
      })
      .finally(() => {
        this.draining = null;
      });
    return this.draining;
  }

  /**
   * Claims undelivered rows (skip locked, so several processes share the work), hands them to the
   * subscribers in id order and marks them delivered. Nobody subscribed here → rows wait for a process
   * that has subscribers (e.g. the chat gateway while this one is a pure worker).
   */
  async drain(): Promise<number> {
    if (this.events.size === 0) return 0;
    let delivered = 0;
    for (;;) {
      const now = Date.now();
      const claim = `claim ${now} ${this.workerId}`;
      const expired = now - 60_000;
      const rows = await queryRows<{ id: number | string; key: string; payload: RunEvent | string }>(
        this.db,
        sql`update outbox set delivered_ref = ${claim}
            where id in (select id from outbox
                         where delivered_at is null
                           and (delivered_ref is null or (delivered_ref like 'claim %' and split_part(delivered_ref, ' ', 2)::bigint < ${expired}))
                         order by id limit 50 for update skip locked)
            returning id, key, payload`,
      );
      if (rows.length === 0) return delivered;
      rows.sort((a, b) => Number(a.id) - Number(b.id));
      for (const r of rows) {
        const payload = typeof r.payload === 'string' ? (JSON.parse(r.payload) as RunEvent) : r.payload;
        this.events.emit(payload);
        await this.db.execute(sql`update outbox set delivered_at = now(), delivered_ref = ${`delivered ${this.workerId}`}
                                  where id = ${Number(r.id)} and delivered_ref = ${claim}`);
        delivered++;
      }
    }
  }
}

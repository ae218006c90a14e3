/**
 * One process's side of the run display claims (db/run-display-claims.ts): which runs of a platform this
 * process shows, which another process shows, and when to ask the database again. RunDisplay posts a
 * run's events only while its claim is held here.
 *
 * - A claim lasts `leaseMs` on the database's clock and is renewed every third of it, by a heartbeat of
 *   its own, so a slow post (a platform's rate limit) does not let it lapse.
 * - A run another process holds is asked about again when that holder's claim would expire: a holder
 *   that died is replaced about `leaseMs` after its last renewal.
 * - A run first seen here that this process did not start waits `headStartMs` before it is claimed: the
 *   process whose command started the run follows it (its closing notice answers that command) and
 *   claims it first.
 */
import type { Services } from '../core/services';

/**
 * Where a run stands for this process. 'held': ours without a gap since we last asked; 'taken': ours
 * now, but new or after our claim lapsed — another process may have shown part of it meanwhile;
 * 'elsewhere': another process holds it (or it is not yet our turn to ask); 'over': its display ended.
 */
export type RunStanding = 'held' | 'taken' | 'elsewhere' | 'over';

export interface DisplayClaimsOptions {
  platform: string;
  /** This process's name in the claims table (unique per RunDisplay). */
  holder: string;
  messages: Pick<Services['messages'], 'claimRunDisplay' | 'releaseRunDisplay'>;
  leaseMs: number;
  headStartMs: number;
}

interface Held {
  /** Local clock: when to renew, and when the claim ran out at the latest (measured from before we asked). */
  renewAt: number;
  expiresAt: number;
}

export class DisplayClaims {
  private readonly held = new Map<string, Held>();
  /** Runs another process shows: when to ask again (local clock). */
  private readonly elsewhere = new Map<string, number>();

  constructor(private readonly o: DisplayClaimsOptions) {}

  /** Runs this process holds or watches (each pass looks at them even without new events). */
  known(): string[] {
    return [...new Set([...this.held.keys(), ...this.elsewhere.keys()])];
  }

  /** Whether this process holds the run's claim now (local knowledge, no query). */
  holds(runId: string): boolean {
    const h = this.held.get(runId);
    return h !== undefined && Date.now() < h.expiresAt;
  }

  /** Where the run stands, asking the database only when a renewal or another attempt is due. */
  async standing(runId: string, o: { followed: boolean }): Promise<RunStanding> {
    const now = Date.now();
    const held = this.held.get(runId);
    if (held && now < held.renewAt) return 'held';
    if (!held) {
      const next = this.elsewhere.get(runId);
      if (next === undefined && !o.followed) {
        this.elsewhere.set(runId, now + this.o.headStartMs);
        return 'elsewhere';
      }
      if (next !== undefined && now < next) return 'elsewhere';
    }
    return this.ask(runId);
  }

  /** Renews every held claim whose renewal is due and that has not lapsed (a lapsed one is the passes' to retake). */
  async renewDue(): Promise<void> {
    const now = Date.now();
    const due = [...this.held.entries()].filter(([, h]) => now >= h.renewAt && now < h.expiresAt).map(([runId]) => runId);
    await Promise.all(due.map((runId) => this.ask(runId)));
  }

  /** Gives the run's claim up (its display ended here, or this process stops) and forgets it. */
  async release(runId: string): Promise<void> {
    const wasHeld = this.held.delete(runId);
    this.elsewhere.delete(runId);
    if (wasHeld) await this.o.messages.releaseRunDisplay({ platform: this.o.platform, runId, holder: this.o.holder });
  }

  /** Gives every held claim up, so another process takes the runs over at once instead of after expiry. */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.held.keys()].map((runId) => this.release(runId)));
  }

  /** Asks about the run at the next look, without waiting (a run this process just started and follows). */
  askSoon(runId: string): void {
    if (!this.held.has(runId)) this.elsewhere.delete(runId);
  }

  /** Forgets a run whose display ended elsewhere. */
  forget(runId: string): void {
    this.held.delete(runId);
    this.elsewhere.delete(runId);
  }

  private async ask(runId: string): Promise<RunStanding> {
    const { platform, holder, leaseMs } = this.o;
    const before = this.held.get(runId);
    const asked = Date.now();
    const claim = await this.o.messages.claimRunDisplay({ platform, runId, holder, leaseMs });
    if (claim.ours) {
      this.held.set(runId, { renewAt: asked + leaseMs / 3, expiresAt: asked + leaseMs });
      this.elsewhere.delete(runId);
      return before && asked < before.expiresAt ? 'held' : 'taken';
    }
    this.held.delete(runId);
    if (claim.over) {
      this.elsewhere.delete(runId);
      return 'over';
    }
    // Ask again when the holder's claim would run out (it renews well before, while it lives).
    const wait = claim.othersExpireInMs ?? leaseMs / 3;
    this.elsewhere.set(runId, Date.now() + Math.min(leaseMs, Math.max(20, wait + 20)));
    return 'elsewhere';
  }
}

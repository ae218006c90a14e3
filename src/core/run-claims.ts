/**
 * The writes of the worker that holds a run's claim (runs.locked_by + heartbeat_at). Each one is
 * fenced by the claim: once another worker has taken the run over (our heartbeat went stale), nothing
 * of ours is written, so two workers never both commit an iteration or end a run.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { candidates, outbox, runIterations, runs } from '../db/schema';
import { TasteloopError } from './errors';
import type { RunEvent } from './optimizer/events';
import type { DoneImage, IterationResult, LoopState } from './optimizer/loop';
import { ACTIVE_STATUSES, type RunStatus } from './run-status';

/** Thrown inside a worker when another worker took the run over (our heartbeat went stale). */
export class LostClaimError extends TasteloopError {}

/** runs.state: the loop state after the last committed iteration, and the images of the one in flight. */
export interface StoredState {
  loop?: LoopState;
  /** Images of the iteration in flight, by "iteration:idx". */
  partial?: Record<string, DoneImage>;
}

export type ClaimedRun = typeof runs.$inferSelect;

export class RunClaims {
  constructor(
    private readonly db: Db,
    private readonly workerId: string,
  ) {}

  /** Takes the run if it is active and unclaimed, ours, or claimed by a worker silent for `staleAfterMs`. */
  async claim(runId: string, staleAfterMs: number): Promise<ClaimedRun | undefined> {
    const me = this.workerId;
    const stale = new Date(Date.now() - staleAfterMs);
    const claimed = await this.db
      .update(runs)
      .set({ status: 'running', lockedBy: me, heartbeatAt: new Date(), updatedAt: new Date() })
      .where(
        and(
          eq(runs.id, runId),
          inArray(runs.status, ACTIVE_STATUSES),
          sql`(${runs.lockedBy} is null or ${runs.lockedBy} = ${me} or ${runs.heartbeatAt} is null or ${runs.heartbeatAt} < ${stale.toISOString()}::timestamptz)`,
        ),
      )
      .returning();
    return claimed[0];
  }

  /** Refreshes the heartbeat; undefined when the claim is lost, else whether the person asked to cancel. */
  async heartbeat(runId: string): Promise<{ cancel: boolean } | undefined> {
    const r = await this.db
      .update(runs)
      .set({ heartbeatAt: new Date() })
      .where(and(eq(runs.id, runId), eq(runs.lockedBy, this.workerId)))
      .returning({ cancel: runs.cancelRequested });
    return r[0];
  }

  async holds(runId: string): Promise<boolean> {
    const r = await this.db
      .select({ id: runs.id })
      .from(runs)
      .where(and(eq(runs.id, runId), eq(runs.lockedBy, this.workerId), inArray(runs.status, ACTIVE_STATUSES)));
    return Boolean(r[0]);
  }

  /** Records a stored image of the iteration in flight, so a crash does not pay for it again. */
  async checkpointImage(runId: string, iteration: number, idx: number, image: DoneImage): Promise<void> {
    const entry = JSON.stringify({ [`${iteration}:${idx}`]: image });
    await this.db.execute(sql`
      update runs set state = coalesce(state, '{}'::jsonb)
          || jsonb_build_object('partial', coalesce(state->'partial', '{}'::jsonb) || ${entry}::jsonb),
        heartbeat_at = now()
      where id = ${runId} and locked_by = ${this.workerId}`);
  }

  /** One transaction: the iteration row, its candidates, its outbox events and the next loop state. */
  async commitIteration(runId: string, r: IterationResult): Promise<void> {
    await this.db.transaction(async (tx) => {
      // Fencing first: if another worker took over, nothing of ours is written.
      const mine = await tx
        .update(runs)
        .set({
          state: { loop: r.state } satisfies StoredState,
          nextIteration: r.state.iteration,
          heartbeatAt: new Date(),
          updatedAt: new Date(),
        })
        .where(and(eq(runs.id, runId), eq(runs.lockedBy, this.workerId), inArray(runs.status, ACTIVE_STATUSES)))
        .returning({ id: runs.id });
      if (!mine[0]) throw new LostClaimError('run claim lost before commit');
      await tx.insert(runIterations).values({
        runId,
        iteration: r.iteration,
        bestScore: finiteOrNull(r.bestThisIteration),
        bestSoFar: finiteOrNull(r.state.bestSoFar),
        feedback: r.feedbackDigest,
        scorerN: r.scorerN,
        optimizerState: { pending: r.state.pending, sinceImprovement: r.state.sinceImprovement },
      });
      if (r.candidates.length) {
        await tx.insert(candidates).values(
          r.candidates.map((c) => ({
            runId,
            iteration: c.iteration,
            idx: c.idx,
            prompt: c.prompt,
            imageId: c.imageId,
            score: finiteOrNull(c.score),
            memberScores: c.memberScores ?? null,
            feedback: c.feedback ?? null,
            skippedReason: c.skippedReason ?? null,
          })),
        );
      }
      for (const ev of r.events) await tx.insert(outbox).values({ runId, key: ev.key, kind: ev.type, payload: ev }).onConflictDoNothing();
    });
  }

  /** Ends the run if we still hold its claim; false when another worker owns it now (nothing written). */
  async finish(runId: string, status: RunStatus, ev: RunEvent, extra: { metrics?: unknown; error?: string }): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const rows = await tx
        .update(runs)
        .set({
          status,
          metrics: extra.metrics ?? null,
          error: extra.error ?? null,
          lockedBy: null,
          heartbeatAt: null,
          updatedAt: new Date(),
        })
        .where(and(eq(runs.id, runId), eq(runs.lockedBy, this.workerId), inArray(runs.status, ACTIVE_STATUSES)))
        .returning({ id: runs.id });
      if (!rows[0]) return false;
      await tx.insert(outbox).values({ runId, key: ev.key, kind: ev.type, payload: ev }).onConflictDoNothing();
      return true;
    });
  }

  /** Gives the run back with an old updated_at, so the next sweep resumes it from its checkpoint at once. */
  async release(runId: string): Promise<void> {
    await this.db
      .update(runs)
      .set({ lockedBy: null, heartbeatAt: null, updatedAt: new Date(0) })
      .where(and(eq(runs.id, runId), eq(runs.lockedBy, this.workerId)));
  }
}

function finiteOrNull(x: number | null | undefined): number | null {
  return x === null || x === undefined || !Number.isFinite(x) ? null : x;
}

/**
 * Durable optimization runs. PostgreSQL (or PGlite) is the source of truth:
 *
 * - `start()` creates the run row. The unique `request_key` makes a retried interaction return the same
 *   run; the partial unique index "one active run per user" makes 50 simultaneous requests of one
 *   person start exactly one run. Quotas (per person, per workspace, per day) and the K × N cap are
 *   checked under a per-workspace advisory lock, so parallel requests cannot overshoot them.
 * - Execution claims the run (locked_by + heartbeat_at; a claim older than `staleAfterMs` may be taken
 *   over) and runs the loop step by step. Each completed iteration is committed in ONE transaction with
 *   its candidates, its outbox events and the next loop state; every image is checkpointed into
 *   runs.state as soon as it is stored. After `kill -9` another worker resumes from the last committed
 *   iteration, re-using the checkpointed images: no completed iteration is redone, no event is written
 *   twice (outbox keys are unique), and only generations in flight at the crash are repeated (≤ the
 *   generator's concurrency; images are content-addressed, so storing one again is harmless).
 * - Workers: graphile-worker 0.17 on PostgreSQL, an in-process runner on PGlite. Graphile's OSS edition
 *   keeps a killed worker's job locked for ~4 h, so durability does not depend on it: a sweeper
 *   re-enqueues runs whose heartbeat is stale (a new job under the same key is created when the old one
 *   is locked), and the claim rules above keep two workers from running one run.
 * - Events reach subscribers through the transactional outbox, in id order, and are marked delivered.
 *   Delivery to a chat platform is AT-LEAST-ONCE (a crash between handing an event over and marking it
 *   delivered hands it over again); platforms make it exactly-once per message by the event key
 *   (`${runId}:it${i}:img${j}` per candidate image, see eventKeys) recorded with the posted message.
 *
 * The start checks (run-start.ts), the quotas (run-quotas.ts), the claim-fenced writes of the worker
 * (run-claims.ts) and the outbox hand-over (run-outbox.ts) live in their own modules; RunService
 * ties them to the run's life: request, queue, execution, end.
 */
import { randomBytes } from 'node:crypto';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Config } from '../config';
import { pendingRunEvents } from './run-feed';
import type { Db } from '../db/connection';
import { outbox, runs } from '../db/schema';
import { silentLogger, type Logger } from '../log';
import { CancelledError, LimitReachedError, TasteloopError, isUserError } from './errors';
import { userKeyOf, type UserKey } from './identity';
import { assertNotForgotten } from './people';
import type { RunEvent, RunMetricsView } from './optimizer/events';
import { eventKeys, finalMetrics, initialState, runIteration, type DoneImage, type LoopDeps, type LoopState } from './optimizer/loop';
import { isAbort } from './optimizer/abort';
import { paramsView, plannedImages, type RunParams } from './optimizer/params';
import { RatingLedger } from './ratings';
import { LostClaimError, RunClaims, type StoredState } from './run-claims';
import { GraphileRunQueue } from './run-graphile-queue';
import { RunOutbox } from './run-outbox';
import { assertImageQuota, assertNoActiveRun, budgetLeftUsd, lockQuotaScope } from './run-quotas';
import { checkRequester, resolveStartParams, type RatingCounter } from './run-start';
import type { TasteCodeRuns } from './taste-codes';
import { ACTIVE_STATUSES as ACTIVE, type RunStatus } from './run-status';
import type { StartRunRequest } from './services';

export type { RunStatus } from './run-status';

/** The abort reason used by stop(): the step in flight is checkpointed and the run released. */
class ShutdownError extends TasteloopError {}

export interface RunServiceOptions {
  db: Db;
  config: Pick<
    Config,
    | 'MAX_IMAGES_PER_RUN'
    | 'DAILY_IMAGE_QUOTA_USER'
    | 'DAILY_IMAGE_QUOTA_WORKSPACE'
    | 'DAILY_BUDGET_USD'
    | 'BANNED_WORDS'
    | 'OPTIMIZER'
    | 'IMAGE_SIZE'
  >;
  llmAvailable: boolean;
  /**
   * Where the run header's "scores come mostly from the community's taste" note counts each member's
   * ratings: the app's rating ledger (default: a ledger over `db`, which counts the same rows).
   */
  ratings?: RatingCounter;
  /** Checks a run's taste code at its start (absent: a request with one is refused). */
  tasteCodes?: Pick<TasteCodeRuns, 'authorize'>;
  /** The loop's collaborators for one run (the objective depends on its members). */
  loopDeps(params: RunParams, run: { id: string; userKey: UserKey }): Promise<LoopDeps> | LoopDeps;
  /** For the run.started event. */
  describe: { generator: string; llm: string | null; scorer: string };
  /** 'graphile' needs connectionString (PostgreSQL); 'inprocess' works everywhere (PGlite). */
  queue: { kind: 'inprocess' } | { kind: 'graphile'; connectionString: string; concurrency?: number };
  log?: Logger;
  workerId?: string;
  /** A claim whose heartbeat is older than this may be taken over (default 30 s). */
  staleAfterMs?: number;
  heartbeatMs?: number;
  sweepMs?: number;
  outboxPollMs?: number;
  /** stop(): how long the step in flight may run on before it is aborted and checkpointed. */
  shutdownGraceMs?: number;
}

export interface RunRow {
  id: string;
  userKey: string;
  status: RunStatus;
  nextIteration: number;
  params: RunParams;
  metrics: unknown;
  error: string | null;
}

export class RunService {
  readonly workerId: string;
  private readonly db: Db;
  private readonly log: Logger;
  private readonly staleAfterMs: number;
  private readonly heartbeatMs: number;
  private readonly ratings: RatingCounter;
  private readonly claims: RunClaims;
  private readonly outbox: RunOutbox;
  private readonly active = new Map<string, { ac: AbortController; done: Promise<unknown> }>();
  private readonly timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private started = false;
  private readonly graphile: GraphileRunQueue | null;

  constructor(private readonly opts: RunServiceOptions) {
    this.db = opts.db;
    this.log = opts.log ?? silentLogger;
    this.workerId = opts.workerId ?? `w-${randomBytes(6).toString('hex')}`;
    this.staleAfterMs = opts.staleAfterMs ?? 30_000;
    this.heartbeatMs = opts.heartbeatMs ?? Math.max(200, Math.floor(this.staleAfterMs / 6));
    this.ratings = opts.ratings ?? new RatingLedger(opts.db);
    this.claims = new RunClaims(this.db, this.workerId);
    this.outbox = new RunOutbox(this.db, this.workerId, this.log);
    this.graphile = opts.queue.kind === 'graphile' ? new GraphileRunQueue(opts.queue, this.log) : null;
  }

  // ---------------------------------------------------------------- requests

  /**
   * Starts a run for the requester: records them, checks the group members' consent, the prompt and
   * the quotas, and queues the run. A retried request (same requestKey) returns the same run.
   */
  async start(req: StartRunRequest): Promise<{ runId: string }> {
    const learning = await checkRequester(this.db, this.ratings, req, this.opts.tasteCodes);
    const extraNote = [req.note, learning].filter(Boolean).join(' ') || undefined;
    const userKey = userKeyOf(req.requester);
    const members = req.members?.length ? [...new Set(req.members)] : [userKey];
    const resolved = resolveStartParams(req, members, this.opts);
    let params = resolved.params;
    const note = resolved.note;

    const existing = await this.runOfRequest(req.requestKey);
    if (existing) return { runId: existing };
    try {
      await assertNoActiveRun(this.db, userKey);
    } catch (err) {
      // A copy of this same request may have created its run since the lookup above: that run is the answer.
      const same = await this.runOfRequest(req.requestKey);
      if (same) return { runId: same };
      throw err;
    }

    const runId = `r${randomBytes(6).toString('hex')}`;
    const planned = plannedImages(params);
    const started: RunEvent = {
      type: 'run.started',
      key: eventKeys.started(runId),
      runId,
      params: paramsView(params, this.opts.describe),
      ...(note || extraNote ? { note: [note, extraNote].filter(Boolean).join(' ') } : {}),
    };
    try {
      await this.db.transaction(async (tx) => {
        await lockQuotaScope(tx, req.scopeId ?? userKey);
        // A person who asked to be forgotten starts nothing (checked under their lock: a forget in
        // progress either sees this run, cancels and deletes it, or has committed its tombstone).
        await assertNotForgotten(tx, userKey);
        await assertImageQuota(tx, this.opts.config, userKey, req.scopeId, planned);
        // The run may spend at most what is left of the person's daily budget (it stops when spent).
        const left = await budgetLeftUsd(tx, this.opts.config, userKey);
        params = { ...params, budget: { ...params.budget, maxUsd: Math.min(params.budget.maxUsd ?? Infinity, left) } };
        await tx.insert(runs).values({
          id: runId,
          userKey,
          scopeId: req.scopeId ?? null,
          requestKey: req.requestKey ?? null,
          status: 'queued',
          initialPrompt: params.prompt,
          params,
          destination: req.destination ?? null,
          state: null,
        });
        await tx.insert(outbox).values({ runId, key: started.key, kind: started.type, payload: started }).onConflictDoNothing();
      });
    } catch (err) {
      if (uniqueViolation(err)) {
        const same = await this.runOfRequest(req.requestKey);
        if (same) return { runId: same };
        await assertNoActiveRun(this.db, userKey);
        throw new LimitReachedError('You already have a run going; /cancel it first.');
      }
      throw err;
    }
    this.log.info({ runId, userKey, optimizer: params.optimizer, planned }, 'run created');
    await this.enqueue(runId);
    void this.kickOutbox();
    return { runId };
  }

  /** The run a request (by its platform key) already started, if any. */
  private async runOfRequest(requestKey: string | undefined): Promise<string | undefined> {
    if (!requestKey) return undefined;
    const same = await this.db.select({ id: runs.id }).from(runs).where(eq(runs.requestKey, requestKey)).limit(1);
    return same[0]?.id;
  }

  /**
   * Cancels the person's active run (or `runId` if it is theirs). A queued run is cancelled at once;
   * a running one is flagged and its worker aborts the provider call in flight (here immediately,
   * elsewhere at its next heartbeat).
   */
  async cancel(userKey: UserKey, runId?: string): Promise<string | null> {
    const where = runId
      ? and(eq(runs.id, runId), eq(runs.userKey, userKey), inArray(runs.status, ACTIVE))
      : and(eq(runs.userKey, userKey), inArray(runs.status, ACTIVE));
    const found = await this.db.select({ id: runs.id }).from(runs).where(where).limit(1);
    const id = found[0]?.id;
    if (!id) return null;
    await this.db.update(runs).set({ cancelRequested: true, updatedAt: new Date() }).where(eq(runs.id, id));
    // Never claimed: finish it here (the claim condition makes this race-free with a starting worker).
    const cancelled = await this.db.transaction(async (tx) => {
      const rows = await tx
        .update(runs)
        .set({ status: 'cancelled', updatedAt: new Date() })
        .where(and(eq(runs.id, id), eq(runs.status, 'queued'), sql`${runs.lockedBy} is null`))
        .returning({ id: runs.id });
      if (!rows[0]) return false;
      const ev: RunEvent = { type: 'run.cancelled', key: eventKeys.end(id), runId: id, metrics: null };
      await tx.insert(outbox).values({ runId: id, key: ev.key, kind: ev.type, payload: ev }).onConflictDoNothing();
      return true;
    });
    if (!cancelled) this.active.get(id)?.ac.abort(new CancelledError('cancelled by the person'));
    void this.kickOutbox();
    return id;
  }

  /**
   * Resolves once none of the person's runs is queued or running any more (a cancelled run has
   * written its end), or after `timeoutMs`. A run executing in this process is awaited directly;
   * one on another worker is polled (it notices the cancel at its next heartbeat). Returns whether
   * they all stopped.
   */
  async waitStopped(userKey: UserKey, opts: { timeoutMs?: number; pollMs?: number } = {}): Promise<boolean> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    for (;;) {
      // A run whose worker is gone (stale heartbeat, not running here) has nobody left to stop.
      const stale = new Date(Date.now() - this.staleAfterMs).toISOString();
      const act = (
        await this.db
          .select({ id: runs.id, live: sql<boolean>`coalesce(${runs.heartbeatAt}, ${runs.updatedAt}) >= ${stale}::timestamptz` })
          .from(runs)
          .where(and(eq(runs.userKey, userKey), inArray(runs.status, ACTIVE)))
      ).filter((a) => a.live || this.active.has(a.id));
      if (act.length === 0) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      const here = act.map((a) => this.active.get(a.id)?.done).filter((d): d is Promise<unknown> => d !== undefined);
      const pause = new Promise((r) => setTimeout(r, Math.min(left, opts.pollMs ?? 100)).unref());
      await (here.length ? Promise.race([Promise.all(here), pause]) : pause);
    }
  }

  /**
   * Merges `dest` into the run's destination (e.g. the thread a platform opened for it), so any
   * process — also one started after a crash — can show the run's events in the same place.
   */
  async setDestination(runId: string, dest: Record<string, unknown>): Promise<void> {
    await this.db.execute(sql`update runs set destination = coalesce(destination, '{}'::jsonb) || ${JSON.stringify(dest)}::jsonb,
                                 updated_at = updated_at where id = ${runId}`);
  }

  /** Events as the outbox delivers them (no replay of earlier ones). */
  /** The durable feed a platform shows runs from: see run-feed.ts. */
  feed(platform: string, cursors: Record<string, number>): ReturnType<typeof pendingRunEvents> {
    return pendingRunEvents(this.opts.db, platform, cursors);
  }

  subscribe(listener: (event: RunEvent) => void): () => void {
    const off = this.outbox.on(listener);
    void this.kickOutbox();
    return off;
  }

  async metrics(runId: string): Promise<RunMetricsView | null> {
    return ((await this.get(runId))?.metrics as RunMetricsView | null | undefined) ?? null;
  }

  async get(runId: string): Promise<RunRow | undefined> {
    const r = (await this.db.select().from(runs).where(eq(runs.id, runId)).limit(1))[0];
    if (!r) return undefined;
    return {
      id: r.id,
      userKey: r.userKey,
      status: r.status as RunStatus,
      nextIteration: r.nextIteration,
      params: r.params as RunParams,
      metrics: r.metrics,
      error: r.error,
    };
  }

  // ---------------------------------------------------------------- workers

  /** Starts executing runs here: the queue consumer, the stale-run sweeper and the outbox dispatcher. */
  async startWorker(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    await this.graphile?.startRunner((runId) => this.execute(runId));
    await this.sweep();
    this.timers.push(
      setInterval(() => void this.sweep().catch((err) => this.log.warn({ err }, 'run sweep failed')), this.opts.sweepMs ?? 10_000),
    );
    this.timers.push(setInterval(() => void this.kickOutbox(), this.opts.outboxPollMs ?? 500));
  }

  /**
   * Graceful shutdown (SIGTERM): no new iterations start; the one in flight may finish within the
   * grace period, else it is aborted — its stored images are already checkpointed — and the run is
   * released for another worker.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers.splice(0)) clearInterval(t);
    const inFlight = [...this.active.values()];
    const grace = new Promise((r) => setTimeout(r, this.opts.shutdownGraceMs ?? 10_000).unref());
    await Promise.race([Promise.allSettled(inFlight.map((a) => a.done)), grace]);
    for (const a of this.active.values()) a.ac.abort(new ShutdownError('worker shutting down'));
    await Promise.allSettled([...this.active.values()].map((a) => a.done));
    await this.graphile?.stopRunner();
    await this.outbox.drain().catch(() => 0);
    await this.graphile?.close();
    this.started = false;
  }

  private async enqueue(runId: string): Promise<void> {
    if (this.graphile) {
      await this.graphile.add(runId);
      return;
    }
    if (this.started && !this.stopping && !this.active.has(runId)) {
      void this.execute(runId).catch((err) => this.log.error({ err, runId }, 'run execution crashed'));
    }
  }

  /** Re-enqueues runs nobody is working on: never claimed, released, or with a stale heartbeat (dead worker). */
  async sweep(): Promise<string[]> {
    const stale = new Date(Date.now() - this.staleAfterMs);
    const rows = await this.db
      .select({ id: runs.id })
      .from(runs)
      .where(and(inArray(runs.status, ACTIVE), sql`coalesce(${runs.heartbeatAt}, ${runs.updatedAt}) < ${stale.toISOString()}::timestamptz`))
      .orderBy(asc(runs.createdAt))
      .limit(100);
    const ids = rows.map((r) => r.id).filter((id) => !this.active.has(id));
    for (const id of ids) {
      this.log.info({ runId: id }, 'resuming a run with no live worker');
      await this.enqueue(id);
    }
    return ids;
  }

  /**
   * Claims `runId` and runs it to the end (or until cancelled / released). Safe to call anywhere any
   * number of times: only one live worker holds the claim.
   */
  async execute(runId: string): Promise<RunStatus | 'busy' | 'released'> {
    if (this.active.has(runId) || this.stopping) return 'busy';
    const ac = new AbortController();
    let settle!: () => void;
    const done = new Promise<void>((r) => (settle = r));
    this.active.set(runId, { ac, done });
    try {
      return await this.executeClaimed(runId, ac);
    } finally {
      this.active.delete(runId);
      settle();
    }
  }

  private async executeClaimed(runId: string, ac: AbortController): Promise<RunStatus | 'busy' | 'released'> {
    const row = await this.claims.claim(runId, this.staleAfterMs);
    if (!row) return 'busy';
    const params = row.params as RunParams;
    const stored = (row.state ?? {}) as StoredState;
    let state: LoopState = stored.loop ?? initialState(params);
    let partial: Record<string, DoneImage> = stored.partial ?? {};
    this.log.info({ runId, worker: this.workerId, iteration: state.iteration, resumed: Boolean(stored.loop) }, 'run claimed');

    const heartbeat = setInterval(() => {
      void this.claims
        .heartbeat(runId)
        .then((r) => {
          if (!r) ac.abort(new LostClaimError('another worker took this run over'));
          else if (r.cancel) ac.abort(new CancelledError('cancelled by the person'));
        })
        .catch((err) => this.log.warn({ err, runId }, 'heartbeat failed'));
    }, this.heartbeatMs);

    let deps: LoopDeps | undefined;
    try {
      if (row.cancelRequested) throw new CancelledError();
      deps = await this.opts.loopDeps(params, { id: runId, userKey: row.userKey });
      while (!state.stopReason) {
        if (this.stopping) throw new ShutdownError('worker shutting down');
        const it = state.iteration;
        const done = new Map<number, DoneImage>();
        for (const [k, v] of Object.entries(partial)) {
          const [i, idx] = k.split(':').map(Number);
          if (i === it && idx !== undefined) done.set(idx, v);
        }
        const result = await runIteration(state, params, deps, {
          runId,
          signal: ac.signal,
          userKey: row.userKey,
          done,
          onImage: (idx, image) => this.claims.checkpointImage(runId, it, idx, image),
        });
        await this.claims.commitIteration(runId, result);
        state = result.state;
        partial = {};
        void this.kickOutbox();
      }
      const metrics = await finalMetrics(state, deps.objective);
      const method = { optimizer: params.optimizer, feedback: params.feedback };
      const ev: RunEvent = { type: 'run.finished', key: eventKeys.end(runId), runId, metrics, stopReason: state.stopReason, method };
      if (!(await this.claims.finish(runId, 'finished', ev, { metrics }))) return 'busy';
      this.log.info({ runId, stopReason: state.stopReason, max: metrics.max, images: metrics.imagesUsed }, 'run finished');
      return 'finished';
    } catch (err) {
      return await this.endAfterError(runId, ac, err, state, deps);
    } finally {
      clearInterval(heartbeat);
      void this.kickOutbox();
    }
  }

  /** How a run ends when its step threw: released (shutdown), left to its new owner, cancelled or failed. */
  private async endAfterError(
    runId: string,
    ac: AbortController,
    err: unknown,
    state: LoopState,
    deps: LoopDeps | undefined,
  ): Promise<RunStatus | 'busy' | 'released'> {
    const reason: unknown = ac.signal.aborted ? ac.signal.reason : undefined;
    if (err instanceof ShutdownError || reason instanceof ShutdownError) {
      await this.release(runId);
      return 'released';
    }
    if (err instanceof LostClaimError || reason instanceof LostClaimError) {
      this.log.warn({ runId }, 'lost the claim on a run; another worker continues it');
      return 'busy';
    }
    if (err instanceof CancelledError || isAbort(err, ac.signal)) {
      const metrics = state.history.length && deps ? await finalMetrics(state, deps.objective).catch(() => null) : null;
      const ev: RunEvent = { type: 'run.cancelled', key: eventKeys.end(runId), runId, metrics };
      return (await this.claims.finish(runId, 'cancelled', ev, { metrics })) ? 'cancelled' : 'busy';
    }
    if (!(await this.claims.holds(runId))) {
      this.log.warn({ runId, err }, 'a run failed here after another worker took it over; ignoring');
      return 'busy';
    }
    const referenceId = randomBytes(4).toString('hex');
    const message = isUserError(err) ? err.message : `The run stopped because of an unexpected problem (reference ${referenceId}).`;
    this.log.error({ err, runId, referenceId }, 'run failed');
    const ev: RunEvent = { type: 'run.failed', key: eventKeys.end(runId), runId, message, ...(isUserError(err) ? {} : { referenceId }) };
    return (await this.claims.finish(runId, 'failed', ev, { error: message })) ? 'failed' : 'busy';
  }

  /** Gives the run back (shutdown): the next worker's sweep resumes it from its checkpoint. */
  private async release(runId: string): Promise<void> {
    await this.claims.release(runId);
    if (this.graphile) await this.enqueue(runId).catch((err) => this.log.warn({ err, runId }, 're-enqueue on release failed'));
    this.log.info({ runId }, 'run released for another worker (shutdown)');
  }

  // ---------------------------------------------------------------- outbox

  /** Delivers pending outbox rows now (coalesced: one drain at a time, another right after if asked). */
  kickOutbox(): Promise<number> {
    return this.outbox.kick();
  }
}

// ---------------------------------------------------------------- helpers

function uniqueViolation(err: unknown): boolean {
  for (let e = err, d = 0; e && typeof e === 'object' && d < 5; e = (e as { cause?: unknown }).cause, d++) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
}

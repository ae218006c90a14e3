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
 */
import { randomBytes } from 'node:crypto';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { ZodError } from 'zod';
import type { Config } from '../config';
import type { Db } from '../db/connection';
import { candidates, outbox, runIterations, runs } from '../db/schema';
import { queryRows } from '../db/util';
import { silentLogger, type Logger } from '../log';
import { Emitter } from './emitter';
import { CancelledError, CommandInputError, InvalidPromptError, LimitReachedError, TasteloopError, isUserError } from './errors';
import { userKeyOf, type UserKey } from './identity';
import { assertNotForgotten } from './people';
import type { RunEvent } from './optimizer/events';
import {
  eventKeys,
  finalMetrics,
  initialState,
  isAbort,
  runIteration,
  type DoneImage,
  type IterationResult,
  type LoopDeps,
  type LoopState,
} from './optimizer/loop';
import { paramsView, plannedImages, resolveRunParams, type RunParams } from './optimizer/params';
import type { StartRunRequest } from './services';
import { sanitizePrompt } from './text-safety';

export type RunStatus = 'queued' | 'running' | 'finished' | 'failed' | 'cancelled';
const ACTIVE: RunStatus[] = ['queued', 'running'];

/** Thrown inside a worker when another worker took the run over (our heartbeat went stale). */
class LostClaimError extends TasteloopError {}
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

interface StoredState {
  loop?: LoopState;
  /** Images of the iteration in flight, by "iteration:idx". */
  partial?: Record<string, DoneImage>;
}

const TASK = 'tasteloop_run';

export class RunService {
  readonly workerId: string;
  private readonly db: Db;
  private readonly log: Logger;
  private readonly staleAfterMs: number;
  private readonly heartbeatMs: number;
  private readonly events = new Emitter<RunEvent>((err) => this.log.error({ err }, 'run event listener failed'));
  private readonly active = new Map<string, { ac: AbortController; done: Promise<unknown> }>();
  private readonly timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private started = false;
  private draining: Promise<number> | null = null;
  private redrain = false;
  private graphile: { runner?: import('graphile-worker').Runner; utils?: import('graphile-worker').WorkerUtils } = {};

  constructor(private readonly opts: RunServiceOptions) {
    this.db = opts.db;
    this.log = opts.log ?? silentLogger;
    this.workerId = opts.workerId ?? `w-${randomBytes(6).toString('hex')}`;
    this.staleAfterMs = opts.staleAfterMs ?? 30_000;
    this.heartbeatMs = opts.heartbeatMs ?? Math.max(200, Math.floor(this.staleAfterMs / 6));
  }

  // ---------------------------------------------------------------- requests

  async start(req: StartRunRequest): Promise<{ runId: string }> {
    const userKey = userKeyOf(req.requester);
    const members = req.members?.length ? [...new Set(req.members)] : [userKey];
    let params: RunParams;
    let note: string | undefined;
    try {
      ({ params, note } = resolveRunParams(
        {
          prompt: req.prompt,
          members,
          objective: req.objective ?? (members.length > 1 ? 'mean' : 'single'),
          iterations: req.iterations,
          candidates: req.candidates,
          feedback: req.feedback,
          optimizer: req.optimizer,
          seed: req.seed ?? randomBytes(4).readUInt32BE(0) % 2 ** 31,
          size: this.opts.config.IMAGE_SIZE,
        },
        {
          llmAvailable: this.opts.llmAvailable,
          maxImagesPerRun: this.opts.config.MAX_IMAGES_PER_RUN,
          defaultOptimizer: this.opts.config.OPTIMIZER,
        },
      ));
    } catch (err) {
      if (err instanceof ZodError)
        throw new CommandInputError(
          `That run can't start: ${err.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ')}.`,
        );
      throw err;
    }
    const clean = sanitizePrompt(params.prompt, { bannedWords: this.opts.config.BANNED_WORDS });
    if (!clean.ok) throw new InvalidPromptError(`That prompt can't be used: ${clean.reason}.`);
    params.prompt = clean.text;

    if (req.requestKey) {
      const same = await this.db.select({ id: runs.id }).from(runs).where(eq(runs.requestKey, req.requestKey)).limit(1);
      if (same[0]) return { runId: same[0].id };
    }
    await this.assertNoActiveRun(userKey);

    const runId = `r${randomBytes(6).toString('hex')}`;
    const planned = plannedImages(params);
    const started: RunEvent = {
      type: 'run.started',
      key: eventKeys.started(runId),
      runId,
      params: paramsView(params, this.opts.describe),
      ...(note || req.note ? { note: [note, req.note].filter(Boolean).join(' ') } : {}),
    };
    try {
      await this.db.transaction(async (tx) => {
        // Serializes quota checks of one workspace (and of one person without workspace).
        await tx.execute(sql`select pg_advisory_xact_lock(7281924, hashtext(${req.scopeId ?? userKey}))`);
        // A person who asked to be forgotten starts nothing (checked under their lock: a forget in
        // progress either sees this run, cancels and deletes it, or has committed its tombstone).
        await assertNotForgotten(tx, userKey);
        await this.assertQuota(tx, userKey, req.scopeId, planned);
        // The run may spend at most what is left of the person's daily budget (it stops when spent).
        const left = await this.budgetLeftUsd(tx, userKey);
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
        if (req.requestKey) {
          const same = await this.db.select({ id: runs.id }).from(runs).where(eq(runs.requestKey, req.requestKey)).limit(1);
          if (same[0]) return { runId: same[0].id };
        }
        await this.assertNoActiveRun(userKey);
        throw new LimitReachedError('You already have a run going; /cancel it first.');
      }
      throw err;
    }
    this.log.info({ runId, userKey, optimizer: params.optimizer, planned }, 'run created');
    await this.enqueue(runId);
    void this.kickOutbox();
    return { runId };
  }

  private async assertNoActiveRun(userKey: UserKey): Promise<void> {
    const act = await this.db
      .select({ id: runs.id })
      .from(runs)
      .where(and(eq(runs.userKey, userKey), inArray(runs.status, ACTIVE)))
      .limit(1);
    if (act[0]) throw new LimitReachedError(`You already have a run going (${act[0].id}); /cancel it first.`);
  }

  /** What is left of the person's daily provider budget (DAILY_BUDGET_USD over the last 24 h of usage). */
  private async budgetLeftUsd(db: Db, userKey: UserKey): Promise<number> {
    const budget = this.opts.config.DAILY_BUDGET_USD;
    const rows = await queryRows<{ spent: number | string | null }>(
      db,
      sql`select coalesce(sum(cost_usd), 0) as spent from usage where user_key = ${userKey} and created_at > now() - interval '1 day'`,
    );
    const spent = Number(rows[0]?.spent ?? 0);
    if (spent >= budget) {
      throw new LimitReachedError(
        `You have used your daily provider budget ($${spent.toFixed(2)} of $${budget.toFixed(2)}). Try again tomorrow, or ask an operator to raise DAILY_BUDGET_USD.`,
      );
    }
    return budget - spent;
  }

  /** Daily image quotas: images generated in the last 24 h plus what active runs may still use. */
  private async assertQuota(db: Db, userKey: UserKey, scopeId: string | undefined, planned: number): Promise<void> {
    const used = async (col: 'user_key' | 'scope_id', value: string) => {
      const rows = await queryRows<{ used: number | string | null; reserved: number | string | null }>(
        db,
        sql`select
              (select count(*) from candidates c join runs r on r.id = c.run_id
                where r.${sql.raw(col)} = ${value} and c.image_id is not null and c.created_at > now() - interval '1 day') as used,
              (select coalesce(sum(least(1 + (r.params->>'iterations')::int * (r.params->>'candidates')::int,
                        coalesce((r.params->'budget'->>'maxImages')::int, 1000000000))), 0)
                 - coalesce((select count(*) from candidates c2 join runs r2 on r2.id = c2.run_id
                      where r2.${sql.raw(col)} = ${value} and r2.status in ('queued','running') and c2.image_id is not null), 0)
                 from runs r where r.${sql.raw(col)} = ${value} and r.status in ('queued','running')) as reserved`,
      );
      const r = rows[0];
      return Number(r?.used ?? 0) + Math.max(0, Number(r?.reserved ?? 0));
    };
    const userQuota = this.opts.config.DAILY_IMAGE_QUOTA_USER;
    const u = await used('user_key', userKey);
    if (u + planned > userQuota) {
      throw new LimitReachedError(
        `That run needs up to ${planned} images but you have ${Math.max(0, userQuota - u)} of your ${userQuota} daily images left. ` +
          'Try fewer iterations or candidates, or again tomorrow.',
      );
    }
    if (scopeId) {
      const wsQuota = this.opts.config.DAILY_IMAGE_QUOTA_WORKSPACE;
      const w = await used('scope_id', scopeId);
      if (w + planned > wsQuota) {
        throw new LimitReachedError(
          `This server/workspace has ${Math.max(0, wsQuota - w)} of its ${wsQuota} daily images left and that run needs up to ${planned}. ` +
            'Try a smaller run, or again tomorrow.',
        );
      }
    }
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
  subscribe(listener: (event: RunEvent) => void): () => void {
    const off = this.events.on(listener);
    void this.kickOutbox();
    return off;
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
    const q = this.opts.queue;
    if (q.kind === 'graphile') {
      const { run } = await import('graphile-worker');
      this.graphile.runner = await run({
        connectionString: q.connectionString,
        concurrency: q.concurrency ?? 4,
        noHandleSignals: true,
        pollInterval: 1000,
        logger: await graphileLogger(this.log),
        taskList: {
          [TASK]: async (payload) => {
            const runId = (payload as { runId?: unknown } | null)?.runId;
            if (typeof runId === 'string') await this.execute(runId);
          },
        },
      });
    }
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
    await this.graphile.runner?.stop().catch((err) => this.log.warn({ err }, 'graphile stop failed'));
    await this.drainOutbox().catch(() => 0);
    await Promise.resolve(this.graphile.utils?.release()).catch(() => {});
    this.graphile = {};
    this.started = false;
  }

  private async enqueue(runId: string): Promise<void> {
    const q = this.opts.queue;
    if (q.kind === 'graphile') {
      if (!this.graphile.utils) {
        const { makeWorkerUtils } = await import('graphile-worker');
        this.graphile.utils = await makeWorkerUtils({ connectionString: q.connectionString, logger: await graphileLogger(this.log) });
      }
      // Same key: a duplicate enqueue updates the waiting job; if the keyed job is locked (maybe by a
      // dead worker), graphile creates a new one — exactly what resuming after a crash needs.
      await this.graphile.utils.addJob(TASK, { runId }, { jobKey: `run:${runId}`, maxAttempts: 3 });
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
    const me = this.workerId;
    const stale = new Date(Date.now() - this.staleAfterMs);
    const claimed = await this.db
      .update(runs)
      .set({ status: 'running', lockedBy: me, heartbeatAt: new Date(), updatedAt: new Date() })
      .where(
        and(
          eq(runs.id, runId),
          inArray(runs.status, ACTIVE),
          sql`(${runs.lockedBy} is null or ${runs.lockedBy} = ${me} or ${runs.heartbeatAt} is null or ${runs.heartbeatAt} < ${stale.toISOString()}::timestamptz)`,
        ),
      )
      .returning();
    const row = claimed[0];
    if (!row) return 'busy';
    const params = row.params as RunParams;
    const stored = (row.state ?? {}) as StoredState;
    let state: LoopState = stored.loop ?? initialState(params);
    let partial: Record<string, DoneImage> = stored.partial ?? {};
    this.log.info({ runId, worker: me, iteration: state.iteration, resumed: Boolean(stored.loop) }, 'run claimed');

    const heartbeat = setInterval(() => {
      void this.db
        .update(runs)
        .set({ heartbeatAt: new Date() })
        .where(and(eq(runs.id, runId), eq(runs.lockedBy, me)))
        .returning({ cancel: runs.cancelRequested })
        .then((r) => {
          if (!r[0]) ac.abort(new LostClaimError('another worker took this run over'));
          else if (r[0].cancel) ac.abort(new CancelledError('cancelled by the person'));
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
          onImage: (idx, image) => this.checkpointImage(runId, it, idx, image),
        });
        await this.commitIteration(runId, result);
        state = result.state;
        partial = {};
        void this.kickOutbox();
      }
      const metrics = await finalMetrics(state, deps.objective);
      const ev: RunEvent = { type: 'run.finished', key: eventKeys.end(runId), runId, metrics, stopReason: state.stopReason };
      if (!(await this.finish(runId, 'finished', ev, { metrics }))) return 'busy';
      this.log.info({ runId, stopReason: state.stopReason, max: metrics.max, images: metrics.imagesUsed }, 'run finished');
      return 'finished';
    } catch (err) {
      const reason = ac.signal.aborted ? ac.signal.reason : undefined;
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
        return (await this.finish(runId, 'cancelled', ev, { metrics })) ? 'cancelled' : 'busy';
      }
      if (!(await this.holdsClaim(runId))) {
        this.log.warn({ runId, err }, 'a run failed here after another worker took it over; ignoring');
        return 'busy';
      }
      const referenceId = randomBytes(4).toString('hex');
      const message = isUserError(err) ? err.message : `The run stopped because of an unexpected problem (reference ${referenceId}).`;
      this.log.error({ err, runId, referenceId }, 'run failed');
      const ev: RunEvent = { type: 'run.failed', key: eventKeys.end(runId), runId, message, ...(isUserError(err) ? {} : { referenceId }) };
      return (await this.finish(runId, 'failed', ev, { error: message })) ? 'failed' : 'busy';
    } finally {
      clearInterval(heartbeat);
      void this.kickOutbox();
    }
  }

  private async holdsClaim(runId: string): Promise<boolean> {
    const r = await this.db
      .select({ id: runs.id })
      .from(runs)
      .where(and(eq(runs.id, runId), eq(runs.lockedBy, this.workerId), inArray(runs.status, ACTIVE)));
    return Boolean(r[0]);
  }

  /** Records a stored image of the iteration in flight, so a crash does not pay for it again. */
  private async checkpointImage(runId: string, iteration: number, idx: number, image: DoneImage): Promise<void> {
    const entry = JSON.stringify({ [`${iteration}:${idx}`]: image });
    await this.db.execute(sql`
      update runs set state = coalesce(state, '{}'::jsonb)
          || jsonb_build_object('partial', coalesce(state->'partial', '{}'::jsonb) || ${entry}::jsonb),
        heartbeat_at = now()
      where id = ${runId} and locked_by = ${this.workerId}`);
  }

  /** One transaction: the iteration row, its candidates, its outbox events and the next loop state. */
  private async commitIteration(runId: string, r: IterationResult): Promise<void> {
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
        .where(and(eq(runs.id, runId), eq(runs.lockedBy, this.workerId), inArray(runs.status, ACTIVE)))
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
  private async finish(runId: string, status: RunStatus, ev: RunEvent, extra: { metrics?: unknown; error?: string }): Promise<boolean> {
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
        .where(and(eq(runs.id, runId), eq(runs.lockedBy, this.workerId), inArray(runs.status, ACTIVE)))
        .returning({ id: runs.id });
      if (!rows[0]) return false;
      await tx.insert(outbox).values({ runId, key: ev.key, kind: ev.type, payload: ev }).onConflictDoNothing();
      return true;
    });
  }

  /** Gives the run back (shutdown): the next worker's sweep resumes it from its checkpoint. */
  private async release(runId: string): Promise<void> {
    await this.db
      .update(runs)
      .set({ lockedBy: null, heartbeatAt: null, updatedAt: new Date(0) })
      .where(and(eq(runs.id, runId), eq(runs.lockedBy, this.workerId)));
    if (this.opts.queue.kind === 'graphile')
      await this.enqueue(runId).catch((err) => this.log.warn({ err, runId }, 're-enqueue on release failed'));
    this.log.info({ runId }, 'run released for another worker (shutdown)');
  }

  // ---------------------------------------------------------------- outbox

  /** Delivers pending outbox rows now (coalesced: one drain at a time, another right after if asked). */
  kickOutbox(): Promise<number> {
    if (this.draining) {
      this.redrain = true;
      return this.draining;
    }
    this.draining = (async () => {
      let total = 0;
      do {
        this.redrain = false;
        total += await this.drainOutbox();
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
  private async drainOutbox(): Promise<number> {
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

// ---------------------------------------------------------------- helpers

function finiteOrNull(x: number | null | undefined): number | null {
  return x === null || x === undefined || !Number.isFinite(x) ? null : x;
}

function uniqueViolation(err: unknown): boolean {
  for (let e = err, d = 0; e && typeof e === 'object' && d < 5; e = (e as { cause?: unknown }).cause, d++) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
}

/** graphile-worker's logs, forwarded to pino (its own console output would bypass redaction). */
async function graphileLogger(log: Logger): Promise<import('graphile-worker').Logger> {
  // Imported lazily so PGlite deployments never load graphile-worker.
  const { Logger: GLogger } = await import('graphile-worker');
  return new GLogger(() => (level, message, meta) => {
    const m = `graphile: ${message}`;
    if (level === 'error') log.error({ meta }, m);
    else if (level === 'warning') log.warn({ meta }, m);
    else if (level === 'info') log.debug({ meta }, m);
    else log.trace({ meta }, m);
  });
}

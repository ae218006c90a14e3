/**
 * Who trains the community models, on what, and when — for one process among all that serve a database.
 *
 * One trainer in the deployment: only a process allowed to (the `worker` role) and holding the trainer
 * lock trains (on PostgreSQL a session advisory lock on a connection of its own, freed by the server when
 * that process dies; on one process the local lock). Every process — the trainer too — serves the stored
 * models (./community-store): the trainer stores each fit as a new version, the others adopt it. The
 * others try the lock every `lockPollMs`, so when the trainer dies another takes over.
 *
 * The trainer keeps every rating in its IncrementalTrainer (a long-lived worker thread): when it becomes
 * the trainer it reads all ratings once; afterwards each changed person's ratings are re-read and sent
 * (the trainer applies the difference), each image's embedding once. A fit is due after `globalEvery`
 * changes, once the moments drifted `driftThreshold` since the last fit or `minIntervalMs` passed — a
 * young community fits at once, a big one at most every `minIntervalMs` — and at once when someone's
 * last rating went (a forget must not linger in the prior).
 */
import { asc } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/connection';
import { ratings as ratingsTable } from '../db/schema';
import { inJsonList } from '../db/util';
import { newerCommunity, storeCommunity, type CommunityState, type StoredCommunity } from './community-store';
import type { EmbeddingService } from './embeddings';
import type { UserKey } from './identity';
import type { RatingLedger } from './ratings';
import { fullRetrainer, type CommunityTrainer, type IncrementalTrainer, type TrainerUsage } from './scorer/community';
import type { PersonRatings } from './scorer/community-stats';
import { CommunityThread } from './scorer/community-thread';
import { localTrainerLock, soleTrainer, type TrainerLock } from './community-trainer-lock';
import { shouldRetrainMeta } from './scorer/maml';
import type { ScorerService } from './scorer/scorer-service';

export interface CommunityPolicy {
  /** Fits are at least this far apart unless the moments drifted `driftThreshold`. */
  minIntervalMs: number;
  /** Relative change of the moments (CommunityStats.drift) that makes a fit due before `minIntervalMs`. */
  driftThreshold: number;
  /** How often a process that does not train tries the lock (and the trainer confirms it still holds it). */
  lockPollMs: number;
  /**
   * The share of the time the trainer may spend fitting: after a fit that took T, the next one waits at
   * least T·(1/share − 1) (a forget excepted), so on a busy machine fits never crowd out the ratings.
   */
  maxBusyShare: number;
  /**
   * How long changes gather before the people they touched are read and sent to the trainer (ms). The
   * trainer needs them only by the next fit (seconds apart at the soonest); sent one by one as they
   * came, a thousand ratings a second cost hundreds of reads a second, nearly one per rating.
   */
  pushGatherMs: number;
}

export const DEFAULT_COMMUNITY_POLICY: CommunityPolicy = {
  minIntervalMs: 30_000,
  driftThreshold: 0.1,
  lockPollMs: 5_000,
  maxBusyShare: 0.2,
  pushGatherMs: 100,
};

export interface CommunityTrainingDeps {
  db: Db;
  ledger: RatingLedger;
  embeddings: EmbeddingService;
  scorer: ScorerService;
  log: Logger;
  /** A fit is due after this many rating changes (default 20). */
  globalEvery?: number;
  seed?: number;
  /** A full-retrain function instead of the worker thread (tests, evaluations). */
  trainCommunity?: CommunityTrainer;
  /** false: train and keep the models to itself, never stored nor loaded, whatever the lock. */
  shareCommunity?: boolean;
  /** false: never train, only adopt (a process without the worker role). Default true. */
  trains?: boolean;
  /** Who trains among the processes (default: the first service of this process on this database). */
  trainerLock?: TrainerLock;
  policy?: Partial<CommunityPolicy>;
}

/** People re-read in one query when their ratings changed. */
const PEOPLE_PER_QUERY = 500;
/** Ratings sent to the trainer per message while it is filled. */
const RATINGS_PER_MESSAGE = 5_000;

export class CommunityTraining {
  /** Thread the last community models were trained on (0 = inline); observability and tests. */
  lastThread: number | null = null;
  private readonly deps: CommunityTrainingDeps;
  private readonly policy: CommunityPolicy;
  private readonly lock: TrainerLock | null;
  private trainer: IncrementalTrainer | null = null;
  /** Whether the trainer holds every rating (it is filled when this process becomes the trainer). */
  private filled = false;
  private readonly dirty = new Set<UserKey>();
  /** People the trainer holds ratings of (so a refill can take back those who have none any more). */
  private held = new Set<UserKey>();
  private changes = 0;
  private someoneLeft = false;
  private lastFitAt = -Infinity;
  /** How long the last fit took (ms, wall clock, from the request to its answer). */
  private lastFitMs = 0;
  private fitTimer: NodeJS.Timeout | null = null;
  /** When fitTimer fires (Date.now() ms). */
  private fitDueAt = Infinity;
  /** The wait before the changed people are sent (see CommunityPolicy.pushGatherMs). */
  private pushTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  /** The trainer's work, one step at a time: a person's ratings are never sent out of order. */
  private chain: Promise<void> = Promise.resolve();
  private fitQueued = false;
  private pushQueued = false;
  private metaUsers = 0;
  /** Ratings in the community when finetune's λ schedule was last calibrated. */
  private calibratedRatings = 0;
  /** Version (community_models) of the models held; 0 = none adopted yet. */
  private heldVersion = 0;
  /** Syncs run one after another, so a slow read never reorders adoptions. */
  private syncing: Promise<boolean> = Promise.resolve(false);
  private stopped = false;
  private released: Promise<void> = Promise.resolve();
  /** The lock try in flight, shared by whoever asks meanwhile. */
  private claiming: Promise<boolean> | null = null;

  constructor(deps: CommunityTrainingDeps) {
    this.deps = deps;
    this.policy = { ...DEFAULT_COMMUNITY_POLICY, ...deps.policy };
    const own = deps.shareCommunity === false ? soleTrainer : (deps.trainerLock ?? localTrainerLock(deps.db));
    this.lock = deps.trains === false ? null : own;
  }

  private get globalEvery(): number {
    return this.deps.globalEvery ?? 20;
  }

  /** Version (community_models) of the community models held; 0 = none adopted yet. */
  get version(): number {
    return this.heldVersion;
  }

  /** Whether this process trains now. */
  get training(): boolean {
    return this.trainer !== null;
  }

  /** The trainer's busy time (see TrainerUsage); null while this process does not train. */
  usage(): TrainerUsage | null {
    return this.trainer?.usage() ?? null;
  }

  /**
   * At startup: adopts the stored models, and if this process becomes the trainer fills it and fits —
   * unless the stored models were fitted on a community of this size. Resolves once scores can be
   * served: after adoption, or after the first fit when there was nothing to adopt. A failed first fit
   * rejects (the caller serves with the neutral prior meanwhile).
   */
  async start(): Promise<void> {
    const adopted = await this.sync();
    const trains = await this.claim();
    // Polls begin after this first try, so they never race it to become the trainer.
    if (this.lock && !this.pollTimer && !this.stopped) {
      this.pollTimer = setInterval(() => void this.poll(), this.policy.lockPollMs);
      this.pollTimer.unref();
    }
    if (!trains) return;
    const catchUp = this.enqueue(async () => {
      const trainer = await this.ready();
      if (!trainer) return;
      const held = this.deps.scorer.getGlobal();
      const now = await trainer.status();
      if (!adopted || held.ratings !== now.ratings || held.users !== now.users) await this.fitNow();
    });
    // With stored models adopted, scores can be served now: filling the trainer reads every rating
    // (minutes at a large community), so it catches up in the background. Without any, the first fit
    // is awaited, since the alternative is serving everyone the neutral prior.
    if (adopted) void catchUp.catch((err: unknown) => this.failed(err));
    else await catchUp;
  }

  /** A person's ratings changed (`counted`: the first time this process hears of this change). */
  changed(userKey: UserKey, counted: boolean): void {
    if (!this.trainer || this.stopped) return;
    this.dirty.add(userKey);
    if (counted) this.changes++;
    // With a fit already timed, each further change is only gathered and sent; the push checks the drift.
    if (this.changes >= this.globalEvery && !this.fitTimer) this.queueFit();
    else this.queuePush();
  }

  /** Fits now if this process is the trainer (or becomes it); otherwise adopts the newest stored models. */
  async retrain(): Promise<void> {
    if (!(await this.claim())) {
      await this.sync();
      return;
    }
    // Read afresh: an explicit retrain follows a forget, whose deletes reach other people's ratings too.
    await this.enqueue(async () => {
      if (this.trainer && this.filled) await this.fill(this.trainer);
      await this.fitNow();
    });
  }

  /** Adopts the stored community models when newer than those held. True if adopted. */
  sync(): Promise<boolean> {
    if (this.deps.shareCommunity === false) return Promise.resolve(false);
    const modelId = this.deps.scorer.modelId;
    this.syncing = this.syncing
      .then(async () => !this.stopped && this.adopt(await newerCommunity(this.deps.db, modelId, this.heldVersion)))
      .catch((err: unknown) => {
        this.deps.log.warn({ err }, 'could not read the stored community models; keeping those held');
        return false;
      });
    return this.syncing;
  }

  /** Resolves when no training step is queued and, after stop(), the trainer and lock are let go. */
  async idle(): Promise<void> {
    // Changes still gathering are sent now: idle means the trainer holds everything heard.
    if (this.pushTimer) {
      clearTimeout(this.pushTimer);
      this.pushTimer = null;
      this.enqueuePush();
    }
    for (;;) {
      const chain = this.chain;
      await chain;
      if (chain === this.chain) break;
    }
    await this.released;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.fitTimer) clearTimeout(this.fitTimer);
    if (this.pushTimer) clearTimeout(this.pushTimer);
    const trainer = this.trainer;
    this.trainer = null;
    this.released = Promise.all([trainer?.close(), this.lock?.release()]).then(
      () => undefined,
      (err: unknown) => this.deps.log.warn({ err }, 'could not let go of the community trainer'),
    );
  }

  /** Tries the lock (one try at a time); becoming the trainer starts an (empty) trainer, losing the lock ends it. */
  private claim(): Promise<boolean> {
    this.claiming ??= this.tryLock().finally(() => (this.claiming = null));
    return this.claiming;
  }

  private async tryLock(): Promise<boolean> {
    if (!this.lock || this.stopped) return false;
    let held = false;
    try {
      held = await this.lock.acquire();
    } catch (err) {
      // Unsure whether it still holds the lock: training beside another trainer is worse than a pause.
      this.deps.log.warn({ err }, 'could not check the community trainer lock; not training until it can');
    }
    if (this.stopped) return false;
    if (held && !this.trainer) this.replaceTrainer();
    else if (!held && this.trainer) {
      this.deps.log.info('another process trains the community models now; this one adopts them');
      this.resign();
    }
    return held;
  }

  /** A poll of the lock: a process that just became the trainer fills it and fits (the last trainer may have died with changes). */
  private async poll(): Promise<void> {
    const was = this.trainer !== null;
    if (!(await this.claim()) || was) return;
    this.deps.log.info('this process trains the community models now');
    await this.enqueue(() => this.fitNow()).catch((err: unknown) => this.failed(err));
  }

  private newTrainer(): IncrementalTrainer {
    const dim = this.deps.scorer.dim;
    return this.deps.trainCommunity ? fullRetrainer(this.deps.trainCommunity, dim) : new CommunityThread(dim);
  }

  private resign(): void {
    const trainer = this.trainer;
    this.trainer = null;
    this.filled = false;
    this.held = new Set();
    this.dirty.clear();
    this.changes = 0;
    if (this.fitTimer) clearTimeout(this.fitTimer);
    this.fitTimer = null;
    void trainer?.close().catch(() => undefined);
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.chain.then(step);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private queuePush(): void {
    if (this.pushQueued || this.pushTimer) return;
    this.pushTimer = setTimeout(() => {
      this.pushTimer = null;
      this.enqueuePush();
    }, this.policy.pushGatherMs);
    this.pushTimer.unref();
  }

  private enqueuePush(): void {
    if (this.pushQueued || this.stopped) return;
    this.pushQueued = true;
    void this.enqueue(async () => {
      this.pushQueued = false;
      const trainer = await this.ready();
      if (trainer) await this.pushChanged(trainer);
      // A timed fit may be due sooner now (the moments drifted): fitIfDue checks, at most once per push.
      if (this.someoneLeft || (this.fitTimer && this.changes >= this.globalEvery)) this.queueFit();
    }).catch((err: unknown) => this.failed(err));
  }

  private queueFit(): void {
    if (this.fitQueued) return;
    this.fitQueued = true;
    void this.enqueue(async () => {
      this.fitQueued = false;
      await this.fitIfDue();
    }).catch((err: unknown) => this.failed(err));
  }

  /** A failed step: logged; a trainer that may have lost ratings is replaced and refilled at the next step. */
  private failed(err: unknown): void {
    // Stopped, or no longer the trainer (its trainer was closed under it): nothing failed that matters.
    if (this.stopped || !this.trainer) return;
    this.deps.log.error({ err }, 'community model training failed; keeping the previous one');
    void this.trainer.close().catch(() => undefined);
    this.replaceTrainer();
  }

  /** A new, empty trainer: filled with every rating at its first step. */
  private replaceTrainer(): void {
    this.trainer = this.newTrainer();
    this.filled = false;
    this.held = new Set();
  }

  /** The trainer, filled with every rating; null when this process does not train. */
  private async ready(): Promise<IncrementalTrainer | null> {
    const trainer = this.trainer;
    if (!trainer || this.stopped) return null;
    if (!this.filled) await this.fill(trainer);
    return this.trainer === trainer ? trainer : null;
  }

  private async fitIfDue(): Promise<void> {
    const trainer = await this.ready();
    if (!trainer) return;
    await this.pushChanged(trainer);
    if (this.changes < this.globalEvery && !this.someoneLeft) return;
    const cooldown = this.lastFitMs * (1 / Math.min(1, Math.max(0.01, this.policy.maxBusyShare)) - 1);
    const drifted = (await trainer.status()).drift >= this.policy.driftThreshold;
    const wait = this.lastFitAt + (drifted ? cooldown : Math.max(cooldown, this.policy.minIntervalMs)) - Date.now();
    if (wait > 0 && !this.someoneLeft) {
      // A timer already set for later is brought forward (a drift shortened the wait), never put back.
      if (this.fitTimer && this.fitDueAt <= Date.now() + wait) return;
      if (this.fitTimer) clearTimeout(this.fitTimer);
      this.fitDueAt = Date.now() + wait;
      this.fitTimer = setTimeout(() => {
        this.fitTimer = null;
        this.queueFit();
      }, wait);
      this.fitTimer.unref();
      return;
    }
    await this.fitNow();
  }

  /** Trains on every rating now (the meta-init and λ schedule too when the community grew), stores and adopts. */
  private async fitNow(): Promise<void> {
    const trainer = await this.ready();
    if (!trainer) return;
    // Only the changes counted so far are in this fit: one heard while it runs counts toward the next.
    const counted = this.changes;
    await this.pushChanged(trainer);
    const { users, ratings } = await trainer.status();
    this.changes = Math.max(0, this.changes - counted);
    this.someoneLeft = false;
    if (this.fitTimer) clearTimeout(this.fitTimer);
    this.fitTimer = null;
    if (ratings === 0) return;
    // The meta-init and the λ schedule follow slow community growth (25% more people, or for the
    // schedule also 25% more ratings: its longest calibrated count grows with people's histories);
    // the prior itself is fitted every time.
    const meta = shouldRetrainMeta(this.metaUsers, users);
    const calibrate = meta || ratings >= this.calibratedRatings * 1.25;
    const started = Date.now();
    const trained = await trainer.fit({ meta, calibrate, seed: this.deps.seed ?? 1 });
    this.lastFitAt = Date.now();
    this.lastFitMs = this.lastFitAt - started;
    if (this.stopped || this.trainer !== trainer) return;
    const { scorer } = this.deps;
    const schedule = trained.global.lambdaSchedule ?? scorer.getGlobal().lambdaSchedule;
    const state: CommunityState = {
      global: schedule ? { ...trained.global, lambdaSchedule: schedule } : trained.global,
      meta: trained.meta ?? scorer.getMeta(),
      metaUsers: trained.meta ? users : this.metaUsers,
      calibratedRatings: calibrate ? ratings : this.calibratedRatings,
    };
    // Stored (and announced) first: what this process serves is a version every process can load.
    const shared = this.deps.shareCommunity !== false;
    this.adopt({ ...state, version: shared ? await storeCommunity(this.deps.db, scorer.modelId, state) : this.heldVersion + 1 });
    this.lastThread = trained.threadId;
  }

  private adopt(c: StoredCommunity | null): boolean {
    // Only forward: a fit stored before another process's newer one must not replace it here.
    if (!c || this.stopped || c.version <= this.heldVersion) return false;
    const { scorer } = this.deps;
    scorer.setGlobal(c.global);
    if (c.meta !== scorer.getMeta()) scorer.setMeta(c.meta);
    this.metaUsers = c.metaUsers;
    this.calibratedRatings = c.calibratedRatings;
    this.heldVersion = c.version;
    return true;
  }

  /**
   * Sends every rating to the trainer, person by person (the ledger streams them by person), and takes
   * back those of people who have none any more. Changes heard from here on are sent again afterwards;
   * sending a person twice is harmless (the trainer applies the difference).
   */
  private async fill(trainer: IncrementalTrainer): Promise<void> {
    this.dirty.clear();
    const before = this.held;
    this.held = new Set();
    let batch: PersonRatings[] = [];
    let size = 0;
    for await (const r of this.deps.ledger.allRatings()) {
      if (this.trainer !== trainer) return;
      const last = batch.at(-1);
      if (last?.person === r.userKey) last.ratings.push([r.imageId, r.score]);
      else {
        // Full messages end between people: a person's ratings always arrive together.
        if (size >= RATINGS_PER_MESSAGE) {
          await this.send(trainer, batch);
          batch = [];
          size = 0;
        }
        batch.push({ person: r.userKey, ratings: [[r.imageId, r.score]] });
      }
      size++;
    }
    await this.send(trainer, batch);
    await this.send(
      trainer,
      [...before].filter((person) => !this.held.has(person)).map((person) => ({ person, ratings: [] })),
    );
    this.filled = this.trainer === trainer;
  }

  /** Re-reads the people whose ratings changed and sends them (someone with none left is sent empty). */
  private async pushChanged(trainer: IncrementalTrainer): Promise<void> {
    while (this.dirty.size > 0) {
      const people = [...this.dirty].slice(0, PEOPLE_PER_QUERY);
      for (const p of people) this.dirty.delete(p);
      const rows = await this.deps.db
        .select({ userKey: ratingsTable.userKey, imageId: ratingsTable.imageId, score: ratingsTable.score })
        .from(ratingsTable)
        .where(inJsonList(ratingsTable.userKey, people))
        .orderBy(asc(ratingsTable.userKey), asc(ratingsTable.eventTime), asc(ratingsTable.imageId));
      const byPerson = new Map<UserKey, PersonRatings>(people.map((person) => [person, { person, ratings: [] }]));
      for (const r of rows) byPerson.get(r.userKey)?.ratings.push([r.imageId, r.score]);
      const sent = [...byPerson.values()];
      if (sent.some((p) => p.ratings.length === 0)) this.someoneLeft = true;
      await this.send(trainer, sent);
    }
  }

  /** Each image's embedding once, then the people. */
  private async send(trainer: IncrementalTrainer, people: readonly PersonRatings[]): Promise<void> {
    const unseen = [...new Set(people.flatMap((p) => p.ratings.map(([imageId]) => imageId)))].filter((id) => !trainer.hasImage(id));
    if (unseen.length > 0) trainer.addImages(await this.deps.embeddings.embed(unseen));
    trainer.setPeople(people);
    for (const p of people) {
      if (p.ratings.length > 0) this.held.add(p.person);
      else this.held.delete(p.person);
    }
  }
}

/**
 * TasteService: keeps every person's in-memory scorer in step with the rating ledger.
 *
 * The ledger (PostgreSQL) is the source of truth; the ScorerService is a cache of fitted models.
 * After every rating change the RefitScheduler asks for a refit of that person; a refit diffs the
 * person's ratings in the database against what their scorer holds and applies only the difference
 * (incremental rank-one updates), so 100 ratings in 10 s cost ≤ 2 coalesced refits, each exact.
 * The community prior (`global`) and the meta-learned init (`maml`) retrain in the background as
 * ratings accumulate.
 *
 * Several processes may serve one database, each with its own cache. Each hears of every committed
 * change through LISTEN on the ledger's RATING_CHANNEL (the ledger's pg_notify) and refits that person;
 * and each scorer remembers the ledger version it was fitted at, compared with the database before
 * every prediction, so a notification lost in a reconnect costs a refit on use, never a stale score.
 * A forget announces the person too: every process then drops all it held of them. The community models
 * are shared (./community-store): a retrain stores a new version, every process adopts the newest one.
 */
import { and, desc, eq, inArray, notInArray } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database, Db } from '../db/connection';
import { COMMUNITY_CHANNEL, newerCommunity, storeCommunity, type CommunityState, type StoredCommunity } from './community-store';
import { images as imagesTable, ratings as ratingsTable, scorerModels } from '../db/schema';
import type { EmbeddingService } from './embeddings';
import { galleryImageIds, onboardingImageIds } from './gallery';
import type { UserKey } from './identity';
import type { ImageStore } from './images';
import type { ImageRecord, RatingChange } from './records';
import type { ProfileSummary } from './services';
import { NO_VERSION, RATING_CHANNEL, type RatingLedger } from './ratings';
import { RefitScheduler } from './refit-scheduler';
import type { ScorerMethod } from './scorer/auto';
import { trainOffThread, type CommunityTrainer } from './scorer/community';
import { packDataset, type PackedRatings } from './scorer/data';
import { shouldRetrainMeta } from './scorer/maml';
import { ScorerService } from './scorer/scorer-service';

export interface TasteServiceDeps {
  db: Db;
  ledger: RatingLedger;
  embeddings: EmbeddingService;
  images: ImageStore;
  log: Logger;
  method?: ScorerMethod;
  /** Retrain the community prior after this many rating changes (default 20). */
  globalEvery?: number;
  /** Seed of the meta-learner (reproducible background training). */
  seed?: number;
  /** Where community models train (default: a worker thread, so the event loop keeps serving). */
  trainCommunity?: CommunityTrainer;
  /** LISTEN for the ledger's notifications (Database.listen), so other processes' ratings reach this cache. */
  listen?: Database['listen'];
  /** false: train and keep the community models to itself, never stored nor loaded (tests of the training policy). */
  shareCommunity?: boolean;
}

/** How many images active selection considers per request (the most recent gallery/generated ones). */
const CANDIDATE_POOL = 400;

export class TasteService {
  readonly scorer: ScorerService;
  readonly scheduler: RefitScheduler;
  private readonly db: Db;
  private readonly deps: TasteServiceDeps;
  /** What each person's scorer currently holds: imageId → score. Mirrors the ScorerService. */
  private readonly held = new Map<UserKey, Map<string, number>>();
  /** The ledger version (RatingLedger.versions) each person's scorer was fitted at. */
  private readonly versions = new Map<UserKey, string>();
  /**
   * While listening, each local change also comes back as a notification: per person, local changes
   * not yet matched by one (positive) or notifications not yet matched by a local change (negative),
   * so the community retrain counts every change once, whether it came from here or elsewhere.
   */
  private readonly echoes = new Map<UserKey, number>();
  private listening = false;
  private unlisten: (() => Promise<void>)[] = [];
  private unlistened: Promise<void> = Promise.resolve();
  private readonly unsubscribe: () => void;
  private changesSinceGlobal = 0;
  private metaUsers = 0;
  /** Ratings in the community when finetune's λ schedule was last calibrated. */
  private calibratedRatings = 0;
  private communityJob: Promise<void> | null = null;
  /** Version (community_models) of the community models held; 0 = none adopted yet. */
  private communityVersion = 0;
  /** The last community sync: syncs run one after another, so a slow read never reorders adoptions. */
  private communitySync: Promise<boolean> = Promise.resolve(false);
  /** Settles when load() has finished (see load); resolved until it is called. */
  private loading: Promise<void> = Promise.resolve();
  private communityDirty = false;
  private stopped = false;
  /** Aborts an in-flight community training (its worker) on stop(). */
  private readonly training = new AbortController();
  /** Thread the last community models were trained on (0 = inline); observability and tests. */
  lastCommunityThread: number | null = null;

  constructor(deps: TasteServiceDeps) {
    this.deps = deps;
    this.db = deps.db;
    this.scorer = new ScorerService({ modelId: deps.embeddings.modelId, dim: deps.embeddings.dim, defaultMethod: deps.method ?? 'auto' });
    this.scheduler = new RefitScheduler({ refit: async (userKey) => void (await this.refit(userKey)), log: deps.log });
    this.unsubscribe = deps.ledger.onChange((change) => this.onRatingChange(change));
  }

  get modelId(): string {
    return this.scorer.modelId;
  }

  /**
   * Loads every person's ratings into their scorer and fits the community models. Call once at startup;
   * it may run in the background while the bot serves: each person's refit goes through the scheduler
   * (one at a time per person, so a rating given meanwhile never doubles a refit), and predictions,
   * active selection and profiles wait until it is done, so none is made from a half-loaded model.
   */
  load(): Promise<{ users: number; ratings: number }> {
    const run = this.loadAll();
    this.loading = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async loadAll(): Promise<{ users: number; ratings: number }> {
    // Before reading who has ratings, so a change committed during the load is heard or read.
    await this.listenForChanges();
    const users = await this.deps.ledger.ratedUsers();
    for (const userKey of users) {
      if (this.stopped) break;
      this.scheduler.request(userKey);
      await this.scheduler.settled(userKey);
    }
    const total = users.reduce((n, u) => n + (this.held.get(u)?.size ?? 0), 0);
    if (this.stopped) return { users: users.length, ratings: total };
    try {
      // Another process's stored models, so every replica starts from the same; train only without them.
      if (!(await this.syncCommunity())) await this.retrainCommunity();
    } catch (err) {
      // Serving with the neutral prior beats not starting; the next retrain (every globalEvery ratings) tries again.
      if (!this.stopped)
        this.deps.log.error(
          { err },
          'community models could not be trained at startup; scores use the neutral prior until the next retrain',
        );
    }
    this.deps.log.info({ users: users.length, ratings: total, model: this.modelId }, 'scorers loaded');
    return { users: users.length, ratings: total };
  }

  /** Resolves once the startup load is over (read the community model only after it). */
  loaded(): Promise<void> {
    return this.loading;
  }

  /** Wait for the startup load, queued refits and background training (tests, graceful shutdown). */
  async idle(): Promise<void> {
    await this.loading;
    await this.unlistened;
    await this.scheduler.idle();
    while (this.communityJob) await this.communityJob;
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    this.training.abort();
    this.unlistened = this.stopListening().catch((err: unknown) => this.deps.log.warn({ err }, 'could not UNLISTEN rating changes'));
  }

  private async listenForChanges(): Promise<void> {
    if (!this.deps.listen || this.listening || this.stopped) return;
    this.listening = true;
    try {
      this.unlisten.push(await this.deps.listen(RATING_CHANNEL, (userKey) => this.onNotified(userKey)));
      this.unlisten.push(await this.deps.listen(COMMUNITY_CHANNEL, (modelId) => void (modelId === this.modelId && this.syncCommunity())));
    } catch (err) {
      await this.stopListening().catch(() => undefined);
      this.deps.log.warn({ err }, "cannot LISTEN for other processes' rating changes; scorers catch up when used");
    }
    if (this.stopped) await this.stopListening();
  }

  /** Stops hearing other processes' changes (shutdown; tests of a missed notification). Checks on use remain. */
  async stopListening(): Promise<void> {
    const offs = this.unlisten;
    this.unlisten = [];
    this.listening = false;
    this.echoes.clear();
    for (const off of offs) await off();
  }

  private onRatingChange(change: RatingChange): void {
    if (this.stopped) return;
    this.scheduler.request(change.userKey);
    const pending = this.echoes.get(change.userKey) ?? 0;
    if (this.listening) this.echoes.set(change.userKey, pending + 1);
    // Negative: its notification came first and was counted then.
    if (!this.listening || pending >= 0) this.countChange();
  }

  /** A change committed by any process, this one included (the ledger's pg_notify). */
  private onNotified(userKey: UserKey): void {
    if (this.stopped || !this.listening) return;
    this.scheduler.request(userKey);
    const pending = this.echoes.get(userKey) ?? 0;
    if (pending === 1) this.echoes.delete(userKey);
    else this.echoes.set(userKey, pending - 1);
    // Positive: the echo of a local change, counted when it was made.
    if (pending <= 0) this.countChange();
  }

  private countChange(): void {
    this.changesSinceGlobal++;
    if (this.changesSinceGlobal >= (this.deps.globalEvery ?? 20)) {
      this.changesSinceGlobal = 0;
      void this.scheduleCommunity();
    }
  }

  /**
   * Refits everyone whose scorer was fitted at another ledger version than the database's now (one
   * query for all of them), and waits for it: what another process changed counts even when its
   * notification never arrived.
   */
  async freshen(userKeys: readonly UserKey[]): Promise<void> {
    await this.syncCommunity();
    const current = await this.deps.ledger.versions(userKeys);
    const stale = [...current].filter(([userKey, version]) => this.versions.get(userKey) !== version).map(([userKey]) => userKey);
    for (const userKey of stale) this.scheduler.request(userKey);
    await Promise.all(stale.map((userKey) => this.scheduler.settled(userKey)));
  }

  /**
   * Brings one person's scorer in line with the ledger by applying only the difference.
   * Returns how many ratings the person has.
   */
  async refit(userKey: UserKey): Promise<number> {
    // The version first, then the ratings: the ratings read are at least that version, never older.
    const version = (await this.deps.ledger.versions([userKey])).get(userKey) ?? NO_VERSION;
    // Nothing changed since the last fit (e.g. the notification of a change this process already refitted for).
    if (this.versions.get(userKey) === version) return this.held.get(userKey)?.size ?? 0;
    const rows = await this.deps.ledger.listRatings(userKey);
    const want = new Map(rows.map((r) => [r.imageId, r.score]));
    const have = this.held.get(userKey) ?? new Map<string, number>();
    const toAdd = [...want].filter(([id, s]) => have.get(id) !== s);
    const toRemove = [...have.keys()].filter((id) => !want.has(id));
    if (toAdd.length === 0 && toRemove.length === 0) {
      this.fittedAt(userKey, version, want.size);
      return want.size;
    }
    const vectors = await this.deps.embeddings.embed(toAdd.map(([id]) => id));
    for (const id of toRemove) {
      this.scorer.removeRating(userKey, id);
      have.delete(id);
    }
    for (const [id, score] of toAdd) {
      this.scorer.addRating(userKey, vectors.get(id)!, score, { imageId: id, modelId: this.modelId });
      have.set(id, score);
    }
    if (have.size === 0) {
      this.held.delete(userKey);
      this.scorer.deleteUser(userKey);
      await this.db.delete(scorerModels).where(and(eq(scorerModels.userKey, userKey), eq(scorerModels.model, this.modelId)));
    } else {
      this.held.set(userKey, have);
      await this.saveSummary(userKey);
    }
    this.fittedAt(userKey, version, want.size);
    return want.size;
  }

  /**
   * No ratings and no rating events: never rated, or forgotten (a forget deletes both and announces the
   * person), so nothing of theirs is kept. Ratings whose events retention pruned keep NO_VERSION.
   */
  private fittedAt(userKey: UserKey, version: string, ratings: number): void {
    if (ratings === 0 && version === NO_VERSION) this.forget(userKey);
    else this.versions.set(userKey, version);
  }

  /** Everyone this process keeps anything about (scorer, fitted version, pending echo); diagnostics and tests. */
  cachedPeople(): UserKey[] {
    return [...new Set([...this.held.keys(), ...this.versions.keys(), ...this.echoes.keys()])].sort();
  }

  /**
   * Records the person's scorer as it stands (method, hyper-parameters, cross-validated quality): what
   * /profile and /privacy export report, and an audit of how the model evolved. The model itself is
   * rebuilt from the ratings at startup, so it is not stored.
   */
  private async saveSummary(userKey: UserKey): Promise<void> {
    const d = this.scorer.details(userKey);
    if (!d) return;
    const row = {
      userKey,
      model: this.modelId,
      method: d.method,
      n: d.quality.n,
      params: { lambda: d.lambda, k: d.k },
      quality: d.quality,
      updatedAt: new Date(),
    };
    await this.db
      .insert(scorerModels)
      .values(row)
      .onConflictDoUpdate({
        target: [scorerModels.userKey, scorerModels.model],
        set: { method: row.method, n: row.n, params: row.params, quality: row.quality, updatedAt: row.updatedAt },
      });
  }

  /** Forget a person's model (privacy). */
  forget(userKey: UserKey): void {
    this.held.delete(userKey);
    this.versions.delete(userKey);
    this.echoes.delete(userKey);
    this.scorer.deleteUser(userKey);
  }

  private scheduleCommunity(): Promise<void> {
    if (this.communityJob) {
      this.communityDirty = true;
      return this.communityJob;
    }
    this.communityJob = (async () => {
      try {
        do {
          this.communityDirty = false;
          await this.retrainCommunity();
        } while (this.communityDirty && !this.stopped);
      } catch (err) {
        // A training aborted by stop() is not a failure worth an error line at shutdown.
        if (!this.stopped) this.deps.log.error({ err }, 'community model training failed; keeping the previous one');
      } finally {
        this.communityJob = null;
      }
    })();
    return this.communityJob;
  }

  /** Trains the community prior (and when the community grew enough the meta-init), stores it for every process and adopts it. */
  async retrainCommunity(): Promise<void> {
    const perUser = new Map<UserKey, { ids: string[]; y: number[] }>();
    for await (const r of this.deps.ledger.allRatings()) {
      const u = perUser.get(r.userKey) ?? { ids: [], y: [] };
      u.ids.push(r.imageId);
      u.y.push(r.score);
      perUser.set(r.userKey, u);
    }
    if (perUser.size === 0) return;
    const vectors = await this.deps.embeddings.embed([...new Set([...perUser.values()].flatMap((u) => u.ids))]);
    const packed: PackedRatings[] = [...perUser.values()].map((u) =>
      packDataset({ X: u.ids.map((id) => vectors.get(id)!), y: u.y }, this.scorer.dim),
    );
    // The meta-init and the λ schedule follow slow community growth (25% more people, or for the
    // schedule also 25% more ratings: its longest calibrated count grows with people's histories);
    // the prior itself retrains every time.
    const meta = shouldRetrainMeta(this.metaUsers, packed.length);
    const ratings = packed.reduce((n, u) => n + u.n, 0);
    const calibrate = meta || ratings >= this.calibratedRatings * 1.25;
    const trained = await (this.deps.trainCommunity ?? trainOffThread)(
      packed,
      { meta, calibrate, seed: this.deps.seed ?? 1 },
      this.training.signal,
    );
    if (this.stopped) return;
    const schedule = trained.global.lambdaSchedule ?? this.scorer.getGlobal().lambdaSchedule;
    const state: CommunityState = {
      global: schedule ? { ...trained.global, lambdaSchedule: schedule } : trained.global,
      meta: trained.meta ?? this.scorer.getMeta(),
      metaUsers: trained.meta ? packed.length : this.metaUsers,
      calibratedRatings: calibrate ? ratings : this.calibratedRatings,
    };
    // Stored (and announced) first: what this process serves is a version every process can load.
    const shared = this.deps.shareCommunity !== false;
    this.adoptCommunity({ ...state, version: shared ? await storeCommunity(this.db, this.modelId, state) : this.communityVersion + 1 });
    this.lastCommunityThread = trained.threadId;
  }

  /** Adopts the stored community models when newer than those held (another process retrained). True if adopted. */
  private syncCommunity(): Promise<boolean> {
    if (this.deps.shareCommunity === false) return Promise.resolve(false);
    this.communitySync = this.communitySync
      .then(async () => !this.stopped && this.adoptCommunity(await newerCommunity(this.db, this.modelId, this.communityVersion)))
      .catch((err: unknown) => {
        this.deps.log.warn({ err }, 'could not read the stored community models; keeping those held');
        return false;
      });
    return this.communitySync;
  }

  private adoptCommunity(c: StoredCommunity | null): boolean {
    // Only forward: a retrain stored before another process's newer one must not replace it here.
    if (!c || this.stopped || c.version <= this.communityVersion) return false;
    this.scorer.setGlobal(c.global);
    if (c.meta !== this.scorer.getMeta()) this.scorer.setMeta(c.meta);
    this.metaUsers = c.metaUsers;
    this.calibratedRatings = c.calibratedRatings;
    this.communityVersion = c.version;
    return true;
  }

  /** Predicted 1–10 ratings of images for a person (the community prior for a new person). */
  async predict(userKey: UserKey, imageIds: string[]): Promise<number[]> {
    if (imageIds.length === 0) return [];
    await this.loading;
    // A rating given a moment ago (e.g. on a run's image) must count in the very next scoring,
    // also one given through another process.
    await this.scheduler.settled(userKey);
    await this.freshen([userKey]);
    const vectors = await this.deps.embeddings.embed(imageIds);
    return this.scorer.predict(
      userKey,
      imageIds.map((id) => vectors.get(id)!),
      { modelId: this.modelId },
    );
  }

  /**
   * What to rate next: the fixed onboarding set first (so everyone's first ratings are comparable),
   * then the images whose ratings would teach this person's scorer most (active selection).
   */
  async nextToRate(userKey: UserKey, k: number): Promise<ImageRecord[]> {
    const rated = new Set((await this.deps.ledger.listRatings(userKey)).map((r) => r.imageId));
    const picked: string[] = (await onboardingImageIds(this.db)).filter((id) => !rated.has(id)).slice(0, k);
    if (picked.length < k) {
      // Onboarding needs no model; active selection does: it waits for the startup load.
      await this.loading;
      await this.freshen([userKey]);
      const pool = (await this.candidatePool()).filter((id) => !rated.has(id) && !picked.includes(id));
      if (pool.length > 0) {
        const vectors = await this.deps.embeddings.embed(pool);
        const order = this.scorer.nextToRate(
          userKey,
          pool.map((id) => vectors.get(id)!),
          k - picked.length,
        );
        for (const i of order) picked.push(pool[i]!);
      }
    }
    const records = await this.deps.images.getMany(picked);
    return picked.map((id) => records.get(id)).filter((r): r is ImageRecord => r !== undefined);
  }

  private async candidatePool(): Promise<string[]> {
    const gallery = await galleryImageIds(this.db);
    const generated = await this.db
      .select({ id: imagesTable.id })
      .from(imagesTable)
      .where(eq(imagesTable.source, 'generated'))
      .orderBy(desc(imagesTable.createdAt))
      .limit(CANDIDATE_POOL);
    return [...new Set([...gallery, ...generated.map((r) => r.id)])].slice(0, CANDIDATE_POOL);
  }

  async profile(userKey: UserKey, opts: { top?: number } = {}): Promise<ProfileSummary> {
    const top = opts.top ?? 4;
    await this.loading;
    await this.scheduler.idle();
    const rows = await this.db
      .select({ imageId: ratingsTable.imageId, score: ratingsTable.score })
      .from(ratingsTable)
      .where(eq(ratingsTable.userKey, userKey))
      .orderBy(desc(ratingsTable.score), desc(ratingsTable.eventTime))
      .limit(top);
    const ratedIds = (await this.deps.ledger.listRatings(userKey)).map((r) => r.imageId);
    const pool = await this.db
      .select({ id: imagesTable.id })
      .from(imagesTable)
      .where(
        and(
          inArray(imagesTable.source, ['gallery', 'generated', 'onboarding']),
          ratedIds.length ? notInArray(imagesTable.id, ratedIds) : undefined,
        ),
      )
      .limit(CANDIDATE_POOL);
    const poolIds = pool.map((r) => r.id);
    const predicted = await this.predict(userKey, poolIds);
    const favorites = poolIds
      .map((id, i) => ({ id, predicted: predicted[i]! }))
      .sort((a, b) => b.predicted - a.predicted)
      .slice(0, top);
    const records = await this.deps.images.getMany([...rows.map((r) => r.imageId), ...favorites.map((f) => f.id)]);
    return {
      userKey,
      ratings: ratedIds.length,
      method: this.scorer.method(userKey),
      quality: this.scorer.quality(userKey),
      topImages: rows.flatMap((r) => {
        const image = records.get(r.imageId);
        return image ? [{ image, score: r.score }] : [];
      }),
      predictedFavorites: favorites.flatMap((f) => {
        const image = records.get(f.id);
        return image ? [{ image, predicted: f.predicted }] : [];
      }),
    };
  }
}

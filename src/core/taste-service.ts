/**
 * TasteService: keeps the scorers of the people in use in step with the rating ledger.
 *
 * The ledger (PostgreSQL) is the source of truth; the ScorerService is a bounded cache of fitted models
 * (./resident-scorers: loaded on first use from a stored compact state, evicted past SCORER_CACHE_MB).
 * After every rating change the RefitScheduler asks for a refit of that person. A change made here is
 * applied to a scorer held in memory as it is (a rank-one update, no database read: ./resident-scorers
 * applyLocal); otherwise a refit diffs the person's ratings in the database against what their scorer
 * holds and applies only the difference, so 100 ratings in 10 s cost ≤ 2 coalesced refits, each exact.
 * The community prior (`global`) and the meta-learned init (`maml`) retrain in the background as
 * ratings accumulate, in one process of the deployment (./community-training); every process adopts them.
 *
 * Several processes may serve one database, each with its own cache. Each hears of every committed
 * change through LISTEN on the ledger's RATING_CHANNEL (the ledger's pg_notify), gathered for a short
 * window and checked with one version read (./heard-changes), and refits the people found stale;
 * and each scorer remembers the ledger version it was fitted at, compared with the database before
 * every prediction, so a notification lost in a reconnect costs a refit on use, never a stale score.
 * A forget announces the person too: every process then drops all it held of them. The community models
 * are shared (./community-store): a retrain stores a new version, every process adopts the newest one.
 */
import { and, desc, eq, inArray, notInArray } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database, Db } from '../db/connection';
import { COMMUNITY_CHANNEL } from './community-store';
import { CommunityTraining, type CommunityPolicy } from './community-training';
import type { TrainerLock } from './community-trainer-lock';
import { images as imagesTable, ratings as ratingsTable } from '../db/schema';
import type { EmbeddingService } from './embeddings';
import { galleryImageIds, onboardingImageIds } from './gallery';
import { HeardChanges } from './heard-changes';
import { picksCount } from './ledger-version';
import type { UserKey } from './identity';
import type { ImageStore } from './images';
import type { CommittedChange, ImageRecord } from './records';
import type { ProfileSummary } from './services';
import { RATING_CHANNEL, type RatingLedger } from './ratings';
import { RefitScheduler } from './refit-scheduler';
import { ResidentScorers } from './resident-scorers';
import type { ScorerMethod } from './scorer/auto';
import type { CommunityTrainer, TrainerUsage } from './scorer/community';
import { communityCurve, confidenceMeter, type ConfidenceReading } from './scorer/confidence';
import { ScorerService } from './scorer/scorer-service';
import type { ScorerBelief } from './optimizer/objective';

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
  /** A full-retrain function for the community models instead of the long-lived worker thread (tests). */
  trainCommunity?: CommunityTrainer;
  /** LISTEN for the ledger's notifications (Database.listen), so other processes' ratings reach this cache. */
  listen?: Database['listen'];
  /** false: train and keep the community models to itself, never stored nor loaded (tests of the training policy). */
  shareCommunity?: boolean;
  /** false: never train the community models, only adopt the stored ones (a process without the worker role). */
  trains?: boolean;
  /** Which process trains the community models (./community-training; default: the first on this database in this process). */
  trainerLock?: TrainerLock;
  /** When a community fit is due (./community-training). */
  communityPolicy?: Partial<CommunityPolicy>;
  /** Memory budget of the scorers held, in bytes (SCORER_CACHE_MB; default 256 MiB). */
  cacheBytes?: number;
  /** At most one stored-state write per person per this many ms (default 5 s; 0: after every settled refit). */
  stateWriteIntervalMs?: number;
  /** How long other processes' announced changes are gathered before one version read checks them (default 25 ms). */
  heardWindowMs?: number;
}

/** People whose scorer factorization stays built (ScorerService's LRU); the byte budget evicts before this in practice. */
const HOT_FACTORS = 4096;

/** How many images active selection considers per request (the most recent gallery/generated ones). */
const CANDIDATE_POOL = 400;

export class TasteService {
  readonly scorer: ScorerService;
  readonly scheduler: RefitScheduler;
  private readonly db: Db;
  private readonly deps: TasteServiceDeps;
  /** The people whose scorers are in memory: loading on use, refits, eviction, stored states. */
  readonly resident: ResidentScorers;
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
  /** People other processes announced, waiting for their batched version check. */
  private readonly heard: HeardChanges;
  /** The community models: trained here when this process is the trainer, adopted from the store always. */
  private readonly community: CommunityTraining;
  /** Settles when load() has finished (see load); resolved until it is called. */
  private loading: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(deps: TasteServiceDeps) {
    this.deps = deps;
    this.db = deps.db;
    this.scorer = new ScorerService({
      modelId: deps.embeddings.modelId,
      dim: deps.embeddings.dim,
      defaultMethod: deps.method ?? 'auto',
      // Factorizations are kept for everyone held: their bytes count in footprint, so the cache budget
      // (SCORER_CACHE_MB) bounds them, and a rating updates a kept one (rank-one) instead of rebuilding it
      // (O(n²·d)), which with many people rating in turn would happen at almost every rating.
      hotCapacity: HOT_FACTORS,
    });
    this.scheduler = new RefitScheduler({ refit: (userKey, changes) => this.update(userKey, changes), log: deps.log });
    this.heard = new HeardChanges(deps.heardWindowMs ?? 25, (userKeys) => this.checkHeard(userKeys), deps.log);
    this.community = new CommunityTraining({ ...deps, scorer: this.scorer, policy: deps.communityPolicy });
    this.resident = new ResidentScorers({
      ...deps,
      scorer: this.scorer,
      cacheBytes: deps.cacheBytes ?? 256 * 2 ** 20,
      writeIntervalMs: deps.stateWriteIntervalMs ?? 60_000,
      // Versions are shared only through community_models: an unshared count means nothing elsewhere.
      communityVersion: () => (deps.shareCommunity === false ? null : this.communityVersion),
      refitting: (userKey) => this.scheduler.busy(userKey),
      // Found forgotten (or never rated) by a refit: nothing of theirs stays here either.
      forgotten: (userKey) => this.echoes.delete(userKey),
    });
    this.unsubscribe = deps.ledger.onChange((change) => this.onRatingChange(change));
  }

  get modelId(): string {
    return this.scorer.modelId;
  }

  /**
   * Starts listening and adopts (or trains) the community models. Call once at startup; it may run in the
   * background while the bot serves, and predictions, active selection and profiles wait until it is done.
   * People are not loaded here: each comes into memory on first use (see ./resident-scorers), so the
   * start costs the same at any number of people.
   */
  load(): Promise<void> {
    const run = this.loadAll();
    this.loading = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async loadAll(): Promise<void> {
    // Before anyone is used, so a change committed from now on is heard (or found by the version check).
    await this.listenForChanges();
    if (this.stopped) return;
    try {
      // Another process's stored models, so every replica starts from the same; the trainer fits only when they are missing or stale.
      await this.community.start();
    } catch (err) {
      // Serving with the neutral prior beats not starting; the next retrain (every globalEvery ratings) tries again.
      if (!this.stopped)
        this.deps.log.error(
          { err },
          'community models could not be trained at startup; scores use the neutral prior until the next retrain',
        );
    }
    this.deps.log.info({ model: this.modelId, cacheMb: Math.round(this.resident.stats().budgetBytes / 2 ** 20) }, 'scorers ready');
  }

  /** Resolves once the startup load is over (read the community model only after it). */
  loaded(): Promise<void> {
    return this.loading;
  }

  /** Wait for the startup load, queued refits and background training (tests, graceful shutdown). */
  async idle(): Promise<void> {
    await this.loading;
    await this.unlistened;
    await this.heard.idle();
    await this.scheduler.idle();
    await this.community.idle();
    await this.resident.flush();
  }

  stop(): void {
    this.stopped = true;
    this.resident.stop();
    this.heard.stop();
    this.unsubscribe();
    this.community.stop();
    this.unlistened = this.stopListening().catch((err: unknown) => this.deps.log.warn({ err }, 'could not UNLISTEN rating changes'));
  }

  private async listenForChanges(): Promise<void> {
    if (!this.deps.listen || this.listening || this.stopped) return;
    this.listening = true;
    try {
      this.unlisten.push(await this.deps.listen(RATING_CHANNEL, (userKey) => this.onNotified(userKey)));
      this.unlisten.push(await this.deps.listen(COMMUNITY_CHANNEL, (modelId) => void (modelId === this.modelId && this.community.sync())));
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

  private onRatingChange(change: CommittedChange): void {
    if (this.stopped) return;
    this.scheduler.requestChange(change.userKey, change);
    const pending = this.echoes.get(change.userKey) ?? 0;
    if (this.listening) this.echoes.set(change.userKey, pending + 1);
    // Negative: its notification came first and was counted then.
    this.community.changed(change.userKey, !this.listening || pending >= 0);
  }

  /**
   * A pick this process stored: the person's scorer refits from the database (their picks are read
   * there). Its notification comes back like a rating's and is matched here, so the community retrain,
   * which learns from ratings only, does not count it; other processes hear it and refit the person too.
   */
  readonly picked = (userKey: UserKey): void => {
    if (this.stopped) return;
    this.scheduler.request(userKey);
    if (this.listening) this.echoes.set(userKey, (this.echoes.get(userKey) ?? 0) + 1);
  };

  /** A change committed by any process, this one included (the ledger's pg_notify). */
  private onNotified(userKey: UserKey): void {
    if (this.stopped || !this.listening) return;
    this.heard.add(userKey);
    const pending = this.echoes.get(userKey) ?? 0;
    if (pending === 1) this.echoes.delete(userKey);
    else this.echoes.set(userKey, pending - 1);
    // Positive: the echo of a local change, counted when it was made.
    this.community.changed(userKey, pending <= 0);
  }

  /**
   * Refits those of the people other processes announced whose scorer is not at the ledger's version
   * (one query for all): the echo of a change made here finds its scorer current and costs nothing more.
   */
  private async checkHeard(userKeys: UserKey[]): Promise<void> {
    // Someone this process is rating right now: their change may be in the database but not yet here.
    // Checked in the next window, once it has landed, so its echo is not taken for news.
    const writing = userKeys.filter((userKey) => this.deps.ledger.writing(userKey));
    for (const userKey of writing) this.heard.add(userKey);
    const now = userKeys.filter((userKey) => !this.deps.ledger.writing(userKey));
    // This process's own changes being applied land first, for the same reason.
    await Promise.all(now.map((userKey) => this.scheduler.settled(userKey)));
    const current = await this.deps.ledger.versions(now);
    for (const [userKey, version] of current) if (this.resident.versionOf(userKey) !== version) this.scheduler.request(userKey);
  }

  /** One scheduled refit: this process's changes in memory when that is exact, else from the database. */
  private async update(userKey: UserKey, changes: readonly CommittedChange[] | null): Promise<void> {
    if (changes && (await this.resident.applyLocal(userKey, changes))) return;
    await this.refit(userKey);
  }

  /**
   * Refits everyone whose scorer was fitted at another ledger version than the database's now (one
   * query for all of them), and waits for it: what another process changed counts even when its
   * notification never arrived.
   */
  async freshen(userKeys: readonly UserKey[]): Promise<void> {
    await this.community.sync();
    const current = await this.deps.ledger.versions(userKeys);
    const stale = [...current].filter(([userKey, version]) => this.resident.versionOf(userKey) !== version).map(([userKey]) => userKey);
    for (const userKey of stale) this.scheduler.request(userKey);
    await Promise.all(stale.map((userKey) => this.scheduler.settled(userKey)));
  }

  /**
   * Brings one person's scorer in line with the ledger by applying only the difference (loading them
   * first when not in memory). Returns how many ratings the person has.
   */
  refit(userKey: UserKey): Promise<number> {
    return this.resident.refit(userKey);
  }

  /** Everyone this process keeps anything about (scorer, fitted version, pending echo); diagnostics and tests. */
  cachedPeople(): UserKey[] {
    return [...new Set([...this.resident.people(), ...this.echoes.keys()])].sort();
  }

  /** Forget a person's model (privacy). */
  forget(userKey: UserKey): void {
    this.resident.forget(userKey);
    this.echoes.delete(userKey);
  }

  /**
   * Fits the community models now when this process is the trainer (./community-training), stores them
   * for every process and adopts them; elsewhere adopts the newest stored ones.
   */
  retrainCommunity(): Promise<void> {
    return this.community.retrain();
  }

  /** Thread the last community models were trained on here (0 = inline, null = none here); observability and tests. */
  get lastCommunityThread(): number | null {
    return this.community.lastThread;
  }

  /** Whether this process trains the community models now (it holds the trainer lock). */
  get trainsCommunity(): boolean {
    return this.community.training;
  }

  /** The community trainer's busy time since it started (null while another process trains): the retrain CPU share. */
  communityTrainerUsage(): TrainerUsage | null {
    return this.community.usage();
  }

  /** Version (community_models) of the community models held; 0 = none adopted yet. */
  private get communityVersion(): number {
    return this.community.version;
  }

  /** Predicted 1–10 ratings of images for a person (the community prior for a new person). */
  async predict(userKey: UserKey, imageIds: string[]): Promise<number[]> {
    if (imageIds.length === 0) return [];
    await this.loading;
    return this.inUse(userKey, async () => {
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
    });
  }

  /** How well the person's scorer knows their taste (the confidence meter), after their latest rating. */
  async confidence(userKey: UserKey): Promise<ConfidenceReading> {
    await this.loading;
    return this.inUse(userKey, async () => {
      await this.scheduler.settled(userKey);
      await this.freshen([userKey]);
      return this.meterOf(userKey);
    });
  }

  private meterOf(userKey: UserKey): ConfidenceReading {
    return confidenceMeter(this.scorer.quality(userKey), communityCurve(this.scorer.getGlobal().lambdaSchedule));
  }

  /**
   * What the person's scorer believes of images — uncapped posterior means (what rankings use) and, with
   * `withSd`, their standard deviations — and the calibrated 1–10 scores shown for them (display-score.ts).
   */
  async belief(userKey: UserKey, imageIds: string[], opts: { withSd?: boolean } = {}): Promise<ScorerBelief> {
    if (imageIds.length === 0) return { mean: [], sd: [], shown: [] };
    await this.loading;
    return this.inUse(userKey, async () => {
      await this.scheduler.settled(userKey);
      await this.freshen([userKey]);
      const vectors = await this.deps.embeddings.embed(imageIds);
      const X = imageIds.map((id) => vectors.get(id)!);
      return this.scorer.belief(userKey, X, { modelId: this.modelId, withSd: opts.withSd });
    });
  }

  /** Runs `use` with the person loaded on demand and kept in memory until it is done (never evicted midway). */
  private async inUse<T>(userKey: UserKey, use: () => Promise<T>): Promise<T> {
    const release = this.resident.pin(userKey);
    try {
      return await use();
    } finally {
      release();
    }
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
      await this.inUse(userKey, async () => {
        await this.freshen([userKey]);
        const pool = (await this.candidatePool()).filter((id) => !rated.has(id) && !picked.includes(id));
        if (pool.length === 0) return;
        const vectors = await this.deps.embeddings.embed(pool);
        const order = this.scorer.nextToRate(
          userKey,
          pool.map((id) => vectors.get(id)!),
          k - picked.length,
        );
        for (const i of order) picked.push(pool[i]!);
      });
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
    await this.loading;
    await this.scheduler.idle();
    return this.inUse(userKey, () => this.profileOf(userKey, opts.top ?? 4));
  }

  private async profileOf(userKey: UserKey, top: number): Promise<ProfileSummary> {
    // Method and quality are read from the scorer: loaded (and current) even when no image is left to predict.
    await this.freshen([userKey]);
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
    // Ranked on the uncapped belief (no ties at a clipped 10), shown on the person's calibrated scale.
    const belief = await this.belief(userKey, poolIds);
    const favorites = poolIds
      .map((id, i) => ({ id, mean: belief.mean[i]!, predicted: belief.shown[i]! }))
      .sort((a, b) => b.mean - a.mean)
      .slice(0, top);
    const records = await this.deps.images.getMany([...rows.map((r) => r.imageId), ...favorites.map((f) => f.id)]);
    return {
      userKey,
      ratings: ratedIds.length,
      picks: picksCount(this.resident.versionOf(userKey) ?? ''),
      method: this.scorer.method(userKey),
      quality: this.scorer.quality(userKey),
      confidence: this.meterOf(userKey),
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

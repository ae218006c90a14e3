/**
 * Composition root: builds every backend from the Config and exposes the core as `Services`.
 * Platforms (Discord, Slack, playground) and tests receive the result; nothing else constructs
 * providers, so "which backend does each part use" is answered here and logged at startup.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config';
import { openDatabase, type Database } from './db/connection';
import { sessionAdvisoryLock } from './db/advisory-lock';
import { EmbeddingService } from './core/embeddings';
import { GalleryProgress } from './core/gallery';
import { ImageStore } from './core/images';
import { GeneticProposer } from './core/optimizer/genetic';
import { LlmProposer } from './core/optimizer/llm';
import type { LoopDeps } from './core/optimizer/loop';
import { createScorerObjective, type ScorerObjectiveDeps } from './core/optimizer/objective';
import type { RunParams } from './core/optimizer/params';
import type { PromptProposer } from './core/optimizer/proposer';
import { RandomProposer } from './core/optimizer/random-proposer';
import { touchPerson } from './core/people';
import { createPersonRatings } from './core/person-ratings';
import { createPlatformMessages } from './core/platform-messages';
import type { PromptOptimizerLlm } from './core/ports';
import { RatingLedger } from './core/ratings';
import { Retention } from './core/retention';
import { ratingChangesTotal, runsEndedTotal } from './prometheus-metrics';
import { RunService } from './core/runs';
import type { Services } from './core/services';
import { redactSecrets, redactUrl } from './redact';
import { TasteService } from './core/taste-service';
import { createProfilesAndPrivacy } from './core/profiles-and-privacy';
import { createOffThreadChartRenderer } from './charts/off-thread';
import { createRunPictures } from './core/run-pictures';
import { MadeForYou } from './core/made-for-you';
import { createSuggestions } from './core/suggestions';
import { createPicks } from './core/picks';
import { createTasteCodes, type TasteCodes } from './core/taste-codes-service';
import { createImageBlobStore, createProviders, type Providers } from './providers/from-config';

export interface AppOptions {
  log: Logger;
  /** Use this database instead of opening one from the config (tests). */
  database?: Database;
  /**
   * Draw the starter gallery (default: config.GALLERY === 'on'). It is drawn in the background once
   * drawGallery() is called; a test that needs it calls that and awaits `app.gallery.done`.
   */
  seedGallery?: boolean;
  /** Job queue for runs; default graphile on PostgreSQL, in-process on PGlite. */
  queue?: 'inprocess' | 'graphile';
  /** Replace providers (tests and benchmarks). */
  providers?: Partial<Providers>;
  /** RunService timing knobs (tests). */
  runOptions?: { staleAfterMs?: number; heartbeatMs?: number; sweepMs?: number; outboxPollMs?: number; shutdownGraceMs?: number };
}

export interface App {
  config: Config;
  log: Logger;
  database: Database;
  images: ImageStore;
  embeddings: EmbeddingService;
  ledger: RatingLedger;
  taste: TasteService;
  runs: RunService;
  providers: Providers;
  services: Services;
  /** Which backend each part uses (logged at startup). */
  backends: Record<string, string>;
  /** The starter gallery and onboarding set: how far drawing is, and `done`. */
  gallery: GalleryProgress;
  /**
   * Starts drawing the missing starter images in the background (once; later calls do nothing).
   * Not part of createApp or start(): the bot connects and answers first (main calls this once the
   * platforms are up), since drawing takes the CPU for seconds to a minute on a first start.
   */
  drawGallery(): void;
  /** Start background work (run workers, outbox). */
  start(): Promise<void>;
  /** Stop taking work, checkpoint, close connections. */
  close(): Promise<void>;
}

export async function createApp(config: Config, opts: AppOptions): Promise<App> {
  const log = opts.log;
  const database = opts.database ?? (await openConfiguredDatabase(config, log));
  const db = database.db;

  const { providers, replicateWebhook } = await createProviders(config, { db, log, given: opts.providers });

  const images = new ImageStore(db, await createImageBlobStore(config));
  const embeddings = new EmbeddingService(db, images, providers.embedder);
  const ledger = new RatingLedger(db, { log });
  // Listening, other processes' ratings on the same database reach this process's scorers too.
  const taste = new TasteService({
    db,
    ledger,
    embeddings,
    images,
    log,
    method: config.SCORER_METHOD,
    listen: database.listen,
    cacheBytes: config.SCORER_CACHE_MB * 2 ** 20,
    // One process in the deployment trains the community models: a worker holding this lock (PGlite: this process).
    trains: config.roles.worker,
    trainerLock: database.connectionString
      ? sessionAdvisoryLock(database.connectionString, `tasteloop community trainer ${providers.embedder.modelId}`)
      : undefined,
  });
  // Charts are drawn in a worker thread: the chart stack must never share a realm with a chat SDK.
  const charts = createOffThreadChartRenderer();

  const scorerLabel = `${config.SCORER_METHOD} on ${providers.embedder.modelId}`;
  const tasteCodes = createTasteCodes({ db, taste, embeddings });
  const queueKind = opts.queue ?? (database.kind === 'postgres' ? 'graphile' : 'inprocess');
  const runs = new RunService({
    db,
    config,
    llmAvailable: providers.llm !== null,
    log,
    ratings: ledger,
    tasteCodes,
    ...opts.runOptions,
    describe: {
      generator: providers.generator.describe(),
      llm: providers.llm ? providers.llm.optimizer.model : null,
      scorer: scorerLabel,
    },
    queue:
      queueKind === 'graphile' && database.connectionString
        ? { kind: 'graphile', connectionString: database.connectionString }
        : { kind: 'inprocess' },
    loopDeps: loopDepsFactory({ config, log, providers, images, embeddings, ledger, taste, tasteCodes, scorerLabel }),
  });
  const unobserve = countOperations(ledger, runs);
  const backends = describeBackends(config, database, providers, images, queueKind, scorerLabel);

  const gallery = new GalleryProgress(opts.seedGallery ?? config.GALLERY === 'on');
  // Deletes rows past RETENTION_DAYS (delivered outbox events, dedupe marks, rating audit), hourly.
  const retention = new Retention({ db, log, days: config.RETENTION_DAYS });
  const madeForYou = new MadeForYou({ db, ledger, images, runs, intervalHours: config.MADE_FOR_YOU_INTERVAL_HOURS, log });
  const services: Services = {
    backends,
    imageLimits: (prompt) => providers.generator.describeLimits?.(prompt),
    ...createProfilesAndPrivacy({ db, charts, taste, images, ledger, embeddings, embedder: providers.embedder, runs, log }),
    images,
    pictures: createRunPictures({ charts, images }),
    suggestions: createSuggestions({ db, taste, ledger, embeddings, images, embedder: providers.embedder }),
    madeForYou,
    picks: createPicks({ db, ledger, embeddings, images, prior: () => taste.scorer.getGlobal(), picked: taste.picked }),
    tasteCodes,
    people: { touch: (person, scopeId) => touchPerson(db, person, scopeId) },
    ratings: createPersonRatings(ledger),
    gallery,
    taste,
    runs,
    messages: createPlatformMessages(db),
  };

  // The community models load in the background (people load on first use): predictions wait for it
  // (TasteService.load), so the bot may answer meanwhile without scoring from a half-loaded prior.
  void taste
    .load()
    .catch((err: unknown) => log.error({ err }, `scorers could not be loaded: ${(err as Error).message}; scores use what is loaded`));

  let closed = false;
  return {
    config,
    log,
    database,
    images,
    embeddings,
    ledger,
    taste,
    runs,
    providers,
    services,
    backends,
    gallery,
    drawGallery: () => void gallery.draw(images, providers.generator, { log, size: config.IMAGE_SIZE }),
    start: async () => {
      if (replicateWebhook)
        log.info({ port: await replicateWebhook.listen(config.REPLICATE_WEBHOOK_PORT, config.HOST) }, 'replicate webhooks: listening');
      await runs.startWorker();
      retention.start();
      if (config.roles.worker) madeForYou.start(); // only workers start the weekly runs
    },
    close: async () => {
      if (closed) return;
      closed = true;
      for (const off of unobserve) off();
      const drawing = gallery.stop(); // the next start draws what is missing
      await Promise.all([madeForYou.stop(), runs.stop()]);
      await retention.stop();
      await replicateWebhook?.close();
      await drawing;
      taste.stop();
      await taste.idle().catch(() => {});
      await charts.close();
      if (!opts.database) await database.close();
    },
  };
}

/** Opens the configured database: PostgreSQL at DATABASE_URL, else PGlite under DATA_DIR. */
async function openConfiguredDatabase(config: Config, log: Logger): Promise<Database> {
  // Creating the embedded database takes seconds with no other sign of life: say what is happening.
  if (!config.DATABASE_URL && !existsSync(path.join(config.pgliteDir, 'PG_VERSION'))) {
    log.info({ dir: config.pgliteDir }, 'first start: creating the embedded database (a few seconds)');
  }
  return openDatabase({
    databaseUrl: config.DATABASE_URL,
    pgliteDir: config.DATABASE_URL ? undefined : config.pgliteDir,
    onStaleLock: (message) => log.warn({ dir: config.pgliteDir }, message),
  });
}

/** What one run's optimizer loop is given: the renderer, the person's (or group's) scorer, a proposer, moderation. */
function loopDepsFactory(d: {
  config: Config;
  log: Logger;
  providers: Providers;
  images: ImageStore;
  embeddings: EmbeddingService;
  ledger: RatingLedger;
  taste: TasteService;
  tasteCodes: TasteCodes;
  scorerLabel: string;
}): (params: RunParams) => LoopDeps {
  const { config, log, providers } = d;
  return (params) => ({
    generator: providers.generator,
    store: d.images,
    objective: createScorerObjective(
      {
        predict: (u, ids) => d.taste.predict(u, ids),
        belief: (u, ids) => d.taste.belief(u, ids, { withSd: true }),
        ratingCount: (u) => d.ledger.count(u),
        // A taste code's frozen scorer instead of the requester's latest one (run-start checked they may use it).
        ...(params.taste !== undefined ? tasteCodeScores(d.tasteCodes, params.taste) : {}),
        listRatings: (u) => d.ledger.listRatings(u),
        embed: (ids) => d.embeddings.embed(ids),
      },
      { members: params.members, objective: params.objective, label: d.scorerLabel },
    ),
    proposer: proposerFor(params, providers.llm?.optimizer ?? null),
    feedbackLlm: providers.llm?.feedback,
    // Prompts before rendering, images before they are stored or posted (fail closed on errors).
    moderator: config.MODERATION === 'off' || !providers.llm ? undefined : providers.llm.moderator,
    onModerationError: (err) => log.warn({ err }, 'image moderation failed: the image was withheld'),
    sanitize: { bannedWords: config.BANNED_WORDS },
  });
}

/** Operational counters (/metrics): rating changes and how runs end. Returns the unsubscribe functions. */
function countOperations(ledger: RatingLedger, runs: RunService): (() => void)[] {
  return [
    ledger.onChange((c) => ratingChangesTotal.inc({ change: c.before === null ? 'added' : c.after === null ? 'removed' : 'changed' })),
    runs.subscribe((e) => {
      if (e.type === 'run.finished' || e.type === 'run.failed' || e.type === 'run.cancelled')
        runsEndedTotal.inc({ outcome: e.type.slice('run.'.length) });
    }),
  ];
}

/** Which backend each part uses, for the startup log and /api/backends (no secrets). */
function describeBackends(
  config: Config,
  database: Database,
  providers: Providers,
  images: ImageStore,
  queueKind: 'inprocess' | 'graphile',
  scorerLabel: string,
): Record<string, string> {
  return {
    database: database.description,
    embedder: redactSecrets(providers.embedder.describe()),
    images: redactSecrets(images.blobs.describe()),
    imagegen: providers.generator.describe(),
    llm: providers.llm
      ? `OpenAI-compatible ${providers.llm.optimizer.model} at ${redactUrl(config.OPENAI_BASE_URL ?? 'api.openai.com')}`
      : 'none (genetic optimizer)',
    queue: queueKind === 'graphile' ? 'graphile-worker on PostgreSQL' : 'in-process runner',
    scorer: scorerLabel,
  };
}

function tasteCodeScores(codes: TasteCodes, code: string): Pick<ScorerObjectiveDeps, 'predict' | 'belief' | 'ratingCount'> {
  const predict = (_userKey: string, ids: string[]) => codes.predict(code, ids);
  return {
    predict,
    // A frozen scorer's scores are what it believes and what is shown, with no doubt left to learn away.
    belief: async (userKey, ids) => {
      const scores = await predict(userKey, ids);
      return { mean: scores, sd: scores.map(() => 0), shown: scores };
    },
    ratingCount: () => codes.ratingCount(code),
  };
}

function proposerFor(params: RunParams, llm: PromptOptimizerLlm | null): PromptProposer {
  if (params.optimizer === 'llm' && llm) return new LlmProposer(llm, params.feedback);
  if (params.optimizer === 'random') return new RandomProposer();
  return new GeneticProposer();
}

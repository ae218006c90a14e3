/**
 * Composition root: builds every backend from the Config and exposes the core as `Services`.
 * Platforms (Discord, Slack, playground) and tests receive the result; nothing else constructs
 * providers, so "which backend does each part use" is answered here and logged at startup.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { and, desc, eq, gte, isNotNull } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Config } from './config';
import { openDatabase, type Database } from './db/connection';
import { platformMessages, usage as usageTable } from './db/schema';
import { claimReadBack, finishReadBack } from './db/read-back-passes';
import { EmbeddingService } from './core/embeddings';
import { GalleryProgress } from './core/gallery';
import { userKeyOf } from './core/identity';
import { ImageStore } from './core/images';
import { GeneticProposer } from './core/optimizer/genetic';
import { LlmProposer } from './core/optimizer/llm';
import type { LoopDeps } from './core/optimizer/loop';
import { createScorerObjective } from './core/optimizer/objective';
import type { RunParams } from './core/optimizer/params';
import type { PromptProposer } from './core/optimizer/proposer';
import { RandomProposer } from './core/optimizer/random';
import { touchPerson } from './core/people';
import type { Embedder, ImageGenerator } from './core/ports';
import { RatingLedger } from './core/ratings';
import { reconcileMessage } from './core/reconcile';
import { ratingChangesTotal, runsEndedTotal } from './metrics';
import { RunService } from './core/runs';
import { pendingRunEvents } from './core/run-feed';
import type { Services } from './core/services';
import { redactSecrets, redactUrl } from './redact';
import { TasteService } from './core/taste';
import { AUTO_MIN_RATINGS } from './core/scorer';
import { createProfileServices } from './core/profile-services';
import { createOffThreadChartRenderer } from './charts/off-thread';
import { assertCanUseProfile } from './core/privacy';
import { FeaturesEmbedder } from './providers/embedder/features';
import { SketchGenerator } from './providers/imagegen/sketch';
import { createReplicateWebhookReceiver, type ReplicateWebhookReceiver } from './providers/replicate-webhook';
import type { FeedbackLlm, Moderator, PromptOptimizerLlm } from './providers/llm/types';
import type { UsageRecord } from './providers/usage';

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

export interface Providers {
  embedder: Embedder;
  generator: ImageGenerator;
  llm: { optimizer: PromptOptimizerLlm; feedback: FeedbackLlm; moderator: Moderator } | null;
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
  // Creating the embedded database takes seconds with no other sign of life: say what is happening.
  if (!opts.database && !config.DATABASE_URL && !existsSync(path.join(config.pgliteDir, 'PG_VERSION'))) {
    log.info({ dir: config.pgliteDir }, 'first start: creating the embedded database (a few seconds)');
  }
  const database =
    opts.database ??
    (await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDir: config.DATABASE_URL ? undefined : config.pgliteDir }));
  const db = database.db;

  const recordUsage = async (r: UsageRecord & { scopeId?: string }) => {
    try {
      await db.insert(usageTable).values({
        runId: r.runId ?? null,
        userKey: r.userKey ?? null,
        scopeId: r.scopeId ?? null,
        provider: r.provider,
        model: r.model,
        kind: r.kind,
        tokensIn: r.tokensIn,
        tokensOut: r.tokensOut,
        images: r.images,
        attempts: r.attempts,
        costUsd: r.costUsd,
      });
    } catch (err) {
      log.warn({ err }, 'could not record provider usage');
    }
  };

  // REPLICATE_WEBHOOK_URL: completions arrive on their own port (src/providers/replicate-webhook.ts).
  const replicateWebhook =
    !opts.providers?.generator && config.IMAGEGEN === 'replicate' && config.REPLICATE_WEBHOOK_URL
      ? createReplicateWebhookReceiver({
          url: config.REPLICATE_WEBHOOK_URL,
          secret: config.REPLICATE_WEBHOOK_SECRET,
          auth: config.REPLICATE_API_TOKEN!,
          baseUrl: config.REPLICATE_BASE_URL,
          log,
        })
      : undefined;
  const providers: Providers = {
    embedder: opts.providers?.embedder ?? (await createEmbedder(config, log)),
    generator: opts.providers?.generator ?? (await createGenerator(config, recordUsage, replicateWebhook)),
    llm: opts.providers?.llm !== undefined ? opts.providers.llm : await createLlms(config, recordUsage),
  };

  const images = new ImageStore(db, config.imagesDir);
  const embeddings = new EmbeddingService(db, images, providers.embedder);
  const ledger = new RatingLedger(db, { log });
  const taste = new TasteService({ db, ledger, embeddings, images, log, method: config.SCORER_METHOD });
  // Charts are drawn in a worker thread: the chart stack must never share a realm with a chat SDK.
  const charts = createOffThreadChartRenderer();

  // Operational counters (/metrics): rating changes and how runs end.
  const unobserve = [
    ledger.onChange((c) => ratingChangesTotal.inc({ change: c.before === null ? 'added' : c.after === null ? 'removed' : 'changed' })),
  ];
  const llmAvailable = providers.llm !== null;
  const scorerLabel = `${config.SCORER_METHOD} on ${providers.embedder.modelId}`;
  const queueKind = opts.queue ?? (database.kind === 'postgres' ? 'graphile' : 'inprocess');
  const runs = new RunService({
    db,
    config,
    llmAvailable,
    log,
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
    loopDeps: (params: RunParams): LoopDeps => ({
      generator: providers.generator,
      store: images,
      objective: createScorerObjective(
        {
          predict: (u, ids) => taste.predict(u, ids),
          ratingCount: (u) => ledger.count(u),
          listRatings: (u) => ledger.listRatings(u),
          embed: (ids) => embeddings.embed(ids),
        },
        { members: params.members, objective: params.objective, label: scorerLabel },
      ),
      proposer: proposerFor(params, providers.llm?.optimizer ?? null),
      feedbackLlm: providers.llm?.feedback,
      // Prompts before rendering, images before they are stored or posted (fail closed on errors).
      moderator: config.MODERATION === 'off' || !providers.llm ? undefined : providers.llm.moderator,
      onModerationError: (err) => log.warn({ err }, 'image moderation failed: the image was withheld'),
      sanitize: { bannedWords: config.BANNED_WORDS },
    }),
  });
  unobserve.push(
    runs.subscribe((e) => {
      if (e.type === 'run.finished' || e.type === 'run.failed' || e.type === 'run.cancelled')
        runsEndedTotal.inc({ outcome: e.type.slice('run.'.length) });
    }),
  );

  const backends: Record<string, string> = {
    database: database.description,
    embedder: redactSecrets(providers.embedder.describe()),
    imagegen: providers.generator.describe(),
    llm: providers.llm
      ? `OpenAI-compatible ${providers.llm.optimizer.model} at ${redactUrl(config.OPENAI_BASE_URL ?? 'api.openai.com')}`
      : 'none (genetic optimizer)',
    queue: queueKind === 'graphile' ? 'graphile-worker on PostgreSQL' : 'in-process runner',
    scorer: scorerLabel,
  };

  const services: Services = {
    backends,
    // Profiles, /compare and privacy (issue 6).
    ...createProfileServices({ db, charts, taste, images, ledger, embeddings, runs, log }),
    images: {
      get: (id) => images.get(id),
      readBytes: (id) => images.readBytes(id),
      ingest: (bytes, meta) => images.put(bytes, { source: meta.source, ownerKey: meta.ownerKey }),
    },
    people: { touch: (person, scopeId) => touchPerson(db, person, scopeId) },
    ratings: {
      rate: async (person, imageId, score, ctx, eventTime) => {
        const userKey = await touchPerson(db, person, ctx.scopeId);
        return ledger.rate({ userKey, imageId, score, eventTime, ctx });
      },
      unrate: async (person, imageId, score, ctx, eventTime) => {
        const userKey = userKeyOf(person);
        return ledger.unrate({ userKey, imageId, score, eventTime, ctx });
      },
      standing: async (person, imageId) => {
        const userKey = userKeyOf(person);
        return (await ledger.standingVotes(imageId)).filter((v) => v.userKey === userKey).map((v) => v.score);
      },
      count: (userKey) => ledger.count(userKey),
      reconcile: (m) =>
        reconcileMessage(
          {
            standingVotes: (imageId) => ledger.standingVotes(imageId),
            rate: async (person, imageId, score, ctx, eventTime) =>
              ledger.rate({ userKey: await touchPerson(db, person, ctx.scopeId), imageId, score, eventTime, ctx }),
            unrate: (person, imageId, score, ctx, eventTime) =>
              ledger.unrate({ userKey: userKeyOf(person), imageId, score, eventTime, ctx }),
          },
          m,
        ),
    },
    taste: {
      nextToRate: (userKey, k) => taste.nextToRate(userKey, k),
      profile: (userKey) => taste.profile(userKey),
      predict: (userKey, ids) => taste.predict(userKey, ids),
    },
    runs: {
      start: async (req) => {
        const requesterKey = await touchPerson(db, req.requester, req.scopeId);
        // Group runs use other people's scorers: each must have opted in and share this scope. Checked
        // here, in the core, so no surface can skip it.
        for (const targetKey of new Set(req.members ?? [])) {
          await assertCanUseProfile(db, { requesterKey, targetKey, scopeId: req.scopeId });
        }
        // A scorer with few ratings still scores with the community's taste: say so in the header.
        const members = req.members?.length ? req.members : [requesterKey];
        const fewest = Math.min(...(await Promise.all(members.map((m) => ledger.count(m)))));
        const learning =
          fewest < AUTO_MIN_RATINGS
            ? `Scores come mostly from the community's taste for now (${members.length > 1 ? 'a member has' : 'you have'} ${fewest} rating${fewest === 1 ? '' : 's'}; from ${AUTO_MIN_RATINGS} on the scorer becomes personal) — rate images with /rate or on this run.`
            : undefined;
        return runs.start({ ...req, note: [req.note, learning].filter(Boolean).join(' ') || undefined });
      },
      cancel: (userKey, runId) => runs.cancel(userKey, runId),
      subscribe: (listener) => runs.subscribe(listener),
      setDestination: (runId, dest) => runs.setDestination(runId, dest),
      feed: (platform, cursors) => pendingRunEvents(db, platform, cursors),
    },
    messages: {
      record: async (m) => {
        await db
          .insert(platformMessages)
          .values({
            platform: m.platform,
            messageId: m.messageId,
            channelId: m.channelId,
            scopeId: m.scopeId ?? null,
            imageId: m.imageId ?? null,
            runId: m.runId ?? null,
            kind: m.kind,
            eventKey: m.eventKey ?? null,
          })
          .onConflictDoNothing();
      },
      byEventKey: async (platform, eventKey) => {
        const [row] = await db
          .select({ messageId: platformMessages.messageId, channelId: platformMessages.channelId })
          .from(platformMessages)
          .where(and(eq(platformMessages.platform, platform), eq(platformMessages.eventKey, eventKey)))
          .limit(1);
        return row;
      },
      recentRateable: async (platform, since, limit) => {
        const rows = await db
          .select({
            messageId: platformMessages.messageId,
            channelId: platformMessages.channelId,
            scopeId: platformMessages.scopeId,
            imageId: platformMessages.imageId,
          })
          .from(platformMessages)
          .where(and(eq(platformMessages.platform, platform), gte(platformMessages.createdAt, since), isNotNull(platformMessages.imageId)))
          .orderBy(desc(platformMessages.createdAt))
          .limit(limit);
        return rows.map((r) => ({ ...r, imageId: r.imageId as string }));
      },
      claimReadBack: (o) => claimReadBack(db, o),
      finishReadBack: (o) => finishReadBack(db, o),
      lookup: async (platform, messageId) => {
        const [row] = await db
          .select()
          .from(platformMessages)
          .where(and(eq(platformMessages.platform, platform), eq(platformMessages.messageId, messageId)))
          .limit(1);
        return row ? { imageId: row.imageId, runId: row.runId, kind: row.kind, channelId: row.channelId } : undefined;
      },
    },
  };

  // Scorers load in the background (seconds per hundred people): predictions wait for the load
  // (TasteService.load), so the bot may answer while it runs without scoring from half a model.
  void taste
    .load()
    .catch((err: unknown) => log.error({ err }, `scorers could not be loaded: ${(err as Error).message}; scores use what is loaded`));
  const gallery = new GalleryProgress(opts.seedGallery ?? config.GALLERY === 'on');
  services.gallery = { status: () => gallery.status() };

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
    },
    close: async () => {
      if (closed) return;
      closed = true;
      for (const off of unobserve) off();
      const drawing = gallery.stop(); // the next start draws what is missing
      await runs.stop();
      await replicateWebhook?.close();
      await drawing;
      taste.stop();
      await taste.idle().catch(() => {});
      await charts.close();
      if (!opts.database) await database.close();
    },
  };
}

function proposerFor(params: RunParams, llm: PromptOptimizerLlm | null): PromptProposer {
  if (params.optimizer === 'llm' && llm) return new LlmProposer(llm, params.feedback);
  if (params.optimizer === 'random') return new RandomProposer();
  return new GeneticProposer();
}

async function createEmbedder(config: Config, log: Logger): Promise<Embedder> {
  if (config.EMBEDDER === 'clip') {
    const { ClipEmbedder, clipOptionsFromConfig } = await import('./providers/embedder/clip');
    // The first start may download the model (hundreds of MB): its progress goes to the log.
    return ClipEmbedder.create({ ...clipOptionsFromConfig(config), log: log.child({ component: 'clip' }) });
  }
  return new FeaturesEmbedder();
}

async function createGenerator(
  config: Config,
  onUsage: (r: UsageRecord) => Promise<void>,
  webhook?: ReplicateWebhookReceiver,
): Promise<ImageGenerator> {
  if (config.IMAGEGEN === 'replicate') {
    const { ReplicateImageGenerator } = await import('./providers/imagegen/replicate');
    return new ReplicateImageGenerator({
      auth: config.REPLICATE_API_TOKEN!,
      baseUrl: config.REPLICATE_BASE_URL,
      model: config.REPLICATE_MODEL,
      input: config.REPLICATE_INPUT,
      timeoutMs: config.IMAGEGEN_TIMEOUT_MS,
      maxRetries: config.PROVIDER_MAX_RETRIES,
      concurrency: config.IMAGEGEN_CONCURRENCY,
      onUsage,
      webhook: webhook && config.REPLICATE_WEBHOOK_URL ? { url: config.REPLICATE_WEBHOOK_URL, receiver: webhook } : undefined,
    });
  }
  if (config.IMAGEGEN === 'openai') {
    const { OpenAIImageGenerator } = await import('./providers/imagegen/openai');
    return new OpenAIImageGenerator({
      apiKey: config.OPENAI_API_KEY!,
      baseURL: config.OPENAI_BASE_URL,
      model: config.OPENAI_IMAGE_MODEL,
      timeoutMs: config.IMAGEGEN_TIMEOUT_MS,
      maxRetries: config.PROVIDER_MAX_RETRIES,
      concurrency: config.IMAGEGEN_CONCURRENCY,
      onUsage,
    });
  }
  return new SketchGenerator({ size: config.IMAGE_SIZE, concurrency: Math.min(config.IMAGEGEN_CONCURRENCY, 4) });
}

async function createLlms(config: Config, onUsage: (r: UsageRecord) => Promise<void>): Promise<Providers['llm']> {
  if (!config.llmEnabled) return null;
  const { createOpenAILlms } = await import('./providers/llm/openai');
  return createOpenAILlms({
    apiKey: config.OPENAI_API_KEY!,
    baseURL: config.OPENAI_BASE_URL,
    model: config.LLM_MODEL,
    feedbackModel: config.LLM_FEEDBACK_MODEL ?? config.LLM_MODEL,
    timeoutMs: config.LLM_TIMEOUT_MS,
    maxRetries: config.PROVIDER_MAX_RETRIES,
    bannedWords: config.BANNED_WORDS,
    onUsage,
  });
}

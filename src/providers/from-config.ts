/**
 * Builds the outside services from the Config: the embedder, the image generator and the LLMs, each
 * imported only when configured (so an offline start loads no provider SDK), and the database record
 * of what each paid call cost. Part of the composition root: it constructs, it does no work.
 */
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Db } from '../db/connection';
import { usage as usageTable } from '../db/schema';
import type { Embedder, FeedbackLlm, ImageBlobStore, ImageGenerator, Moderator, PromptOptimizerLlm } from '../core/ports';
import { FsImageBlobStore } from './blobstore/fs';
import { FeaturesEmbedder } from './embedder/features';
import { SketchGenerator } from './imagegen/sketch/generator';
import { createReplicateWebhookReceiver, type ReplicateWebhookReceiver } from './replicate-webhook';
import type { UsageRecord } from './usage';

export interface Providers {
  embedder: Embedder;
  generator: ImageGenerator;
  llm: { optimizer: PromptOptimizerLlm; feedback: FeedbackLlm; moderator: Moderator } | null;
}

/** The configured providers; `given` replaces any of them (tests and benchmarks bring their own). */
export async function createProviders(
  config: Config,
  o: { db: Db; log: Logger; given?: Partial<Providers> },
): Promise<{ providers: Providers; replicateWebhook?: ReplicateWebhookReceiver }> {
  const recordUsage = usageRecorder(o.db, o.log);
  // REPLICATE_WEBHOOK_URL: completions arrive on their own port (src/providers/replicate-webhook.ts).
  const replicateWebhook =
    !o.given?.generator && config.IMAGEGEN === 'replicate' && config.REPLICATE_WEBHOOK_URL
      ? createReplicateWebhookReceiver({
          url: config.REPLICATE_WEBHOOK_URL,
          secret: config.REPLICATE_WEBHOOK_SECRET,
          auth: config.REPLICATE_API_TOKEN!,
          baseUrl: config.REPLICATE_BASE_URL,
          log: o.log,
        })
      : undefined;
  const providers: Providers = {
    embedder: o.given?.embedder ?? (await createEmbedder(config, o.log)),
    generator: o.given?.generator ?? (await createGenerator(config, recordUsage, replicateWebhook)),
    llm: o.given?.llm !== undefined ? o.given.llm : await createLlms(config, recordUsage),
  };
  return { providers, replicateWebhook };
}

/** Where image bytes live (IMAGE_STORE); the AWS SDK is loaded only for s3. */
export async function createImageBlobStore(config: Config): Promise<ImageBlobStore> {
  if (config.IMAGE_STORE !== 's3') return new FsImageBlobStore(config.imagesDir);
  const { S3ImageBlobStore } = await import('./blobstore/s3');
  return new S3ImageBlobStore({
    // loadConfig rejects IMAGE_STORE=s3 without S3_BUCKET.
    bucket: config.S3_BUCKET!,
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    timeoutMs: config.S3_TIMEOUT_MS,
  });
}

/** Stores one row per paid provider call; a failed insert is logged, never fails the call it describes. */
function usageRecorder(db: Db, log: Logger): (r: UsageRecord & { scopeId?: string }) => Promise<void> {
  return async (r) => {
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
}

export async function createEmbedder(config: Config, log: Logger): Promise<Embedder> {
  if (config.EMBEDDER === 'clip') {
    const { ClipEmbedder, clipOptionsFromConfig } = await import('./embedder/clip');
    // The first start may download the model (hundreds of MB): its progress goes to the log.
    return ClipEmbedder.create({ ...clipOptionsFromConfig(config), log: log.child({ component: 'clip' }) });
  }
  if (config.EMBEDDER === 'mobilenet') {
    // The weights ship inside the nsfwjs package; the model loads in a worker thread on first use.
    const { MobileNetEmbedder } = await import('./embedder/mobilenet');
    return new MobileNetEmbedder();
  }
  if (config.EMBEDDER === 'mobilenet+features') {
    // MobileNetV2's pooled features beside the built-in descriptors, each half of the vector.
    const { MobileNetPlusFeaturesEmbedder } = await import('./embedder/mobilenet-features');
    return new MobileNetPlusFeaturesEmbedder();
  }
  return new FeaturesEmbedder();
}

async function createGenerator(
  config: Config,
  onUsage: (r: UsageRecord) => Promise<void>,
  webhook?: ReplicateWebhookReceiver,
): Promise<ImageGenerator> {
  if (config.IMAGEGEN === 'replicate') {
    const { ReplicateImageGenerator } = await import('./imagegen/replicate');
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
    const { OpenAIImageGenerator } = await import('./imagegen/openai');
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
  const { createOpenAILlms } = await import('./llm/openai');
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

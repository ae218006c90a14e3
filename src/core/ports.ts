/**
 * The seams between the core and the outside. Providers (src/providers) implement the provider
 * interfaces; core services implement the service interfaces; platforms and commands use only these.
 * Nothing here imports a platform SDK.
 */
import type { UserKey } from './identity';

// ---------- providers ----------

export interface Embedder {
  /** Stable id of the model, e.g. "features-v1" or "clip:Xenova/clip-vit-base-patch32". Vectors of different ids never mix. */
  readonly modelId: string;
  readonly dim: number;
  /** Embed normalized PNG images. Returns unit-length vectors, one per input, in order. */
  embed(images: Buffer[]): Promise<Float32Array[]>;
  /** For startup logs. */
  describe(): string;
}

export interface GenerateOptions {
  seed?: number;
  /** Edge length in pixels (square). */
  size?: number;
  signal?: AbortSignal;
  /** For usage records. */
  runId?: string;
  userKey?: UserKey;
}

export interface GeneratedImage {
  /** Image bytes as returned (PNG/JPEG/WebP); the image store normalizes them. */
  bytes: Buffer;
  generator: string;
  model: string;
  seed?: number;
  costUsd: number;
}

export interface ImageGenerator {
  readonly name: string; // sketch | replicate | openai
  readonly model: string;
  /** Max concurrent generate() calls this provider should get. */
  readonly concurrency: number;
  generate(prompt: string, opts?: GenerateOptions): Promise<GeneratedImage>;
  describe(): string;
}

// ---------- core records ----------

export type ImageSource = 'gallery' | 'onboarding' | 'generated' | 'uploaded' | 'attachment';

export interface ImageRecord {
  id: string;
  width: number;
  height: number;
  bytes: number;
  source: ImageSource;
  prompt: string | null;
  generator: string | null;
  seed: number | null;
  ownerKey: string | null;
  createdAt: Date;
}

export interface RatingContext {
  /** e.g. "discord", "slack", "playground", "reaction", "eval". */
  source: string;
  /** Guild id / Slack team id: where the rating happened. */
  scopeId?: string;
  channelId?: string;
  messageId?: string;
}

export interface RatingChange {
  userKey: UserKey;
  imageId: string;
  /** Effective rating before and after; null = none. */
  before: number | null;
  after: number | null;
  /** false when the event was a duplicate or stale and changed nothing. */
  changed: boolean;
}

export interface ScorerQuality {
  n: number;
  srocc: number | null;
  mse: number | null;
  mae: number | null;
}

/**
 * The seams between the core and the outside. Providers (src/providers) implement the provider
 * interfaces; core services implement the service interfaces; platforms and commands use only these.
 * Nothing here imports a platform SDK. The plain data the core keeps and describes (images, ratings,
 * chart requests) is in records.ts.
 */
import type { UserKey } from './identity';
import type { ChartRequest } from './records';

// ---------- providers ----------

/** A named run of consecutive dimensions of an embedding, e.g. the features embedder's "warmth" (2 dims). */
export interface FeatureGroup {
  readonly name: string;
  readonly dims: number;
}

export interface Embedder {
  /** Stable id of the model, e.g. "features-v1" or "clip:Xenova/clip-vit-base-patch32". Vectors of different ids never mix. */
  readonly modelId: string;
  readonly dim: number;
  /**
   * The vector's layout as named groups, in order (their dims add up to `dim`), when its dimensions
   * mean something on their own — the built-in features embedder. The core builds named taste
   * directions from them (src/core/profile-directions.ts). Absent for learned embeddings such as CLIP,
   * whose dimensions have no names: profiles then use a TextEmbedder's phrases, or go without words.
   */
  readonly featureGroups?: readonly FeatureGroup[];
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
  /**
   * One sentence on what this generator cannot show of `prompt` (an offline stand-in names the words
   * it does not draw), or undefined when it can show all of it. Generators that draw anything leave it out.
   */
  describeLimits?(prompt: string): string | undefined;
}

/**
 * Where the bytes of stored images live (src/providers/blobstore: a directory or an S3-compatible
 * bucket). The ImageStore keeps the rows; ids are the sha256 of the normalized PNG, so a put of an id
 * that is already there is a no-op and every process sharing the store reads the same bytes.
 */
export interface ImageBlobStore {
  /** Stores the PNG under its id; idempotent. A reader never sees a partly written image. */
  put(id: string, png: Buffer): Promise<void>;
  /** The PNG bytes; rejects with UnknownImageError when there is none under that id. */
  get(id: string): Promise<Buffer>;
  has?(id: string): Promise<boolean>;
  /** Removes the bytes; no error when they are already gone. */
  delete(id: string): Promise<void>;
  /** The image's file, for stores that keep files on this machine (the fs store); absent otherwise. */
  localPath?(id: string): string;
  /** For startup logs; names no secret. */
  describe(): string;
}

// ---------- LLM (implemented in src/providers/llm; the core never imports an SDK) ----------

export interface LlmMessageImage {
  mime: string;
  bytes: Buffer;
}

export interface ProposeRequest {
  /** 'initial': N diverse prompts spread around the initial prompt; 'improve': N prompts that should score higher. */
  task: 'initial' | 'improve';
  n: number;
  initialPrompt: string;
  /** For s+p and up: the whole prompt history, sorted by score (the implementation sorts again, best first). */
  history?: { prompt: string; score: number | null; iteration: number }[];
  /** For feedback set 'none': only the optimizer's previous prompts. */
  previousPrompts?: string[];
  /** For s+p+f: text feedback from the feedback LLM. */
  feedback?: string[];
  /** For s+p+f+I: the images themselves (sent as vision input). */
  images?: { prompt: string; score: number; image: LlmMessageImage }[];
  signal?: AbortSignal;
  runId?: string;
  userKey?: string;
}

export interface PromptOptimizerLlm {
  readonly model: string;
  /**
   * Returns up to `n` cleaned, deduplicated prompts (invisible Unicode stripped, length-limited).
   * Throws ProviderError on a reply that stays invalid after one corrective retry,
   * ProviderTimeoutError on the deadline, CancelledError when `signal` aborts.
   */
  proposePrompts(req: ProposeRequest): Promise<string[]>;
}

export interface FeedbackLlm {
  readonly model: string;
  /** One short piece of advice on what to change in `prompt` given its image and score. */
  feedback(req: {
    prompt: string;
    score: number;
    image: LlmMessageImage;
    signal?: AbortSignal;
    runId?: string;
    userKey?: string;
  }): Promise<string>;
}

export interface ModerationResult {
  flagged: boolean;
  /** Category names that were flagged, e.g. ["violence"]. */
  categories: string[];
}

export interface ModerationOptions {
  signal?: AbortSignal;
  /** For usage records. */
  runId?: string;
  userKey?: string;
}

export interface Moderator {
  /** One result per text, in order. */
  check(texts: string[], signal?: AbortSignal): Promise<ModerationResult[]>;
  /**
   * One image (PNG, JPEG, WebP or GIF bytes). Throws when the image could not be checked (timeout,
   * provider error): the caller decides what that means — the run loop fails closed and withholds it.
   */
  checkImage(image: LlmMessageImage, opts?: ModerationOptions): Promise<ModerationResult>;
}

// ---------- charts ----------

/**
 * Draws charts to PNG. The core describes what to draw; the implementation decides where the chart
 * stack runs (the bot keeps it off the main thread, see src/charts/off-thread.ts).
 */
export interface ChartRenderer {
  render(request: ChartRequest): Promise<Buffer>;
}

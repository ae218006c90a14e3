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

/** Constructor options shared by the OpenAI-backed implementations. */

// ---------- charts ----------

/** Size, titles and density of a chart PNG. */
export interface ChartOptions {
  title?: string;
  /** Final PNG width and height in CSS pixels (before `scale`). Default 640×400. */
  width?: number;
  height?: number;
  xTitle?: string;
  yTitle?: string;
  /** Pixel density multiplier of the PNG (2 = retina). Default 1. */
  scale?: number;
  /** The y values are counts: whole-number ticks only. */
  integerY?: boolean;
}

export interface LinePoint {
  x: number;
  y: number;
  /** Optional band (e.g. mean ± std). */
  lo?: number;
  hi?: number;
}
export interface LineSeries {
  name: string;
  points: LinePoint[];
}

export interface Bar {
  label: string;
  value: number;
  /** Side-by-side groups within a label (e.g. method per shot count). */
  group?: string;
  /** Symmetric error bar (e.g. std). */
  error?: number;
}

export interface HeatCell {
  x: string;
  y: string;
  value: number;
}

/** One picture to draw, as plain data (it crosses a thread boundary). */
export type ChartRequest =
  | { kind: 'line'; series: LineSeries[]; options?: ChartOptions & { yDomain?: [number, number]; xLog?: boolean } }
  | { kind: 'bar'; bars: Bar[]; options?: ChartOptions }
  | { kind: 'heatmap'; cells: HeatCell[]; options?: ChartOptions & { decimals?: number } }
  | { kind: 'histogram'; values: number[]; options?: ChartOptions & { bins?: number; extent?: [number, number] } }
  /** A hand-made SVG (text strips, labels) rasterized with the same fonts as the charts. */
  | { kind: 'svg'; svg: string; scale?: number };

/**
 * Draws charts to PNG. The core describes what to draw; the implementation decides where the chart
 * stack runs (the bot keeps it off the main thread, see src/charts/off-thread.ts).
 */
export interface ChartRenderer {
  render(request: ChartRequest): Promise<Buffer>;
}

/**
 * Test doubles for the loop's *providers* only (image generator, LLMs, moderator, objective). The
 * loop, proposers and run service under test are always the real ones.
 */
import { sleep as abortableSleep } from '../../src/providers/http-util';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { CancelledError } from '../../src/core/errors';
import type {
  FeedbackLlm,
  GenerateOptions,
  GeneratedImage,
  ImageGenerator,
  LlmMessageImage,
  ModerationResult,
  Moderator,
  PromptOptimizerLlm,
  ProposeRequest,
} from '../../src/core/ports';
import type { ImageRecord } from '../../src/core/records';
import type { LoopImageStore, Objective, ObjectiveResult } from '../../src/core/optimizer/loop';
import { parsePrompt } from '../../src/core/optimizer/keywords';

/** The shared abortable sleep, failing with CancelledError as a cancelled provider call does. */
const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  abortableSleep(ms, signal).catch(() => {
    throw new CancelledError();
  });

/** A tiny solid-colour PNG whose colour is a hash of (prompt, seed): deterministic, content-addressable. */
export async function promptPng(prompt: string, seed = 0): Promise<Buffer> {
  const h = createHash('sha256').update(`${prompt}\u0001${seed}`).digest();
  return sharp({ create: { width: 8, height: 8, channels: 3, background: { r: h[0]!, g: h[1]!, b: h[2]! } } })
    .png()
    .toBuffer();
}

export class FakeGenerator implements ImageGenerator {
  readonly name = 'fake';
  readonly model = 'fake-v1';
  calls: { prompt: string; seed?: number; startedAfterAbort: boolean }[] = [];
  onCall?: (n: number) => void;
  constructor(
    readonly concurrency = 2,
    private readonly delayMs = 0,
    private readonly costUsd = 0.01,
  ) {}
  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GeneratedImage> {
    this.calls.push({ prompt, seed: opts.seed, startedAfterAbort: Boolean(opts.signal?.aborted) });
    this.onCall?.(this.calls.length);
    if (this.delayMs) await sleep(this.delayMs, opts.signal);
    if (opts.signal?.aborted) throw new CancelledError();
    return { bytes: await promptPng(prompt, opts.seed), generator: this.name, model: this.model, seed: opts.seed, costUsd: this.costUsd };
  }
  describe() {
    return 'fake generator';
  }
}

/** In-memory image store keyed by the sha256 of the bytes (content-addressed like the real one). */
export class MemoryImageStore implements LoopImageStore {
  readonly images = new Map<string, { bytes: Buffer; prompt: string | null }>();
  async put(bytes: Buffer, meta: { prompt?: string | null; seed?: number | null; generator?: string | null }): Promise<ImageRecord> {
    const id = createHash('sha256').update(bytes).digest('hex');
    if (!this.images.has(id)) this.images.set(id, { bytes, prompt: meta.prompt ?? null });
    return {
      id,
      width: 8,
      height: 8,
      bytes: bytes.length,
      source: 'generated',
      prompt: meta.prompt ?? null,
      generator: meta.generator ?? null,
      seed: meta.seed ?? null,
      ownerKey: null,
      createdAt: new Date(),
    };
  }
  async readBytes(id: string): Promise<Buffer> {
    const r = this.images.get(id);
    if (!r) throw new Error(`no image ${id}`);
    return r.bytes;
  }
  promptOf(id: string): string {
    return this.images.get(id)?.prompt ?? '';
  }
}

/**
 * A synthetic objective: the person secretly likes `preferred` keywords. Score on 1..10 rises with the
 * share of preferred keywords present and falls a little with unrelated ones. Ratings given during the
 * run (rate()) shift the score of prompts sharing keywords with the rated one: the human-in-the-loop path.
 */
export class KeywordObjective implements Objective {
  readonly ratings: { keywords: string[]; score: number }[] = [];
  calls = 0;
  constructor(
    private readonly promptOf: (imageId: string) => string,
    readonly preferred: string[],
  ) {}
  describe() {
    return 'keyword objective';
  }
  scorePrompt(prompt: string): number {
    const kw = parsePrompt(prompt).keywords;
    const hit = kw.filter((k) => this.preferred.includes(k)).length;
    const miss = kw.length - hit;
    let s = 1 + (9 * hit) / this.preferred.length - 0.3 * miss;
    for (const r of this.ratings) {
      const overlap = kw.filter((k) => r.keywords.includes(k)).length / Math.max(1, kw.length);
      s += ((r.score - 5.5) / 4.5) * overlap;
    }
    return Math.max(1, Math.min(10, s));
  }
  rate(prompt: string, score: number) {
    this.ratings.push({ keywords: parsePrompt(prompt).keywords, score });
  }
  async score(imageIds: string[]): Promise<ObjectiveResult> {
    this.calls++;
    return {
      scores: imageIds.map((id) => ({ score: this.scorePrompt(this.promptOf(id)), memberScores: {} })),
      scorerN: this.ratings.length,
    };
  }
}

/** Scripted optimizer LLM: records every request, answers with numbered variations. */
export class ScriptedOptimizerLlm implements PromptOptimizerLlm {
  readonly model = 'scripted-llm';
  requests: ProposeRequest[] = [];
  /** Prompts to return next (per call); defaults to "<initial>, variation <k>". */
  script: string[][] = [];
  private counter = 0;
  async proposePrompts(req: ProposeRequest): Promise<string[]> {
    this.requests.push(req);
    if (req.signal?.aborted) throw new CancelledError();
    const scripted = this.script.shift();
    if (scripted) return scripted;
    return Array.from({ length: req.n }, () => `${req.initialPrompt}, variation ${++this.counter}`);
  }
}

export class ScriptedFeedbackLlm implements FeedbackLlm {
  readonly model = 'scripted-feedback';
  seen: { prompt: string; score: number; image: LlmMessageImage }[] = [];
  async feedback(req: { prompt: string; score: number; image: LlmMessageImage }): Promise<string> {
    this.seen.push({ prompt: req.prompt, score: req.score, image: req.image });
    return `make "${req.prompt.slice(-12)}" warmer (was ${req.score.toFixed(1)})`;
  }
}

/** Flags any text containing one of `words`; images pass unless `imageVerdict` says otherwise. */
export class WordModerator implements Moderator {
  checked: string[] = [];
  imagesChecked: LlmMessageImage[] = [];
  imageVerdict?: (image: LlmMessageImage, n: number) => ModerationResult | Promise<ModerationResult>;
  constructor(private readonly words: string[]) {}
  async checkImage(image: LlmMessageImage): Promise<ModerationResult> {
    this.imagesChecked.push(image);
    return this.imageVerdict ? this.imageVerdict(image, this.imagesChecked.length) : { flagged: false, categories: [] };
  }
  async check(texts: string[]): Promise<ModerationResult[]> {
    this.checked.push(...texts);
    return texts.map((t) => {
      const hit = this.words.filter((w) => t.toLowerCase().includes(w));
      return { flagged: hit.length > 0, categories: hit.length ? ['violence'] : [] };
    });
  }
}

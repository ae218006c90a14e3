/**
 * The starter gallery and the onboarding set.
 *
 * - GALLERY_PROMPTS: diverse built-in prompts rendered on first start, so a new community can rate at once.
 * - ONBOARDING_PROMPTS: exactly 20 fixed calibration images, each probing a taste dimension (the method's
 *   source dataset asked every rater to rate the same 20 survey images first), so every person's first
 *   ratings are comparable with everyone else's. Order and seeds are part of the contract: never reorder,
 *   only append new gallery prompts.
 */
import { and, eq, inArray } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/connection';
import { CancelledError } from './errors';
import { images } from '../db/schema';
import type { ImageGenerator } from './ports';
import type { ImageSource } from './records';
import type { ImageStore } from './images';

export interface GalleryPrompt {
  prompt: string;
  seed: number;
}

export interface OnboardingPrompt extends GalleryPrompt {
  /** The taste dimension this image probes, e.g. "warm vs cool: warm pole". */
  probes: string;
}

export const ONBOARDING_PROMPTS: readonly OnboardingPrompt[] = [
  { probes: 'warm vs cool: warm', prompt: 'warm golden hour mountains with a low sun', seed: 101 },
  { probes: 'warm vs cool: cool', prompt: 'cool blue icy lake under a pale winter sky', seed: 102 },
  { probes: 'busy vs minimal: minimal', prompt: 'minimal abstract red circle on a soft beige field', seed: 103 },
  { probes: 'busy vs minimal: busy', prompt: 'busy colorful intricate abstract pattern of shapes', seed: 104 },
  { probes: 'bright vs dark: bright', prompt: 'bright sunny flower meadow in spring', seed: 105 },
  { probes: 'bright vs dark: dark', prompt: 'dark moody forest at midnight', seed: 106 },
  { probes: 'nature vs city: city', prompt: 'city skyline with buildings at dusk', seed: 107 },
  { probes: 'nature vs city: nature', prompt: 'green forest and mountains in daylight', seed: 108 },
  { probes: 'abstract vs figurative: figurative', prompt: 'a lone figure standing by the sea, centered portrait', seed: 109 },
  { probes: 'abstract vs figurative: abstract', prompt: 'geometric abstract shapes in teal and gold', seed: 110 },
  { probes: 'watercolor vs pixel: watercolor', prompt: 'watercolor hills and clouds in soft pastel', seed: 111 },
  { probes: 'watercolor vs pixel: pixel', prompt: 'pixel art city at night with neon lights', seed: 112 },
  { probes: 'ink monochrome', prompt: 'ink monochrome mountains and mist', seed: 113 },
  { probes: 'oil texture', prompt: 'oil painting of a stormy sea with clouds', seed: 114 },
  { probes: 'neon / saturated', prompt: 'neon synthwave sun over a grid, vibrant magenta and cyan', seed: 115 },
  { probes: 'pastel / muted', prompt: 'pastel pink desert dunes, dreamy and faded', seed: 116 },
  { probes: 'symmetric composition', prompt: 'symmetric mirrored lake with mountains and moon', seed: 117 },
  { probes: 'night sky / stars', prompt: 'starry night sky over calm sea, cool and serene', seed: 118 },
  { probes: 'vibrant landscape', prompt: 'vibrant sunset over the ocean, orange and purple', seed: 119 },
  { probes: 'muted overcast', prompt: 'misty grey overcast coast, muted and calm', seed: 120 },
];

const GALLERY_TEXT: readonly string[] = [
  'snowy mountains under a clear blue sky',
  'red desert canyon at golden hour',
  'lighthouse on a stormy coast, moody',
  'neon city street in the rain, cyberpunk',
  'watercolor cherry blossoms in a pastel garden',
  'pixel art forest with a small cabin',
  'ink sketch of a lone traveler in the mountains',
  'oil painting of sunflowers, vivid yellow',
  'minimal zen sun over a calm sea',
  'busy crowded metropolis skyline at night',
  'teal and orange abstract composition',
  'purple galaxy with stars, cosmic',
  'foggy pine forest at dawn',
  'tropical beach with turquoise water, sunny',
  'autumn forest in warm amber and crimson',
  'frozen lake in winter, icy cool blue',
  'portrait of a woman in a red coat, centered',
  'geometric bauhaus shapes, primary colors',
  'desert dunes under a full moon',
  'harbor town at sunset, golden',
  'emerald jungle with mist, lush green',
  'black and white city skyline, noir',
  'pastel lavender clouds, dreamy',
  'volcano erupting at night, fiery red',
  'symmetric mountain reflection in a lake',
  'watercolor seascape with soft waves',
  'retro pixel art sunset over the ocean',
  'impressionist oil painting of a flower meadow',
  'moody dark sea with a crescent moon',
  'bright colorful abstract confetti, maximalist',
  'minimalist black circle on white',
  'cozy warm village at dusk',
  'cold blue night city with glowing windows',
  'golden wheat fields under a warm sky',
  'pink and coral sunrise over hills',
  'navy and silver abstract waves',
  'a child flying through clouds, whimsical',
  'ancient ruins in the desert, ochre',
  'rainy street with umbrellas, muted',
  'starry sky above a pine forest',
  'ink wash painting of bamboo and mist',
  'vibrant magenta and cyan synthwave grid',
  'calm green meadow with a single tree',
  'stormy gray ocean with big waves',
  'fiery orange abstract flames',
  'a wanderer on a mountain ridge at sunrise',
  'glowing jellyfish in a dark teal ocean',
  'spring garden with tulips, bright and soft',
  'intricate detailed cityscape, busy',
  'serene minimal lake at dawn, pastel',
  'oil painting of a harbor with boats',
  'pixel art mountains at night with stars',
  'watercolor portrait of a girl with flowers',
  'gold and black art deco pattern',
  'misty blue hour over the sea',
  'sunny beach with palm trees, vivid',
  'dark gothic city under a red moon',
  'soft beige and sage minimal landscape',
  'emerald and gold forest, magical',
  'indigo night desert with a lone figure',
  'colorful hot air balloons over green hills',
  'silver moonlight on a frozen forest',
  'crimson abstract brush strokes, expressive',
  'lavender fields at golden hour',
];

export const GALLERY_PROMPTS: readonly GalleryPrompt[] = GALLERY_TEXT.map((prompt, i) => ({ prompt, seed: 1000 + i }));

export interface SeedGalleryOptions {
  log?: { info: (obj: object, msg?: string) => void };
  /** Edge length; default: the generator's default. */
  size?: number;
  /** Stops taking new images (shutdown); an image being drawn may finish. */
  signal?: AbortSignal;
  /** How many starter images exist so far, of how many: once before drawing, then after each image. */
  onProgress?: (ready: number, total: number) => void;
}

/** How many starter images there are: the onboarding set and the gallery. */
export const STARTER_TOTAL = ONBOARDING_PROMPTS.length + GALLERY_PROMPTS.length;

/**
 * Renders every missing gallery/onboarding image, the onboarding set first (/rate offers it first).
 * Idempotent: a second call renders nothing. The first failure stops it (rejecting with that error)
 * once the images already being drawn are stored, so the next call resumes where this one stopped.
 */
export async function seedGallery(
  store: ImageStore,
  generator: ImageGenerator,
  opts: SeedGalleryOptions = {},
): Promise<{ rendered: number; skipped: number }> {
  const db = store.db;
  const wanted: { p: GalleryPrompt; source: ImageSource }[] = [
    ...ONBOARDING_PROMPTS.map((p) => ({ p, source: 'onboarding' as const })),
    ...GALLERY_PROMPTS.map((p) => ({ p, source: 'gallery' as const })),
  ];
  const have = new Set(
    (
      await db
        .select({ prompt: images.prompt, seed: images.seed, source: images.source, generator: images.generator })
        .from(images)
        .where(and(inArray(images.source, ['gallery', 'onboarding']), eq(images.generator, generator.name)))
    ).map((r) => `${r.source}\u0000${r.prompt}\u0000${r.seed}`),
  );
  const todo = wanted.filter(({ p, source }) => !have.has(`${source}\u0000${p.prompt}\u0000${p.seed}`));
  const skipped = wanted.length - todo.length;
  opts.onProgress?.(skipped, wanted.length);
  let rendered = 0;
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (next < todo.length && !failure && !opts.signal?.aborted) {
      const item = todo[next++]!;
      try {
        const img = await generator.generate(item.p.prompt, { seed: item.p.seed, size: opts.size, signal: opts.signal });
        await store.put(img.bytes, { source: item.source, prompt: item.p.prompt, generator: img.generator, seed: item.p.seed });
        rendered++;
        opts.onProgress?.(skipped + rendered, wanted.length);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(generator.concurrency, todo.length)) }, worker));
  if (failure) throw failure.err;
  if (skipped + rendered < wanted.length) throw new CancelledError('the starter gallery was stopped before it was complete');
  const result = { rendered, skipped };
  opts.log?.info(result, `starter gallery ready (${generator.name})`);
  return result;
}

/** Where the starter gallery stands. 'off': not drawn (GALLERY=off); 'pending': not begun yet. */
export type GalleryState = 'off' | 'pending' | 'drawing' | 'done' | 'failed';

export interface GalleryStatus {
  state: GalleryState;
  /** Starter images that exist (for the current generator). */
  ready: number;
  total: number;
}

/**
 * The starter gallery drawn in the background: how far it is (for /rate and /readyz) and `done`, which
 * settles when drawing ends — resolved once every image exists, rejected with the error that stopped
 * it. Nobody has to await `done`: a failure is logged where it happens, never an unhandled rejection.
 */
export class GalleryProgress {
  readonly total = STARTER_TOTAL;
  readonly done: Promise<void>;
  private state: GalleryState;
  private count = 0;
  private settle!: (err?: unknown) => void;
  private readonly stopping = new AbortController();

  constructor(enabled: boolean) {
    this.state = enabled ? 'pending' : 'off';
    this.done = new Promise<void>((resolve, reject) => {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- `done` rejects with drawing's own failure, unchanged (whatever was thrown)
      this.settle = (err) => (err === undefined ? resolve() : reject(err));
    });
    this.done.catch(() => {});
    if (!enabled) this.settle();
  }

  ready(): number {
    return this.count;
  }

  status(): GalleryStatus {
    return { state: this.state, ready: this.count, total: this.total };
  }

  /** Draws what is missing (see drawStarterGallery); a second call only returns `done`. */
  draw(store: ImageStore, generator: ImageGenerator, opts: Omit<DrawGalleryOptions, 'signal'>): Promise<void> {
    if (this.state === 'pending') void drawStarterGallery(store, generator, this, { ...opts, signal: this.stopping.signal });
    return this.done;
  }

  /**
   * Shutdown: stops taking new images (the generator may give up the one being drawn; the next start
   * draws the rest) and resolves once drawing has ended. Never rejects.
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.state === 'pending') this.finish(new CancelledError('the starter gallery was not drawn before shutdown'));
    await this.done.catch(() => {});
  }

  /** @internal (drawStarterGallery) */
  begin(): void {
    this.state = 'drawing';
  }
  /** @internal */
  update(ready: number): void {
    this.count = ready;
  }
  /** @internal */
  finish(err?: unknown): void {
    this.state = err === undefined ? 'done' : 'failed';
    this.settle(err);
  }
}

export interface DrawGalleryOptions {
  log: Pick<Logger, 'info' | 'error'>;
  size?: number;
  /** Aborted on shutdown: drawing stops, and the next start draws the rest. */
  signal?: AbortSignal;
  /** With slow progress (under 10% per interval), still one line per this many ms (default 5000). */
  progressEveryMs?: number;
}

/**
 * Draws the missing starter images in the background with a progress line in the log (every 10% or,
 * when slower, every few seconds) and a last line with the time it took. Never rejects: a failure is
 * logged and settles `progress.done`; seedGallery draws only what is missing, so the next start retries.
 */
export async function drawStarterGallery(
  store: ImageStore,
  generator: ImageGenerator,
  progress: GalleryProgress,
  opts: DrawGalleryOptions,
): Promise<void> {
  const t0 = performance.now();
  const seconds = () => Math.round((performance.now() - t0) / 100) / 10;
  const log = opts.log;
  let due: ((ready: number) => boolean) | undefined;
  progress.begin();
  try {
    const r = await seedGallery(store, generator, {
      size: opts.size,
      signal: opts.signal,
      onProgress: (ready, total) => {
        progress.update(ready);
        if (!due) {
          due = progressThrottle(ready, total, opts.progressEveryMs ?? 5000);
          if (ready < total)
            log.info(
              { ready, total },
              `drawing the starter gallery in the background: ${total - ready} of ${total} images, the ${ONBOARDING_PROMPTS.length} onboarding ones first (/rate offers each as soon as it is drawn)`,
            );
        } else if (due(ready)) {
          log.info({ ready, total }, `starter gallery ${ready}/${total}`);
        }
      },
    });
    const took = seconds();
    log.info(
      { ...r, total: progress.total, seconds: took, generator: generator.name },
      `starter gallery ready: ${progress.total}/${progress.total} (${r.rendered} drawn now) in ${took} s`,
    );
    progress.finish();
  } catch (err) {
    const at = `${progress.ready()}/${progress.total}`;
    if (opts.signal?.aborted)
      log.info(
        { ready: progress.ready(), total: progress.total },
        `starter gallery paused at ${at} (stopping); the next start draws the rest`,
      );
    else
      log.error(
        { err, ready: progress.ready(), total: progress.total, seconds: seconds() },
        `starter gallery stopped at ${at}: ${(err as Error)?.message ?? String(err)} — /rate offers what is drawn; the next start draws the rest`,
      );
    progress.finish(err);
  }
}

/**
 * Whether a progress line is due: when 10% more of the total is ready since the last line, or, when
 * slower than that, when something new is ready and `everyMs` passed — a sign of life without flooding.
 * The last image never gets one (the "ready" line says it).
 */
export function progressThrottle(
  start: number,
  total: number,
  everyMs: number,
  now: () => number = () => performance.now(),
): (ready: number) => boolean {
  const step = Math.max(1, Math.ceil(total / 10));
  let lastReady = start;
  let lastAt = now();
  return (ready) => {
    if (ready >= total || ready <= lastReady) return false;
    if (ready - lastReady < step && now() - lastAt < everyMs) return false;
    lastReady = ready;
    lastAt = now();
    return true;
  };
}

async function idsFor(
  db: Db,
  source: 'gallery' | 'onboarding',
): Promise<{ id: string; prompt: string | null; seed: number | null; createdAt: Date }[]> {
  return db
    .select({ id: images.id, prompt: images.prompt, seed: images.seed, createdAt: images.createdAt })
    .from(images)
    .where(eq(images.source, source));
}

/**
 * The onboarding image ids in the fixed ONBOARDING_PROMPTS order (missing ones are left out).
 * If several generators rendered the set, the newest rendering of each prompt wins.
 */
export async function onboardingImageIds(db: Db): Promise<string[]> {
  const rows = await idsFor(db, 'onboarding');
  return orderByPrompts(rows, ONBOARDING_PROMPTS);
}

/** Gallery image ids in GALLERY_PROMPTS order, then any other gallery images by id. */
export async function galleryImageIds(db: Db): Promise<string[]> {
  const rows = await idsFor(db, 'gallery');
  const ordered = orderByPrompts(rows, GALLERY_PROMPTS);
  const seen = new Set(ordered);
  return [
    ...ordered,
    ...rows
      .map((r) => r.id)
      .filter((id) => !seen.has(id))
      .sort(),
  ];
}

function orderByPrompts(
  rows: { id: string; prompt: string | null; seed: number | null; createdAt: Date }[],
  prompts: readonly GalleryPrompt[],
): string[] {
  const best = new Map<string, { id: string; createdAt: Date }>();
  for (const r of rows) {
    const key = `${r.prompt}\u0000${r.seed}`;
    const cur = best.get(key);
    if (!cur || r.createdAt > cur.createdAt || (r.createdAt.getTime() === cur.createdAt.getTime() && r.id > cur.id)) best.set(key, r);
  }
  const out: string[] = [];
  for (const p of prompts) {
    const hit = best.get(`${p.prompt}\u0000${p.seed}`);
    if (hit) out.push(hit.id);
  }
  return out;
}

/**
 * The REAL core for platform tests: `createApp` with the offline backends (sketch images at a small
 * size, the features embedder, the genetic optimizer) on PGlite or PostgreSQL. Only providers may be
 * replaced by test doubles — e.g. `GatedGenerator`, an image generator a test can hold mid-run.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp, type App, type AppOptions } from '../../src/app';
import { testConfig } from '../../src/config';
import { openDatabase, type Database } from '../../src/db/connection';
import { userKeyOf, type PersonRef } from '../../src/core/identity';
import type { GenerateOptions, GeneratedImage, ImageGenerator } from '../../src/core/ports';
import type { RatingChange, RatingContext } from '../../src/core/records';
import type { Services } from '../../src/core/services';
import { CancelledError } from '../../src/core/errors';
import { SketchGenerator } from '../../src/providers/imagegen/sketch/generator';
import { silentLogger } from '../../src/log';

export const TEST_IMAGE_SIZE = 128;

export interface TestCoreOptions {
  database?: Database;
  /** Let the app open its database from the config (PGlite under DATA_DIR: survives a restart on the same dir). */
  ownDatabase?: boolean;
  dataDir?: string;
  /** Draw the 84-image starter gallery before returning (default true). */
  seedGallery?: boolean;
  generator?: ImageGenerator;
  config?: Record<string, string>;
  runOptions?: AppOptions['runOptions'];
  queue?: AppOptions['queue'];
}

export interface TestCore {
  app: App;
  /** The person's effective rating of an image, read from the database (null = none). */
  rating(userKey: string, imageId: string): Promise<number | null>;
  /** Stops the app; closes the database when this helper opened it. */
  close(): Promise<void>;
}

export async function openTestCore(opts: TestCoreOptions = {}): Promise<TestCore> {
  const database = opts.ownDatabase ? undefined : (opts.database ?? (await openDatabase({})));
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'tl-core-'));
  const config = testConfig({ DATA_DIR: dataDir, IMAGE_SIZE: String(TEST_IMAGE_SIZE), ...opts.config });
  const app = await createApp(config, {
    log: silentLogger,
    database,
    seedGallery: opts.seedGallery ?? true,
    queue: opts.queue,
    providers: opts.generator ? { generator: opts.generator } : undefined,
    runOptions: { outboxPollMs: 50, sweepMs: 500, ...opts.runOptions },
  });
  await app.start();
  // The gallery is drawn in the background (main.ts: after the platforms connect); tests start with it drawn.
  app.drawGallery();
  await app.gallery.done;
  return {
    app,
    rating: async (userKey, imageId) => (await app.ledger.getRating(userKey, imageId))?.score ?? null,
    close: async () => {
      await app.close();
      if (database && !opts.database) await database.close();
    },
  };
}

export interface RatingCall {
  kind: 'rate' | 'unrate';
  userKey: string;
  imageId: string;
  score: number;
  ctx: RatingContext;
  changed: boolean;
}

/**
 * The real services with their rating calls observed (not replaced): lets a test wait until a
 * reaction has been handled, and check that a replayed event changed nothing. Other members are the
 * app's own objects, so a test may still wrap one method (e.g. to hold the database) and restore it.
 */
export function observeRatings(services: Services): Services & { ratingCalls: RatingCall[] } {
  const ratingCalls: RatingCall[] = [];
  const real = services.ratings;
  const wrap =
    (kind: 'rate' | 'unrate') =>
    async (p: PersonRef, imageId: string, score: number, ctx: RatingContext, at?: Date): Promise<RatingChange> => {
      const change = await real[kind](p, imageId, score, ctx, at);
      ratingCalls.push({ kind, userKey: userKeyOf(p), imageId, score, ctx, changed: change.changed });
      return change;
    };
  return { ...services, ratings: { ...real, rate: wrap('rate'), unrate: wrap('unrate') }, ratingCalls };
}

/**
 * A provider test double: the offline sketch generator, except that while `hold()` is on, every
 * generation waits until `release()` (or its AbortSignal: cancel stops it within the call).
 * Gallery seeding also goes through it (fine: nothing is held while the app starts).
 */
export class GatedGenerator implements ImageGenerator {
  readonly name = 'sketch';
  readonly model: string;
  readonly concurrency = 1;
  calls = 0;
  waiting = 0;
  private held = false;
  private releases: (() => void)[] = [];
  private readonly inner: SketchGenerator;

  /** `delayMs`: each generation also takes at least this long (a provider's latency), so a run's steps arrive one by one. */
  constructor(private readonly opts: { size?: number; delayMs?: number } = {}) {
    this.inner = new SketchGenerator({ size: opts.size ?? TEST_IMAGE_SIZE, concurrency: 1 });
    this.model = this.inner.model;
  }

  hold(): void {
    this.held = true;
  }
  release(): void {
    this.held = false;
    for (const r of this.releases.splice(0)) r();
  }
  describe(): string {
    return `gated ${this.inner.describe()}`;
  }

  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GeneratedImage> {
    this.calls++;
    if (this.held) {
      this.waiting++;
      try {
        await new Promise<void>((resolve, reject) => {
          this.releases.push(resolve);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- mirrors a real generator: an aborted call rejects with the signal's own reason, unchanged
          const onAbort = () => reject(opts.signal?.reason ?? new CancelledError());
          if (opts.signal?.aborted) onAbort();
          opts.signal?.addEventListener('abort', onAbort, { once: true });
        });
      } finally {
        this.waiting--;
      }
    }
    if (this.opts.delayMs) await new Promise((r) => setTimeout(r, this.opts.delayMs));
    return this.inner.generate(prompt, opts);
  }
}

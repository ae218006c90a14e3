/**
 * What a start leaves to the background so the bot connects and answers at once:
 *
 * - the starter gallery, drawn after the platforms are up: /rate answers while it is being drawn
 *   (offering only images that exist, onboarding first, or saying how far drawing is), the log shows
 *   progress and the time it took, and a failure is logged and resumed on the next start;
 * - the scorers' startup load (the community models; people load on first use): predictions wait for
 *   it, and a rating given meanwhile counts once.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app';
import { testConfig } from '../src/config';
import { openDatabase, type Database } from '../src/db/connection';
import { GalleryProgress, ONBOARDING_PROMPTS, STARTER_TOTAL, progressThrottle } from '../src/core/gallery';
import { EmbeddingService } from '../src/core/embeddings';
import { FsImageBlobStore } from '../src/providers/blobstore/fs';
import { ImageStore } from '../src/core/images';
import { RatingLedger } from '../src/core/ratings';
import { trainInline, type CommunityTrainer } from '../src/core/scorer/community';
import { TasteService } from '../src/core/taste-service';
import { FeaturesEmbedder } from '../src/providers/embedder/features';
import { silentLogger } from '../src/log';
import type { GenerateOptions, GeneratedImage, ImageGenerator } from '../src/core/ports';
import { dispatchCommand } from '../src/platforms/dispatch';
import type { CommandContext, OutMessage } from '../commands/kit/types';
import { SketchGenerator } from '../src/providers/imagegen/sketch/generator';
import { waitFor } from './helpers/runs';

const SIZE = 64;

/** A slow provider: each image waits until the test allows it (`allow(n)`), or fails when told to. */
class StepGenerator implements ImageGenerator {
  readonly name = 'sketch';
  readonly model = 'sketch-v1';
  readonly concurrency = 1;
  calls = 0;
  failAt: number | null = null;
  private allowed = 0;
  private wake: (() => void) | null = null;
  private readonly inner = new SketchGenerator({ size: SIZE, concurrency: 1 });

  allow(n: number): void {
    this.allowed += n;
    this.wake?.();
  }
  describe(): string {
    return 'step sketch';
  }
  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GeneratedImage> {
    this.calls++;
    if (this.failAt === this.calls) throw new Error('provider is down (test)');
    while (this.allowed === 0) await new Promise<void>((r) => (this.wake = r));
    this.allowed--;
    return this.inner.generate(prompt, opts);
  }
}

interface LogLine {
  level: number;
  msg: string;
  ready?: number;
  total?: number;
  seconds?: number;
  err?: { message: string };
}

function captureLog(): { log: pino.Logger; lines: () => LogLine[] } {
  const raw: string[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void raw.push(l) });
  return { log, lines: () => raw.map((l) => JSON.parse(l) as LogLine) };
}

/** Runs /rate as a platform would, recording the reply and the posted images. */
async function rate(
  app: App,
  count: number,
): Promise<{ replies: { text: string; ephemeral: boolean; kind?: string }[]; posts: OutMessage[] }> {
  const replies: { text: string; ephemeral: boolean; kind?: string }[] = [];
  const posts: OutMessage[] = [];
  const channel = { id: 'c1', mention: '#c1', post: async (m: OutMessage) => (posts.push(m), `m${posts.length}`), edit: async () => {} };
  const ctx = {
    platform: 'playground',
    person: { platform: 'playground', userId: 'ada' },
    scopeId: 'scope-1',
    channel,
    invocationId: `i-${Math.random()}`,
    services: app.services,
    log: app.log,
    defer: async () => {},
    reply: async (m: OutMessage, o?: { ephemeral?: boolean }) =>
      void replies.push({ text: m.text, ephemeral: Boolean(o?.ephemeral), kind: m.kind }),
    openThread: async () => channel,
  } as unknown as CommandContext;
  await dispatchCommand('rate', { count }, ctx);
  return { replies, posts };
}

describe('progress lines', () => {
  it('come every 10% of the total, or after a few seconds when slower, never for the last image', () => {
    let t = 0;
    const due = progressThrottle(0, 84, 5000, () => t);
    const lines = Array.from({ length: 84 }, (_, i) => i + 1).filter((ready) => due(ready));
    expect(lines).toEqual([9, 18, 27, 36, 45, 54, 63, 72, 81]);
    const slow = progressThrottle(10, 84, 5000, () => t);
    t = 1000;
    expect(slow(11)).toBe(false);
    t = 6000;
    expect(slow(12)).toBe(true);
    expect(slow(12)).toBe(false); // nothing new
  });
});

describe('the starter gallery drawn in the background', () => {
  let database: Database;
  let app: App;
  const gen = new StepGenerator();
  const logged = captureLog();

  beforeAll(async () => {
    database = await openDatabase({});
    const config = testConfig({ DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tl-gallery-bg-')), IMAGE_SIZE: String(SIZE) });
    app = await createApp(config, { log: logged.log, database, seedGallery: true, providers: { generator: gen } });
    await app.start();
  });
  afterAll(async () => {
    await app?.close();
    await database?.close();
  });

  it('/rate answers while nothing is drawn yet, then offers what exists (onboarding first), and the log shows progress and the time taken', async () => {
    expect(app.gallery.status()).toEqual({ state: 'pending', ready: 0, total: STARTER_TOTAL });
    app.drawGallery();
    await waitFor(() => gen.calls > 0, 'drawing to begin');
    expect(app.gallery.status().state).toBe('drawing');

    // Nothing drawn: a private note saying how far it is, not an error and no images.
    const early = await rate(app, 5);
    expect(early.posts).toEqual([]);
    expect(early.replies).toEqual([
      {
        text: `The starter images are still being drawn (0 of ${STARTER_TOTAL} ready) — try /rate again in a few seconds.`,
        ephemeral: true,
        kind: 'info',
      },
    ]);

    // Two drawn: both are offered (the onboarding ones, in order), and the reply says more are coming.
    gen.allow(2);
    await waitFor(() => app.gallery.ready() === 2, 'two images drawn');
    const some = await rate(app, 5);
    expect(some.posts).toHaveLength(2);
    const prompts = await Promise.all(some.posts.map(async (p) => (await app.services.images.get(p.image!.imageId))!.prompt));
    expect(prompts).toEqual(ONBOARDING_PROMPTS.slice(0, 2).map((p) => p.prompt));
    expect(some.replies[0]!.text).toMatch(/Here are 2 images to rate.*More are still being drawn \(2 of 84 starter images ready\)/);

    gen.allow(STARTER_TOTAL);
    await app.gallery.done;
    expect(app.gallery.status()).toEqual({ state: 'done', ready: STARTER_TOTAL, total: STARTER_TOTAL });
    expect((await app.images.list({ source: 'onboarding' })).length).toBe(ONBOARDING_PROMPTS.length);

    const lines = logged.lines();
    expect(lines.find((l) => l.msg.startsWith('drawing the starter gallery in the background'))).toMatchObject({
      ready: 0,
      total: STARTER_TOTAL,
    });
    const progress = lines.filter((l) => /^starter gallery \d+\/84$/.test(l.msg));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.length).toBeLessThanOrEqual(12); // every ~10%, not every image
    const ready = lines.find((l) => l.msg.startsWith('starter gallery ready: 84/84'));
    expect(ready?.seconds).toBeGreaterThan(0);

    // Drawn: /rate now posts everything asked for.
    expect((await rate(app, 5)).posts).toHaveLength(5);
  });
});

describe('a failure while drawing', () => {
  it('is logged with the error, settles `done` without crashing anything, and the next start draws only the rest', async () => {
    const database = await openDatabase({});
    try {
      const store = new ImageStore(database.db, new FsImageBlobStore(mkdtempSync(path.join(tmpdir(), 'tl-gallery-fail-'))));
      const broken = new StepGenerator();
      broken.failAt = 5;
      broken.allow(STARTER_TOTAL);
      const logged = captureLog();
      const first = new GalleryProgress(true);
      await expect(first.draw(store, broken, { log: logged.log, size: SIZE })).rejects.toThrow('provider is down (test)');
      expect(first.status()).toEqual({ state: 'failed', ready: 4, total: STARTER_TOTAL });
      const error = logged.lines().find((l) => l.level === 50);
      expect(error?.msg).toMatch(/^starter gallery stopped at 4\/84: provider is down \(test\)/);
      expect(error?.err?.message).toBe('provider is down (test)');

      // The next start: the 4 drawn images are kept, the other 80 are drawn.
      const working = new StepGenerator();
      working.allow(STARTER_TOTAL);
      const again = captureLog();
      const second = new GalleryProgress(true);
      await second.draw(store, working, { log: again.log, size: SIZE });
      expect(working.calls).toBe(STARTER_TOTAL - 4);
      expect(again.lines().find((l) => l.msg.startsWith('starter gallery ready'))).toMatchObject({
        rendered: STARTER_TOTAL - 4,
        skipped: 4,
      });
    } finally {
      await database.close();
    }
  });

  it('stopping (shutdown) pauses drawing and lets `done` settle, drawn or not', async () => {
    const database = await openDatabase({});
    try {
      const store = new ImageStore(database.db, new FsImageBlobStore(mkdtempSync(path.join(tmpdir(), 'tl-gallery-stop-'))));
      const gen = new StepGenerator();
      const logged = captureLog();
      const progress = new GalleryProgress(true);
      void progress.draw(store, gen, { log: logged.log, size: SIZE });
      await waitFor(() => gen.calls === 1, 'drawing to begin');
      const stopped = progress.stop();
      gen.allow(1); // the image being drawn ends (the sketch renderer gives it up: it honours the signal)
      await stopped;
      expect(progress.status()).toEqual({ state: 'failed', ready: 0, total: STARTER_TOTAL });
      expect(gen.calls).toBe(1); // no new image was begun
      expect(logged.lines().some((l) => l.msg === 'starter gallery paused at 0/84 (stopping); the next start draws the rest')).toBe(true);
      // Never started: stop() settles it all the same.
      const never = new GalleryProgress(true);
      await never.stop();
      await expect(never.done).rejects.toThrow(/not drawn before shutdown/);
    } finally {
      await database.close();
    }
  });
});

describe('loading the scorers in the background', () => {
  it('predictions wait for the load, and a rating given meanwhile is counted once', async () => {
    const database = await openDatabase({});
    const store = new ImageStore(database.db, new FsImageBlobStore(mkdtempSync(path.join(tmpdir(), 'tl-taste-load-'))));
    const sketch = new SketchGenerator({ size: SIZE, concurrency: 1 });
    const ids: string[] = [];
    for (const [i, p] of ONBOARDING_PROMPTS.slice(0, 8).entries())
      ids.push(
        (await store.put((await sketch.generate(p.prompt, { seed: p.seed })).bytes, { source: 'gallery', prompt: p.prompt, seed: i })).id,
      );
    const embeddings = new EmbeddingService(database.db, store, new FeaturesEmbedder());
    const ledger = new RatingLedger(database.db);
    const ctx = { source: 'test' };
    for (const [i, id] of ids.slice(0, 6).entries()) {
      await ledger.rate({ userKey: 'playground:ann', imageId: id, score: 2 + i, ctx });
      await ledger.rate({ userKey: 'playground:bo', imageId: id, score: 9 - i, ctx });
    }
    // The community training at the end of the load waits until the test lets it go.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const trainCommunity: CommunityTrainer = async (users, job, signal) => {
      await gate;
      return trainInline(users, job, signal);
    };
    // The load's community training holds at its embedding lookup until Ann has rated again.
    let rated!: () => void;
    const annRated = new Promise<void>((r) => (rated = r));
    const embed = embeddings.embed.bind(embeddings);
    let embedCalls = 0;
    embeddings.embed = async (imageIds) => {
      if (++embedCalls === 1) await annRated;
      return embed(imageIds);
    };
    const taste = new TasteService({
      db: database.db,
      ledger,
      embeddings,
      images: store,
      log: silentLogger,
      globalEvery: 1_000_000,
      seed: 1,
      trainCommunity,
    });
    try {
      const loading = taste.load();
      await waitFor(() => embedCalls === 1, 'the load to reach the community training');
      // Ann rates during the load: her refit goes through the same per-person queue, never beside it.
      await ledger.rate({ userKey: 'playground:ann', imageId: ids[6]!, score: 8, ctx });
      rated();
      let predicted: number[] | undefined;
      const prediction = taste.predict('playground:ann', [ids[7]!]).then((p) => (predicted = p));
      await new Promise((r) => setTimeout(r, 200));
      expect(predicted).toBeUndefined(); // not from a half-loaded model
      release();
      await loading;
      await prediction;
      expect(predicted).toHaveLength(1);
      await taste.idle();
      expect(taste.scorer.count('playground:ann')).toBe(7);
      // Bo was never used: not loaded at startup, loaded by his first prediction.
      expect(taste.scorer.hasUser('playground:bo')).toBe(false);
      await taste.predict('playground:bo', [ids[7]!]);
      expect(taste.scorer.count('playground:bo')).toBe(6);
      expect(taste.scorer.getGlobal().users).toBe(2); // the community prior is trained
    } finally {
      taste.stop();
      await database.close();
    }
  });
});

/**
 * The `mobilenet` embedder (EMBEDDER=mobilenet): MobileNetV2 from the weights inside the nsfwjs package,
 * run by TensorFlow.js' wasm backend in a worker thread. No model is faked: these tests load the real
 * network, offline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { InvalidImageError } from '../src/core/errors';
import { userKeyOf, type PersonRef } from '../src/core/identity';
import { MOBILENET_MODEL_ID, MobileNetEmbedder } from '../src/providers/embedder/mobilenet';
import { SketchGenerator } from '../src/providers/imagegen/sketch/generator';
import { openTestCore, type TestCore } from './helpers/core';
import { testBackends } from './helpers/db';

const ROOT = path.resolve(import.meta.dirname, '..');
const sketch = new SketchGenerator({ size: 128 });
const render = async (prompt: string, seed: number) => (await sketch.generate(prompt, { seed, size: 128 })).bytes;

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot; // both unit length
}

describe('mobilenet embedder', () => {
  const embedder = new MobileNetEmbedder();
  afterAll(() => embedder.close());

  it('loads from the installed packages without opening any connection', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tl-mobilenet-'));
    const guardLog = path.join(dir, 'net-guard.log');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'tests/fixtures/mobilenet-embed-once.ts'], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: `--require ${path.join(ROOT, 'tests/fixtures/net-guard.cjs')}`, NET_GUARD_LOG: guardLog },
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { modelId: string; dim: number; loadMs: number };
    expect(result).toMatchObject({ modelId: MOBILENET_MODEL_ID, dim: 1280 });
    expect(result.loadMs).toBeGreaterThan(0);
    expect(existsSync(guardLog) ? readFileSync(guardLog, 'utf8') : '').toBe('');
  }, 120_000);

  it('names the network, the layer and the standardization in its model id', () => {
    expect(embedder.modelId).toMatch(/^mobilenet-v2-pool1280-z\d+$/);
    expect(embedder.dim).toBe(1280);
  });

  it('gives unit-length 1,280-d vectors, the same for the same image, batched or not', async () => {
    const a = await render('a lighthouse on a cliff at sunset', 1);
    const b = await render('a black cat in a dark forest at night', 1);
    const [alone] = await embedder.embed([a]);
    const batch = await embedder.embed([b, a, b]);
    expect(alone!.length).toBe(1280);
    expect(Math.hypot(...alone!)).toBeCloseTo(1, 5);
    expect(cosine(alone!, batch[1]!)).toBeCloseTo(1, 5);
    expect(cosine(batch[0]!, batch[2]!)).toBeCloseTo(1, 5);
    expect(cosine(alone!, batch[0]!)).toBeLessThan(0.9);
  }, 120_000);

  it('puts two renders of one prompt closer together than renders of unrelated prompts', async () => {
    const prompts = ['a lighthouse on a cliff at sunset', 'a black cat in a dark forest at night', 'pastel flowers in a sunny meadow'];
    const images = await Promise.all(prompts.flatMap((p) => [render(p, 11), render(p, 12)]));
    const v = await embedder.embed(images);
    for (let p = 0; p < prompts.length; p++) {
      const same = cosine(v[2 * p]!, v[2 * p + 1]!);
      for (let q = 0; q < prompts.length; q++) {
        if (q === p) continue;
        for (const i of [2 * p, 2 * p + 1]) for (const j of [2 * q, 2 * q + 1]) expect(same).toBeGreaterThan(cosine(v[i]!, v[j]!));
      }
    }
  }, 120_000);

  it('refuses bytes that are not an image before running the model', async () => {
    await expect(embedder.embed([Buffer.from('not an image')])).rejects.toBeInstanceOf(InvalidImageError);
  });
});

for (const backend of testBackends()) {
  describe(`EMBEDDER=mobilenet in the app on ${backend.name}`, () => {
    let core: TestCore;
    const ada: PersonRef = { platform: 'playground', userId: 'ada' };
    const ctx = { source: 'test', scopeId: 'scope-1', channelId: 'c1' };

    beforeAll(async () => {
      core = await openTestCore({ database: await backend.open(), config: { EMBEDDER: 'mobilenet' } });
    }, 300_000);
    afterAll(async () => {
      await core?.close();
      await core?.app.database.close();
    });

    it('rates images and predicts with a scorer fitted on mobilenet vectors', async () => {
      const { app } = core;
      expect(app.backends.embedder).toMatch(/^mobilenet /);
      const pool = await app.images.list({ source: 'onboarding' });
      const train = pool.slice(0, 12);
      await Promise.all(train.map((img, i) => app.services.ratings.rate(ada, img.id, 1 + (i % 10), ctx)));
      await app.taste.idle();
      const key = userKeyOf(ada);
      expect(app.taste.modelId).toContain(MOBILENET_MODEL_ID);
      const predicted = await app.services.taste.predict(
        key,
        pool.slice(12).map((i) => i.id),
      );
      expect(predicted).toHaveLength(pool.length - 12);
      for (const p of predicted) {
        expect(p).toBeGreaterThanOrEqual(1);
        expect(p).toBeLessThanOrEqual(10);
      }
      expect(new Set(predicted.map((p) => p.toFixed(4))).size).toBeGreaterThan(1);
    }, 300_000);
  });
}

/**
 * The `clip` embedder, loaded through the real @huggingface/transformers code path, fully offline
 * (`allowRemoteModels: false`, i.e. CLIP_OFFLINE=1), on a tiny CLIP-shaped ONNX model the test builds itself
 * (tests/fixtures/tiny-clip.ts). Downloading is covered by tests/clip-download.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { env } from '@huggingface/transformers';
import { ClipEmbedder, clipOptionsFromConfig, DEFAULT_CLIP_MODEL } from '../src/providers/embedder/clip';
import { InvalidImageError, ModelNotFoundError } from '../src/core/errors';
import { TINY_CLIP_MODEL_ID, writeTinyClipModel } from './fixtures/tiny-clip';

// Belt and braces: any remote request would go to a closed port on loopback, and is recorded.
env.remoteHost = 'http://127.0.0.1:9/';
process.env.HF_ENDPOINT = 'http://127.0.0.1:9';
const networkCalls: string[] = [];
const realFetch = globalThis.fetch;
globalThis.fetch = (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
  networkCalls.push(String(input instanceof Request ? input.url : input));
  return realFetch(input, init);
};

let root: string;
let modelDir: string;
let embedder: ClipEmbedder;

async function solidPng(r: number, g: number, b: number, size = 48): Promise<Buffer> {
  return sharp({ create: { width: size, height: size, channels: 3, background: { r, g, b } } })
    .png()
    .toBuffer();
}

/** Left half one colour, right half another: same mean colour as its mirror image, different layout. */
async function splitPng(left: [number, number, number], right: [number, number, number]): Promise<Buffer> {
  const half = await sharp({ create: { width: 24, height: 48, channels: 3, background: { r: right[0], g: right[1], b: right[2] } } })
    .png()
    .toBuffer();
  return sharp({ create: { width: 48, height: 48, channels: 3, background: { r: left[0], g: left[1], b: left[2] } } })
    .composite([{ input: half, left: 24, top: 0 }])
    .png()
    .toBuffer();
}

function norm(v: Float32Array): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'tasteloop-clip-'));
  modelDir = path.join(root, 'models');
  await writeTinyClipModel(modelDir, TINY_CLIP_MODEL_ID, { dim: 8 });
  embedder = new ClipEmbedder({
    modelId: TINY_CLIP_MODEL_ID,
    modelDir,
    cacheDir: path.join(root, 'cache'),
    threads: 1,
    allowRemoteModels: false,
  });
});

afterAll(async () => {
  await embedder?.close();
  globalThis.fetch = realFetch;
  await rm(root, { recursive: true, force: true });
});

describe('ClipEmbedder on a tiny offline CLIP-shaped model', () => {
  it('is tiny and is identified by its model id', async () => {
    const onnx = await stat(path.join(modelDir, TINY_CLIP_MODEL_ID, 'onnx', 'vision_model.onnx'));
    expect(onnx.size).toBeLessThan(2000);
    expect(embedder.modelId).toBe(`clip:${TINY_CLIP_MODEL_ID}`);
    expect(embedder.describe()).toContain('offline');
    // projection_dim is read from config.json before the model loads
    expect(embedder.dim).toBe(8);
  });

  it('loads through transformers.js with remote models disabled and returns unit-length vectors of the right dim', async () => {
    await embedder.load();
    expect(env.allowRemoteModels).toBe(false);
    expect(env.localModelPath.startsWith(modelDir)).toBe(true);
    const [red, blue] = await embedder.embed([await solidPng(220, 30, 30), await solidPng(20, 40, 230)]);
    for (const v of [red!, blue!]) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v.length).toBe(8);
      expect(norm(v)).toBeCloseTo(1, 5);
      expect(v.every(Number.isFinite)).toBe(true);
    }
  });

  it('is deterministic, and different images give different embeddings', async () => {
    const red = await solidPng(220, 30, 30);
    const blue = await solidPng(20, 40, 230);
    const [a1] = await embedder.embed([red]);
    const [a2] = await embedder.embed([red]);
    const [b] = await embedder.embed([blue]);
    expect(maxAbsDiff(a1!, a2!)).toBe(0);
    expect(maxAbsDiff(a1!, b!)).toBeGreaterThan(0.05);

    // Same mean colour, mirrored layout: the model sees spatial structure, not just the average.
    const [lr] = await embedder.embed([await splitPng([250, 250, 0], [0, 0, 250])]);
    const [rl] = await embedder.embed([await splitPng([0, 0, 250], [250, 250, 0])]);
    expect(maxAbsDiff(lr!, rl!)).toBeGreaterThan(0.05);
  });

  it('embeds a batch exactly like one image at a time, in order, across internal chunks', async () => {
    const images = [
      await solidPng(220, 30, 30),
      await solidPng(20, 40, 230),
      await splitPng([250, 250, 0], [0, 0, 250]),
      await solidPng(10, 200, 60, 64),
      await splitPng([0, 0, 0], [255, 255, 255]),
    ];
    const chunked = new ClipEmbedder({ modelId: TINY_CLIP_MODEL_ID, modelDir, threads: 1, batchSize: 2, allowRemoteModels: false });
    try {
      const batch = await embedder.embed(images);
      const batchChunked = await chunked.embed(images);
      expect(batch).toHaveLength(images.length);
      for (let i = 0; i < images.length; i++) {
        const [single] = await embedder.embed([images[i]!]);
        expect(maxAbsDiff(batch[i]!, single!)).toBeLessThan(1e-6);
        expect(maxAbsDiff(batchChunked[i]!, single!)).toBeLessThan(1e-6);
      }
    } finally {
      await chunked.close();
    }
    expect(await embedder.embed([])).toEqual([]);
  });

  it('handles transparent and greyscale PNGs and rejects bytes that are not an image', async () => {
    const rgba = await sharp({ create: { width: 40, height: 30, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toBuffer();
    const grey = await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 255, g: 255, b: 255 } } })
      .greyscale()
      .png()
      .toBuffer();
    const [t, g] = await embedder.embed([rgba, grey]);
    expect(norm(t!)).toBeCloseTo(1, 5);
    // fully transparent composites onto white, so it embeds like a white image
    expect(maxAbsDiff(t!, g!)).toBeLessThan(0.02);
    await expect(embedder.embed([Buffer.from('not an image')])).rejects.toBeInstanceOf(InvalidImageError);
  });

  it('learns the dimension from the first output when config.json has no projection_dim', async () => {
    const dir = path.join(root, 'models-nodim');
    await writeTinyClipModel(dir, 'tiny/no-dim', { dim: 5, writeProjectionDim: false });
    const e = new ClipEmbedder({ modelId: 'tiny/no-dim', modelDir: dir, threads: 1, allowRemoteModels: false });
    try {
      expect(e.dim).toBe(0);
      await e.load();
      expect(e.dim).toBe(5);
      const [v] = await e.embed([await solidPng(100, 150, 200)]);
      expect(v!.length).toBe(5);
      expect(norm(v!)).toBeCloseTo(1, 5);
    } finally {
      await e.close();
    }
  });

  it('a missing model fails with ModelNotFoundError saying which files go where and naming CLIP_MODEL_DIR', async () => {
    const emptyDir = path.join(root, 'empty-models');
    const e = new ClipEmbedder({ modelDir: emptyDir, allowRemoteModels: false });
    expect(e.modelId).toBe(`clip:${DEFAULT_CLIP_MODEL}`);
    const err = await e.embed([await solidPng(1, 2, 3)]).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(ModelNotFoundError);
    const message = (err as Error).message;
    expect(message).toContain('CLIP_MODEL_DIR');
    expect(message).toContain('CLIP_CACHE_DIR');
    expect(message).toContain(path.join(emptyDir, 'Xenova', 'clip-vit-base-patch32', 'onnx', 'vision_model.onnx'));
    expect(message).toContain('config.json');
    expect(message).toContain('preprocessor_config.json');
    expect(message).toContain('vision_model_quantized.onnx');
    // a failed load is retried (and fails the same way) rather than cached forever
    await expect(e.load()).rejects.toBeInstanceOf(ModelNotFoundError);
  });

  it('checks the file of the chosen dtype: q8 needs onnx/vision_model_quantized.onnx', async () => {
    const e = new ClipEmbedder({ modelId: TINY_CLIP_MODEL_ID, modelDir, dtype: 'q8', allowRemoteModels: false });
    const err = await e.load().catch((x: unknown) => x);
    expect(err).toBeInstanceOf(ModelNotFoundError);
    expect((err as Error).message).toContain(path.join(TINY_CLIP_MODEL_ID, 'onnx', 'vision_model_quantized.onnx'));
  });

  it('also finds a model laid out under CLIP_CACHE_DIR (transformers file cache)', async () => {
    const cacheDir = path.join(root, 'cache-only');
    await writeTinyClipModel(cacheDir, 'tiny/cached', { dim: 6 });
    const e = new ClipEmbedder({
      modelId: 'tiny/cached',
      modelDir: path.join(root, 'no-models-here'),
      cacheDir,
      threads: 1,
      allowRemoteModels: false,
    });
    try {
      const [v] = await e.embed([await solidPng(30, 60, 90)]);
      expect(e.dim).toBe(6);
      expect(norm(v!)).toBeCloseTo(1, 5);
    } finally {
      await e.close();
    }
  });

  it('maps the configuration: CLIP_MODEL, CLIP_MODEL_DIR (default DATA_DIR/models), CLIP_CACHE_DIR, CLIP_OFFLINE', () => {
    const online = { CLIP_OFFLINE: false, HF_HUB_OFFLINE: false, HF_ENDPOINT: undefined };
    expect(
      clipOptionsFromConfig({ CLIP_MODEL: 'a/b', CLIP_MODEL_DIR: undefined, CLIP_CACHE_DIR: undefined, dataDir: '/srv/data', ...online }),
    ).toEqual({
      modelId: 'a/b',
      modelDir: '/srv/data/models',
      cacheDir: undefined,
      allowRemoteModels: true,
      remoteHost: undefined,
    });
    expect(
      clipOptionsFromConfig({
        CLIP_MODEL: 'a/b',
        CLIP_MODEL_DIR: '/m',
        CLIP_CACHE_DIR: '/c',
        dataDir: '/srv/data',
        ...online,
        CLIP_OFFLINE: true,
      }),
    ).toEqual({
      modelId: 'a/b',
      modelDir: '/m',
      cacheDir: '/c',
      allowRemoteModels: false,
      remoteHost: undefined,
    });
  });

  it('never touched the network', () => {
    expect(networkCalls).toEqual([]);
    expect(env.allowRemoteModels).toBe(false);
  });
});

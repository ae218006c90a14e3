import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { sql } from 'drizzle-orm';
import { testBackends } from './helpers/db';
import type { Database } from '../src/db/connection';
import { queryRows } from '../src/db/util';
import {
  extractFeatures,
  FEATURE_DIM,
  FEATURE_GROUPS,
  FEATURE_MEAN,
  FEATURE_SCALE,
  FeaturesEmbedder,
  FEATURES_MODEL_ID,
  standardizeFeatures,
  thumbnailRgb,
  FEATURES_THUMB,
} from '../src/providers/embedder/features';
import { parseSketchPrompt } from '../src/providers/imagegen/sketch/parse';
import { renderSketch } from '../src/providers/imagegen/sketch/render';
import { FsImageBlobStore } from '../src/providers/blobstore/fs';
import { ImageStore } from '../src/core/images';
import { EmbeddingService } from '../src/core/embeddings';
import { UnknownImageError } from '../src/core/errors';
import type { Embedder } from '../src/core/ports';

const render = (p: string, seed = 1, size = 160) => renderSketch(parseSketchPrompt(p), { seed, size });
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const norm = (a: Float32Array) => Math.sqrt(dot(a, a));

/** Offset of a named group in the raw vector. */
type Pixel = (x: number, y: number) => [number, number, number];
/** A w×h RGB image painted pixel by pixel. */
function paint(w: number, h: number, f: Pixel): Uint8Array {
  const a = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) a.set(f(x, y), (y * w + x) * 3);
  return a;
}

function groupOffset(name: string): number {
  let o = 0;
  for (const g of FEATURE_GROUPS) {
    if (g.name === name) return o;
    o += g.dims;
  }
  throw new Error(name);
}

describe('features embedder', () => {
  const embedder = new FeaturesEmbedder();

  it('has a stable id, 256–512 dims and committed constants of the same length', () => {
    expect(embedder.modelId).toBe(FEATURES_MODEL_ID);
    expect(FEATURE_DIM).toBeGreaterThanOrEqual(256);
    expect(FEATURE_DIM).toBeLessThanOrEqual(512);
    expect(embedder.dim).toBe(FEATURE_DIM);
    expect(FEATURE_MEAN.length).toBe(FEATURE_DIM);
    expect(FEATURE_SCALE.length).toBe(FEATURE_DIM);
    expect(FEATURE_SCALE.every((s) => s > 0)).toBe(true);
  });

  it('is deterministic, unit-norm and of the declared dimension', async () => {
    const pngs = [await render('red abstract'), await render('ink mountains'), await render('neon city at night')];
    const a = await embedder.embed(pngs);
    const b = await embedder.embed(pngs);
    expect(a).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      expect(a[i]!.length).toBe(FEATURE_DIM);
      expect(Math.abs(norm(a[i]!) - 1)).toBeLessThan(1e-5);
      expect(Array.from(a[i]!)).toEqual(Array.from(b[i]!));
      expect(a[i]!.every(Number.isFinite)).toBe(true);
    }
    expect(dot(a[0]!, a[1]!)).toBeLessThan(0.99);
  });

  it('handles grayscale, alpha and tiny or flat images', async () => {
    const gray = await sharp({ create: { width: 30, height: 20, channels: 3, background: '#808080' } })
      .grayscale()
      .png()
      .toBuffer();
    const alpha = await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } })
      .png()
      .toBuffer();
    const out = await embedder.embed([gray, alpha]);
    for (const v of out) {
      expect(v.length).toBe(FEATURE_DIM);
      expect(Math.abs(norm(v) - 1)).toBeLessThan(1e-5);
      expect(v.every(Number.isFinite)).toBe(true);
    }
  });

  it('extractFeatures measures what it claims on synthetic pixels', () => {
    const w = 64,
      h = 64;
    const img = (f: Pixel) => paint(w, h, f);
    const black = extractFeatures(
      img(() => [0, 0, 0]),
      w,
      h,
    );
    const white = extractFeatures(
      img(() => [255, 255, 255]),
      w,
      h,
    );
    expect(black[0]).toBeCloseTo(0);
    expect(white[0]).toBeCloseTo(1);
    const orange = extractFeatures(
      img(() => [240, 120, 20]),
      w,
      h,
    );
    const blue = extractFeatures(
      img(() => [20, 80, 240]),
      w,
      h,
    );
    const warm = groupOffset('warmth');
    expect(orange[warm]!).toBeGreaterThan(0.5);
    expect(blue[warm]!).toBeLessThan(-0.5);
    const stripes = extractFeatures(
      img((x) => (x % 4 < 2 ? [0, 0, 0] : [255, 255, 255])),
      w,
      h,
    );
    const e = groupOffset('edges');
    expect(stripes[e]!).toBeGreaterThan(0.9);
    expect(white[e]!).toBe(0);
    const sym = groupOffset('symmetry');
    const halfDark = extractFeatures(
      img((x) => (x < w / 2 ? [0, 0, 0] : [255, 255, 255])),
      w,
      h,
    );
    expect(white[sym]!).toBeCloseTo(1);
    expect(halfDark[sym]!).toBeLessThan(0.1); // left–right asymmetric
    expect(halfDark[sym + 1]!).toBeCloseTo(1); // but top–bottom symmetric
  });

  it('v2 layout descriptors see where things are: bands, verticals, spots, blockiness, mirror symmetry', () => {
    const w = 96,
      h = 96;
    const img = (f: Pixel) => paint(w, h, f);
    // Blue sky over orange ground: bandHue puts blue on top, orange at the bottom.
    const skyGround = extractFeatures(
      img((_x, y) => (y < h / 2 ? [40, 90, 230] : [230, 120, 30])),
      w,
      h,
    );
    const bh = groupOffset('bandHue'); // 3 bands × 8 hue bins (bin k centred at k·45°)
    const topBlue = skyGround[bh + 5]! + skyGround[bh + 4]!;
    const bottomOrange = skyGround[bh + 16]! + skyGround[bh + 17]!;
    expect(topBlue).toBeGreaterThan(0.5);
    expect(bottomOrange).toBeGreaterThan(0.5);
    expect(skyGround[bh + 16]! + skyGround[bh + 17]!).toBeGreaterThan(skyGround[bh]! + skyGround[bh + 1]!);
    // A horizon gives horizontal edges in the middle row bands; vertical bars give vertical edges.
    const st = groupOffset('structure');
    const rowsE = Array.from(skyGround.subarray(st, st + 12));
    expect(rowsE.indexOf(Math.max(...rowsE))).toBeGreaterThanOrEqual(5);
    expect(rowsE.indexOf(Math.max(...rowsE))).toBeLessThanOrEqual(6);
    const bars = extractFeatures(
      img((x) => (Math.floor(x / 12) % 2 ? [20, 20, 20] : [220, 220, 220])),
      w,
      h,
    );
    const colsSum = (f: Float32Array) => Array.from(f.subarray(st + 12, st + 24)).reduce((a, b) => a + b, 0);
    const rowsSum = (f: Float32Array) => Array.from(f.subarray(st, st + 12)).reduce((a, b) => a + b, 0);
    expect(colsSum(bars)).toBeGreaterThan(rowsSum(bars) * 10);
    // Stars: small bright dots in a dark upper half.
    const bl = groupOffset('blobs');
    const stars = extractFeatures(
      img((x, y) => (y < h / 2 && x % 16 === 5 && y % 14 === 6 ? [255, 255, 240] : [10, 12, 30])),
      w,
      h,
    );
    const night = extractFeatures(
      img(() => [10, 12, 30]),
      w,
      h,
    );
    expect(stars[bl]!).toBeGreaterThan(night[bl]!);
    expect(stars[bl + 1]!).toBe(0);
    // Blocky, posterized art: more identical neighbours and fewer colours than a smooth gradient.
    const tx = groupOffset('texture');
    const blocky = extractFeatures(
      img((x, y) => [Math.floor(x / 4) * 16, Math.floor(y / 4) * 10, 90]),
      w,
      h,
    );
    const smooth = extractFeatures(
      img((x, y) => [x * 2.6, y * 2.6, (x + y) * 1.3]),
      w,
      h,
    );
    expect(blocky[tx + 6]!).toBeGreaterThan(smooth[tx + 6]!);
    expect(blocky[tx + 7]!).toBeLessThan(smooth[tx + 7]!);
    // Mirror symmetry per band.
    const sy = groupOffset('bandSymmetry');
    const mirrored = extractFeatures(
      img((x, y) => {
        const u = Math.min(x, w - 1 - x);
        return [u * 5, y * 2, 100];
      }),
      w,
      h,
    );
    const lopsided = extractFeatures(
      img((x, y) => [x * 2.6, y * 2, 100]),
      w,
      h,
    );
    expect(mirrored[sy + 3]!).toBeCloseTo(1);
    expect(lopsided[sy + 3]!).toBeLessThan(0.3);
    for (let b = 0; b < 3; b++) expect(mirrored[sy + b]!).toBeGreaterThan(lopsided[sy + b]!);
  });

  it('v3 scene descriptors: sky gradient warmth, a round bright disc and its colour, star points, pixel blocks before downscaling', async () => {
    const w = 96,
      h = 96;
    const img = (f: Pixel) => paint(w, h, f);
    // Golden-hour-like sky (orange) vs a day sky (blue): the warm score of both sky bands flips sign.
    const sg = groupOffset('skyGradient'); // per band: hue cos, hue sin, warm, warm per saturation, sat, lum, a*
    const golden = extractFeatures(
      img(() => [240, 150, 60]),
      w,
      h,
    );
    const day = extractFeatures(
      img(() => [90, 150, 235]),
      w,
      h,
    );
    for (const b of [0, 7]) {
      expect(golden[sg + b + 3]!).toBeGreaterThan(0.5);
      expect(day[sg + b + 3]!).toBeLessThan(-0.5);
    }
    // A pale round disc (moon) vs a yellow one (sun) on a dark sky; and no disc at all.
    const dk = groupOffset('disc'); // √area, roundness, …, x, y, contrast, sat, hue cos, hue sin, warm, std, peak
    const disc = (col: [number, number, number]) => img((x, y) => ((x - 30) ** 2 + (y - 25) ** 2 <= 100 ? col : [15, 20, 50]));
    const moon = extractFeatures(disc([235, 235, 220]), w, h);
    const sun = extractFeatures(disc([255, 220, 40]), w, h);
    const flat = extractFeatures(
      img(() => [15, 20, 50]),
      w,
      h,
    );
    expect(moon[dk + 1]!).toBeGreaterThan(0.7);
    expect(moon[dk + 3]!).toBeCloseTo(30 / w, 1);
    expect(moon[dk + 4]!).toBeCloseTo(25 / h, 1);
    expect(moon[dk + 5]!).toBeGreaterThan(0.5);
    expect(flat[dk + 5]!).toBeLessThan(0.05);
    expect(sun[dk + 6]!).toBeGreaterThan(moon[dk + 6]! + 0.5);
    expect(sun[dk + 9]!).toBeGreaterThan(0.3);
    // Star points in a dark upper half, counted at every contrast threshold and gated by darkness.
    const pt = groupOffset('points');
    const stars = extractFeatures(
      img((x, y) => (y < h / 2 && x % 9 === 4 && y % 7 === 3 ? [250, 250, 240] : [10, 12, 30])),
      w,
      h,
    );
    for (let t = 0; t < 6; t++) expect(stars[pt + t]!).toBeGreaterThan(flat[pt + t]! + 0.2);
    // Pixel art: measured on the full-resolution image passed alongside the thumbnail.
    const pg = groupOffset('pixelGrid'); // equal H, equal V, run shares 1 | 2–3 | 4–8 | >8, log palette, small-palette
    const full = (f: (x: number, y: number) => [number, number, number], W: number) => {
      const a = new Uint8Array(W * W * 3);
      for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) a.set(f(x, y), (y * W + x) * 3);
      return { rgb: a, w: W, h: W };
    };
    const thumb = img((x, y) => [x * 2.6, y * 2.6, 90]);
    const blocks = extractFeatures(
      thumb,
      w,
      h,
      full((x, y) => [Math.floor(x / 5) * 13, Math.floor(y / 5) * 11, 90], 192),
    );
    const smooth = extractFeatures(
      thumb,
      w,
      h,
      full((x, y) => [x * 1.3, y * 1.3, (x * y) % 256], 192),
    );
    expect(blocks[pg]!).toBeGreaterThan(0.7);
    expect(smooth[pg]!).toBeLessThan(0.2);
    expect(blocks[pg + 4]!).toBeGreaterThan(0.8); // most pixels in runs of 4–8
    expect(blocks[pg + 6]!).toBeLessThan(smooth[pg + 6]!);
    // The embedder decodes the full image itself: a real pixel-art render is blockier than a flat one.
    const [pix, flatR] = await Promise.all([render('pixel art city at night', 3, 256), render('city at night', 3, 256)]);
    const { decodeForFeatures } = await import('../src/providers/embedder/features');
    const a = await decodeForFeatures(pix);
    const b = await decodeForFeatures(flatR);
    expect(a.full.w).toBe(256);
    const fa = extractFeatures(a.thumb, FEATURES_THUMB, FEATURES_THUMB, a.full);
    const fb = extractFeatures(b.thumb, FEATURES_THUMB, FEATURES_THUMB, b.full);
    expect(fa[pg + 1]!).toBeGreaterThan(fb[pg + 1]!);
    expect(fa[pg + 7]!).toBeGreaterThan(fb[pg + 7]!);
  });

  it('v2 separates symmetric from balanced renders', async () => {
    const seeds = [1, 2, 3, 4, 5, 6];
    // Raw descriptors of the thumbnails (the embedder's standardized vectors are rescaled per image).
    const embedAll = async (prompts: string[]) =>
      Promise.all(
        prompts.flatMap((p) =>
          seeds.map(async (s) => extractFeatures(await thumbnailRgb(await render(p, s)), FEATURES_THUMB, FEATURES_THUMB)),
        ),
      );
    const sy = groupOffset('bandSymmetry');
    const symmetric = await embedAll(['symmetric city', 'symmetric abstract shapes']);
    const balanced = await embedAll(['balanced city', 'balanced abstract shapes']);
    const meanAt = (vs: Float32Array[], i: number) => vs.reduce((a, v) => a + v[i]!, 0) / vs.length;
    expect(meanAt(symmetric, sy + 3)).toBeGreaterThan(meanAt(balanced, sy + 3));
  });

  it('v4 composition descriptors: mirrored shapes and mass in the middle, on synthetic pixels and renders', async () => {
    const w = 96,
      h = 96;
    const img = (f: Pixel) => paint(w, h, f);
    const co = groupOffset('composition');
    // Two towers placed symmetrically vs the same towers both on the left third.
    const tower = (x: number, y: number, at: number[]) => at.some((c) => Math.abs(x - c) < 5) && y > 30;
    const pair = extractFeatures(
      img((x, y) => (tower(x, y, [30, w - 1 - 30]) ? [200, 60, 40] : [90, 140, 220])),
      w,
      h,
    );
    const oneSide = extractFeatures(
      img((x, y) => (tower(x, y, [18, 34]) ? [200, 60, 40] : [90, 140, 220])),
      w,
      h,
    );
    expect(pair[co]!).toBeGreaterThan(0.9);
    expect(oneSide[co]!).toBeLessThan(0.1);
    expect(pair[co + 1]!).toBeGreaterThan(oneSide[co + 1]!);
    // One tower in the middle vs one on a third: the vertical-edge and salient mass move to the middle fifth.
    const middle = extractFeatures(
      img((x, y) => (tower(x, y, [w / 2]) ? [240, 240, 240] : [30, 40, 60])),
      w,
      h,
    );
    const third = extractFeatures(
      img((x, y) => (tower(x, y, [w / 3 - 8]) ? [240, 240, 240] : [30, 40, 60])),
      w,
      h,
    );
    expect(middle[co + 2]!).toBeGreaterThan(0.9);
    expect(third[co + 2]!).toBeLessThan(0.1);
    expect(middle[co + 3]!).toBeGreaterThan(third[co + 3]!);
    // On renders: the symmetric (raster-mirrored) scenes show more mirrored edges than balanced ones.
    const seeds = [1, 2, 3, 4];
    const rawOf = async (p: string) =>
      Promise.all(seeds.map(async (s) => extractFeatures(await thumbnailRgb(await render(p, s)), FEATURES_THUMB, FEATURES_THUMB)));
    const mean = (vs: Float32Array[]) => vs.reduce((a, v) => a + v[co]!, 0) / vs.length;
    expect(mean(await rawOf('symmetric mountains forest'))).toBeGreaterThan(mean(await rawOf('balanced mountains forest')) + 0.2);
  });

  it('separates warm from cool and busy from minimal renders', async () => {
    const seeds = [1, 2, 3, 4, 5];
    const embedAll = async (prompts: string[]) => embedder.embed(await Promise.all(prompts.flatMap((p) => seeds.map((s) => render(p, s)))));
    const warm = await embedAll(['warm golden hour mountains', 'warm sunset sea']);
    const cool = await embedAll(['cool blue night mountains', 'cool icy sea']);
    const busy = await embedAll(['busy intricate city', 'busy colorful flowers']);
    const minimal = await embedAll(['minimal city', 'minimal flowers']);
    const mean = (vs: Float32Array[]) => {
      const m = new Float32Array(FEATURE_DIM);
      for (const v of vs) for (let i = 0; i < FEATURE_DIM; i++) m[i]! += v[i]! / vs.length;
      return m;
    };
    // Nearest-centroid (leave-one-in) classification: each render is closer to its own class centroid.
    const accuracy = (a: Float32Array[], b: Float32Array[]) => {
      const ca = mean(a),
        cb = mean(b);
      let ok = 0;
      for (const v of a) if (dot(v, ca) > dot(v, cb)) ok++;
      for (const v of b) if (dot(v, cb) > dot(v, ca)) ok++;
      return ok / (a.length + b.length);
    };
    expect(accuracy(warm, cool)).toBeGreaterThanOrEqual(0.9);
    expect(accuracy(busy, minimal)).toBeGreaterThanOrEqual(0.9);
    // And along the named dimensions of the standardized vector:
    const w = groupOffset('warmth');
    const e = groupOffset('edges');
    expect(mean(warm)[w]!).toBeGreaterThan(mean(cool)[w]!);
    expect(mean(busy)[e]!).toBeGreaterThan(mean(minimal)[e]!);
  });

  it('standardizeFeatures returns a unit vector even for the calibration mean', () => {
    const v = standardizeFeatures(Float32Array.from(FEATURE_MEAN));
    expect(norm(v)).toBeCloseTo(1, 5);
  });
});

for (const backend of testBackends()) {
  describe(`EmbeddingService cache (${backend.name})`, () => {
    let database: Database;
    let dir: string;
    let store: ImageStore;
    const ids: string[] = [];

    /** The real features embedder, counting what it is asked to embed. */
    class CountingEmbedder implements Embedder {
      calls: number[] = [];
      embedded = 0;
      constructor(
        readonly modelId: string,
        private readonly inner = new FeaturesEmbedder(),
      ) {}
      get dim() {
        return this.inner.dim;
      }
      async embed(images: Buffer[]) {
        this.calls.push(images.length);
        this.embedded += images.length;
        return this.inner.embed(images);
      }
      describe() {
        return this.modelId;
      }
    }

    beforeAll(async () => {
      database = await backend.open();
      dir = await mkdtemp(path.join(os.tmpdir(), 'tl-emb-'));
      store = new ImageStore(database.db, new FsImageBlobStore(dir));
      for (const p of ['red sea', 'blue city', 'green forest', 'ink figure', 'neon abstract']) {
        ids.push((await store.put(await render(p, 1, 96), { source: 'generated', prompt: p })).id);
      }
    });
    afterAll(async () => {
      await database.close();
      await rm(dir, { recursive: true, force: true });
    });

    const rows = async (model: string) =>
      queryRows<{ image_id: string; dim: number; vector: number[] }>(
        database.db,
        sql`select image_id, dim, vector from embeddings where model = ${model}`,
      );

    it('embeds each image once; the second call reads the cache', async () => {
      const emb = new CountingEmbedder('counting-a');
      const svc = new EmbeddingService(database.db, store, emb, 2);
      expect(svc.modelId).toBe('counting-a');
      expect(svc.dim).toBe(FEATURE_DIM);
      const first = await svc.embed([...ids, ids[0]!]);
      expect(first.size).toBe(5);
      expect(emb.embedded).toBe(5);
      expect(emb.calls.every((n) => n <= 2)).toBe(true); // batched
      const second = await svc.embed(ids);
      expect(emb.embedded).toBe(5);
      for (const id of ids) expect(Array.from(second.get(id)!)).toEqual(Array.from(first.get(id)!));
      // A fresh service (e.g. after a restart) also hits the database cache.
      const emb2 = new CountingEmbedder('counting-a');
      await new EmbeddingService(database.db, store, emb2).embed(ids);
      expect(emb2.embedded).toBe(0);
      const stored = await rows('counting-a');
      expect(stored).toHaveLength(5);
      expect(stored.every((r) => r.dim === FEATURE_DIM && r.vector.length === FEATURE_DIM)).toBe(true);
    });

    it('concurrent calls for the same images embed them once', async () => {
      const emb = new CountingEmbedder('counting-concurrent');
      const svc = new EmbeddingService(database.db, store, emb);
      const results = await Promise.all([svc.embed(ids), svc.embed(ids), svc.embed(ids.slice(0, 2))]);
      expect(emb.embedded).toBe(5);
      expect(results[2].size).toBe(2);
    });

    it('another model id gets its own rows and never reuses the other vectors', async () => {
      const emb = new CountingEmbedder('counting-b');
      const svc = new EmbeddingService(database.db, store, emb);
      await svc.embed(ids.slice(0, 3));
      expect(emb.embedded).toBe(3);
      expect(await rows('counting-b')).toHaveLength(3);
      expect(await rows('counting-a')).toHaveLength(5);
    });

    it('an unknown image id is a typed error', async () => {
      const svc = new EmbeddingService(database.db, store, new CountingEmbedder('counting-c'));
      await expect(svc.embed(['0'.repeat(64)])).rejects.toBeInstanceOf(UnknownImageError);
    });

    it('deleting an image removes its embeddings (cascade)', async () => {
      const id = ids[4]!;
      await store.delete(id);
      const left = await queryRows<{ n: string | number }>(database.db, sql`select count(*) as n from embeddings where image_id = ${id}`);
      expect(Number(left[0]!.n)).toBe(0);
    });
  });
}

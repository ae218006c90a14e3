import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { sql } from 'drizzle-orm';
import { testBackends } from './helpers/db';
import type { Database } from '../src/db/connection';
import { queryRows } from '../src/db/util';
import { FsImageBlobStore } from '../src/providers/blobstore/fs';
import { ImageStore, MAX_IMAGE_INPUT_BYTES, MAX_IMAGE_SIDE_PX } from '../src/core/images';
import { InvalidImageError, UnknownImageError } from '../src/core/errors';

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** A noisy image: compresses poorly, so it makes realistic PNG/JPEG sizes. */
async function noisy(width: number, height: number, seed = 1): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  let s = seed;
  for (let i = 0; i < raw.length; i++) raw[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

async function solid(width: number, height: number, color = '#c83232'): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: color } })
    .png()
    .toBuffer();
}

for (const backend of testBackends()) {
  describe(`ImageStore (${backend.name})`, () => {
    let database: Database;
    let dir: string;
    let store: ImageStore;

    beforeAll(async () => {
      database = await backend.open();
    });
    afterAll(async () => {
      await database.close();
    });
    beforeEach(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'tl-images-'));
      store = new ImageStore(database.db, new FsImageBlobStore(dir));
      await database.db.execute(sql`delete from images`);
    });

    const rowCount = async () =>
      Number((await queryRows<{ n: string | number }>(database.db, sql`select count(*) as n from images`))[0]!.n);

    async function expectRejected(bytes: Buffer, reason: RegExp): Promise<void> {
      await expect(store.put(bytes, { source: 'uploaded' })).rejects.toSatisfy(
        (e: unknown) => e instanceof InvalidImageError && reason.test(e.message),
      );
      expect(await filesUnder(dir)).toEqual([]);
      expect(await rowCount()).toBe(0);
    }

    it('rejects garbage bytes and writes nothing', async () => {
      await expectRejected(Buffer.from('this is definitely not an image, just some text'), /not a readable image/);
    });

    it('rejects an empty buffer', async () => {
      await expectRejected(Buffer.alloc(0), /empty/);
    });

    it('rejects a truncated PNG and writes nothing', async () => {
      const png = await noisy(200, 200);
      await expectRejected(png.subarray(0, Math.floor(png.length / 2)), /damaged or truncated/);
    });

    it('rejects input over 20 MB before decoding and writes nothing', async () => {
      const big = Buffer.concat([await solid(10, 10), Buffer.alloc(MAX_IMAGE_INPUT_BYTES)]);
      expect(big.length).toBeGreaterThan(MAX_IMAGE_INPUT_BYTES);
      await expectRejected(big, /20 MB/);
    });

    it('rejects an image over 4096 px on a side (5000×10) and writes nothing', async () => {
      await expectRejected(await solid(5000, 10), new RegExp(`5000×10 px.*${MAX_IMAGE_SIDE_PX}`));
      await expectRejected(await solid(10, 4097), /10×4097/);
    });

    it('rejects GIF and TIFF (unsupported formats) and writes nothing', async () => {
      await expectRejected(
        await sharp({ create: { width: 20, height: 20, channels: 3, background: '#00f' } })
          .gif()
          .toBuffer(),
        /GIF/,
      );
      await expectRejected(
        await sharp({ create: { width: 20, height: 20, channels: 3, background: '#00f' } })
          .tiff()
          .toBuffer(),
        /TIFF/,
      );
    });

    it('stores a PNG content-addressed: same bytes → same id, one row, one file', async () => {
      const png = await noisy(64, 48, 7);
      const a = await store.put(png, { source: 'uploaded', ownerKey: 'discord:-:1' });
      const b = await store.put(png, { source: 'generated', prompt: 'ignored second time' });
      expect(a.id).toMatch(/^[0-9a-f]{64}$/);
      expect(b.id).toBe(a.id);
      expect(b.source).toBe('uploaded'); // the first record wins
      expect(b.ownerKey).toBe('discord:-:1');
      expect(await rowCount()).toBe(1);
      const files = await filesUnder(dir);
      expect(files).toEqual([path.join(dir, a.id.slice(0, 2), `${a.id}.png`)]);
      expect(files[0]).toBe(store.path(a.id));
      expect(a).toMatchObject({ width: 64, height: 48 });
      const stored = await store.readBytes(a.id);
      expect(stored.length).toBe(a.bytes);
      const { createHash } = await import('node:crypto');
      expect(createHash('sha256').update(stored).digest('hex')).toBe(a.id);
    });

    it('concurrent puts of the same image give one row', async () => {
      const png = await noisy(32, 32, 3);
      const recs = await Promise.all(Array.from({ length: 8 }, () => store.put(png, { source: 'generated' })));
      expect(new Set(recs.map((r) => r.id)).size).toBe(1);
      expect(await rowCount()).toBe(1);
      expect((await filesUnder(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });

    it('accepts JPEG and WebP and normalizes them to PNG', async () => {
      const src = await noisy(40, 30, 11);
      const jpeg = await sharp(src).jpeg({ quality: 90 }).toBuffer();
      const webp = await sharp(src).webp({ quality: 90 }).toBuffer();
      const j = await store.put(jpeg, { source: 'attachment' });
      const w = await store.put(webp, { source: 'attachment' });
      expect(j.id).not.toBe(w.id);
      for (const rec of [j, w]) {
        const bytes = await store.readBytes(rec.id);
        const meta = await sharp(bytes).metadata();
        expect(meta.format).toBe('png');
        expect([meta.width, meta.height]).toEqual([40, 30]);
        expect(meta.exif).toBeUndefined();
      }
      // Re-putting the normalized PNG maps to the same id: normalization is idempotent.
      const again = await store.put(await store.readBytes(j.id), { source: 'uploaded' });
      expect(again.id).toBe(j.id);
    });

    it('applies EXIF orientation and strips metadata', async () => {
      // 60×20 stored, orientation 6 = rotate 90° clockwise when displayed → 20×60.
      const jpeg = await sharp(await solid(60, 20, '#3080c0'))
        .jpeg()
        .withMetadata({ orientation: 6 })
        .toBuffer();
      expect((await sharp(jpeg).metadata()).orientation).toBe(6);
      const rec = await store.put(jpeg, { source: 'uploaded' });
      expect([rec.width, rec.height]).toEqual([20, 60]);
      const meta = await sharp(await store.readBytes(rec.id)).metadata();
      expect(meta.orientation).toBeUndefined();
      expect(meta.exif).toBeUndefined();
    });

    it('records metadata, lists by source, gets, deletes file and row', async () => {
      const g = await store.put(await solid(16, 16, '#102030'), { source: 'gallery', prompt: 'a prompt', generator: 'sketch', seed: 42 });
      const u = await store.put(await solid(16, 16, '#302010'), { source: 'uploaded', ownerKey: 'slack:T1:U1' });
      expect(await store.get(g.id)).toMatchObject({ source: 'gallery', prompt: 'a prompt', generator: 'sketch', seed: 42, ownerKey: null });
      expect((await store.get(g.id))!.createdAt).toBeInstanceOf(Date);
      expect((await store.list({ source: 'gallery' })).map((r) => r.id)).toEqual([g.id]);
      expect((await store.list()).length).toBe(2);
      expect((await store.list({ limit: 1 })).length).toBe(1);
      expect(await store.delete(u.id)).toBe(true);
      expect(await store.get(u.id)).toBeUndefined();
      expect(existsSync(store.path(u.id))).toBe(false);
      await expect(store.readBytes(u.id)).rejects.toBeInstanceOf(UnknownImageError);
      expect(await store.delete(u.id)).toBe(false);
    });

    it('unknown and malformed ids: get → undefined, readBytes → UnknownImageError (no path traversal)', async () => {
      expect(await store.get('f'.repeat(64))).toBeUndefined();
      await expect(store.readBytes('f'.repeat(64))).rejects.toBeInstanceOf(UnknownImageError);
      await expect(store.readBytes('../../etc/passwd')).rejects.toBeInstanceOf(UnknownImageError);
      expect(await store.get('../x')).toBeUndefined();
    });

    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });
  });
}

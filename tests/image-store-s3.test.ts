/**
 * IMAGE_STORE=s3 against a local S3 server (s3rver) with the real AWS SDK client: the blob store's
 * put/get/delete contract, and two apps on one PostgreSQL with different DATA_DIRs that share images
 * only through the bucket — what replicas without a shared volume rely on.
 */
import { mkdtempSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnknownImageError } from '../src/core/errors';
import { normalizeImage } from '../src/core/images';
import { openDatabase, type Database } from '../src/db/connection';
import { silentLogger } from '../src/log';
import { createPlaygroundAdapter, personFor, type PlaygroundAdapter } from '../src/platforms/playground/adapter';
import { S3ImageBlobStore } from '../src/providers/blobstore/s3';
import { userKeyOf } from '../src/core/identity';
import { openTestCore, type TestCore } from './helpers/core';
import { openFreshPostgres, TEST_DATABASE_URL } from './helpers/db';
import { PlaygroundClient } from './helpers/playground-client';
import { S3RVER_CREDENTIALS, startLocalS3, type LocalS3 } from './helpers/s3-server';
import { waitFor } from './helpers/wait';

async function png(color: string): Promise<Buffer> {
  return sharp({ create: { width: 24, height: 16, channels: 3, background: color } })
    .png()
    .toBuffer();
}

let s3: LocalS3;
beforeAll(async () => {
  s3 = await startLocalS3();
});
afterAll(async () => {
  await s3?.close();
});

describe('S3ImageBlobStore on a local S3 server', () => {
  const store = () =>
    new S3ImageBlobStore({
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
    });

  it('stores and reads back the bytes; a second put of the same id is a no-op', async () => {
    const blobs = store();
    const img = await normalizeImage(await png('#3366cc'));
    expect(await blobs.has(img.id)).toBe(false);
    await blobs.put(img.id, img.png);
    await blobs.put(img.id, img.png);
    expect(await blobs.has(img.id)).toBe(true);
    expect((await blobs.get(img.id)).equals(img.png)).toBe(true);
    // Another client (another process) reads the same object.
    expect((await store().get(img.id)).equals(img.png)).toBe(true);
    await blobs.delete(img.id);
    await blobs.delete(img.id);
    expect(await blobs.has(img.id)).toBe(false);
  });

  it('a missing object is an UnknownImageError, and an id that is not a sha256 never becomes a key', async () => {
    const blobs = store();
    await expect(blobs.get('ab'.repeat(32))).rejects.toBeInstanceOf(UnknownImageError);
    await expect(blobs.get('../../etc/passwd')).rejects.toBeInstanceOf(UnknownImageError);
  });

  it('names the bucket and endpoint in its description, never the credentials', () => {
    const text = store().describe();
    expect(text).toContain(s3.bucket);
    expect(text).toContain(s3.endpoint);
    expect(text).not.toContain('S3RVER');
  });
});

describe.skipIf(!TEST_DATABASE_URL)('two apps with IMAGE_STORE=s3 on one PostgreSQL, different DATA_DIRs', () => {
  const cores: TestCore[] = [];
  const databases: Database[] = [];
  let adapter: PlaygroundAdapter | undefined;
  const storedByA: string[] = [];
  const dirs = [mkdtempSync(path.join(tmpdir(), 'tl-s3-a-')), mkdtempSync(path.join(tmpdir(), 'tl-s3-b-'))];

  beforeAll(async () => {
    // The SDK's default credential chain reads these, as in production.
    process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
    const dbA = await openFreshPostgres();
    const dbB = await openDatabase({ databaseUrl: dbA.connectionString, migrate: false, maxConnections: 5 });
    databases.push(dbB, dbA);
    const config = { IMAGE_STORE: 's3', S3_BUCKET: s3.bucket, S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: 'on' };
    for (const [i, database] of [dbA, dbB].entries()) {
      cores.push(await openTestCore({ database, dataDir: dirs[i], queue: 'inprocess', seedGallery: false, config }));
    }
  });
  afterAll(async () => {
    await adapter?.stop();
    for (const core of cores.reverse()) await core.close();
    for (const database of databases) await database.close();
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
  });

  it('an image stored by A is read by B, and neither writes image files under its DATA_DIR', async () => {
    const [a, b] = cores as [TestCore, TestCore];
    expect(a.app.backends.images).toMatch(/^S3 bucket tl-images at http:\/\/127\.0\.0\.1:\d+ \(path-style\)$/);
    const rec = await a.app.images.put(await png('#cc6633'), { source: 'gallery', prompt: 'an orange card' });
    storedByA.push(rec.id);
    const bytes = await b.app.services.images.readBytes(rec.id);
    expect(bytes.equals(await a.app.services.images.readBytes(rec.id))).toBe(true);
    expect(bytes.length).toBe(rec.bytes);
    for (const dir of dirs) expect(await readdir(dir)).not.toContain('images');
  });

  it("/rate in B's playground offers A's image, serves its bytes and takes the rating", async () => {
    const [a, b] = cores as [TestCore, TestCore];
    const rec = await a.app.images.put(await png('#33cc99'), { source: 'onboarding', prompt: 'a green card' });
    storedByA.push(rec.id);
    adapter = createPlaygroundAdapter({ services: b.app.services, log: silentLogger, port: 0, runFeedPollMs: 50 });
    await adapter.start();
    const ann = await PlaygroundClient.as(adapter.url(), 'ann');
    const r = await ann.command('/rate');
    expect(r.status).toBe(200);
    const offered = await waitFor(async () => (await ann.snapshot()).messages.find((m) => m.rateable && m.imageId), 'an image to rate');
    // B has no image files of its own: whatever it offers, A stored.
    expect(storedByA).toContain(offered.imageId);
    const served = await ann.get(`/images/${offered.imageId}.png`);
    expect(served.status).toBe(200);
    expect(Buffer.from(await served.arrayBuffer()).equals(await a.app.services.images.readBytes(offered.imageId!))).toBe(true);
    expect((await ann.rate(offered.id, 8)).status).toBe(200);
    expect(await a.rating(userKeyOf(personFor('ann')), offered.imageId!)).toBe(8);
  });

  it('forgetting a person through B deletes the image they posted from the bucket, so A cannot read it either', async () => {
    const [a, b] = cores as [TestCore, TestCore];
    const zoe = personFor('zoe');
    const posted = await a.app.services.images.ingest(await png('#9933cc'), { source: 'uploaded', ownerKey: userKeyOf(zoe) });
    expect((await b.app.services.images.readBytes(posted.id)).length).toBe(posted.bytes);
    const bucket = new S3ImageBlobStore({
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
    });
    expect((await bucket.get(posted.id)).length).toBe(posted.bytes);
    const summary = await b.app.services.privacy.forget(zoe);
    expect(summary.images).toBe(1);
    // The object itself is gone, not only the row that pointed at it.
    await expect(bucket.get(posted.id)).rejects.toBeInstanceOf(UnknownImageError);
    await expect(a.app.services.images.readBytes(posted.id)).rejects.toThrow(UnknownImageError);
  });
});

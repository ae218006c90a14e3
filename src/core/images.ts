/**
 * Content-addressed image store. Every image is decoded and normalized once (EXIF rotation applied,
 * metadata stripped, re-encoded as PNG) so that the same picture always gets the same id: the sha256
 * of the normalized PNG. Records live in the `images` table; the bytes in an ImageBlobStore handed in
 * (src/providers/blobstore: files under DATA_DIR/images, or an S3-compatible bucket with IMAGE_STORE=s3).
 *
 * Validation happens entirely before anything is written, so a rejected input leaves no file and no row.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { and, desc, eq } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { images } from '../db/schema';
import { ForgottenError, InvalidImageError, UnknownImageError } from './errors';
import { isForgotten } from './people';
import type { ImageBlobStore } from './ports';
import type { ImageRecord, ImageSource } from './records';

/** Largest accepted input file (before decoding). */
export const MAX_IMAGE_INPUT_BYTES = 20 * 1024 * 1024;
/** Largest accepted edge length, in pixels, on either side. */
export const MAX_IMAGE_SIDE_PX = 4096;
/** Formats we decode; anything else (GIF, TIFF, SVG, HEIF, …) is rejected. */
export const ACCEPTED_IMAGE_FORMATS: readonly string[] = ['png', 'jpeg', 'webp'];

const ID_PATTERN = /^[0-9a-f]{64}$/;

export interface PutImageMeta {
  source: ImageSource;
  prompt?: string | null;
  generator?: string | null;
  seed?: number | null;
  ownerKey?: string | null;
}

export interface NormalizedImage {
  png: Buffer;
  id: string;
  width: number;
  height: number;
}

/**
 * Decodes and normalizes image bytes; pure apart from CPU. Throws InvalidImageError for anything
 * we will not store.
 */
export async function normalizeImage(bytes: Buffer): Promise<NormalizedImage> {
  if (!Buffer.isBuffer(bytes) || bytes.length === 0) throw new InvalidImageError('the file is empty.');
  if (bytes.length > MAX_IMAGE_INPUT_BYTES) {
    throw new InvalidImageError(`it is ${(bytes.length / 1048576).toFixed(1)} MB; the limit is ${MAX_IMAGE_INPUT_BYTES / 1048576} MB.`);
  }
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    meta = await sharp(bytes, { failOn: 'truncated', limitInputPixels: false }).metadata();
  } catch (err) {
    throw new InvalidImageError('it is not a readable image (PNG, JPEG or WebP expected).');
  }
  if (!meta.format || !ACCEPTED_IMAGE_FORMATS.includes(meta.format)) {
    throw new InvalidImageError(`${meta.format ? meta.format.toUpperCase() : 'this'} images are not supported; use PNG, JPEG or WebP.`);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w < 1 || h < 1) throw new InvalidImageError('it has no pixels.');
  if (w > MAX_IMAGE_SIDE_PX || h > MAX_IMAGE_SIDE_PX) {
    throw new InvalidImageError(`it is ${w}×${h} px; at most ${MAX_IMAGE_SIDE_PX} px per side are accepted.`);
  }
  try {
    // failOn 'truncated' turns a cut-off file into an error instead of a half-grey picture.
    // rotate() without arguments applies the EXIF orientation; sharp drops metadata unless asked to keep it.
    const { data, info } = await sharp(bytes, { failOn: 'truncated', limitInputPixels: false })
      .rotate()
      .toColourspace('srgb')
      .png({ compressionLevel: 6, adaptiveFiltering: false })
      .toBuffer({ resolveWithObject: true });
    return { png: data, id: createHash('sha256').update(data).digest('hex'), width: info.width, height: info.height };
  } catch (err) {
    throw new InvalidImageError('the file is damaged or truncated.');
  }
}

type ImageRow = typeof images.$inferSelect;

function toRecord(r: ImageRow): ImageRecord {
  return {
    id: r.id,
    width: r.width,
    height: r.height,
    bytes: r.bytes,
    source: r.source as ImageSource,
    prompt: r.prompt,
    generator: r.generator,
    seed: r.seed,
    ownerKey: r.ownerKey,
    createdAt: r.createdAt,
  };
}

export class ImageStore {
  constructor(
    readonly db: Db,
    readonly blobs: ImageBlobStore,
  ) {}

  /**
   * The image's local file (whether or not it exists). Only the directory store has one: with a
   * bucket there is no path to hand out, so callers that need bytes use readBytes, and deleting goes
   * through deleteBytes.
   */
  path(id: string): string {
    if (!ID_PATTERN.test(id)) throw new UnknownImageError(id);
    if (!this.blobs.localPath)
      throw new Error(`images are kept in ${this.blobs.describe()}, not in local files: use readBytes/deleteBytes`);
    return this.blobs.localPath(id);
  }

  /** An image a person posted (an attachment or an upload), owned by them. */
  ingest(bytes: Buffer, meta: { source: 'uploaded' | 'attachment'; ownerKey?: string }): Promise<ImageRecord> {
    return this.put(bytes, { source: meta.source, ownerKey: meta.ownerKey });
  }

  async put(bytes: Buffer, meta: PutImageMeta): Promise<ImageRecord> {
    // An upload/attachment of a person who asked to be forgotten is not stored (nor its file).
    if (meta.ownerKey && (await isForgotten(this.db, meta.ownerKey))) throw new ForgottenError();
    const img = await normalizeImage(bytes);
    // Bytes before the row: a row is never visible (to this or another process) without its bytes.
    await this.blobs.put(img.id, img.png);
    const seed = meta.seed === undefined || meta.seed === null ? null : Math.trunc(meta.seed) | 0;
    await this.db
      .insert(images)
      .values({
        id: img.id,
        width: img.width,
        height: img.height,
        bytes: img.png.length,
        source: meta.source,
        prompt: meta.prompt ?? null,
        generator: meta.generator ?? null,
        seed,
        ownerKey: meta.ownerKey ?? null,
      })
      .onConflictDoNothing({ target: images.id });
    const rec = await this.get(img.id);
    if (!rec) throw new Error(`image ${img.id} vanished right after insert (deleted concurrently?)`);
    return rec;
  }

  async get(id: string): Promise<ImageRecord | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    const rows = await this.db.select().from(images).where(eq(images.id, id)).limit(1);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async getMany(ids: string[]): Promise<Map<string, ImageRecord>> {
    const out = new Map<string, ImageRecord>();
    for (const id of ids) {
      const r = await this.get(id);
      if (r) out.set(id, r);
    }
    return out;
  }

  /** The normalized PNG bytes. */
  async readBytes(id: string): Promise<Buffer> {
    if (!ID_PATTERN.test(id)) throw new UnknownImageError(id);
    return this.blobs.get(id);
  }

  /** Removes only the bytes (no error when already gone): for deletes whose rows went in a transaction. */
  async deleteBytes(id: string): Promise<void> {
    if (!ID_PATTERN.test(id)) return;
    await this.blobs.delete(id);
  }

  async list(opts: { source?: ImageSource; limit?: number } = {}): Promise<ImageRecord[]> {
    const where = opts.source ? and(eq(images.source, opts.source)) : undefined;
    const q = this.db.select().from(images).where(where).orderBy(desc(images.createdAt), images.id);
    const rows = opts.limit !== undefined ? await q.limit(Math.max(0, Math.trunc(opts.limit))) : await q;
    return rows.map(toRecord);
  }

  /** Removes the row (embeddings cascade) and the bytes. Returns whether a row existed. */
  async delete(id: string): Promise<boolean> {
    if (!ID_PATTERN.test(id)) return false;
    const deleted = await this.db.delete(images).where(eq(images.id, id)).returning({ id: images.id });
    await this.blobs.delete(id);
    return deleted.length > 0;
  }
}

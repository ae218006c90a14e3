/**
 * Image bytes as objects in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO): every process of a
 * deployment reads and writes the same images with no shared volume. Keys are `images/<id[0..2]>/<id>.png`;
 * ids are content hashes, so putting an id twice writes the same bytes and a put is never partly visible
 * (S3 replaces an object whole). Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY, a profile, or an instance role) and are never logged.
 */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { UnknownImageError } from '../../core/errors';
import type { ImageBlobStore } from '../../core/ports';
import { redactUrl } from '../../redact';
import { imageObjectKey } from './key';

export interface S3ImageBlobStoreOptions {
  bucket: string;
  /** For R2/MinIO; AWS when absent. */
  endpoint?: string;
  region: string;
  /** `http://host/bucket/key` instead of `http://bucket.host/key`: MinIO and local servers need it. */
  forcePathStyle: boolean;
  /** Per request; a hung store must not hold a rating or a run forever. */
  timeoutMs?: number;
  /** Tests pass fixed ones; otherwise the SDK's default chain (the AWS_* environment first). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** The SDK reports a missing key as NoSuchKey on GET and as a bare 404 (NotFound) on HEAD. */
function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

export class S3ImageBlobStore implements ImageBlobStore {
  private readonly client: S3Client;

  constructor(private readonly opts: S3ImageBlobStoreOptions) {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    this.client = new S3Client({
      region: opts.region,
      endpoint: opts.endpoint,
      forcePathStyle: opts.forcePathStyle,
      credentials: opts.credentials,
      maxAttempts: 3,
      // Checksums only where S3 demands them: the SDK's default extra CRC headers and aws-chunked
      // uploads are not understood by every S3-compatible server (older MinIO, R2, local test servers).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: Math.min(timeoutMs, 10_000), requestTimeout: timeoutMs },
    });
  }

  async put(id: string, png: Buffer): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.opts.bucket,
        Key: imageObjectKey(id),
        Body: png,
        ContentType: 'image/png',
        ContentLength: png.length,
      }),
    );
  }

  async get(id: string): Promise<Buffer> {
    const key = imageObjectKey(id);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: key }));
      if (!out.Body) throw new UnknownImageError(id);
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (err) {
      if (isMissing(err)) throw new UnknownImageError(id);
      throw err;
    }
  }

  async has(id: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key: imageObjectKey(id) }));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  /** S3 answers a delete of a missing key with success, so this is idempotent too. */
  async delete(id: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: imageObjectKey(id) }));
  }

  describe(): string {
    const where = this.opts.endpoint ? redactUrl(this.opts.endpoint) : `AWS ${this.opts.region}`;
    return `S3 bucket ${this.opts.bucket} at ${where}${this.opts.forcePathStyle ? ' (path-style)' : ''}`;
  }

  close(): void {
    this.client.destroy();
  }
}

/**
 * Image bytes as files under one directory (DATA_DIR/images): `<dir>/<id[0..2]>/<id>.png`. Processes
 * share images only when they share this directory (one machine or a shared volume); IMAGE_STORE=s3
 * (./s3.ts) lifts that.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UnknownImageError } from '../../core/errors';
import type { ImageBlobStore } from '../../core/ports';
import { assertImageKeyId } from './key';

export class FsImageBlobStore implements ImageBlobStore {
  constructor(
    /** DATA_DIR/images */
    readonly dir: string,
  ) {}

  /** Where an image's file lives (whether or not it exists). */
  localPath(id: string): string {
    assertImageKeyId(id);
    return path.join(this.dir, id.slice(0, 2), `${id}.png`);
  }

  /** tmp file + rename: a reader never sees a half-written image, and a crash leaves at most a tmp file. */
  async put(id: string, png: Buffer): Promise<void> {
    const final = this.localPath(id);
    const exists = await stat(final).then(
      (s) => s.size === png.length,
      () => false,
    );
    if (exists) return;
    await mkdir(path.dirname(final), { recursive: true });
    const tmp = `${final}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, png);
      await rename(tmp, final);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async get(id: string): Promise<Buffer> {
    try {
      return await readFile(this.localPath(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UnknownImageError(id);
      throw err;
    }
  }

  has(id: string): Promise<boolean> {
    return stat(this.localPath(id)).then(
      () => true,
      () => false,
    );
  }

  async delete(id: string): Promise<void> {
    await rm(this.localPath(id), { force: true });
  }

  describe(): string {
    return `files under ${this.dir}`;
  }
}

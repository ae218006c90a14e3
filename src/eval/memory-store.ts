/**
 * An in-memory, content-addressed image store for evaluations and benchmarks: the same sha256
 * addressing as the real store, no disk and no database. Keeps each image's prompt and seed so an
 * evaluation can look up what the image shows (e.g. for the hidden judge).
 */
import { createHash } from 'node:crypto';
import type { ImageRecord } from '../core/records';
import type { LoopImageStore } from '../core/optimizer/loop';

export class MemoryImageStore implements LoopImageStore {
  readonly bytes = new Map<string, Buffer>();
  readonly records = new Map<string, ImageRecord>();

  put(
    bytes: Buffer,
    meta: { source: 'generated'; prompt?: string | null; generator?: string | null; seed?: number | null },
  ): Promise<ImageRecord> {
    const id = createHash('sha256').update(bytes).digest('hex');
    const rec: ImageRecord = {
      id,
      width: 0,
      height: 0,
      bytes: bytes.length,
      source: meta.source,
      prompt: meta.prompt ?? null,
      generator: meta.generator ?? null,
      seed: meta.seed ?? null,
      ownerKey: null,
      createdAt: new Date(),
    };
    this.bytes.set(id, bytes);
    this.records.set(id, rec);
    return Promise.resolve(rec);
  }

  readBytes(id: string): Promise<Buffer> {
    const b = this.bytes.get(id);
    if (!b) return Promise.reject(new Error(`no image ${id} in the memory store`));
    return Promise.resolve(b);
  }
}

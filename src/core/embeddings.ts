/**
 * Embeddings with a database cache per (image, model): no image is embedded twice by the same model.
 * Switching the embedder simply asks for vectors under a new model id, so old rows stay put and are
 * never mixed with the new ones; missing vectors are computed lazily on first use.
 */
import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { embeddings } from '../db/schema';
import { inJsonList } from '../db/util';
import type { Embedder } from './ports';
import type { ImageStore } from './images';

export const EMBED_BATCH_SIZE = 16;

export class EmbeddingService {
  /** Embeddings being computed right now, so concurrent callers share one computation. */
  private readonly inflight = new Map<string, Promise<Float32Array>>();

  constructor(
    private readonly db: Db,
    private readonly store: ImageStore,
    private readonly embedder: Embedder,
    private readonly batchSize = EMBED_BATCH_SIZE,
  ) {}

  get modelId(): string {
    return this.embedder.modelId;
  }

  get dim(): number {
    return this.embedder.dim;
  }

  /** Vectors for the given images (unknown image ids throw UnknownImageError). */
  async embed(imageIds: string[]): Promise<Map<string, Float32Array>> {
    const unique = [...new Set(imageIds)];
    const out = new Map<string, Float32Array>();
    if (!unique.length) return out;
    for (const [id, v] of await this.cached(unique)) out.set(id, v);

    const waiting: Promise<void>[] = [];
    const missing: string[] = [];
    for (const id of unique) {
      if (out.has(id)) continue;
      const pending = this.inflight.get(id);
      if (pending) waiting.push(pending.then((v) => void out.set(id, v)));
      else missing.push(id);
    }
    for (let i = 0; i < missing.length; i += this.batchSize) {
      const batch = missing.slice(i, i + this.batchSize);
      const work = this.computeBatch(batch);
      batch.forEach((id, k) => {
        const p = work.then((vs) => vs[k]!);
        this.inflight.set(id, p);
        // Failures propagate through `waiting`; the inflight entry is dropped either way.
        p.then(
          () => this.inflight.delete(id),
          () => this.inflight.delete(id),
        );
        waiting.push(p.then((v) => void out.set(id, v)));
      });
    }
    await Promise.all(waiting);
    return out;
  }

  /** One image's vector. */
  async embedOne(imageId: string): Promise<Float32Array> {
    return (await this.embed([imageId])).get(imageId)!;
  }

  private async cached(ids: string[]): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    const CHUNK = 500;
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows = await this.db
        .select({ imageId: embeddings.imageId, dim: embeddings.dim, vector: embeddings.vector })
        .from(embeddings)
        .where(and(eq(embeddings.model, this.embedder.modelId), inJsonList(embeddings.imageId, ids.slice(i, i + CHUNK))));
      for (const r of rows) {
        if (r.dim === this.embedder.dim && r.vector.length === r.dim) out.set(r.imageId, Float32Array.from(r.vector));
      }
    }
    return out;
  }

  private async computeBatch(ids: string[]): Promise<Float32Array[]> {
    const bytes = await Promise.all(ids.map((id) => this.store.readBytes(id)));
    const vectors = await this.embedder.embed(bytes);
    if (vectors.length !== ids.length) {
      throw new Error(`embedder ${this.embedder.modelId} returned ${vectors.length} vectors for ${ids.length} images`);
    }
    for (const v of vectors) {
      if (v.length !== this.embedder.dim)
        throw new Error(`embedder ${this.embedder.modelId} returned a ${v.length}-d vector, expected ${this.embedder.dim}`);
    }
    await this.db
      .insert(embeddings)
      .values(ids.map((imageId, k) => ({ imageId, model: this.embedder.modelId, dim: this.embedder.dim, vector: Array.from(vectors[k]!) })))
      .onConflictDoNothing({ target: [embeddings.imageId, embeddings.model] });
    return vectors;
  }
}

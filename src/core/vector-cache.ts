/**
 * The embeddings of the images rated lately, in memory: applying a rating to a scorer held in memory
 * needs the image's vector, and reading it from the database would cost a query per rating.
 *
 * Only for images a rating was just committed on (the ledger checked they exist): an image deleted
 * later is never asked for again through here, so an entry never needs invalidating. Bounded: the
 * least recently used entries go first.
 */
import type { EmbeddingService } from './embeddings';

export class VectorCache {
  private readonly entries = new Map<string, Float32Array>();

  constructor(
    private readonly embeddings: Pick<EmbeddingService, 'embed'>,
    private readonly capacity: number,
  ) {}

  /** The vectors of these images: from memory, the rest in one read (EmbeddingService.embed). */
  async get(imageIds: readonly string[]): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    const missing: string[] = [];
    for (const id of imageIds) {
      const v = this.entries.get(id);
      if (v) {
        // Re-inserted: a Map keeps insertion order, so the first key is the least recently used.
        this.entries.delete(id);
        this.entries.set(id, v);
        out.set(id, v);
      } else missing.push(id);
    }
    if (missing.length === 0) return out;
    for (const [id, v] of await this.embeddings.embed(missing)) {
      out.set(id, v);
      this.entries.set(id, v);
    }
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    return out;
  }
}

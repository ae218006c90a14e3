/**
 * Writes an import plan (plan.ts) all or nothing. Vectors are computed first, outside any transaction
 * (embedding can take minutes; no lock is held meanwhile). Then one transaction stores every image
 * through the image store, its vector under the embedder's model id, and every rating through the
 * rating ledger's own statement (tasteloop_apply_vote), which also records the rater and the scope. A
 * failure anywhere rolls all of it back, and image bytes written for pictures that have no row after
 * the rollback are removed again, so nothing is half-imported.
 *
 * Re-running the same file imports nothing twice: images are content-addressed, vectors keyed by
 * (image, model), and each rating carries a fixed event time derived from its line, so the ledger
 * sees a repeat of a vote it already holds and changes nothing.
 */
import fs from 'node:fs';
import { inArray } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { embeddings, images } from '../db/schema';
import { ImageStore, normalizeImage } from '../core/images';
import { RatingLedger } from '../core/ratings';
import type { Embedder, ImageBlobStore } from '../core/ports';
import { imagesWithoutVectors, type ImportPlan } from './plan';

/**
 * Imported votes are dated at the start of 2000 plus one second per line of the file: older than any
 * rating given in chat (a person's own later rating of the same image wins), in the file's order, and
 * the same on every run of the same file.
 */
const IMPORT_EPOCH_MS = Date.UTC(2000, 0, 1);

export interface ApplyDeps {
  blobs: ImageBlobStore;
  embedder: Embedder;
  /** The server/workspace the raters are recorded in (user_scopes and the ratings' scope). */
  scopeId?: string;
  /** Told after each rating written inside the transaction; throwing from it rolls everything back. */
  onRating?: (written: number, total: number) => void;
  onProgress?: (msg: string) => void;
}

export interface ImportResult {
  imagesStored: number;
  vectorsStored: number;
  /** Ratings that changed the ledger. */
  ratingsWritten: number;
  /** Ratings the ledger already held (a re-run). */
  ratingsUnchanged: number;
}

export async function applyImport(db: Db, plan: ImportPlan, deps: ApplyDeps): Promise<ImportResult> {
  const vectors = await computeVectors(db, plan, deps);
  const newImages = plan.images.filter((im) => im.isNew).map((im) => im.id);
  try {
    return await db.transaction(async (tx) => {
      const txDb = tx as unknown as Db;
      const store = new ImageStore(txDb, deps.blobs);
      for (const im of plan.images) {
        const rec = await store.put(fs.readFileSync(im.file), {
          source: 'gallery',
          prompt: im.prompt ?? null,
          generator: `import:${plan.source}`,
        });
        if (rec.id !== im.id) throw new Error(`image ${im.file} changed while importing (its id is no longer ${im.id})`);
      }
      let vectorsStored = 0;
      for (const [imageId, v] of vectors) {
        const rows = await txDb
          .insert(embeddings)
          .values({ imageId, model: deps.embedder.modelId, dim: v.length, vector: Array.from(v) })
          .onConflictDoNothing({ target: [embeddings.imageId, embeddings.model] })
          .returning({ id: embeddings.imageId });
        vectorsStored += rows.length;
      }
      const ledger = new RatingLedger(txDb);
      const result = { imagesStored: newImages.length, vectorsStored, ratingsWritten: 0, ratingsUnchanged: 0 };
      for (const [i, r] of plan.ratings.entries()) {
        const change = await ledger.rate({
          userKey: r.userKey,
          imageId: r.imageId,
          score: r.vote,
          eventTime: new Date(IMPORT_EPOCH_MS + r.line * 1000),
          ctx: { source: 'import', ...(deps.scopeId ? { scopeId: deps.scopeId } : {}) },
          person: r.person,
        });
        if (change.changed) result.ratingsWritten++;
        else result.ratingsUnchanged++;
        deps.onRating?.(i + 1, plan.ratings.length);
      }
      // The ledger tells other processes about changed people with pg_notify; sent inside this
      // transaction, the notifications are delivered on commit and never for a rollback.
      await ledger.announced();
      return result;
    });
  } catch (err) {
    await removeOrphanBytes(db, deps.blobs, newImages);
    throw err;
  }
}

/** Vectors for the plan's images that have none under this model yet, in batches. */
async function computeVectors(db: Db, plan: ImportPlan, deps: ApplyDeps): Promise<Map<string, Float32Array>> {
  const todo = new Set(
    await imagesWithoutVectors(
      db,
      plan.images.map((im) => im.id),
      deps.embedder.modelId,
    ),
  );
  const pending = plan.images.filter((im) => todo.has(im.id));
  const out = new Map<string, Float32Array>();
  for (let i = 0; i < pending.length; i += 16) {
    const batch = pending.slice(i, i + 16);
    const pngs: Buffer[] = [];
    for (const im of batch) pngs.push((await normalizeImage(fs.readFileSync(im.file))).png);
    const vecs = await deps.embedder.embed(pngs);
    batch.forEach((im, k) => out.set(im.id, vecs[k]!));
    deps.onProgress?.(`embedded ${Math.min(i + 16, pending.length)}/${pending.length} images with ${deps.embedder.modelId}`);
  }
  return out;
}

/** After a rollback: bytes of pictures this import brought that still have no images row. */
async function removeOrphanBytes(db: Db, blobs: ImageBlobStore, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const kept = new Set((await db.select({ id: images.id }).from(images).where(inArray(images.id, chunk))).map((r) => r.id));
    for (const id of chunk) if (!kept.has(id)) await blobs.delete(id);
  }
}

/**
 * The real-data side of eval:piaa: the Simulacra Aesthetic Captions release as PiaaData.
 * Raters are SAC surveys (the release's pseudonymous rater identity); corrupted surveys (more than
 * 20 answers) are excluded by the importer and reported here. Images are embedded with CLIP
 * (ClipEmbedder: weights from CLIP_MODEL_DIR, downloaded there on first use unless CLIP_OFFLINE=1); embeddings are cached per model so a rerun skips the work.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Embedder } from '../../core/ports';
import { loadSac, sacImages } from '../sac';
import { ClipEmbedder, clipOptionsFromConfig } from '../../providers/embedder/clip';
import { loadConfig } from '../../config';
import { defaultCacheDir } from '../synthetic';
import type { PiaaData } from './data';

export interface SacPiaaOptions {
  sqlite: string;
  imagesDir: string;
  /** Keep only the raters with the most ratings (all when undefined). */
  maxRaters?: number;
  /** Raters with fewer usable ratings are dropped (they cannot give a 10-shot split plus a test set). */
  minRatings?: number;
  /** Defaults to CLIP as configured (CLIP_MODEL, CLIP_MODEL_DIR, CLIP_CACHE_DIR). */
  embedder?: Embedder;
  /** Embedding cache folder; false = no cache. */
  cacheDir?: string | false;
  onProgress?: (msg: string) => void;
}

function readCache(file: string, dim: number): Map<number, Float32Array> {
  const out = new Map<number, Float32Array>();
  if (!fs.existsSync(file)) return out;
  const buf = fs.readFileSync(file);
  const rec = 8 + dim * 4;
  if (buf.length % rec !== 0) return out; // other dimension or torn write: ignore and rebuild
  for (let off = 0; off < buf.length; off += rec) {
    const id = buf.readDoubleLE(off);
    out.set(id, new Float32Array(buf.buffer.slice(buf.byteOffset + off + 8, buf.byteOffset + off + rec)));
  }
  return out;
}

function writeCache(file: string, vecs: Map<number, Float32Array>): void {
  const parts: Buffer[] = [];
  for (const [id, v] of vecs) {
    const head = Buffer.alloc(8);
    head.writeDoubleLE(id);
    parts.push(head, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, Buffer.concat(parts));
  fs.renameSync(`${file}.tmp`, file);
}

export async function sacPiaaData(opts: SacPiaaOptions): Promise<PiaaData> {
  const minRatings = opts.minRatings ?? 30;
  const ds = loadSac(opts.sqlite, opts.imagesDir, { minRatingsPerRater: minRatings });
  let raters = ds.raters;
  if (opts.maxRaters && raters.length > opts.maxRaters)
    raters = [...raters].sort((a, b) => b.ratings.length - a.ratings.length || a.raterId - b.raterId).slice(0, opts.maxRaters);
  const kept = { ...ds, raters };
  const images = sacImages(kept);
  const s = ds.stats;
  opts.onProgress?.(
    `SAC: ${s.surveys} surveys, ${s.corruptedSurveys} corrupted (excluded), ${raters.length} raters with ≥ ${minRatings} ratings, ${images.length} images`,
  );

  const embedder = opts.embedder ?? (await ClipEmbedder.create(clipOptionsFromConfig(loadConfig())));
  const cacheFile =
    opts.cacheDir === false
      ? null
      : path.join(opts.cacheDir ?? defaultCacheDir(), `sac-${embedder.modelId.replace(/[^A-Za-z0-9._-]+/g, '_')}.bin`);
  const cache = cacheFile && embedder.dim > 0 ? readCache(cacheFile, embedder.dim) : new Map<number, Float32Array>();
  const todo = images.filter((im) => !cache.has(im.imageId));
  for (let i = 0; i < todo.length; i += 32) {
    const batch = todo.slice(i, i + 32);
    const vecs = await embedder.embed(batch.map((im) => fs.readFileSync(im.imagePath)));
    batch.forEach((im, k) => cache.set(im.imageId, vecs[k]!));
    opts.onProgress?.(`embedded ${Math.min(i + 32, todo.length)}/${todo.length} new images with ${embedder.modelId}`);
    if (cacheFile && (i / 32) % 20 === 19) writeCache(cacheFile, cache);
  }
  if (cacheFile && todo.length) writeCache(cacheFile, cache);

  const dim = embedder.dim;
  const index = new Map<number, number>();
  const X = new Float32Array(images.length * dim);
  images.forEach((im, i) => {
    index.set(im.imageId, i);
    X.set(cache.get(im.imageId)!, i * dim);
  });
  return {
    source: 'sac',
    dim,
    X,
    images: images.length,
    raters: raters.map((r) => ({
      id: `survey-${r.raterId}`,
      items: Int32Array.from(r.ratings, (x) => index.get(x.imageId)!),
      ratings: Float64Array.from(r.ratings, (x) => x.rating),
    })),
    notes: [
      `SAC: raters = surveys; ${s.corruptedSurveys} corrupted surveys (> 20 answers) excluded with their ${s.ratingsFromCorruptedSurveys} ratings` +
        (ds.excludedSurveys.length
          ? ` (ids ${ds.excludedSurveys.slice(0, 10).join(', ')}${ds.excludedSurveys.length > 10 ? ', …' : ''})`
          : ''),
      `SAC: ${raters.length} raters with ≥ ${minRatings} ratings, ${images.length} images, ${s.ratingsMissingImage} ratings without an image file skipped; embedder ${embedder.modelId}; no noise ceiling (hidden taste unknown)`,
    ],
  };
}

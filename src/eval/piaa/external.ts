/**
 * Any dataset of (rater, image file, score) as PiaaData, for `eval:piaa -- --ratings <file> --images <dir>`:
 * the same protocol as the synthetic population and SAC, on the configured embedder. Scores are mapped
 * linearly onto 1–10 (the scale the protocol clips predictions to), so MSE and MAE read in those units.
 * There is no hidden taste here, hence no noise ceiling and no embedding bound.
 *
 * Raters with fewer than `minRatings` usable ratings are left out (reported): a person needs a 10-rating
 * training set plus a test set of fresh images before the protocol can score them.
 */
import fs from 'node:fs';
import pino from 'pino';
import type { Embedder } from '../../core/ports';
import { normalizeImage } from '../../core/images';
import {
  countByKind,
  DEFAULT_SCALE,
  parseColumns,
  parseScale,
  readRatingsFile,
  type ColumnNames,
  type RatingRow,
  type RatingScale,
  type RejectedRow,
} from '../../ratings-import/ratings-file';
import { identifyImages } from '../../ratings-import/image-files';
import { DatasetError } from '../../core/errors';
import { embedderForEval, embedPngsCached, type EvalEmbedderName } from '../embedding';
import { defaultCacheDir } from '../synthetic';
import { UsageError } from '../cli';
import type { PiaaData, RaterData } from './data';

export interface ExternalPiaaOptions {
  file: string;
  imagesDir: string;
  embedder: Embedder;
  columns?: Partial<ColumnNames>;
  scale?: RatingScale;
  /** Raters with fewer usable ratings are left out (default 30). */
  minRatings?: number;
  /** Keep only this many raters, those with the most ratings (all when undefined). */
  maxRaters?: number;
  /** Embedding cache folder; false = no cache. */
  cacheDir?: string | false;
  onProgress?: (msg: string) => void;
}

/** The --ratings part of eval:piaa's command line (file, column names, scale, minimum ratings), checked. */
export interface ExternalRequest {
  file: string;
  columns: Partial<ColumnNames>;
  scale: RatingScale;
  minRatings: number;
  /** --embedder when given on the command line; otherwise the bot's configured EMBEDDER (which may be clip). */
  embedder?: EvalEmbedderName;
}

/** Reads --ratings/--columns/--scale/--min-ratings; null when --ratings is not given. Throws DatasetError on a bad value. */
export function externalRequest(
  args: Record<string, string | number | boolean | undefined>,
  argv: readonly string[],
): ExternalRequest | null {
  if (!args.ratings) return null;
  const minRatings = Number(args['min-ratings'] ?? 30);
  if (!Number.isInteger(minRatings) || minRatings < 11)
    throw new UsageError(
      `--min-ratings must be a whole number of at least 11 (10 to train on, 1 to test), got "${String(args['min-ratings'])}"`,
    );
  if (!args.images) throw new UsageError('--ratings needs --images <folder the image file names are relative to>');
  return asUsageError(() => ({
    file: String(args.ratings),
    columns: args.columns ? parseColumns(String(args.columns)) : {},
    scale: args.scale ? parseScale(String(args.scale)) : DEFAULT_SCALE,
    minRatings,
    ...(argv.some((a) => a === '--embedder' || a.startsWith('--embedder=')) ? { embedder: args.embedder as EvalEmbedderName } : {}),
  }));
}

/** A dataset the command line points at that cannot be used is the caller's to fix: one line, no stack. */
function asUsageError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof DatasetError) throw new UsageError(err.message);
    throw err;
  }
}

/** eval:piaa --ratings: the dataset on --embedder or else the configured embedder; a file that cannot be used is a UsageError. */
export async function externalDataForCli(
  req: ExternalRequest,
  imagesDir: string,
  maxRaters: number | undefined,
  onProgress: (msg: string) => void,
): Promise<PiaaData> {
  const embedder = req.embedder ? await embedderForEval(req.embedder) : await configuredEmbedder();
  try {
    return await externalPiaaData({ ...req, imagesDir, embedder, maxRaters, onProgress });
  } catch (err) {
    if (err instanceof DatasetError) throw new UsageError(err.message);
    throw err;
  }
}

/** The embedder the bot is configured with (EMBEDDER), logging to stderr: stdout is the report's. */
async function configuredEmbedder(): Promise<Embedder> {
  const { loadConfig } = await import('../../config');
  const { createEmbedder } = await import('../../providers/from-config');
  const { createLogger } = await import('../../log');
  return createEmbedder(loadConfig(), createLogger(process.env.LOG_LEVEL ?? 'info', pino.destination(2)));
}

/** Images embedded per cached chunk: bounded memory, and a rerun on the same files hits the cache chunk by chunk. */
const EMBED_CHUNK = 256;

export async function externalPiaaData(opts: ExternalPiaaOptions): Promise<PiaaData> {
  const read = readRatingsFile(opts.file, { imagesDir: opts.imagesDir, columns: opts.columns, scale: opts.scale });
  const scale = read.scale.low === 1 && read.scale.high === 10 ? '1–10' : `${read.scale.low}–${read.scale.high}, mapped linearly onto 1–10`;
  return ratingRowsPiaaData(
    {
      source: 'external',
      name: 'external ratings',
      label: `external ratings ${opts.file} (${read.format}; scale ${scale})`,
      rows: read.rows,
      rejected: read.rejected,
    },
    opts,
  );
}

/** Checked rating rows from any source (a ratings file, or a preset such as SAC that turns its own tables into rows). */
export interface RatingRowsInput {
  source: PiaaData['source'];
  /** Short name for the notes ("external ratings", "SAC") and the long one (with the file and scale). */
  name: string;
  label: string;
  rows: readonly RatingRow[];
  /** Rows the source already set aside (counted and named with the rest). */
  rejected: readonly RejectedRow[];
  /** Notes of the source's own, put before the pipeline's. */
  notes?: string[];
}

export type RatingRowsOptions = Pick<ExternalPiaaOptions, 'embedder' | 'minRatings' | 'maxRaters' | 'cacheDir' | 'onProgress'>;

/**
 * The --ratings pipeline from checked rows on: pictures identified as the image store does (duplicates
 * under other file names set aside), raters with too few ratings left out, images embedded (cached).
 */
export async function ratingRowsPiaaData(input: RatingRowsInput, opts: RatingRowsOptions): Promise<PiaaData> {
  const minRatings = opts.minRatings ?? 30;
  const found = await identifyImages(input.rows, (done, total) => opts.onProgress?.(`checked ${done}/${total} image files`));
  const rejected = [...input.rejected, ...found.rejected];
  for (const r of rejected.slice(0, 20)) opts.onProgress?.(`rejected line ${r.line}: ${r.reason}`);

  const byRater = new Map<string, typeof found.rows>();
  for (const r of found.rows) byRater.set(r.rater, [...(byRater.get(r.rater) ?? []), r]);
  let raters = [...byRater.entries()].filter(([, rows]) => rows.length >= minRatings);
  const tooFew = byRater.size - raters.length;
  if (opts.maxRaters && raters.length > opts.maxRaters)
    raters = raters.sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1)).slice(0, opts.maxRaters);
  const used = new Set(raters.flatMap(([, rows]) => rows.map((r) => r.imageId)));
  const images = found.images.filter((im) => used.has(im.id));
  const index = new Map(images.map((im, i) => [im.id, i]));

  const { X, dim } = await embedImages(
    images.map((im) => im.file),
    opts,
  );
  const kinds = Object.entries(countByKind(rejected))
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return {
    source: input.source,
    dim,
    X,
    images: images.length,
    raters: raters.map(([id, rows]): RaterData => ({
      id,
      items: Int32Array.from(rows, (r) => index.get(r.imageId)!),
      ratings: Float64Array.from(rows, (r) => r.score10),
    })),
    notes: [
      ...(input.notes ?? []),
      `${input.label}: ${found.rows.length} usable rows, ${rejected.length} rejected${kinds ? ` (${kinds})` : ''}`,
      `${input.name}: ${raters.length} raters with ≥ ${minRatings} ratings (${tooFew} with fewer left out), ${images.length} images, embedder ${opts.embedder.modelId}; no noise ceiling (hidden taste unknown)`,
    ],
  };
}

/** The images' embeddings, row-major; the dimension is read off the vectors (a lazily loaded model may not know it up front). */
async function embedImages(files: string[], opts: RatingRowsOptions): Promise<{ X: Float32Array; dim: number }> {
  const vecs: Float32Array[] = [];
  const cacheDir = opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir;
  const t0 = performance.now();
  let cachedChunks = 0;
  for (let i = 0; i < files.length; i += EMBED_CHUNK) {
    const pngs: Buffer[] = [];
    for (const f of files.slice(i, i + EMBED_CHUNK)) pngs.push((await normalizeImage(fs.readFileSync(f))).png);
    const res = await embedPngsCached(opts.embedder, pngs, cacheDir);
    if (res.cached) cachedChunks++;
    vecs.push(...res.vecs);
    opts.onProgress?.(`embedded ${vecs.length}/${files.length} images with ${opts.embedder.modelId}`);
  }
  opts.onProgress?.(
    `embedding: ${(performance.now() - t0).toFixed(0)} ms (${cachedChunks} of ${Math.ceil(files.length / EMBED_CHUNK)} chunks from cache)`,
  );
  const dim = vecs[0]?.length ?? opts.embedder.dim;
  const X = new Float32Array(vecs.length * dim);
  vecs.forEach((v, i) => X.set(v, i * dim));
  return { X, dim };
}

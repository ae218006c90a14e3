/**
 * The real-data side of eval:piaa: the Simulacra Aesthetic Captions release as PiaaData.
 * Raters are SAC surveys (the release's pseudonymous rater identity); corrupted surveys (more than
 * 20 answers) are excluded by the importer and reported here. Images are embedded with CLIP
 * (ClipEmbedder: weights from CLIP_MODEL_DIR, downloaded there on first use unless CLIP_OFFLINE=1) unless another
 * embedder is given. SAC is a preset of --ratings: its rows go through the same pipeline (external.ts),
 * images identified and embedded (cached) as for any ratings file.
 */
import path from 'node:path';
import type { Embedder } from '../../core/ports';
import type { RatingRow } from '../../ratings-import/ratings-file';
import { loadSac, sacImages, type SacDataset } from '../sac';
import { ClipEmbedder, clipOptionsFromConfig } from '../../providers/embedder/clip';
import { loadConfig } from '../../config';
import { ratingRowsPiaaData } from './external';
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

/**
 * SAC as rating rows for the --ratings pipeline (external.ts): one row per rating the release keeps
 * after the survey rule (raters = surveys, corrupted surveys dropped: ../sac.ts), in the order given.
 * `line` numbers the kept ratings from 1, so a rejected row can be named.
 */
export function sacRatingRows(ds: SacDataset, imagesDir: string): RatingRow[] {
  const root = path.resolve(imagesDir);
  let line = 0;
  return ds.raters.flatMap((r) =>
    r.ratings.map((x) => ({
      line: ++line,
      rater: `survey-${r.raterId}`,
      image: path.relative(root, x.imagePath).split(path.sep).join('/'),
      file: x.imagePath,
      score: x.rating,
      // SAC rates on 1–10 already.
      score10: x.rating,
      ...(x.prompt ? { prompt: x.prompt } : {}),
    })),
  );
}

/** eval:piaa --sac: a preset of --ratings — the SQLite release turned into rating rows, then the same pipeline. */
export async function sacPiaaData(opts: SacPiaaOptions): Promise<PiaaData> {
  const minRatings = opts.minRatings ?? 30;
  const ds = loadSac(opts.sqlite, opts.imagesDir, { minRatingsPerRater: minRatings });
  const s = ds.stats;
  opts.onProgress?.(
    `SAC: ${s.surveys} surveys, ${s.corruptedSurveys} corrupted (excluded), ${ds.raters.length} raters with ≥ ${minRatings} ratings, ${sacImages(ds).length} images`,
  );
  const embedder = opts.embedder ?? (await ClipEmbedder.create(clipOptionsFromConfig(loadConfig())));
  return ratingRowsPiaaData(
    {
      source: 'sac',
      name: 'SAC',
      label: `SAC ${opts.sqlite} (SQLite; scale 1–10)`,
      rows: sacRatingRows(ds, opts.imagesDir),
      rejected: [],
      notes: [
        `SAC: raters = surveys; ${s.corruptedSurveys} corrupted surveys (> 20 answers) excluded with their ${s.ratingsFromCorruptedSurveys} ratings` +
          (ds.excludedSurveys.length
            ? ` (ids ${ds.excludedSurveys.slice(0, 10).join(', ')}${ds.excludedSurveys.length > 10 ? ', …' : ''})`
            : '') +
          `; ${s.ratingsMissingImage} ratings without an image file skipped`,
      ],
    },
    { embedder, minRatings, maxRaters: opts.maxRaters, cacheDir: opts.cacheDir, onProgress: opts.onProgress },
  );
}

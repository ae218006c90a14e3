/**
 * Importer for the Simulacra Aesthetic Captions release (`sac_public_2022_06_29.sqlite` + its image tars),
 * the real-data half of `npm run eval:piaa -- --sac <sqlite> --images <dir>`.
 *
 * SAC has no user ids. Each person answered a fixed 20-image aesthetic survey on sign-up, and `ratings.sid`
 * points at that survey: the survey *is* the pseudonymous rater. Tables used:
 *   survey(id, qid, rating)        one row per survey answer; id = the rater
 *   ratings(sid, iid, rating, …)   sid → survey.id, iid → images.id; ratings are 1–10
 *   images(id, gid, idx)           gid → generations.id
 *   generations(id, sid, method, prompt, verified)
 *   paths(iid, path)               image file, relative to the extracted image folder
 * A bug in early SimulacraBot corrupted some surveys with more than 20 answers; the dataset's authors advise
 * excluding them from per-rater analysis, so they are reported and dropped here. Ratings are kept in their
 * stored (rowid) order, i.e. the order they were given.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DatasetError } from '../core/errors';

/** Answers in an intact SAC aesthetic survey. */
export const SAC_SURVEY_SIZE = 20;

export interface SacRating {
  /** images.id: stable key for caching embeddings. */
  imageId: number;
  /** Absolute path of the image file (exists when loaded). */
  imagePath: string;
  prompt: string;
  /** 1–10 */
  rating: number;
  /** generations.method (the generator model; 2 = latent GLIDE, 3 = Stable Diffusion), null if unknown. */
  method: number | null;
}

export interface SacRater {
  /** The survey id, which is the rater's pseudonymous identity in SAC. */
  raterId: number;
  /** Number of answers in this rater's survey (≤ 20 for kept raters). */
  surveyAnswers: number;
  ratings: SacRating[];
}

export interface SacStats {
  surveys: number;
  /** Surveys with more than 20 answers (excluded). */
  corruptedSurveys: number;
  /** Surveys with fewer than 20 answers (kept: the survey still identifies the rater). */
  incompleteSurveys: number;
  ratingsTotal: number;
  /** Ratings in the returned raters. */
  ratingsUsed: number;
  ratingsFromCorruptedSurveys: number;
  /** sid null or pointing at no survey: no rater to attribute them to. */
  ratingsWithoutSurvey: number;
  /** rating null, not a whole number, or outside 1–10. */
  ratingsInvalid: number;
  /** Earlier ratings by the same rater of the same image (the latest is kept). */
  ratingsDuplicate: number;
  /** Ratings whose image has no row in `images`, no path, or no file under the image folder. */
  ratingsMissingImage: number;
  /** Distinct images whose file is missing. */
  missingImageFiles: number;
  /** Raters dropped for having fewer than `minRatingsPerRater` usable ratings. */
  ratersBelowMinimum: number;
  raters: number;
  images: number;
}

export interface SacMissingImage {
  imageId: number;
  /** Path as stored in `paths` (null when the image has no path row or no images row). */
  storedPath: string | null;
}

export interface SacDataset {
  raters: SacRater[];
  /** Ids of corrupted surveys (more than 20 answers), ascending. */
  excludedSurveys: number[];
  missingImages: SacMissingImage[];
  stats: SacStats;
}

export interface LoadSacOptions {
  /** Drop raters with fewer usable ratings than this. Default 1. */
  minRatingsPerRater?: number;
}

interface RatingRow {
  rid: number;
  sid: number | null;
  iid: number;
  rating: number | null;
  imageRowId: number | null;
  prompt: string | null;
  method: number | null;
  path: string | null;
}

const REQUIRED_COLUMNS: Record<string, string[]> = {
  survey: ['id', 'qid', 'rating'],
  ratings: ['sid', 'iid', 'rating'],
  images: ['id', 'gid'],
  generations: ['id', 'prompt', 'method'],
  paths: ['iid', 'path'],
};

/** Reads the SAC release into per-rater rating lists whose images exist under `imagesDir`. */
export function loadSac(sqlitePath: string, imagesDir: string, opts: LoadSacOptions = {}): SacDataset {
  const minRatings = Math.max(1, Math.floor(opts.minRatingsPerRater ?? 1));
  const root = path.resolve(imagesDir);
  if (!existsSync(sqlitePath)) {
    throw new DatasetError(
      `SAC database not found at ${sqlitePath}. Download sac_public_2022_06_29.sqlite from https://github.com/JD-P/simulacra-aesthetic-captions and pass its path with --sac.`,
    );
  }
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new DatasetError(`SAC image folder not found at ${root}. Extract the sac-*.tar image archives there and pass it with --images.`);
  }

  let db: Database.Database;
  try {
    db = new Database(sqlitePath, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new DatasetError(`Cannot open ${sqlitePath} as SQLite: ${(err as Error).message}`, { cause: err });
  }
  try {
    checkSchema(db, sqlitePath);
    const surveyAnswers = new Map<number, number>();
    for (const row of db.prepare('SELECT id, COUNT(*) AS n FROM survey GROUP BY id').all() as { id: number; n: number }[]) {
      surveyAnswers.set(Number(row.id), row.n);
    }
    const rows = readRatingRows(db);
    return assemble(rows, surveyAnswers, new ImageLocator(root), minRatings);
  } catch (err) {
    // better-sqlite3 opens lazily: a file that is not a database fails at the first query.
    if (err instanceof Database.SqliteError) {
      throw new DatasetError(`Cannot read ${sqlitePath} as the SAC SQLite database: ${err.message}`, { cause: err });
    }
    throw err;
  } finally {
    db.close();
  }
}

/** Every distinct image of a loaded dataset once (what to embed), in first-seen order. */
export function sacImages(dataset: SacDataset): { imageId: number; imagePath: string; prompt: string }[] {
  const seen = new Map<number, { imageId: number; imagePath: string; prompt: string }>();
  for (const rater of dataset.raters) {
    for (const r of rater.ratings) {
      if (!seen.has(r.imageId)) seen.set(r.imageId, { imageId: r.imageId, imagePath: r.imagePath, prompt: r.prompt });
    }
  }
  return [...seen.values()];
}

/**
 * Ratings joined to image, generation and path. Done in JavaScript over four plain scans rather than one SQL
 * join: the release's tables may carry no indexes, and SQLite's automatic indexes made the join 2–3× slower
 * on a 176k-rating synthetic copy. One path per image (the first stored) so each rating yields one row.
 */
function readRatingRows(db: Database.Database): RatingRow[] {
  const paths = new Map<number, string>();
  for (const [iid, p] of db.prepare('SELECT iid, path FROM paths ORDER BY rowid').raw().iterate() as Iterable<[number, string | null]>) {
    if (p !== null && !paths.has(Number(iid))) paths.set(Number(iid), String(p));
  }
  const imageGeneration = new Map<number, number | null>();
  for (const [id, gid] of db.prepare('SELECT id, gid FROM images').raw().iterate() as Iterable<[number, number | null]>) {
    imageGeneration.set(Number(id), gid === null ? null : Number(gid));
  }
  const generations = new Map<number, { prompt: string | null; method: number | null }>();
  for (const [id, prompt, method] of db.prepare('SELECT id, prompt, method FROM generations').raw().iterate() as Iterable<
    [number, string | null, number | null]
  >) {
    generations.set(Number(id), { prompt: prompt === null ? null : String(prompt), method: method === null ? null : Number(method) });
  }
  const rows: RatingRow[] = [];
  for (const [rid, sid, iid, rating] of db
    .prepare('SELECT rowid, sid, iid, rating FROM ratings ORDER BY rowid')
    .raw()
    .iterate() as Iterable<[number, number | null, number, number | null]>) {
    const imageId = Number(iid);
    const hasImage = imageGeneration.has(imageId);
    const gid = imageGeneration.get(imageId);
    const generation = gid === null || gid === undefined ? undefined : generations.get(gid);
    rows.push({
      rid: Number(rid),
      sid: sid === null ? null : Number(sid),
      iid: imageId,
      rating: rating === null ? null : Number(rating),
      imageRowId: hasImage ? imageId : null,
      prompt: generation?.prompt ?? null,
      method: generation?.method ?? null,
      path: paths.get(imageId) ?? null,
    });
  }
  return rows;
}

function checkSchema(db: Database.Database, sqlitePath: string): void {
  const problems: string[] = [];
  for (const [table, columns] of Object.entries(REQUIRED_COLUMNS)) {
    const present = new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
    if (present.size === 0) {
      problems.push(`table "${table}" is missing`);
      continue;
    }
    const missing = columns.filter((c) => !present.has(c));
    if (missing.length) problems.push(`table "${table}" lacks column(s) ${missing.join(', ')}`);
  }
  if (problems.length) {
    throw new DatasetError(`${sqlitePath} does not look like the SAC release: ${problems.join('; ')}.`);
  }
}

function assemble(rows: RatingRow[], surveyAnswers: Map<number, number>, locator: ImageLocator, minRatings: number): SacDataset {
  const excluded = [...surveyAnswers]
    .filter(([, n]) => n > SAC_SURVEY_SIZE)
    .map(([id]) => id)
    .sort((a, b) => a - b);
  const excludedSet = new Set(excluded);
  const stats: SacStats = {
    surveys: surveyAnswers.size,
    corruptedSurveys: excluded.length,
    incompleteSurveys: [...surveyAnswers.values()].filter((n) => n < SAC_SURVEY_SIZE).length,
    ratingsTotal: 0,
    ratingsUsed: 0,
    ratingsFromCorruptedSurveys: 0,
    ratingsWithoutSurvey: 0,
    ratingsInvalid: 0,
    ratingsDuplicate: 0,
    ratingsMissingImage: 0,
    missingImageFiles: 0,
    ratersBelowMinimum: 0,
    raters: 0,
    images: 0,
  };
  const missing = new Map<number, SacMissingImage>();
  // rater → image → rating. A Map keeps insertion order; a re-rated image moves to its latest position.
  const byRater = new Map<number, Map<number, SacRating>>();

  for (const row of rows) {
    stats.ratingsTotal++;
    const sid = row.sid === null ? null : Number(row.sid);
    if (sid === null || !surveyAnswers.has(sid)) {
      stats.ratingsWithoutSurvey++;
      continue;
    }
    if (excludedSet.has(sid)) {
      stats.ratingsFromCorruptedSurveys++;
      continue;
    }
    const rating = row.rating === null ? NaN : Number(row.rating);
    if (!Number.isInteger(rating) || rating < 1 || rating > 10) {
      stats.ratingsInvalid++;
      continue;
    }
    const imageId = Number(row.iid);
    const storedPath = row.imageRowId === null ? null : row.path;
    const imagePath = storedPath === null ? null : locator.find(storedPath);
    if (imagePath === null) {
      stats.ratingsMissingImage++;
      if (!missing.has(imageId)) missing.set(imageId, { imageId, storedPath });
      continue;
    }
    let ratings = byRater.get(sid);
    if (!ratings) byRater.set(sid, (ratings = new Map<number, SacRating>()));
    if (ratings.delete(imageId)) stats.ratingsDuplicate++;
    ratings.set(imageId, {
      imageId,
      imagePath,
      prompt: row.prompt ?? '',
      rating,
      method: row.method === null ? null : Number(row.method),
    });
  }

  const raters: SacRater[] = [];
  const images = new Set<number>();
  for (const [raterId, ratingMap] of [...byRater].sort((a, b) => a[0] - b[0])) {
    if (ratingMap.size < minRatings) {
      stats.ratersBelowMinimum++;
      continue;
    }
    const ratings = [...ratingMap.values()];
    for (const r of ratings) images.add(r.imageId);
    stats.ratingsUsed += ratings.length;
    raters.push({ raterId, surveyAnswers: surveyAnswers.get(raterId) ?? 0, ratings });
  }
  stats.raters = raters.length;
  stats.images = images.size;
  stats.missingImageFiles = missing.size;
  return { raters, excludedSurveys: excluded, missingImages: [...missing.values()].sort((a, b) => a.imageId - b.imageId), stats };
}

/**
 * Finds an image file for a stored path: first at `<imagesDir>/<path>` (leading slashes stripped, never
 * outside imagesDir), then — since archives may be extracted flat — by file name anywhere under imagesDir.
 */
class ImageLocator {
  private byName: Map<string, string> | null = null;
  private readonly cache = new Map<string, string | null>();

  constructor(private readonly root: string) {}

  find(stored: string): string | null {
    const hit = this.cache.get(stored);
    if (hit !== undefined) return hit;
    const found = this.direct(stored) ?? this.nameIndex().get(path.basename(stored)) ?? null;
    this.cache.set(stored, found);
    return found;
  }

  private direct(stored: string): string | null {
    const candidate = path.resolve(this.root, stored.replace(/^[/\\]+/, ''));
    if (!candidate.startsWith(this.root + path.sep)) return null;
    try {
      return statSync(candidate).isFile() ? candidate : null;
    } catch {
      return null;
    }
  }

  /** Built once, on the first path not found directly. */
  private nameIndex(): Map<string, string> {
    if (this.byName) return this.byName;
    const index = new Map<string, string>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.isFile() && !index.has(entry.name)) index.set(entry.name, full);
      }
    };
    walk(this.root);
    this.byName = index;
    return index;
  }
}

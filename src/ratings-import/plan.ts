/**
 * What `npm run import:ratings` would do, worked out without writing anything: the file read and
 * checked row by row (ratings-file.ts), every picture identified as the image store would store it
 * (image-files.ts), and each rater, image and rating looked up in the database — so a dry run can
 * report people, images and ratings (new or already there) and every rejected row with its reason, and
 * a real run writes exactly this plan.
 *
 * Imported raters are people of the platform 'import' whose "workspace" is the dataset's name, keyed
 * `import:<source>:<rater>`: no chat account's key has that form, so they never collide with real users.
 */
import path from 'node:path';
import { and, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { embeddings, images, ratings, users } from '../db/schema';
import { isForgotten } from '../core/people';
import { userKeyOf, type PersonRef, type UserKey } from '../core/identity';
import { readRatingsFile, type ColumnNames, type RatingScale, type RejectedRow } from './ratings-file';
import { identifyImages, type IdentifiedRow } from './image-files';

export interface ImportOptions {
  file: string;
  imagesDir: string;
  /** The dataset's name in the raters' keys (default: the file's name without extension). */
  source?: string;
  columns?: Partial<ColumnNames>;
  scale?: RatingScale;
  onProgress?: (msg: string) => void;
}

export interface PlannedRating extends IdentifiedRow {
  userKey: UserKey;
  person: PersonRef;
  /** The score the ledger records: score10 rounded to a whole 1–10. */
  vote: number;
  /** The person already has exactly this rating of this image (a re-run): nothing to write. */
  alreadyThere: boolean;
}

export interface ImportPlan {
  source: string;
  file: string;
  format: 'csv' | 'jsonl';
  scale: RatingScale;
  ratings: PlannedRating[];
  rejected: RejectedRow[];
  people: { userKey: UserKey; rater: string; isNew: boolean }[];
  images: { id: string; file: string; prompt?: string; isNew: boolean }[];
  /** Ratings whose score was rounded onto the 1–10 scale (the dataset's scale is another, or scores have fractions). */
  rounded: number;
}

/** A dataset name usable in a key: letters, digits, dot, dash and underscore. */
export function sourceName(file: string, given?: string): string {
  const raw = given ?? path.basename(file).replace(/\.[^.]*$/, '');
  const clean = raw.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  return clean || 'ratings';
}

export async function planImport(db: Db, opts: ImportOptions): Promise<ImportPlan> {
  const source = sourceName(opts.file, opts.source);
  const read = readRatingsFile(opts.file, { imagesDir: opts.imagesDir, columns: opts.columns, scale: opts.scale });
  const found = await identifyImages(read.rows, (done, total) => opts.onProgress?.(`checked ${done}/${total} image files`));
  const rejected = [...read.rejected, ...found.rejected];

  const personOf = (rater: string): PersonRef => ({ platform: 'import', workspaceId: source, userId: rater });
  const raters = [...new Set(found.rows.map((r) => r.rater))];
  const forgotten = new Set<string>();
  for (const rater of raters) if (await isForgotten(db, userKeyOf(personOf(rater)))) forgotten.add(rater);
  const kept = found.rows.filter((r) => {
    if (!forgotten.has(r.rater)) return true;
    rejected.push({ line: r.line, kind: 'forgotten', reason: `rater "${r.rater}" asked to be forgotten; nothing is stored for them` });
    return false;
  });

  const keys = [...new Set(kept.map((r) => userKeyOf(personOf(r.rater))))];
  const knownPeople = await existing(db, keys, async (chunk) =>
    (await db.select({ k: users.userKey }).from(users).where(inArray(users.userKey, chunk))).map((r) => r.k),
  );
  const ids = [...new Set(kept.map((r) => r.imageId))];
  const knownImages = await existing(db, ids, async (chunk) =>
    (await db.select({ k: images.id }).from(images).where(inArray(images.id, chunk))).map((r) => r.k),
  );
  const standing = new Set<string>();
  for (let i = 0; i < keys.length; i += 500) {
    const rows = await db
      .select({ userKey: ratings.userKey, imageId: ratings.imageId, score: ratings.score })
      .from(ratings)
      .where(inArray(ratings.userKey, keys.slice(i, i + 500)));
    for (const r of rows) standing.add(`${r.userKey}\u0000${r.imageId}\u0000${r.score}`);
  }

  let rounded = 0;
  const planned = kept.map((r): PlannedRating => {
    const person = personOf(r.rater);
    const userKey = userKeyOf(person);
    const vote = Math.min(10, Math.max(1, Math.round(r.score10)));
    if (vote !== r.score10) rounded++;
    return { ...r, person, userKey, vote, alreadyThere: standing.has(`${userKey}\u0000${r.imageId}\u0000${vote}`) };
  });
  const rows = new Map(planned.map((r) => [r.userKey, r.rater]));
  const usedImages = new Set(planned.map((r) => r.imageId));
  return {
    source,
    file: opts.file,
    format: read.format,
    scale: read.scale,
    ratings: planned,
    rejected: rejected.sort((a, b) => a.line - b.line),
    people: [...rows].map(([userKey, rater]) => ({ userKey, rater, isNew: !knownPeople.has(userKey) })),
    images: found.images.filter((im) => usedImages.has(im.id)).map((im) => ({ ...im, isNew: !knownImages.has(im.id) })),
    rounded,
  };
}

/** Images of the plan that have no vector yet under this embedder's model id. */
export async function imagesWithoutVectors(db: Db, ids: readonly string[], modelId: string): Promise<string[]> {
  const have = await existing(db, ids, async (chunk) =>
    (
      await db
        .select({ k: embeddings.imageId })
        .from(embeddings)
        .where(and(eq(embeddings.model, modelId), inArray(embeddings.imageId, chunk)))
    ).map((r) => r.k),
  );
  return ids.filter((id) => !have.has(id));
}

/** Which of `keys` a lookup finds, asked in chunks so a large dataset never builds one huge statement. */
async function existing(db: Db, keys: readonly string[], lookup: (chunk: string[]) => Promise<string[]>): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < keys.length; i += 500) for (const k of await lookup(keys.slice(i, i + 500))) out.add(k);
  return out;
}

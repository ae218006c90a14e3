/**
 * The SAC importer against a small SAC-shaped SQLite file built here (same tables and columns as
 * sac_public_2022_06_29.sqlite) plus tiny PNGs written with sharp.
 */
import { createSacSchema } from './fixtures/sac-schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { loadSac, sacImages, SAC_SURVEY_SIZE, type SacDataset } from '../src/eval/sac';
import { DatasetError } from '../src/core/errors';

let root: string;
let dbPath: string;
let imagesDir: string;

/** images.id → [generation id, stored path, where the file really is (null: not written)] */
const IMAGES: Record<number, { gid: number; stored: string; file: string | null }> = {
  1: { gid: 1, stored: 'home/jdp/sac/gen1/1_0.png', file: 'home/jdp/sac/gen1/1_0.png' },
  2: { gid: 1, stored: 'home/jdp/sac/gen1/1_1.png', file: 'home/jdp/sac/gen1/1_1.png' },
  3: { gid: 2, stored: '/home/jdp/sac/gen2/2_0.png', file: 'home/jdp/sac/gen2/2_0.png' }, // absolute in the DB
  4: { gid: 2, stored: 'home/jdp/sac/gen2/2_1.png', file: 'home/jdp/sac/gen2/2_1.png' },
  5: { gid: 3, stored: 'home/jdp/sac/gen3/3_0.png', file: 'flat/3_0.png' }, // archive extracted flat
  6: { gid: 3, stored: 'home/jdp/sac/gen3/3_1.png', file: null }, // file missing
};
const PROMPTS: Record<number, string> = { 1: 'a red fox in snow', 2: 'neon city at night', 3: 'watercolor lake' };

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'tasteloop-sac-'));
  dbPath = path.join(root, 'sac_fixture.sqlite');
  imagesDir = path.join(root, 'images');

  // Each image is 8 + id pixels wide, so a test can tell which file a path points at.
  for (const [id, img] of Object.entries(IMAGES)) {
    if (!img.file) continue;
    const full = path.join(imagesDir, img.file);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(
      full,
      await sharp({ create: { width: 8 + Number(id), height: 8, channels: 3, background: { r: 40 * Number(id), g: 90, b: 200 } } })
        .png()
        .toBuffer(),
    );
  }

  const db = new Database(dbPath);
  createSacSchema(db);
  const survey = db.prepare('INSERT INTO survey (id, qid, rating) VALUES (?, ?, ?)');
  const answers = (sid: number, n: number) => {
    for (let q = 0; q < n; q++) survey.run(sid, q % SAC_SURVEY_SIZE, 1 + ((q * 7 + sid) % 10));
  };
  answers(1, 20); // rater A
  answers(2, 20); // rater B
  answers(3, 23); // corrupted: 23 answers
  answers(4, 15); // incomplete, still a rater (C)

  for (const [gid, prompt] of Object.entries(PROMPTS)) {
    db.prepare('INSERT INTO generations (id, sid, method, prompt, verified) VALUES (?, ?, ?, ?, 1)').run(
      Number(gid),
      1,
      Number(gid) === 3 ? 2 : 3,
      prompt,
    );
  }
  for (const [id, img] of Object.entries(IMAGES)) {
    db.prepare('INSERT INTO images (id, gid, idx) VALUES (?, ?, ?)').run(Number(id), img.gid, Number(id) % 2);
    db.prepare('INSERT INTO paths (iid, path) VALUES (?, ?)').run(Number(id), img.stored);
  }
  const rate = db.prepare('INSERT INTO ratings (sid, iid, rating, verified) VALUES (?, ?, ?, 1)');
  // rater A: image 1 is re-rated later (latest wins), image 6's file is missing
  rate.run(1, 1, 7);
  rate.run(1, 2, 3);
  rate.run(1, 3, 9);
  rate.run(1, 6, 5);
  rate.run(1, 1, 8);
  // rater B: two invalid ratings, one of an image with no images row
  rate.run(2, 2, 10);
  rate.run(2, 4, 1);
  rate.run(2, 5, 6);
  rate.run(2, 1, 0);
  rate.run(2, 3, null);
  rate.run(2, 77, 4);
  // corrupted survey: excluded
  rate.run(3, 1, 4);
  rate.run(3, 3, 2);
  // no rater
  rate.run(null, 2, 5);
  rate.run(99, 3, 5);
  // rater C
  rate.run(4, 4, 6);
  db.close();
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const summary = (d: SacDataset) => d.raters.map((r) => ({ raterId: r.raterId, ratings: r.ratings.map((x) => [x.imageId, x.rating]) }));

describe('loadSac', () => {
  it('finds the raters (one per intact survey) with their ratings in order, latest re-rating winning', () => {
    const d = loadSac(dbPath, imagesDir);
    expect(summary(d)).toEqual([
      {
        raterId: 1,
        ratings: [
          [2, 3],
          [3, 9],
          [1, 8],
        ],
      },
      {
        raterId: 2,
        ratings: [
          [2, 10],
          [4, 1],
          [5, 6],
        ],
      },
      { raterId: 4, ratings: [[4, 6]] },
    ]);
    expect(d.raters.map((r) => r.surveyAnswers)).toEqual([20, 20, 15]);
  });

  it('joins each rating to its image file and its generation prompt', async () => {
    const d = loadSac(dbPath, imagesDir);
    const all = d.raters.flatMap((r) => r.ratings);
    for (const r of all) {
      expect(path.isAbsolute(r.imagePath)).toBe(true);
      expect(r.imagePath.startsWith(imagesDir + path.sep)).toBe(true);
      expect(r.prompt).toBe(PROMPTS[IMAGES[r.imageId]!.gid]);
      expect((await sharp(r.imagePath).metadata()).width).toBe(8 + r.imageId);
    }
    const byId = new Map(all.map((r) => [r.imageId, r]));
    expect(byId.get(1)!.imagePath).toBe(path.join(imagesDir, 'home/jdp/sac/gen1/1_0.png'));
    expect(byId.get(3)!.imagePath).toBe(path.join(imagesDir, 'home/jdp/sac/gen2/2_0.png')); // stored absolute
    expect(byId.get(5)!.imagePath).toBe(path.join(imagesDir, 'flat/3_0.png')); // found by file name
    expect(byId.get(5)!.method).toBe(2);
    expect(byId.get(1)!.method).toBe(3);

    expect(sacImages(d).map((i) => i.imageId)).toEqual([2, 3, 1, 4, 5]);
  });

  it('reports and excludes the corrupted survey (more than 20 answers)', () => {
    const d = loadSac(dbPath, imagesDir);
    expect(d.excludedSurveys).toEqual([3]);
    expect(d.raters.some((r) => r.raterId === 3)).toBe(false);
    expect(d.stats.corruptedSurveys).toBe(1);
    expect(d.stats.ratingsFromCorruptedSurveys).toBe(2);
    expect(d.stats.incompleteSurveys).toBe(1);
    expect(d.stats.surveys).toBe(4);
  });

  it('reports missing image files and ratings it could not use, and the counts add up', () => {
    const d = loadSac(dbPath, imagesDir);
    expect(d.missingImages).toEqual([
      { imageId: 6, storedPath: 'home/jdp/sac/gen3/3_1.png' },
      { imageId: 77, storedPath: null },
    ]);
    const s = d.stats;
    expect(s).toMatchObject({
      ratingsTotal: 16,
      ratingsUsed: 7,
      ratingsWithoutSurvey: 2,
      ratingsInvalid: 2,
      ratingsDuplicate: 1,
      ratingsMissingImage: 2,
      missingImageFiles: 2,
      ratersBelowMinimum: 0,
      raters: 3,
      images: 5,
    });
    expect(
      s.ratingsUsed +
        s.ratingsWithoutSurvey +
        s.ratingsInvalid +
        s.ratingsDuplicate +
        s.ratingsMissingImage +
        s.ratingsFromCorruptedSurveys,
    ).toBe(s.ratingsTotal);
  });

  it('drops raters below minRatingsPerRater and counts them', () => {
    const d = loadSac(dbPath, imagesDir, { minRatingsPerRater: 3 });
    expect(d.raters.map((r) => r.raterId)).toEqual([1, 2]);
    expect(d.stats.ratersBelowMinimum).toBe(1);
    expect(d.stats.ratingsUsed).toBe(6);
  });

  it('fails with a clear DatasetError for a missing database, image folder, or a file of another shape', async () => {
    expect(() => loadSac(path.join(root, 'nope.sqlite'), imagesDir)).toThrow(DatasetError);
    expect(() => loadSac(path.join(root, 'nope.sqlite'), imagesDir)).toThrow(/sac_public_2022_06_29\.sqlite/);
    expect(() => loadSac(dbPath, path.join(root, 'no-images'))).toThrow(/image folder not found/);

    const other = path.join(root, 'other.sqlite');
    const db = new Database(other);
    db.exec('CREATE TABLE survey (id INTEGER, qid INTEGER, rating INTEGER); CREATE TABLE ratings (sid INTEGER, iid INTEGER);');
    db.close();
    const err = (() => {
      try {
        loadSac(other, imagesDir);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as Error).message).toContain('ratings" lacks column(s) rating');
    expect((err as Error).message).toContain('table "paths" is missing');

    await writeFile(path.join(root, 'garbage.sqlite'), 'this is not a database');
    expect(() => loadSac(path.join(root, 'garbage.sqlite'), imagesDir)).toThrow(DatasetError);
  });
});

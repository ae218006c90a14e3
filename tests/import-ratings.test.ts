/**
 * External ratings in: the ratings-file reader (CSV and JSONL, column names, scales, every bad row
 * named and counted), `npm run import:ratings` (dry run, all-or-nothing import through the image
 * store and the rating ledger, re-run as a no-op, the person's /profile data afterwards) on PGlite and
 * on TEST_DATABASE_URL, and `eval:piaa --ratings` end to end on a rated synthetic population.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count } from 'drizzle-orm';
import { DatasetError } from '../src/core/errors';
import { userKeyOf, type PersonRef } from '../src/core/identity';
import type { Database } from '../src/db/connection';
import { embeddings, images, ratingEvents, ratingVotes, ratings, users } from '../src/db/schema';
import { parseColumns, parseScale, readRatingsFile } from '../src/ratings-import/ratings-file';
import { planImport } from '../src/ratings-import/plan';
import { applyImport } from '../src/ratings-import/apply';
import { buildPopulation } from '../src/eval/synthetic';
import { FeaturesEmbedder } from '../src/providers/embedder/features';
import { createTasteWorld, type TasteWorld } from './helpers/taste-world';
import { testBackends } from './helpers/db';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'ratings');
const CSV = path.join(FIXTURE, 'ratings.csv');
const IMAGES = path.join(FIXTURE, 'images');
/** What the fixture CSV's bad rows are, by line: each must be named with its reason. */
const BAD_LINES: Record<number, RegExp> = {
  8: /already rated "sunset.png" on line 2/,
  9: /no rater id/,
  10: /score 11 is outside the scale 1–10/,
  11: /score "seven" is not a number/,
  12: /"missing.png" not found/,
  13: /broken.png.*not a readable image/,
  14: /already rated this picture on line 5/,
  16: /not inside the images folder/,
  17: /2 fields where the header has 4/,
};

describe('the ratings file reader', () => {
  it('keeps the good CSV rows and names every bad one with its line and reason', () => {
    const f = readRatingsFile(CSV, { imagesDir: IMAGES });
    expect(f.format).toBe('csv');
    // broken.png and sunset-copy.png exist as files: the reader keeps them; identifying the pictures rejects them.
    expect(f.rows.map((r) => r.line)).toEqual([2, 3, 4, 5, 6, 7, 13, 14, 15, 18]);
    expect(f.rows[0]).toMatchObject({ rater: 'ann', image: 'sunset.png', score: 9, score10: 9, prompt: 'a warm sunset, over the sea' });
    expect(f.rejected.map((r) => r.line)).toEqual([8, 9, 10, 11, 12, 16, 17]);
    for (const r of f.rejected) expect(r.reason).toMatch(BAD_LINES[r.line]!);
  });

  it('reads JSONL with named columns and maps a 1–5 scale onto 1–10', () => {
    const f = readRatingsFile(path.join(FIXTURE, 'ratings-1to5.jsonl'), {
      imagesDir: IMAGES,
      columns: parseColumns('rater=worker,image=file,score=stars'),
      scale: parseScale('1-5'),
    });
    expect(f.format).toBe('jsonl');
    expect(f.rows.map((r) => [r.rater, r.image, r.score, r.score10])).toEqual([
      ['w1', 'sunset.png', 5, 10],
      ['w1', 'night.png', 1, 1],
      ['w2', 'forest.png', 3, 5.5],
    ]);
    expect(f.rejected.map((r) => [r.line, r.kind])).toEqual([
      [4, 'out-of-scale'],
      [5, 'malformed'],
      [6, 'missing-value'],
    ]);
  });

  it('refuses a file without a usable row or without a needed column, saying how to fix it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-ratings-bad-'));
    fs.writeFileSync(path.join(dir, 'none.csv'), 'rater,image,score\nann,missing.png,5\n');
    fs.writeFileSync(path.join(dir, 'nocol.csv'), 'who,image,score\nann,sunset.png,5\n');
    expect(() => readRatingsFile(path.join(dir, 'none.csv'), { imagesDir: IMAGES })).toThrow(/no usable rating.*line 2/);
    expect(() => readRatingsFile(path.join(dir, 'nocol.csv'), { imagesDir: IMAGES })).toThrow(DatasetError);
    expect(() => readRatingsFile(path.join(dir, 'nocol.csv'), { imagesDir: IMAGES })).toThrow(/--columns rater=<column>/);
    expect(() => parseScale('5')).toThrow(/like 1-10 or 1-5/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

async function tableCounts(db: Database['db']) {
  const n = async (t: typeof users | typeof images | typeof embeddings | typeof ratings | typeof ratingVotes | typeof ratingEvents) =>
    Number((await db.select({ n: count() }).from(t))[0]!.n);
  return {
    users: await n(users),
    images: await n(images),
    embeddings: await n(embeddings),
    ratings: await n(ratings),
    votes: await n(ratingVotes),
    events: await n(ratingEvents),
  };
}

const EMPTY = { users: 0, images: 0, embeddings: 0, ratings: 0, votes: 0, events: 0 };

for (const backend of testBackends()) {
  describe(`npm run import:ratings (${backend.name})`, () => {
    let database: Database;
    let world: TasteWorld;
    const options = { file: CSV, imagesDir: IMAGES, source: 'fixture' };
    const ann: PersonRef = { platform: 'import', workspaceId: 'fixture', userId: 'ann' };

    beforeAll(async () => {
      database = await backend.open();
      world = createTasteWorld(database.db);
    }, 120_000);

    afterAll(async () => {
      world?.close();
      await database?.close();
    });

    const deps = () => ({ blobs: world.store.blobs, embedder: new FeaturesEmbedder(), scopeId: 'g1' });
    const blobFiles = () => fs.readdirSync(world.dir, { recursive: true }).filter((f) => String(f).endsWith('.png'));

    it('dry run: counts people, images, ratings and rejected rows, and writes nothing', async () => {
      const plan = await planImport(database.db, options);
      expect(plan.people.map((p) => [p.userKey, p.isNew])).toEqual([
        ['import:fixture:ann', true],
        ['import:fixture:bob', true],
        ['import:fixture:cat', true],
      ]);
      expect(plan.images.length).toBe(4);
      expect(plan.ratings.map((r) => [r.line, r.vote])).toEqual([
        [2, 9],
        [3, 2],
        [4, 7],
        [5, 3],
        [6, 8],
        [7, 6],
        [15, 10],
        [18, 1],
      ]);
      expect(plan.rejected.map((r) => r.line)).toEqual(Object.keys(BAD_LINES).map(Number));
      for (const r of plan.rejected) expect(r.reason).toMatch(BAD_LINES[r.line]!);
      expect(await tableCounts(database.db)).toEqual(EMPTY);
      expect(blobFiles()).toEqual([]);
    });

    it('a failure half-way imports nothing: no row, no image file', async () => {
      const plan = await planImport(database.db, options);
      await expect(
        applyImport(database.db, plan, {
          ...deps(),
          onRating: (n) => {
            if (n === 5) throw new Error('the import died after 5 ratings');
          },
        }),
      ).rejects.toThrow(/died after 5/);
      expect(await tableCounts(database.db)).toEqual(EMPTY);
      expect(blobFiles()).toEqual([]);
    });

    it('imports everything in one go; the person’s profile shows the ratings; a re-run is a no-op', async () => {
      const plan = await planImport(database.db, options);
      const result = await applyImport(database.db, plan, deps());
      expect(result).toEqual({ imagesStored: 4, vectorsStored: 4, ratingsWritten: 8, ratingsUnchanged: 0 });
      const after = await tableCounts(database.db);
      expect(after).toMatchObject({ users: 3, images: 4, embeddings: 4, ratings: 8, votes: 8, events: 8 });
      expect(blobFiles().length).toBe(4);

      expect((await world.ledger.listRatings(userKeyOf(ann))).map((r) => r.score)).toEqual([9, 2, 7]);
      const view = await world.profiles.view({ viewer: ann, scopeId: 'g1' });
      expect(view.self).toBe(true);
      expect(view.summary.ratings).toBe(3);

      const again = await planImport(database.db, options);
      expect(again.people.filter((p) => p.isNew)).toEqual([]);
      expect(again.images.filter((im) => im.isNew)).toEqual([]);
      expect(again.ratings.every((r) => r.alreadyThere)).toBe(true);
      const rerun = await applyImport(database.db, again, deps());
      expect(rerun).toEqual({ imagesStored: 0, vectorsStored: 0, ratingsWritten: 0, ratingsUnchanged: 8 });
      expect(await tableCounts(database.db)).toEqual(after);
    }, 120_000);
  });
}

const tsx = (file: string, args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { encoding: 'utf8', timeout: 400_000, env });

describe('the command lines', () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-import-cli-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('import:ratings --dry-run reports on the configured (embedded) database and writes nothing', () => {
    // The embedded database under DATA_DIR, whatever the environment running the tests points at.
    const { DATABASE_URL: _ignored, ...rest } = process.env;
    const env = { ...rest, DATA_DIR: path.join(root, 'data'), LOG_LEVEL: 'warn' };
    const run = tsx('src/ratings-import/cli.ts', [CSV, '--images', IMAGES, '--dry-run'], env);
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({
      source: 'ratings',
      dryRun: true,
      people: { total: 3, new: 3 },
      images: { total: 4, new: 4 },
      ratings: { total: 8, toWrite: 8, alreadyThere: 0 },
      rejected: { total: 9 },
    });
    expect(run.stdout).toMatch(/line 10: score 11 is outside the scale 1–10/);
    expect(fs.existsSync(path.join(root, 'data', 'images'))).toBe(false);
  }, 400_000);

  it('eval:piaa --ratings runs the protocol on a rated dataset and prints the JSON result line', async () => {
    const raters = 8;
    const pop = await buildPopulation({ seed: 5, people: raters, poolSize: 120, size: 64, cacheDir: false });
    const dir = path.join(root, 'dataset');
    fs.mkdirSync(path.join(dir, 'img'), { recursive: true });
    const lines = ['worker,file,stars'];
    pop.pool.forEach((im, i) => fs.writeFileSync(path.join(dir, 'img', `${i}.png`), im.png));
    // Observed 1–10 ratings written on a 0–100 scale, plus two bad rows that must be counted, not fatal.
    for (let r = 0; r < raters; r++) pop.pool.forEach((_, i) => lines.push(`p${r},${i}.png,${((pop.ratings[r]![i]! - 1) / 9) * 100}`));
    lines.push('p0,nope.png,50', 'p1,0.png,101');
    fs.writeFileSync(path.join(dir, 'ratings.csv'), `${lines.join('\n')}\n`);
    const run = tsx('src/eval/piaa/cli.ts', [
      '--ratings',
      path.join(dir, 'ratings.csv'),
      '--images',
      path.join(dir, 'img'),
      '--columns',
      'rater=worker,image=file,score=stars',
      '--scale',
      '0-100',
      '--quick',
      '--methods',
      'finetune,knn,global',
      '--active-replicates',
      '1',
      '--random-orders',
      '1',
      '--out',
      path.join(root, 'out'),
    ]);
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    expect(summary.source).toBe('external');
    expect(summary.people).toBe(raters);
    expect(summary.shots['10'].finetune.n).toBe(raters);
    expect(summary.shots['50'].global.srocc).toEqual(expect.any(Number));
    expect(summary.ceiling).toEqual({ srocc: null });
    expect(summary.notes.join('\n')).toMatch(
      /scale 0–100, mapped linearly onto 1–10.*960 usable rows, 2 rejected \(1 image-missing, 1 out-of-scale\)/,
    );
  }, 400_000);
});

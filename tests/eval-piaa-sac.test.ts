/**
 * The `--sac` path of eval:piaa end to end on a small SAC-shaped SQLite file built here: raters are
 * surveys, a corrupted survey (> 20 answers) is excluded and reported, and the same protocol runs.
 * Ratings come from synthetic people so the scorers have something real to learn; images are
 * embedded with the offline features embedder (CLIP weights cannot be downloaded here; the CLIP
 * loading path is tested in clip.test.ts).
 */
import { createSacSchema } from './fixtures/sac-schema';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { buildPopulation } from '../src/eval/synthetic';
import { sacPiaaData } from '../src/eval/piaa/sac';
import { runPiaaProtocol } from '../src/eval/piaa/protocol';
import { defaultConfig } from '../src/eval/piaa/config';
import { FeaturesEmbedder } from '../src/providers/embedder/features';
import { externalPiaaData } from '../src/eval/piaa/external';
import { spawnSync } from 'node:child_process';

let root: string;
const RATERS = 8;
const IMAGES = 140;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'tasteloop-piaa-sac-'));
  const pop = await buildPopulation({ seed: 21, people: RATERS + 1, poolSize: IMAGES, size: 64, cacheDir: false });
  fs.mkdirSync(path.join(root, 'images'), { recursive: true });
  const db = new Database(path.join(root, 'sac.sqlite'));
  createSacSchema(db);
  // One transaction: row-by-row autocommit would fsync per insert.
  const fill = db.transaction(() => {
    pop.pool.forEach((img, i) => {
      const file = `gen${i}/${i}_0.png`;
      fs.mkdirSync(path.join(root, 'images', `gen${i}`), { recursive: true });
      fs.writeFileSync(path.join(root, 'images', file), img.png);
      db.prepare('INSERT INTO generations (id, sid, method, prompt, verified) VALUES (?, 1, 3, ?, 1)').run(i + 1, img.prompt);
      db.prepare('INSERT INTO images (id, gid, idx) VALUES (?, ?, 0)').run(i + 1, i + 1);
      db.prepare('INSERT INTO paths (iid, path) VALUES (?, ?)').run(i + 1, file);
    });
    // Surveys 1..8 are intact raters; survey 99 is corrupted (23 answers) and must be excluded.
    for (let r = 0; r <= RATERS; r++) {
      const sid = r < RATERS ? r + 1 : 99;
      const answers = r < RATERS ? 20 : 23;
      for (let q = 0; q < answers; q++) db.prepare('INSERT INTO survey (id, qid, rating) VALUES (?, ?, ?)').run(sid, q % 20, 5);
      for (let i = 0; i < IMAGES; i++)
        db.prepare('INSERT INTO ratings (sid, iid, rating, verified) VALUES (?, ?, ?, 1)').run(sid, i + 1, pop.ratings[r]![i]!);
    }
  });
  fill();
  db.close();
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('eval:piaa --sac', () => {
  it('runs the protocol on SAC raters, excluding and reporting the corrupted survey', async () => {
    const data = await sacPiaaData({
      sqlite: path.join(root, 'sac.sqlite'),
      imagesDir: path.join(root, 'images'),
      embedder: new FeaturesEmbedder(),
      cacheDir: false,
    });
    expect(data.source).toBe('sac');
    expect(data.raters.map((r) => r.id).sort()).toEqual(Array.from({ length: RATERS }, (_, i) => `survey-${i + 1}`).sort());
    expect(data.images).toBe(IMAGES);
    expect(data.notes.join(' ')).toMatch(/1 corrupted surveys \(> 20 answers\) excluded with their 140 ratings \(ids 99\)/);

    const cfg = {
      ...defaultConfig(1, true, ['finetune', 'knn', 'global', 'auto']),
      testSize: 20,
      communityPerRater: 60,
      activeCandidates: 60,
    };
    const s = runPiaaProtocol(data, cfg);
    expect(s.people).toBe(RATERS);
    expect(s.ceiling).toEqual({ srocc: null }); // real data: the hidden taste is unknown
    for (const shot of ['10', '50', '100']) {
      for (const m of ['finetune', 'knn', 'global', 'auto']) {
        const r = s.shots[shot]![m]!;
        expect(Number.isFinite(r.srocc) && r.srocc >= -1 && r.srocc <= 1).toBe(true);
        expect(r.mse).toBeGreaterThanOrEqual(0);
      }
    }
    expect(Object.keys(s.active_vs_random).sort()).toEqual(['10', '20', '50']);
  }, 900_000); // a whole protocol run: ~25 s on a quiet 2-core machine, minutes when many tests run beside it

  it('is a preset of --ratings: the same rows as a ratings file give the same data', async () => {
    const embedder = new FeaturesEmbedder();
    const sac = await sacPiaaData({
      sqlite: path.join(root, 'sac.sqlite'),
      imagesDir: path.join(root, 'images'),
      embedder,
      cacheDir: false,
    });
    // The survey rule leaves surveys 1..8, each rating every image once, in image order.
    const db = new Database(path.join(root, 'sac.sqlite'), { readonly: true });
    const rows = db
      .prepare('SELECT r.sid, p.path, r.rating FROM ratings r JOIN paths p ON p.iid = r.iid WHERE r.sid <> 99 ORDER BY r.rowid')
      .all() as { sid: number; path: string; rating: number }[];
    db.close();
    const csv = path.join(root, 'sac-as-ratings.csv');
    fs.writeFileSync(csv, ['rater,image,score', ...rows.map((r) => `survey-${r.sid},${r.path},${r.rating}`)].join('\n'));
    const viaFile = await externalPiaaData({ file: csv, imagesDir: path.join(root, 'images'), embedder, cacheDir: false });

    expect(sac.notes.join('\n')).toMatch(/SAC: 8 raters with ≥ 30 ratings \(0 with fewer left out\), 140 images, embedder features/);
    expect(sac.images).toBe(viaFile.images);
    expect(Array.from(sac.X)).toEqual(Array.from(viaFile.X));
    const byId = (d: typeof sac) => Object.fromEntries(d.raters.map((r) => [r.id, [Array.from(r.items), Array.from(r.ratings)]]));
    expect(byId(sac)).toEqual(byId(viaFile));
  }, 600_000);

  it('eval:piaa --sac runs end to end from the command line (with --embedder instead of CLIP)', () => {
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/eval/piaa/cli.ts',
        '--sac',
        path.join(root, 'sac.sqlite'),
        '--images',
        path.join(root, 'images'),
        '--embedder',
        'features',
        '--quick',
        '--methods',
        'finetune,global',
        '--active-replicates',
        '1',
        '--random-orders',
        '1',
        '--out',
        path.join(root, 'out'),
      ],
      { encoding: 'utf8', timeout: 400_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    expect(summary.source).toBe('sac');
    expect(summary.people).toBe(RATERS);
    expect(summary.shots['10'].finetune.srocc).toEqual(expect.any(Number));
    expect(summary.notes.join('\n')).toMatch(/corrupted surveys \(> 20 answers\) excluded with their 140 ratings \(ids 99\)/);
    expect(summary.notes.join('\n')).toMatch(/SAC .*: 1120 usable rows, 0 rejected/);
  }, 400_000);
});

/**
 * One community trainer in the deployment. Two TasteServices on one database stand for two worker
 * processes (on PostgreSQL each with its own connections, its own trainer lock connection and its own
 * ledger; on PGlite, one process, they share the database and the ledger): exactly one trains — on one
 * long-lived worker thread, from ratings it is sent as they change — and the other adopts the stored
 * models. When the trainer dies (its lock connection ends, or it stops), the other takes over. A
 * process without the worker role never trains.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/db/connection';
import { sessionAdvisoryLock } from '../src/db/advisory-lock';
import { ONBOARDING_PROMPTS } from '../src/core/gallery';
import type { CommunityPolicy } from '../src/core/community-training';
import { EmbeddingService } from '../src/core/embeddings';
import { ImageStore } from '../src/core/images';
import { RatingLedger } from '../src/core/ratings';
import { ratings as ratingsTable } from '../src/db/schema';
import { eq } from 'drizzle-orm';
import { trainGlobal } from '../src/core/scorer/global';
import { packDataset } from '../src/core/scorer/data';
import { TasteService } from '../src/core/taste-service';
import { FsImageBlobStore } from '../src/providers/blobstore/fs';
import { FeaturesEmbedder } from '../src/providers/embedder/features';
import { SketchGenerator } from '../src/providers/imagegen/sketch/generator';
import { silentLogger } from '../src/log';
import { openFreshPostgres, testBackends, type TestBackend } from './helpers/db';
import { waitFor } from './helpers/wait';

const SIZE = 64;
/** Hang guards only: each fit is a 512×512 eigendecomposition, seconds on a busy machine. */
const SLOW = 150_000;
const TEST_TIMEOUT = 300_000;
const ctx = { source: 'test' };

interface Process {
  taste: TasteService;
  ledger: RatingLedger;
  database: Database;
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

/** A database with 12 sketched images, and a way to start "processes" on it. */
async function deployment(backend: TestBackend) {
  const first = backend.name === 'postgres' ? await openFreshPostgres() : await openDatabase({});
  cleanup.push(() => first.close());
  const dir = mkdtempSync(path.join(tmpdir(), 'tl-community-training-'));
  const store = new ImageStore(first.db, new FsImageBlobStore(dir));
  const sketch = new SketchGenerator({ size: SIZE, concurrency: 1 });
  const images: string[] = [];
  for (const [i, p] of ONBOARDING_PROMPTS.slice(0, 12).entries())
    images.push(
      (await store.put((await sketch.generate(p.prompt, { seed: p.seed })).bytes, { source: 'gallery', prompt: p.prompt, seed: i })).id,
    );
  const sharedLedger = new RatingLedger(first.db);

  const start = async (
    opts: { lockPollMs?: number; trains?: boolean; policy?: Partial<CommunityPolicy>; globalEvery?: number } = {},
  ): Promise<Process> => {
    // On PostgreSQL every process has its own pool, ledger and trainer lock connection; PGlite is one process.
    const database =
      backend.name === 'postgres' ? await openDatabase({ databaseUrl: first.connectionString, migrate: false, maxConnections: 4 }) : first;
    if (database !== first) cleanup.push(() => database.close());
    const ledger = database === first ? sharedLedger : new RatingLedger(database.db);
    const embeddings = new EmbeddingService(database.db, new ImageStore(database.db, new FsImageBlobStore(dir)), new FeaturesEmbedder());
    const taste = new TasteService({
      db: database.db,
      ledger,
      embeddings,
      images: store,
      log: silentLogger,
      listen: database.listen,
      globalEvery: opts.globalEvery ?? 8,
      seed: 1,
      trains: opts.trains,
      trainerLock: database.connectionString ? sessionAdvisoryLock(database.connectionString, 'community trainer under test') : undefined,
      communityPolicy: { minIntervalMs: 0, maxBusyShare: 1, lockPollMs: opts.lockPollMs ?? 50, ...opts.policy },
    });
    cleanup.push(async () => {
      taste.stop();
      await taste.idle().catch(() => undefined);
    });
    await taste.load();
    return { taste, ledger, database };
  };
  return { images, start, first };
}

/** The global prior a full retrain gives on the database's ratings now. */
async function fullRetrain(p: Process) {
  const perUser = new Map<string, { ids: string[]; y: number[] }>();
  for await (const r of p.ledger.allRatings()) {
    const u = perUser.get(r.userKey) ?? { ids: [], y: [] };
    u.ids.push(r.imageId);
    u.y.push(r.score);
    perUser.set(r.userKey, u);
  }
  const embeddings = new EmbeddingService(
    p.database.db,
    new ImageStore(p.database.db, new FsImageBlobStore(tmpdir())),
    new FeaturesEmbedder(),
  );
  const vectors = await embeddings.embed([...new Set([...perUser.values()].flatMap((u) => u.ids))]);
  return trainGlobal([...perUser.values()].map((u) => packDataset({ X: u.ids.map((id) => vectors.get(id)!), y: u.y }, embeddings.dim)));
}

async function rateAll(ledger: RatingLedger, people: string[], images: string[]): Promise<void> {
  for (const [p, userKey] of people.entries())
    for (const [i, imageId] of images.entries()) await ledger.rate({ userKey, imageId, score: 1 + ((p * 3 + i * 7) % 10), ctx });
}

for (const backend of testBackends()) {
  describe(`${backend.name}: one community trainer`, () => {
    it(
      'only one of two services trains, on one worker thread it keeps; the other adopts what it stores',
      async () => {
        const { images, start } = await deployment(backend);
        // A fit after every 16 changes: notifications reach A in batches, and a fit counts every change heard.
        const a = await start({ globalEvery: 16 });
        const b = await start({ globalEvery: 16 });
        expect(a.taste.trainsCommunity).toBe(true);
        expect(b.taste.trainsCommunity).toBe(false);

        // Ratings given through B (on PostgreSQL another process: A hears them through the ledger's notifications).
        await rateAll(b.ledger, ['discord:-:ann', 'discord:-:bo'], images.slice(0, 8));
        await waitFor(() => a.taste.scorer.getGlobal().ratings === 16, 'A to fit the 16 ratings', SLOW);
        await a.taste.idle();
        const thread = a.taste.lastCommunityThread;
        expect(thread).toBeGreaterThan(0);
        expect(thread).not.toBe(threadId);
        expect(b.taste.lastCommunityThread).toBeNull();
        await b.taste.freshen([]);
        expect(b.taste.scorer.getGlobal()).toEqual(a.taste.scorer.getGlobal());
        expect(a.taste.communityTrainerUsage()?.activeMs).toBeGreaterThan(0);
        expect(b.taste.communityTrainerUsage()).toBeNull();

        // The incrementally kept prior is the full retrain on the same ratings.
        const full = await fullRetrain(a);
        const held = a.taste.scorer.getGlobal();
        expect(held.lambda).toBe(full.lambda);
        for (let j = 0; j < full.dim; j++) expect(held.w[j]).toBeCloseTo(full.w[j]!, 9);
        expect(held.bias).toBeCloseTo(full.bias, 9);

        // Ratings taken back leave the prior (Ann takes back all of hers); the same thread fits again.
        for (const [i, imageId] of images.slice(0, 8).entries())
          await b.ledger.unrate({ userKey: 'discord:-:ann', imageId, score: 1 + ((i * 7) % 10), ctx });
        await waitFor(() => a.taste.scorer.getGlobal().ratings === 8, 'A to fit without the 8 ratings taken back', SLOW);
        await a.taste.idle();
        expect(a.taste.lastCommunityThread).toBe(thread);
        await b.taste.freshen([]);
        expect(b.taste.scorer.getGlobal().ratings).toBe(8);
        expect(b.taste.lastCommunityThread).toBeNull();
        const after = await fullRetrain(a);
        for (let j = 0; j < after.dim; j++) expect(a.taste.scorer.getGlobal().w[j]).toBeCloseTo(after.w[j]!, 9);
      },
      TEST_TIMEOUT,
    );

    it(
      'when the trainer stops, the other takes over: it fills its own trainer and fits',
      async () => {
        const { images, start } = await deployment(backend);
        const a = await start();
        const b = await start();
        await rateAll(a.ledger, ['discord:-:ann', 'discord:-:bo'], images.slice(0, 4));
        await waitFor(() => a.taste.scorer.getGlobal().ratings === 8, 'A to fit', SLOW);
        await a.taste.idle();
        a.taste.stop();
        await a.taste.idle();

        await waitFor(() => b.taste.trainsCommunity, 'B to take the trainer lock', SLOW);
        await waitFor(() => b.taste.lastCommunityThread !== null, 'B to fit as the new trainer', SLOW);
        expect(b.taste.scorer.getGlobal().ratings).toBe(8);
        // B now trains on what changes, as A did.
        await rateAll(b.ledger, ['discord:-:cy'], images.slice(0, 8));
        await waitFor(() => b.taste.scorer.getGlobal().ratings === 16, 'B to fit the new ratings', SLOW);
      },
      TEST_TIMEOUT,
    );

    it(
      'a process without the worker role never trains, even with no trainer anywhere',
      async () => {
        const { images, start } = await deployment(backend);
        const gateway = await start({ trains: false });
        await rateAll(gateway.ledger, ['discord:-:ann', 'discord:-:bo'], images.slice(0, 6));
        await gateway.taste.retrainCommunity();
        await gateway.taste.idle();
        expect(gateway.taste.trainsCommunity).toBe(false);
        expect(gateway.taste.lastCommunityThread).toBeNull();
        expect(gateway.taste.scorer.getGlobal().users).toBe(0);
      },
      TEST_TIMEOUT,
    );
  });
}

describe('pglite: when a fit is due', () => {
  it(
    'past globalEvery changes a big community waits for minIntervalMs unless the moments drifted; an explicit retrain fits at once',
    async () => {
      const { images, start } = await deployment({ name: 'pglite', open: () => openDatabase({}) });
      // Drift never counts as enough and the interval never passes: only the first fit (nothing to wait for) runs.
      const a = await start({ policy: { minIntervalMs: 3_600_000, driftThreshold: Infinity } });
      await rateAll(a.ledger, ['discord:-:ann'], images.slice(0, 8));
      await waitFor(() => a.taste.scorer.getGlobal().ratings === 8, 'the first fit', SLOW);
      await rateAll(a.ledger, ['discord:-:bo'], images.slice(0, 8));
      await a.taste.idle();
      expect(a.taste.scorer.getGlobal().ratings).toBe(8); // due by count, held back by the interval
      await a.taste.retrainCommunity();
      expect(a.taste.scorer.getGlobal().ratings).toBe(16);
    },
    TEST_TIMEOUT,
  );

  it(
    'within the interval, moments that moved past driftThreshold make the fit due at once',
    async () => {
      const { images, start } = await deployment({ name: 'pglite', open: () => openDatabase({}) });
      const a = await start({ policy: { minIntervalMs: 3_600_000, driftThreshold: 0.05 } });
      await rateAll(a.ledger, ['discord:-:ann'], images.slice(0, 8));
      await waitFor(() => a.taste.scorer.getGlobal().ratings === 8, 'the first fit', SLOW);
      // Doubling the community moves the moments far more than 5%.
      await rateAll(a.ledger, ['discord:-:bo'], images.slice(0, 8));
      await waitFor(() => a.taste.scorer.getGlobal().ratings === 16, 'the fit the drift made due', SLOW);
    },
    TEST_TIMEOUT,
  );

  it(
    'an explicit retrain re-reads every rating: ratings deleted without a change event (a forget) leave the prior',
    async () => {
      const { images, start, first } = await deployment({ name: 'pglite', open: () => openDatabase({}) });
      const a = await start();
      await rateAll(a.ledger, ['discord:-:ann', 'discord:-:bo'], images.slice(0, 4));
      await waitFor(() => a.taste.scorer.getGlobal().ratings === 8, 'the first fit', SLOW);
      await first.db.delete(ratingsTable).where(eq(ratingsTable.userKey, 'discord:-:ann'));
      await a.taste.retrainCommunity();
      expect(a.taste.scorer.getGlobal()).toMatchObject({ ratings: 4, users: 1 });
    },
    TEST_TIMEOUT,
  );
});

describe.skipIf(backend() !== 'postgres')('postgres: a trainer that dies', () => {
  it(
    'frees the lock with its connection: another process takes over, and the old one steps down when it notices',
    async () => {
      const { images, start, first } = await deployment({ name: 'postgres', open: () => openFreshPostgres() });
      // A would only notice at its next explicit retrain: its own polls are far apart.
      const a = await start({ lockPollMs: 3_600_000 });
      const b = await start();
      await rateAll(a.ledger, ['discord:-:ann', 'discord:-:bo'], images.slice(0, 4));
      await waitFor(() => a.taste.scorer.getGlobal().ratings === 8, 'A to fit', SLOW);
      await a.taste.idle();
      expect(b.taste.trainsCommunity).toBe(false);

      // The server ends A's lock connection, as when A's process is killed.
      const admin = postgres(first.connectionString!, { max: 1, onnotice: () => {} });
      try {
        const killed = await admin`
        select pg_terminate_backend(pid) as ok from pg_locks
        where locktype = 'advisory' and classid = 7281924::int::oid and granted
          and database = (select oid from pg_database where datname = current_database())`;
        expect(killed).toHaveLength(1);
      } finally {
        await admin.end();
      }
      await waitFor(() => b.taste.trainsCommunity, 'B to take the freed trainer lock', SLOW);
      await waitFor(() => b.taste.lastCommunityThread !== null, 'B to fit as the new trainer', SLOW);

      await a.taste.retrainCommunity();
      expect(a.taste.trainsCommunity).toBe(false);
    },
    TEST_TIMEOUT,
  );
});

function backend(): string {
  return testBackends().at(-1)!.name;
}

/**
 * A rating given through this process to a person whose scorer it holds is applied in memory: no read
 * of the person's ratings, no ledger version read, on PGlite and (with TEST_DATABASE_URL) PostgreSQL —
 * where the process also LISTENs and hears the echo of each of its own changes, which must find the
 * scorer current. The result is exact: the same predictions (to 1e-9) as a fresh process that fits
 * the person from all their ratings, at the ledger version the database reports. A change that may
 * already be counted in the version held (e.g. one version behind a change from elsewhere) is refitted
 * from the database instead.
 */
import { sql } from 'drizzle-orm';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/connection';
import { queryRows } from '../src/db/util';
import { EmbeddingService } from '../src/core/embeddings';
import type { UserKey } from '../src/core/identity';
import { ImageStore } from '../src/core/images';
import { versionAfter } from '../src/core/ledger-version';
import { RatingLedger, type StoredRating } from '../src/core/ratings';
import { TasteService } from '../src/core/taste-service';
import { silentLogger } from '../src/log';
import { FsImageBlobStore } from '../src/providers/blobstore/fs';
import { FeaturesEmbedder } from '../src/providers/embedder/features';
import { SketchGenerator } from '../src/providers/imagegen/sketch/generator';
import { testBackends } from './helpers/db';

const PROMPTS = ['a red fox in snow', 'a calm blue lake', 'neon city at night', 'a golden desert', 'a dark forest', 'sunrise over hills'];

/** The real ledger, counting the reads a refit from the database makes. */
class CountingLedger extends RatingLedger {
  ratingReads = 0;
  versionReads = 0;

  override listRatings(userKey: UserKey): Promise<StoredRating[]> {
    this.ratingReads++;
    return super.listRatings(userKey);
  }

  override versions(userKeys: readonly UserKey[]): Promise<Map<UserKey, string>> {
    this.versionReads++;
    return super.versions(userKeys);
  }
}

describe('the ledger version computed for a change', () => {
  it('adds the audit row to count, max and sum, and refuses a row the version may already count', () => {
    expect(versionAfter('0', [7])).toBe('1:7:7');
    expect(versionAfter('3:10:21', [12, 15])).toBe('5:15:48');
    expect(versionAfter('3:10:21', [10])).toBeNull();
    expect(versionAfter('3:10:21', [9])).toBeNull();
    expect(versionAfter('not a version', [11])).toBeNull();
  });
});

for (const backend of testBackends()) {
  describe(`local ratings applied in memory (${backend.name})`, () => {
    let database: Database;
    let dir: string;
    let store: ImageStore;
    let embeddings: EmbeddingService;
    const ids: string[] = [];
    const opened: TasteService[] = [];

    const taste = (ledger: RatingLedger) => {
      const t = new TasteService({
        db: database.db,
        ledger,
        embeddings,
        images: store,
        log: silentLogger,
        globalEvery: 1_000_000,
        seed: 1,
        listen: database.listen,
      });
      opened.push(t);
      return t;
    };

    beforeAll(async () => {
      database = await backend.open();
      dir = mkdtempSync(path.join(tmpdir(), 'tl-local-refit-'));
      store = new ImageStore(database.db, new FsImageBlobStore(dir));
      embeddings = new EmbeddingService(database.db, store, new FeaturesEmbedder());
      const sketch = new SketchGenerator({ size: 64, concurrency: 1 });
      for (let i = 0; i < 24; i++) {
        const prompt = `${PROMPTS[i % PROMPTS.length]!}, variation ${i}`;
        ids.push((await store.put((await sketch.generate(prompt, { seed: i })).bytes, { source: 'gallery', prompt, seed: i })).id);
      }
    }, 180_000);

    afterAll(async () => {
      for (const t of opened) t.stop();
      await database?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('a burst of ratings to a resident person reads none of their ratings and ends equal to a fresh full fit', async () => {
      const person = 'playground:burst';
      const ledger = new CountingLedger(database.db);
      const t = taste(ledger);
      await t.load();
      const rate = (imageId: string, score: number) => ledger.rate({ userKey: person, imageId, score, ctx: { source: 'test' } });
      // The first ratings bring the person into memory (from the database: nothing is held yet).
      for (let i = 0; i < 3; i++) await rate(ids[i]!, 2 + i);
      await t.idle();
      expect(t.scorer.count(person)).toBe(3);
      const before = { ratings: ledger.ratingReads, versions: ledger.versionReads, local: t.resident.stats().localUpdates };

      // A burst: new images at once, then a score changed and one taken back.
      await Promise.all(ids.slice(3, 16).map((id, i) => rate(id, 1 + ((i * 7) % 10))));
      await rate(ids[4]!, 9);
      await ledger.unrate({ userKey: person, imageId: ids[5]!, score: 1 + ((2 * 7) % 10), ctx: { source: 'test' } });
      await ledger.announced();
      await t.idle();

      expect(ledger.ratingReads - before.ratings).toBe(0);
      expect(t.resident.stats().localUpdates).toBeGreaterThan(before.local);
      // Without LISTEN nothing reads a version; with it, the echoes are checked in batches, not one read per rating.
      expect(ledger.versionReads - before.versions).toBeLessThan(15);
      expect(t.scorer.count(person)).toBe(15);
      const inDatabase = (await ledger.versions([person])).get(person);
      expect(t.resident.versionOf(person)).toBe(inDatabase);

      // A fresh process without any stored state fits the person from all their ratings.
      await database.db.execute(sql`delete from scorer_states where user_key = ${person}`);
      const fresh = taste(new RatingLedger(database.db));
      await fresh.load();
      const probe = ids.slice(16);
      const expected = await fresh.predict(person, probe);
      expect(fresh.resident.loadedFrom.get(person)).toBe('ratings');
      const got = await t.predict(person, probe);
      got.forEach((p, i) => expect(p).toBeCloseTo(expected[i]!, 9));
      expect(t.scorer.method(person)).toBe(fresh.scorer.method(person));
      // The scorer's summary was stored with its state (coalesced, flushed by idle).
      const [summary] = await queryRows<{ n: number }>(
        database.db,
        sql`select n from scorer_models where user_key = ${person} and model = ${t.modelId}`,
      );
      expect(Number(summary?.n)).toBe(15);
      fresh.stop();
      t.stop();
    }, 120_000);

    it('a change the held version may already count is refitted from the database, and still exact', async () => {
      const person = 'playground:elsewhere';
      const ledger = new CountingLedger(database.db);
      const t = taste(ledger);
      await t.load();
      for (let i = 0; i < 4; i++) await ledger.rate({ userKey: person, imageId: ids[i]!, score: 3 + i, ctx: { source: 'test' } });
      await t.idle();
      // Another process (its own ledger instance: this one never hears of it locally) rates, then this one does.
      await new RatingLedger(database.db).rate({ userKey: person, imageId: ids[6]!, score: 10, ctx: { source: 'test' } });
      await ledger.rate({ userKey: person, imageId: ids[7]!, score: 1, ctx: { source: 'test' } });
      await ledger.announced();
      await t.idle();
      // Applied in memory, the local change left a version that is not the database's; the check before use refits.
      const probe = ids.slice(16);
      const got = await t.predict(person, probe);
      expect(t.scorer.count(person)).toBe(6);
      expect(t.resident.versionOf(person)).toBe((await ledger.versions([person])).get(person));
      await database.db.execute(sql`delete from scorer_states where user_key = ${person}`);
      const fresh = taste(new RatingLedger(database.db));
      await fresh.load();
      const expected = await fresh.predict(person, probe);
      got.forEach((p, i) => expect(p).toBeCloseTo(expected[i]!, 9));
      fresh.stop();
      t.stop();
    }, 120_000);
  });
}

/**
 * The scorers as a bounded cache, on PGlite and (with TEST_DATABASE_URL) PostgreSQL:
 *
 *  - nobody is loaded at startup; a person comes into memory on first use (prediction, /rate, profile);
 *  - past the byte budget the least recently used people leave memory, their compact state stored
 *    (scorer_states); used again, they come back from it with the same predictions (to 1e-9) as a
 *    process that never evicted them;
 *  - a state older than the ledger is brought up to date with the ratings since (same predictions as
 *    the process that rated), a state of another embedder is ignored (every rating replayed);
 *  - a forget deletes the person's states, and a write after it stores nothing.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/connection';
import { queryRows } from '../src/db/util';
import { EmbeddingService } from '../src/core/embeddings';
import { ImageStore } from '../src/core/images';
import { forgetPerson } from '../src/core/privacy';
import { RatingLedger } from '../src/core/ratings';
import { loadScorerState, saveScorerState } from '../src/core/scorer-state-store';
import { TasteService } from '../src/core/taste-service';
import { silentLogger } from '../src/log';
import { FsImageBlobStore } from '../src/providers/blobstore/fs';
import { FeaturesEmbedder } from '../src/providers/embedder/features';
import { SketchGenerator } from '../src/providers/imagegen/sketch/generator';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { testBackends } from './helpers/db';
import { ScorerCache } from '../src/core/scorer-cache';
import { testConfig } from '../src/config';

const PEOPLE = ['playground:ann', 'playground:bo', 'playground:cy', 'playground:di', 'playground:ed'];
const RATED = 14;
const PROMPTS = ['a red fox in snow', 'a calm blue lake', 'neon city at night', 'a golden desert', 'a dark forest', 'sunrise over hills'];

describe('the cache accounts', () => {
  it('names the least recently used past the budget, skipping those in use', () => {
    const cache = new ScorerCache(100);
    cache.touch('a', 40);
    cache.touch('b', 40);
    cache.touch('a', 40); // a used again: b is now the oldest
    expect(cache.evictions(() => false)).toEqual([]);
    cache.touch('c', 40);
    expect(cache.evictions(() => false)).toEqual(['b']);
    expect(cache.usedBytes).toBe(80);
    // Everyone in use: over budget until they are released.
    cache.touch('d', 90);
    expect(cache.evictions(() => true)).toEqual([]);
    expect(cache.usedBytes).toBe(170);
    expect(cache.evictions((k) => k === 'd')).toEqual(['a', 'c']);
    expect(cache.size).toBe(1);
  });

  it('SCORER_CACHE_MB must be a whole number of MiB from 1, named when wrong', () => {
    expect(testConfig().SCORER_CACHE_MB).toBe(256);
    expect(testConfig({ SCORER_CACHE_MB: '64' }).SCORER_CACHE_MB).toBe(64);
    for (const bad of ['0', 'lots', '1.5']) expect(() => testConfig({ SCORER_CACHE_MB: bad })).toThrow(/SCORER_CACHE_MB/);
  });
});

for (const backend of testBackends()) {
  describe(`scorers as a bounded cache (${backend.name})`, () => {
    let database: Database;
    let dir: string;
    let store: ImageStore;
    let embeddings: EmbeddingService;
    const ids: string[] = [];
    const opened: TasteService[] = [];

    /** A process's taste service on the shared database: its own ledger instance, so it hears only its own ratings. */
    const taste = (opts: { cacheBytes?: number } = {}) => {
      const t = new TasteService({
        db: database.db,
        ledger: new RatingLedger(database.db),
        embeddings,
        images: store,
        log: silentLogger,
        globalEvery: 1_000_000,
        seed: 1,
        stateWriteIntervalMs: 0,
        ...opts,
      });
      opened.push(t);
      return t;
    };
    const probe = () => ids.slice(RATED);
    const stateRows = async (userKey: string) =>
      Number(
        (await queryRows<{ n: string | number }>(database.db, sql`select count(*) as n from scorer_states where user_key = ${userKey}`))[0]
          ?.n,
      );

    beforeAll(async () => {
      database = await backend.open();
      dir = mkdtempSync(path.join(tmpdir(), 'tl-scorer-cache-'));
      store = new ImageStore(database.db, new FsImageBlobStore(dir));
      embeddings = new EmbeddingService(database.db, store, new FeaturesEmbedder());
      const sketch = new SketchGenerator({ size: 64, concurrency: 1 });
      for (let i = 0; i < 24; i++) {
        const prompt = `${PROMPTS[i % PROMPTS.length]!}, variation ${i}`;
        ids.push((await store.put((await sketch.generate(prompt, { seed: i })).bytes, { source: 'gallery', prompt, seed: i })).id);
      }
      const ledger = new RatingLedger(database.db);
      for (const [p, userKey] of PEOPLE.entries())
        for (let i = 0; i < RATED; i++)
          await ledger.rate({ userKey, imageId: ids[i]!, score: 1 + ((i * (p + 3) + p) % 10), ctx: { source: 'test' } });
      // The community model every process adopts (stored by the first one to load).
      const first = taste();
      await first.load();
      first.stop();
    }, 180_000);

    afterAll(async () => {
      for (const t of opened) t.stop();
      await database?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('loads nobody at startup and a person on first use', async () => {
      const t = taste();
      await t.load();
      expect(t.cachedPeople()).toEqual([]);
      expect(t.scorer.hasUser(PEOPLE[0]!)).toBe(false);
      const predicted = await t.predict(PEOPLE[0]!, probe());
      expect(predicted).toHaveLength(probe().length);
      expect(t.scorer.count(PEOPLE[0]!)).toBe(RATED);
      expect(t.cachedPeople()).toEqual([PEOPLE[0]]);
      // /rate's active selection and /profile load on use too.
      await t.nextToRate(PEOPLE[1]!, 2);
      expect(t.scorer.count(PEOPLE[1]!)).toBe(RATED);
      const profile = await t.profile(PEOPLE[2]!);
      expect(profile.ratings).toBe(RATED);
      expect(profile.method).toBe(t.scorer.method(PEOPLE[2]!));
      expect(t.scorer.count(PEOPLE[2]!)).toBe(RATED);
      await t.idle();
      t.stop();
    });

    it('evicts the least recently used past the budget, and an evicted person comes back from their state with the same predictions', async () => {
      // Reference: a process that never evicts anyone.
      const whole = taste();
      await whole.load();
      const expected = new Map<string, number[]>();
      for (const userKey of PEOPLE) expected.set(userKey, await whole.predict(userKey, probe()));
      await whole.idle();
      const onePerson = Math.max(...PEOPLE.map((u) => whole.scorer.footprint(u)));
      expect(onePerson).toBeGreaterThan(RATED * whole.scorer.dim * 4);

      // Room for about two people.
      const small = taste({ cacheBytes: Math.floor(onePerson * 2.5) });
      await small.load();
      await small.idle();
      await queryRows(database.db, sql`delete from scorer_states`);
      for (const userKey of PEOPLE) {
        const got = await small.predict(userKey, probe());
        // The same model to rounding: the stored Δ is exact, the sums it is rebuilt with may round differently.
        const want = expected.get(userKey)!;
        got.forEach((g, i) => expect(Math.abs(g - want[i]!)).toBeLessThan(1e-9));
        expect(small.resident.stats().usedBytes).toBeLessThanOrEqual(small.resident.stats().budgetBytes);
      }
      await small.idle();
      const held = small.cachedPeople();
      expect(held.length).toBeLessThanOrEqual(2);
      // The most recent stay; the first ones left, their states stored on the way out.
      expect(held).toContain(PEOPLE.at(-1));
      expect(held).not.toContain(PEOPLE[0]);
      for (const userKey of PEOPLE) expect(await stateRows(userKey)).toBe(1);

      // Used again: loaded from the stored state, not from the ratings; the same numbers.
      for (const userKey of PEOPLE.slice(0, 2)) {
        const again = await small.predict(userKey, probe());
        expect(small.resident.loadedFrom.get(userKey)).toBe('state');
        again.forEach((v, i) => expect(Math.abs(v - expected.get(userKey)![i]!)).toBeLessThanOrEqual(1e-9));
        // And it keeps learning from there exactly like the process that never let it go.
        const details = small.scorer.details(userKey)!;
        const reference = whole.scorer.details(userKey)!;
        expect(details.lambda).toBe(reference.lambda);
        expect(details.method).toBe(reference.method);
        expect(details.quality).toEqual(reference.quality);
      }
      expect(small.cachedPeople().length).toBeLessThanOrEqual(2);
      await small.idle();
      small.stop();
      whole.stop();
    });

    it('brings a state older than the ledger up to date with the ratings since; ignores a state of another embedder', async () => {
      const writer = taste();
      await writer.load();
      const [ann, bo] = [PEOPLE[0]!, PEOPLE[1]!];
      await writer.predict(ann, probe());
      await writer.predict(bo, probe());
      await writer.idle();
      const before = await loadScorerState(database.db, ann, writer.modelId);
      expect(before).not.toBeNull();

      // The writer stops hearing other processes (as after a lost connection), so it cannot refit Ann
      // and store a newer state before the reader below has read the older one.
      await writer.stopListening();
      // Another process changes Ann's ratings; her stored state is now at an older ledger version.
      const elsewhere = new RatingLedger(database.db);
      await elsewhere.rate({ userKey: ann, imageId: ids[RATED]!, score: 9, ctx: { source: 'test' } });
      // Her vote on the first image was a 1 (see the seeding): taking it back removes that rating.
      await elsewhere.unrate({ userKey: ann, imageId: ids[0]!, score: 1, ctx: { source: 'test' } });
      const reader = taste();
      await reader.load();
      const got = await reader.predict(ann, probe().slice(1));
      expect(reader.resident.loadedFrom.get(ann)).toBe('state+diff');
      expect(reader.scorer.count(ann)).toBe(RATED);
      // The writer never let Ann go: its version check on use applies the change to the scorer it holds.
      expect(writer.scorer.count(ann)).toBe(RATED);
      const fresh = await writer.predict(ann, probe().slice(1));
      expect(writer.scorer.count(ann)).toBe(RATED);
      got.forEach((v, i) => expect(Math.abs(v - fresh[i]!)).toBeLessThanOrEqual(1e-9));

      // A state stored under another embedder's id is not this scorer's: every rating is replayed.
      await queryRows(database.db, sql`update scorer_states set model = 'other-embedder' where user_key = ${bo}`);
      const other = taste();
      await other.load();
      await other.predict(bo, probe());
      expect(other.resident.loadedFrom.get(bo)).toBe('ratings');
      for (const t of [writer, reader, other]) {
        await t.idle();
        t.stop();
      }
    });

    it('stores a state once for a burst of ratings, not once per rating', async () => {
      const ledger = new RatingLedger(database.db);
      const t = new TasteService({
        db: database.db,
        ledger,
        embeddings,
        images: store,
        log: silentLogger,
        globalEvery: 1_000_000,
        seed: 1,
        // Longer than the test takes on any machine: only the first change may be written before shutdown.
        stateWriteIntervalMs: 600_000,
      });
      opened.push(t);
      await t.load();
      const di = PEOPLE[3]!;
      await t.predict(di, probe());
      const before = t.resident.stats().stateWrites;
      for (const [i, imageId] of probe().entries()) {
        await ledger.rate({ userKey: di, imageId, score: 1 + (i % 10), ctx: { source: 'test' } });
        await t.predict(di, [ids[0]!]);
      }
      // One write may go at once (none was made in the last few seconds); the rest wait for the interval.
      expect(t.resident.stats().stateWrites - before).toBeLessThanOrEqual(1);
      // Shutdown writes what is still pending: the state then holds every rating.
      await t.idle();
      const stored = await loadScorerState(database.db, di, t.modelId);
      expect(stored?.snapshot.imageIds).toHaveLength(ids.length);
      t.stop();
    });

    it('a forget deletes the person’s states, and a state write after it stores nothing', async () => {
      const t = taste();
      await t.load();
      const cy = PEOPLE[2]!;
      await t.predict(cy, probe());
      await t.idle();
      expect(await stateRows(cy)).toBeGreaterThan(0);
      const snapshot = (await loadScorerState(database.db, cy, t.modelId))!;
      await forgetPerson(database.db, cy);
      expect(await stateRows(cy)).toBe(0);
      // A write of a snapshot taken before the forget (an eviction in flight) must not bring her back.
      expect(await saveScorerState(database.db, cy, t.modelId, snapshot)).toBe(false);
      expect(await stateRows(cy)).toBe(0);
      t.stop();
    });
  });
}

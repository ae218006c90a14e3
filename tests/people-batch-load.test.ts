/**
 * People coming into memory at the same time share their reads (src/core/people-batch-load.ts): one
 * query per kind for everyone asking together, the next one for whoever asked meanwhile, and a failed
 * shared read fails only the caller whose keys broke it. With the real ledger, sixteen people rating
 * at once come in with fewer version reads than people, each at the version the database reports.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/connection';
import { EmbeddingService } from '../src/core/embeddings';
import type { UserKey } from '../src/core/identity';
import { ImageStore } from '../src/core/images';
import { GatheredReads } from '../src/core/people-batch-load';
import { RatingLedger } from '../src/core/ratings';
import { TasteService } from '../src/core/taste-service';
import { silentLogger } from '../src/log';
import { FsImageBlobStore } from '../src/providers/blobstore/fs';
import { FeaturesEmbedder } from '../src/providers/embedder/features';
import { SketchGenerator } from '../src/providers/imagegen/sketch/generator';
import { testBackends } from './helpers/db';

/** A read that records the keys of each call and answers when released. */
function recordedRead(fail?: (key: string) => boolean) {
  const calls: string[][] = [];
  const gates: (() => void)[] = [];
  const read = (keys: string[]) => {
    calls.push(keys);
    return new Promise<Map<string, string>>((resolve, reject) => {
      gates.push(() =>
        keys.some((k) => fail?.(k)) ? reject(new Error(`unreadable ${keys.join(',')}`)) : resolve(new Map(keys.map((k) => [k, `v:${k}`]))),
      );
    });
  };
  const releaseAll = async () => {
    while (gates.length > 0) {
      gates.shift()!();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { read, calls, releaseAll };
}

describe('reads gathered across callers', () => {
  it('asks once for everyone asking in the same tick, each getting only their own keys', async () => {
    const r = recordedRead();
    const reads = new GatheredReads(r.read);
    const asked = Array.from({ length: 10 }, (_, i) => reads.get([`k${i}`, 'shared']));
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.calls).toHaveLength(1);
    expect(new Set(r.calls[0])).toEqual(new Set([...Array.from({ length: 10 }, (_, i) => `k${i}`), 'shared']));
    await r.releaseAll();
    const got = await Promise.all(asked);
    expect([...got[3]!]).toEqual([
      ['k3', 'v:k3'],
      ['shared', 'v:shared'],
    ]);
  });

  it('gathers whoever asks while a read is on its way into the next one', async () => {
    const r = recordedRead();
    const reads = new GatheredReads(r.read);
    const first = reads.get(['a']);
    await new Promise((resolve) => setImmediate(resolve));
    const later = ['b', 'c', 'd'].map((k) => reads.get([k]));
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.calls).toEqual([['a']]);
    await r.releaseAll();
    await Promise.all([first, ...later]);
    expect(r.calls).toEqual([['a'], ['b', 'c', 'd']]);
    expect(reads.queries).toBe(2);
  });

  it('fails only the caller whose keys cannot be read', async () => {
    const r = recordedRead((k) => k === 'gone');
    const reads = new GatheredReads(r.read);
    const ok = reads.get(['x']);
    const bad = reads.get(['gone', 'y']);
    const alsoOk = reads.get(['y']);
    const settled = Promise.allSettled([ok, bad, alsoOk]);
    await r.releaseAll();
    await new Promise((resolve) => setImmediate(resolve));
    await r.releaseAll();
    const [a, b, c] = await settled;
    expect(a).toMatchObject({ status: 'fulfilled' });
    expect(b).toMatchObject({ status: 'rejected' });
    expect(c).toMatchObject({ status: 'fulfilled' });
    expect((c as PromiseFulfilledResult<Map<string, string>>).value.get('y')).toBe('v:y');
  });
});

/** The real ledger, counting its version reads (each one query, for however many people). */
class CountingLedger extends RatingLedger {
  versionReads = 0;

  override versions(userKeys: readonly UserKey[]): Promise<Map<UserKey, string>> {
    this.versionReads++;
    return super.versions(userKeys);
  }
}

for (const backend of testBackends()) {
  describe(`people coming into memory together (${backend.name})`, () => {
    let database: Database;
    let dir: string;
    let store: ImageStore;
    let embeddings: EmbeddingService;
    const ids: string[] = [];
    let t: TasteService | null = null;

    beforeAll(async () => {
      database = await backend.open();
      dir = mkdtempSync(path.join(tmpdir(), 'tl-people-batch-'));
      store = new ImageStore(database.db, new FsImageBlobStore(dir));
      embeddings = new EmbeddingService(database.db, store, new FeaturesEmbedder());
      const sketch = new SketchGenerator({ size: 64, concurrency: 1 });
      for (let i = 0; i < 6; i++) {
        const prompt = `a quiet harbour, variation ${i}`;
        ids.push((await store.put((await sketch.generate(prompt, { seed: i })).bytes, { source: 'gallery', prompt, seed: i })).id);
      }
    }, 180_000);

    afterAll(async () => {
      t?.stop();
      await t?.idle();
      await database?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('reads fewer versions than people, and fits everyone at the database version', async () => {
      const ledger = new CountingLedger(database.db);
      t = new TasteService({
        db: database.db,
        ledger,
        embeddings,
        images: store,
        log: silentLogger,
        globalEvery: 1_000_000,
        seed: 1,
        listen: database.listen,
      });
      await t.load();
      const people = Array.from({ length: 16 }, (_, i) => `playground:together-${i}`);
      // Everyone's first ratings at once: each person comes into memory from the database.
      await Promise.all(
        people.flatMap((person, p) =>
          ids
            .slice(0, 3)
            .map((imageId, i) => ledger.rate({ userKey: person, imageId, score: 1 + ((p + 3 * i) % 10), ctx: { source: 'test' } })),
        ),
      );
      await ledger.announced();
      await t.idle();
      expect(ledger.versionReads).toBeLessThan(people.length);
      const inDatabase = await new RatingLedger(database.db).versions(people);
      for (const person of people) {
        expect(t.scorer.count(person)).toBe(3);
        expect(t.resident.versionOf(person)).toBe(inDatabase.get(person));
      }
    }, 120_000);
  });
}

/**
 * Several processes on one PostgreSQL database (replicas): the database is the truth, each process's
 * scorers a cache, so every replica gives the same answer about a person. Two apps on one fresh
 * database, each with its own connection pool, stand for two `npm start` processes: ratings go in
 * through A, and B — which never sees a local change — answers with A's numbers, once through the
 * ledger's notification (LISTEN/NOTIFY) and once, with B no longer listening, through the version
 * check it makes before every use. A forget reaches B the same way (B drops the person), and so does
 * the community model: A stores what it trained with a version, and B adopts that stored model.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/db/connection';
import { galleryImageIds } from '../src/core/gallery';
import type { App } from '../src/app';
import type { ProfileSummary } from '../src/core/services';
import { userKeyOf } from '../src/core/identity';
import { NO_VERSION, RatingLedger } from '../src/core/ratings';
import { openFreshPostgres, testBackends, TEST_DATABASE_URL } from './helpers/db';
import { openTestCore, type TestCore } from './helpers/core';
import { waitFor } from './helpers/wait';

interface Replicas {
  a: TestCore;
  b: TestCore;
  /** Starts one more process on the same database and image directory (a replica started later). */
  another: () => Promise<TestCore>;
  /** Rating changes B's own ledger emitted (must stay 0: B learns only from the database). */
  bLocalChanges: () => number;
  images: string[];
}

let open: { cores: TestCore[]; databases: Database[] } = { cores: [], databases: [] };

async function replicas(): Promise<Replicas> {
  const dbA = await openFreshPostgres();
  open.databases.push(dbA);
  // One image directory, as replicas share their image store.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tl-replicas-'));
  const a = await openTestCore({ database: dbA, dataDir, queue: 'inprocess' });
  open.cores.push(a);
  // Each other process has its own pool on the same database: nothing shared with A but PostgreSQL.
  const another = async () => {
    const database = await openDatabase({ databaseUrl: dbA.connectionString, migrate: false, maxConnections: 5 });
    open.databases.unshift(database);
    const core = await openTestCore({ database, dataDir, queue: 'inprocess', seedGallery: false });
    open.cores.push(core);
    return core;
  };
  const b = await another();
  await Promise.all([a.app.taste.loaded(), b.app.taste.loaded()]);
  let local = 0;
  b.app.ledger.onChange(() => local++);
  const images = (await galleryImageIds(dbA.db)).slice(0, 30);
  return { a, b, another, bLocalChanges: () => local, images };
}

afterEach(async () => {
  for (const core of open.cores.reverse()) await core.close();
  for (const database of open.databases) await database.close();
  open = { cores: [], databases: [] };
});

/** A profile as numbers and ids (the image records are equal rows read by two processes). */
function shape(p: ProfileSummary) {
  return {
    ratings: p.ratings,
    method: p.method,
    quality: p.quality,
    top: p.topImages.map((t) => [t.image.id, t.score]),
    favorites: p.predictedFavorites.map((f) => [f.image.id, f.predicted]),
  };
}

async function rateMany(app: App, userKey: string, images: string[], score: (i: number) => number): Promise<void> {
  for (const [i, imageId] of images.entries()) await app.ledger.rate({ userKey, imageId, score: score(i), ctx: { source: 'test' } });
}

describe.skipIf(!TEST_DATABASE_URL)('replicas on one PostgreSQL database', () => {
  it("B answers with A's numbers after A's ratings are announced, without any local change in B", async () => {
    const { a, b, bLocalChanges, images } = await replicas();
    const person = 'discord:-:replica-a';
    const rated = images.slice(0, 20);
    const probe = images.slice(20);
    // B holds nothing for this person yet (the problem was B answering from the community model).
    expect(b.app.taste.scorer.count(person)).toBe(0);

    await rateMany(a.app, person, rated, (i) => 1 + ((i * 7) % 10));
    // Only the notifications: nothing here asks B for a prediction before its scorer holds all 20.
    await waitFor(() => b.app.taste.scorer.count(person) === 20, "B's scorer refitted from the notifications");
    // One process trains the community prior after 20 changes (A, which took the trainer lock first); B adopts it.
    await a.app.taste.idle();
    await b.app.taste.idle();
    expect(a.app.taste.lastCommunityThread).not.toBeNull();
    expect(b.app.taste.lastCommunityThread).toBeNull();

    const [pa, pb] = [await a.app.taste.profile(person), await b.app.taste.profile(person)];
    expect(shape(pb)).toEqual(shape(pa));
    expect(pb.ratings).toBe(20);
    expect(pb.method).not.toBe('global');
    expect(await b.app.taste.predict(person, probe)).toEqual(await a.app.taste.predict(person, probe));
    expect(bLocalChanges()).toBe(0);

    // A change (a removal) is heard too.
    await a.app.ledger.unrate({ userKey: person, imageId: rated[0]!, score: 1, ctx: { source: 'test' } });
    await waitFor(() => b.app.taste.scorer.count(person) === 19, 'B heard the removal');
    expect(await b.app.taste.predict(person, probe)).toEqual(await a.app.taste.predict(person, probe));
    expect(bLocalChanges()).toBe(0);
  });

  it('with notifications missed, B refits on use (the version check) and still answers with A', async () => {
    const { a, b, bLocalChanges, images } = await replicas();
    // B hears nothing from now on: as if every notification were lost in a reconnect.
    await b.app.taste.stopListening();
    const person = 'slack:T1:replica-b';
    const rated = images.slice(0, 12);
    const probe = images.slice(12);

    await rateMany(a.app, person, rated, (i) => 10 - (i % 10));
    await a.app.taste.idle();
    expect(b.app.taste.scorer.count(person)).toBe(0);
    const pb = await b.app.taste.profile(person);
    expect(shape(pb)).toEqual(shape(await a.app.taste.profile(person)));
    expect(pb.ratings).toBe(12);
    expect(b.app.taste.scorer.count(person)).toBe(12);

    // A stale scorer (not only a missing one): A changes a rating and removes another.
    await a.app.ledger.rate({ userKey: person, imageId: rated[3]!, score: 2, ctx: { source: 'test' } });
    await a.app.ledger.unrate({ userKey: person, imageId: rated[5]!, score: 10 - 5, ctx: { source: 'test' } });
    await a.app.taste.idle();
    expect(b.app.taste.scorer.count(person)).toBe(12);
    expect(await b.app.taste.predict(person, probe)).toEqual(await a.app.taste.predict(person, probe));
    expect(b.app.taste.scorer.count(person)).toBe(11);
    expect(shape(await b.app.taste.profile(person))).toEqual(shape(await a.app.taste.profile(person)));
    expect(bLocalChanges()).toBe(0);
  });

  it('a forget in A makes B drop the person at once, without B being asked about them', async () => {
    const { a, b, images } = await replicas();
    const person = userKeyOf({ platform: 'discord', userId: 'replica-forget' });
    const other = 'discord:-:replica-stays';
    await rateMany(a.app, person, images.slice(0, 8), (i) => 1 + i);
    await rateMany(a.app, other, images.slice(0, 5), (i) => 9 - i);
    await waitFor(() => b.app.taste.scorer.count(person) === 8 && b.app.taste.scorer.count(other) === 5, 'B refitted both');
    expect(b.app.taste.cachedPeople()).toContain(person);

    await a.app.services.privacy.forget({ platform: 'discord', userId: 'replica-forget' });
    // Only the forget's notification: nothing asks B about the person.
    await waitFor(() => !b.app.taste.cachedPeople().includes(person), 'B dropped the forgotten person');
    expect(b.app.taste.scorer.hasUser(person)).toBe(false);
    expect(a.app.taste.cachedPeople()).not.toContain(person);
    await b.app.taste.idle();
    expect(b.app.taste.scorer.count(other)).toBe(5);
  });

  it('B adopts the community model A stored: notified, on use without a notification, and started later', async () => {
    const { a, b, another, images } = await replicas();
    const rated = images.slice(0, 8);
    const probe = images.slice(8);
    const newcomer = 'discord:-:replica-newcomer';
    const same = async (x: TestCore) =>
      expect(await x.app.taste.predict(newcomer, probe)).toEqual(await a.app.taste.predict(newcomer, probe));
    // 16 changes: fewer than the 20 after which a process retrains on its own, so only A trains.
    await rateMany(a.app, 'discord:-:community-a', rated, (i) => 1 + ((i * 3) % 10));
    await rateMany(a.app, 'discord:-:community-b', rated, (i) => 10 - ((i * 7) % 10));
    await a.app.taste.idle();
    await a.app.taste.retrainCommunity();
    expect(a.app.taste.scorer.getGlobal().ratings).toBe(16);

    await waitFor(() => b.app.taste.scorer.getGlobal().ratings === 16, 'B adopted the stored community model');
    expect(b.app.taste.scorer.getGlobal()).toEqual(a.app.taste.scorer.getGlobal());
    await same(b);
    expect(b.app.taste.lastCommunityThread).toBeNull();

    // Missed notification: B finds the newer version when used.
    await b.app.taste.stopListening();
    await a.app.ledger.rate({ userKey: 'discord:-:community-c', imageId: rated[0]!, score: 4, ctx: { source: 'test' } });
    await a.app.taste.idle();
    await a.app.taste.retrainCommunity();
    expect(b.app.taste.scorer.getGlobal().ratings).toBe(16);
    await same(b);
    expect(b.app.taste.scorer.getGlobal().ratings).toBe(17);

    // A replica started after the retrain loads the stored model rather than training one of its own.
    const c = await another();
    await c.app.taste.loaded();
    expect(c.app.taste.lastCommunityThread).toBeNull();
    expect(c.app.taste.scorer.getGlobal()).toEqual(a.app.taste.scorer.getGlobal());
    await same(c);
  });
});

for (const backend of testBackends()) {
  describe(`${backend.name}: the ledger version a cache compares`, () => {
    it('changes with every committed change (adds, removals, a forget), not with a no-op', async () => {
      const core = await openTestCore({ database: await backend.open() });
      open.cores.push(core);
      open.databases.push(core.app.database);
      const ledger = new RatingLedger(core.app.database.db);
      const [x, y] = (await galleryImageIds(core.app.database.db)).slice(0, 2);
      const p = userKeyOf({ platform: 'discord', userId: 'p' });
      const version = async (k: string) => (await ledger.versions([k])).get(k);
      const seen = new Set<string | undefined>([await version(p)]);
      expect(seen).toEqual(new Set([NO_VERSION]));
      const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s));
      const ctx = { source: 'test' };
      await ledger.rate({ userKey: p, imageId: x!, score: 7, eventTime: at(1), ctx });
      const first = await version(p);
      seen.add(first);
      // A replay changes nothing, so the version stays.
      await ledger.rate({ userKey: p, imageId: x!, score: 7, eventTime: at(1), ctx });
      expect(await version(p)).toBe(first);
      await ledger.rate({ userKey: p, imageId: y!, score: 3, eventTime: at(2), ctx });
      seen.add(await version(p));
      await ledger.unrate({ userKey: p, imageId: x!, score: 7, eventTime: at(3), ctx });
      seen.add(await version(p));
      expect(seen.size).toBe(4);
      // One query for many people; someone else's change leaves p's version alone.
      const before = await version(p);
      await ledger.rate({ userKey: 'discord:-:q', imageId: x!, score: 9, eventTime: at(4), ctx });
      const both = await ledger.versions([p, 'discord:-:q', 'discord:-:nobody']);
      expect(both.get(p)).toBe(before);
      expect(both.get('discord:-:q')).not.toBe(NO_VERSION);
      expect(both.get('discord:-:nobody')).toBe(NO_VERSION);
      await core.app.services.privacy.forget({ platform: 'discord', userId: 'p' });
      expect(await version(p)).toBe(NO_VERSION);
    });
  });
}

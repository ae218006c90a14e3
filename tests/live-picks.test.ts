/**
 * Picks reach the live scorer (/rate mode:pick), on real PostgreSQL with two apps on one database
 * standing for two processes: a pick moves the person's ledger version and their predictions (the
 * image picked rises against the ones it was picked over), /profile counts picks, someone with only
 * picks gets a personal model, another process predicts exactly the same once it hears of the pick (or
 * checks the version before use), the export lists picks, and a forget deletes them everywhere.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderProfile } from '../commands/profile';
import { openDatabase, type Database } from '../src/db/connection';
import { picks as picksTable } from '../src/db/schema';
import { userKeyOf, type PersonRef } from '../src/core/identity';
import { NO_VERSION, picksCount, picksPart, versionAfter, withPicks } from '../src/core/ledger-version';
import { storeOffer } from '../src/core/picks-store';
import { ScorerService } from '../src/core/scorer/scorer-service';
import { openFreshPostgres, TEST_DATABASE_URL } from './helpers/db';
import { openTestCore, type TestCore } from './helpers/core';
import { waitFor } from './helpers/wait';

/** Images of distinct colour and texture, so the embedder tells them apart along several directions. */
const picture = (i: number) => {
  const size = 48;
  const raw = Buffer.alloc(size * size * 3);
  for (let p = 0; p < size * size; p++) {
    const stripe = Math.floor((p % size) / (4 + (i % 5))) % 2;
    raw[p * 3] = (i * 53 + stripe * 90) % 256;
    raw[p * 3 + 1] = (i * 97 + (p >> 7) * (i % 3)) % 256;
    raw[p * 3 + 2] = (i * 151 + stripe * 40 * (i % 4)) % 256;
  }
  return sharp(raw, { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toBuffer();
};

const ANN: PersonRef = { platform: 'discord', userId: 'ann', displayName: 'ann' };
const BOB: PersonRef = { platform: 'discord', userId: 'bob', displayName: 'bob' };
const ann = userKeyOf(ANN);
const bob = userKeyOf(BOB);

/** Mean of the winner minus the mean of the others, per offer (winner first). */
const margins = (mean: number[], offers: number[][], ids: string[]) =>
  offers.map((o) => {
    const at = (i: number) => mean[ids.indexOf(images[i]!)]!;
    return at(o[0]!) - o.slice(1).reduce((t, i) => t + at(i), 0) / (o.length - 1);
  });

const images: string[] = [];

describe('picks in the ledger version and the scorer (no database)', () => {
  it('a rating applied in memory keeps the picks part of the version; a person without picks keeps the old form', () => {
    const held = withPicks('3:10:21', '2:ab12');
    expect(picksPart(held)).toBe('2:ab12');
    expect(picksCount(held)).toBe(2);
    expect(versionAfter(held, [12])).toBe('4:12:33+p2:ab12');
    expect(versionAfter(withPicks(NO_VERSION, '1:ff'), [7])).toBe('1:7:7+p1:ff');
    expect(versionAfter(held, [10])).toBeNull();
    expect(versionAfter('3:10:21', [12])).toBe('4:12:33');
    expect([picksPart('3:10:21'), picksCount('3:10:21'), picksCount('')]).toEqual(['', 0, 0]);
  });

  it('finetune and auto learn from pairs (a picks-only person gets a personal model); knn and global ignore them', () => {
    const dim = 4;
    const scorer = new ScorerService({ modelId: 'm', dim });
    const v = (...x: number[]) => Float32Array.from(x);
    const [w, l1, l2] = [v(1, 0, 0, 0), v(0, 1, 0, 0), v(0, 0, 1, 0)];
    const probe = [w, l1, l2];
    const before = scorer.predict('p', probe);
    scorer.setPairs(
      'p',
      [
        { winnerId: 'w', loserId: 'l1', winner: w, loser: l1 },
        { winnerId: 'w', loserId: 'l2', winner: w, loser: l2 },
      ],
      1,
    );
    expect(scorer.method('p')).toBe('finetune');
    const after = scorer.predict('p', probe, { uncapped: true });
    expect(after[0]! - after[1]!).toBeGreaterThan(before[0]! - before[1]!);
    expect(after[0]! - after[2]!).toBeGreaterThan(before[0]! - before[2]!);
    // Reloading the ratings keeps the picks (they are not ratings).
    scorer.setRatings('p', [v(0, 0, 0, 1)], [6], { imageIds: ['r'] });
    expect(scorer.pickCount('p')).toBe(1);
    scorer.setMethod('p', 'global');
    const global = scorer.predict('p', probe, { uncapped: true });
    expect(global[0]).toBeCloseTo(global[1]!, 12);
  });
});

describe.skipIf(!TEST_DATABASE_URL)('picks in the live scorer (PostgreSQL, two processes)', () => {
  let a: TestCore;
  let b: TestCore;
  const databases: Database[] = [];
  /** Ann's offers (image numbers; she picks the first of each) and Bob's. */
  const annOffers = [
    [8, 9, 10, 11],
    [12, 13, 14, 15],
    [16, 17, 18, 19],
    [20, 21, 22, 23],
  ];
  const bobOffers = [
    [24, 25, 26, 27],
    [28, 29, 30, 31],
    [32, 33, 34, 35],
  ];
  const probe = () => images.slice(8, 36);

  const pick = async (core: TestCore, who: PersonRef, offer: number[]) => {
    const offerId = await storeOffer(
      core.app.database.db,
      offer.map((i) => images[i]!),
    );
    const out = await core.app.services.picks!.pick({ person: who, scopeId: 'g1', offerId, number: 1, source: 'discord' });
    expect(out).toEqual({ kind: 'stored', number: 1 });
  };

  beforeAll(async () => {
    const database = await openFreshPostgres();
    databases.push(database);
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tl-live-picks-'));
    a = await openTestCore({ database, dataDir, queue: 'inprocess', seedGallery: false });
    for (let i = 0; i < 40; i++)
      images.push((await a.app.images.put(await picture(i), { source: 'gallery', prompt: `p${i}`, seed: i })).id);
    // Another process: its own pool on the same database, nothing shared with A but PostgreSQL.
    const other = await openDatabase({ databaseUrl: database.connectionString, migrate: false, maxConnections: 5 });
    databases.unshift(other);
    b = await openTestCore({ database: other, dataDir, queue: 'inprocess', seedGallery: false });
    await Promise.all([a.app.taste.loaded(), b.app.taste.loaded()]);
    for (const p of [ANN, BOB]) await a.app.services.people.touch(p, 'g1');
    for (let i = 0; i < 8; i++)
      await a.app.services.ratings.rate(ANN, images[i]!, 1 + ((i * 7) % 10), { source: 'discord', scopeId: 'g1' });
  }, 180_000);

  afterAll(async () => {
    for (const core of [b, a]) await core?.close();
    for (const database of databases) await database.close();
  });

  it('picks move the predictions their way, the version moves, and /profile counts them', async () => {
    const ids = probe();
    // B uses Ann first: it holds her scorer at the version before the picks.
    await b.app.taste.belief(ann, ids);
    const before = await a.app.taste.belief(ann, ids);
    const versionBefore = (await a.app.ledger.versions([ann])).get(ann);
    for (const offer of annOffers) await pick(a, ANN, offer);
    expect((await a.app.ledger.versions([ann])).get(ann)).not.toBe(versionBefore);
    const after = await a.app.taste.belief(ann, ids);
    const rise = margins(after.mean, annOffers, ids).map((m, k) => m - margins(before.mean, annOffers, ids)[k]!);
    for (const r of rise) expect(r).toBeGreaterThan(0);
    const profile = await a.app.services.taste.profile(ann);
    expect(profile).toMatchObject({ ratings: 8, picks: 4 });
    expect(renderProfile(profile, 'Your')).toContain('8 ratings and 4 picks');
  });

  it('another process scores with the picks once it hears of them, and after checking the version', async () => {
    const ids = probe();
    const vectors = await a.app.embeddings.embed(ids);
    const X = ids.map((id) => vectors.get(id)!);
    await a.app.taste.idle();
    // Heard through LISTEN/NOTIFY: B refits Ann without being asked to predict.
    const wanted = a.app.taste.resident.versionOf(ann);
    await waitFor(() => b.app.taste.resident.versionOf(ann) === wanted || null, "B to hear of Ann's picks");
    await b.app.taste.idle();
    const fromA = a.app.taste.scorer.predict(ann, X, { uncapped: true });
    const fromB = b.app.taste.scorer.predict(ann, X, { uncapped: true });
    fromB.forEach((v, i) => expect(v).toBeCloseTo(fromA[i]!, 9));
    // Missed notification: B no longer listens, and its version check before use finds the new pick.
    await b.app.taste.stopListening();
    await pick(a, ANN, [36, 37, 38, 39]);
    const viaA = await a.app.taste.belief(ann, ids);
    const viaB = await b.app.taste.belief(ann, ids);
    viaB.mean.forEach((v, i) => expect(v).toBeCloseTo(viaA.mean[i]!, 9));
    expect(b.app.taste.scorer.pickCount(ann)).toBe(5);
  });

  it('someone with only picks gets a personal model, not the community prior', async () => {
    const ids = probe();
    const prior = await a.app.taste.belief(bob, ids);
    for (const offer of bobOffers) await pick(a, BOB, offer);
    const after = await a.app.taste.belief(bob, ids);
    expect(a.app.taste.scorer.method(bob)).toBe('finetune');
    const rise = margins(after.mean, bobOffers, ids).map((m, k) => m - margins(prior.mean, bobOffers, ids)[k]!);
    for (const r of rise) expect(r).toBeGreaterThan(0);
    const profile = await a.app.services.taste.profile(bob);
    expect(renderProfile(profile, 'Your')).toContain('0 ratings and 3 picks');
    expect(renderProfile(profile, 'Your')).not.toContain('Use /rate to get started');
    // Another process loading Bob from the database predicts the same.
    const viaB = await b.app.taste.belief(bob, ids);
    viaB.mean.forEach((v, i) => expect(v).toBeCloseTo(after.mean[i]!, 9));
  });

  it('the export lists the picks; a forget deletes them and every process drops the person', async () => {
    const exported = JSON.parse((await a.app.services.privacy.export(BOB)).json) as {
      picks: { offeredImageIds: string[]; pickedImageId: string; pickedAt: string; source: string }[];
    };
    expect(exported.picks).toHaveLength(3);
    expect(exported.picks.map((p) => [p.pickedImageId, p.offeredImageIds])).toEqual(
      bobOffers.map((o) => [images[o[0]!], o.map((i) => images[i])]),
    );
    for (const p of exported.picks) expect(Number.isNaN(Date.parse(p.pickedAt))).toBe(false);
    await a.app.services.privacy.forget(BOB);
    const left = await a.app.database.db.select().from(picksTable).where(eq(picksTable.userKey, bob));
    expect(left).toEqual([]);
    expect(await a.app.services.taste.profile(bob)).toMatchObject({ ratings: 0, picks: 0 });
    // B (not listening any more) finds Bob gone at its version check.
    await b.app.taste.freshen([bob]);
    expect(b.app.taste.scorer.pickCount(bob)).toBe(0);
    expect(b.app.taste.resident.versionOf(bob)).toBeUndefined();
  });
});

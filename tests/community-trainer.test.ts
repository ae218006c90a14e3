/**
 * The community trainer's arithmetic and its thread: the moments kept rating by rating give the same
 * global prior as a full retrain on the same ratings (adds, changed scores and ratings taken back
 * included), and one long-lived worker thread holds them and answers every fit.
 */
import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../src/core/random';
import { trainCommunityFromStats, trainCommunityModels, trainInline, type CommunityJob } from '../src/core/scorer/community';
import { CommunityStats, type PersonRatings } from '../src/core/scorer/community-stats';
import { CommunityThread, trainOffThread } from '../src/core/scorer/community-thread';
import { trainGlobal, type GlobalModel } from '../src/core/scorer/global';
import type { PackedRatings } from '../src/core/scorer/data';

/** A synthetic community: images with embeddings, people rating with a shared taste plus noise. */
function world(seed: number, d = 16, imageCount = 40) {
  const rng = createRng(seed);
  const taste = Float64Array.from({ length: d }, () => rng.normal());
  const images = new Map<string, Float32Array>();
  for (let i = 0; i < imageCount; i++)
    images.set(
      `img${i}`,
      Float32Array.from({ length: d }, () => rng.normal() / Math.sqrt(d)),
    );
  const score = (imageId: string, bias: number): number => {
    const x = images.get(imageId)!;
    let v = 5 + bias;
    for (let j = 0; j < d; j++) v += taste[j]! * x[j]!;
    return Math.min(10, Math.max(1, Math.round(v + 0.7 * rng.normal())));
  };
  return { rng, d, images, score };
}

/** Ratings as a plain table (person → image → score), the truth both fits are compared on. */
type Table = Map<string, Map<string, number>>;

function packTable(table: Table, images: Map<string, Float32Array>, d: number): PackedRatings[] {
  return [...table.values()]
    .filter((r) => r.size > 0)
    .map((r) => {
      const X = new Float32Array(r.size * d);
      const y = new Float64Array(r.size);
      [...r].forEach(([imageId, s], i) => {
        X.set(images.get(imageId)!, i * d);
        y[i] = s;
      });
      return { n: r.size, dim: d, X, y };
    });
}

function expectSameModel(a: GlobalModel, b: GlobalModel, tol = 1e-9): void {
  expect(a.lambda).toBe(b.lambda);
  expect(a.users).toBe(b.users);
  expect(a.ratings).toBe(b.ratings);
  const scale = Math.max(...Array.from(b.w, Math.abs), 1);
  for (let j = 0; j < b.dim; j++) expect(Math.abs(a.w[j]! - b.w[j]!)).toBeLessThan(tol * scale);
  expect(a.bias).toBeCloseTo(b.bias, 9);
  expect(a.communityMean).toBeCloseTo(b.communityMean, 12);
  expect(a.residualVar).toBeCloseTo(b.residualVar, 9);
}

/** Applies a random history of ratings, changed scores and take-backs to the stats and to the table. */
function randomHistory(w: ReturnType<typeof world>, stats: CommunityStats, table: Table, people: number, steps: number, rng: Rng): void {
  for (const [id, v] of w.images) stats.setImage(id, v);
  const ids = [...w.images.keys()];
  for (let s = 0; s < steps; s++) {
    const person = `p${rng.int(people)}`;
    const imageId = rng.pick(ids);
    const mine = table.get(person) ?? new Map<string, number>();
    table.set(person, mine);
    if (mine.has(imageId) && rng.next() < 0.35) {
      stats.rate(person, imageId, null);
      mine.delete(imageId);
    } else {
      const sc = w.score(imageId, (Number(person.slice(1)) % 3) - 1);
      stats.rate(person, imageId, sc);
      mine.delete(imageId); // a changed score counts as given now, as the stats hold it
      mine.set(imageId, sc);
    }
  }
}

describe('the global prior from moments kept rating by rating', () => {
  it('equals a full retrain on the same ratings after adds, changed scores and ratings taken back', () => {
    const w = world(1);
    const stats = new CommunityStats(w.d);
    const table: Table = new Map();
    randomHistory(w, stats, table, 12, 900, w.rng);
    const full = trainGlobal(packTable(table, w.images, w.d));
    expect(full.ratings).toBeGreaterThan(150);
    expect(stats.ratings).toBe(full.ratings);
    // λ chosen by leave-one-image-out (40 images), the prior's default.
    expectSameModel(stats.fitGlobal(), full);
    // …and by GCV when fixed on the same grid, and with a fixed λ.
    expectSameModel(stats.fitGlobal({ lambdaBy: 'gcv' }), trainGlobal(packTable(table, w.images, w.d), { lambdaBy: 'gcv' }));
    expectSameModel(stats.fitGlobal({ lambda: 2 }), trainGlobal(packTable(table, w.images, w.d), { lambda: 2 }));
  });

  it('gathers scatter updates a few at a time with exactly the moments of one update at a time', () => {
    const gathered = new CommunityStats(16);
    randomHistory(world(4), gathered, new Map(), 9, 203, createRng(5));
    // The same history with a fit after every change: each update reaches the scatter on its own.
    class FitEveryChange extends CommunityStats {
      override rate(person: string, imageId: string, score: number | null): void {
        super.rate(person, imageId, score);
        this.fitGlobal({ lambda: 1 });
      }
    }
    const oneByOne = new FitEveryChange(16);
    randomHistory(world(4), oneByOne, new Map(), 9, 203, createRng(5));
    expect(oneByOne.ratings).toBe(gathered.ratings);
    const a = gathered.fitGlobal({ lambda: 2 });
    const b = oneByOne.fitGlobal({ lambda: 2 });
    expect(Array.from(a.w)).toEqual(Array.from(b.w));
    expect(a.bias).toBe(b.bias);
    expect(a.residualVar).toBe(b.residualVar);
  });

  it('a rating taken back leaves no trace: the moments equal those of never having given it', () => {
    const w = world(2);
    const ids = [...w.images.keys()];
    const scoreOf = (p: number, i: number) => 1 + ((p * 7 + i * 3) % 10);
    const given = (stats: CommunityStats) => {
      for (const [id, v] of w.images) stats.setImage(id, v);
      for (let p = 0; p < 6; p++) for (let i = p; i < p + 20; i++) stats.rate(`p${p}`, ids[i]!, scoreOf(p, i));
    };
    const kept = new CommunityStats(w.d);
    given(kept);
    const withExtra = new CommunityStats(w.d);
    given(withExtra);
    withExtra.rate('p0', ids[30]!, 9);
    withExtra.rate('p1', ids[1]!, scoreOf(1, 1) === 2 ? 3 : 2); // a changed score…
    withExtra.rate('newcomer', ids[3]!, 10); // …and a person whose only rating goes
    withExtra.rate('p0', ids[30]!, null);
    withExtra.rate('p1', ids[1]!, scoreOf(1, 1));
    withExtra.rate('newcomer', ids[3]!, null);
    expect(withExtra.ratings).toBe(kept.ratings);
    expect(withExtra.users).toBe(6);
    expectSameModel(withExtra.fitGlobal(), kept.fitGlobal());
    // Everyone taking everything back leaves exactly the empty prior.
    for (let p = 0; p < 6; p++) withExtra.setPerson({ person: `p${p}`, ratings: [] });
    expect(withExtra.ratings).toBe(0);
    expect(withExtra.fitGlobal()).toMatchObject({ users: 0, ratings: 0, bias: 5.5 });
  });

  it('setPerson applies only the difference, and drift measures what moved since the last fit', () => {
    const w = world(3);
    const stats = new CommunityStats(w.d);
    for (const [id, v] of w.images) stats.setImage(id, v);
    const ids = [...w.images.keys()];
    const ann: PersonRatings = { person: 'ann', ratings: ids.slice(0, 25).map((id, i) => [id, 1 + (i % 10)]) };
    stats.setPerson(ann);
    stats.setPerson({ person: 'bo', ratings: ids.slice(10, 35).map((id, i) => [id, 10 - (i % 10)]) });
    expect(stats.drift()).toBe(Infinity); // never fitted
    const first = stats.fitGlobal();
    expect(stats.drift()).toBe(0);
    stats.setPerson(ann); // the same ratings again: nothing moves
    expect(stats.drift()).toBe(0);
    expectSameModel(stats.fitGlobal(), first);
    stats.setPerson({ person: 'ann', ratings: [...ann.ratings.slice(1), [ids[39]!, 7]] });
    expect(stats.ratings).toBe(50);
    expect(stats.drift()).toBeGreaterThan(0);
    expect(stats.drift()).toBeLessThan(1);
  });

  it('an image needs its embedding before its ratings, and every embedding has the community dimension', () => {
    const stats = new CommunityStats(4);
    expect(() => stats.rate('ann', 'unknown', 5)).toThrow(/no embedding for image unknown/);
    expect(() => stats.setImage('short', [1, 2])).toThrow(/2 dimensions, the community 4/);
  });

  it('the meta-init and the λ schedule train on the held ratings as a full retrain would', () => {
    const w = world(4, 12, 60);
    const stats = new CommunityStats(w.d);
    const table: Table = new Map();
    randomHistory(w, stats, table, 14, 1600, w.rng);
    const job: CommunityJob = { meta: true, calibrate: true, seed: 3 };
    const fromStats = trainCommunityFromStats(stats, job);
    const full = trainCommunityModels(stats.packed(), job);
    expectSameModel(fromStats.global, full.global);
    expect(fromStats.global.lambdaSchedule).toEqual(full.global.lambdaSchedule);
    expect(Array.from(fromStats.meta!.w0)).toEqual(Array.from(full.meta!.w0));
  });
});

describe('the community trainer thread', () => {
  let open: CommunityThread[] = [];
  afterEach(async () => {
    for (const t of open) await t.close();
    open = [];
  });

  function filled(seed: number, people = 10, perPerson = 30, d = 16): { thread: CommunityThread; stats: CommunityStats } {
    const w = world(seed, d, 50);
    const thread = new CommunityThread(d);
    open.push(thread);
    const stats = new CommunityStats(d);
    thread.addImages(w.images);
    for (const [id, v] of w.images) stats.setImage(id, v);
    const ids = [...w.images.keys()];
    for (let p = 0; p < people; p++) {
      const person: PersonRatings = {
        person: `p${p}`,
        ratings: w.rng
          .shuffle([...ids])
          .slice(0, perPerson)
          .map((id) => [id, w.score(id, 0)]),
      };
      thread.setPeople([person]);
      stats.setPerson(person);
    }
    return { thread, stats };
  }

  it('answers fits with the models of the same arithmetic inline, on one thread that stays', async () => {
    const { thread, stats } = filled(5);
    const job: CommunityJob = { meta: true, calibrate: true, seed: 7 };
    const off = await thread.fit(job);
    const inline = trainCommunityFromStats(stats, job);
    expect(off.threadId).not.toBe(threadId);
    expect(off.threadId).toBe(thread.threadId);
    expect(Array.from(off.global.w)).toEqual(Array.from(inline.global.w));
    expect(off.global.lambda).toBe(inline.global.lambda);
    expect(Array.from(off.meta!.w0)).toEqual(Array.from(inline.meta!.w0));

    // A change, then another fit: the same thread, the change counted, nothing re-sent but the person.
    thread.setPeople([{ person: 'p0', ratings: [] }]);
    stats.setPerson({ person: 'p0', ratings: [] });
    expect(await thread.status()).toMatchObject({ users: 9, ratings: 270 });
    const again = await thread.fit({ meta: false, calibrate: false, seed: 7 });
    expect(again.threadId).toBe(off.threadId);
    expect(again.global.ratings).toBe(270);
    expect(Array.from(again.global.w)).toEqual(Array.from(stats.fitGlobal().w));
    const usage = thread.usage();
    expect(usage.activeMs).toBeGreaterThan(0);
    expect(usage.share).toBeGreaterThan(0);
    expect(usage.share).toBeLessThanOrEqual(1);
  });

  it('keeps the event loop turning while it fits (inline training does not)', async () => {
    const { thread } = filled(6, 30, 40, 64);
    const ticksDuring = async (fit: () => Promise<unknown>) => {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 0);
      try {
        await fit();
        return ticks;
      } finally {
        clearInterval(timer);
      }
    };
    const w = world(6, 64, 50);
    const users = [...Array.from({ length: 30 }, (_, p) => p)].map((p) => {
      const X = new Float32Array(40 * 64);
      const y = new Float64Array(40);
      [...w.images.values()].slice(0, 40).forEach((v, i) => {
        X.set(v, i * 64);
        y[i] = 1 + ((p + i) % 10);
      });
      return { n: 40, dim: 64, X, y };
    });
    expect(await ticksDuring(() => trainInline(users, { meta: false, calibrate: false, seed: 1 }))).toBe(0);
    expect(await ticksDuring(() => thread.fit({ meta: true, calibrate: true, seed: 1 }))).toBeGreaterThan(0);
  });

  it('reports a failure inside the thread, and rejects everything once the thread is closed', async () => {
    const thread = new CommunityThread(4);
    open.push(thread);
    // Ratings of an image never sent: the update fails in the thread, and the next request says why.
    thread.setPeople([{ person: 'ann', ratings: [['never-sent', 5]] }]);
    await expect(thread.fit({ meta: false, calibrate: false, seed: 1 })).rejects.toThrow(
      /community training failed in its worker: no embedding for image never-sent/,
    );
    expect(() => thread.addImages(new Map([['short', [1, 2]]]))).toThrow(/2 dimensions/);
    await thread.close();
    await expect(thread.status()).rejects.toThrow(/closed/);
  });

  it('trainOffThread (benchmarks) gives the full retrain of packed ratings', async () => {
    const w = world(8, 10, 30);
    const table: Table = new Map();
    const stats = new CommunityStats(w.d);
    randomHistory(w, stats, table, 8, 500, w.rng);
    const users = packTable(table, w.images, w.d);
    const off = await trainOffThread(users, { meta: false, calibrate: false, seed: 1 });
    expectSameModel(off.global, trainGlobal(users));
  });
});

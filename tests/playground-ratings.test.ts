/**
 * Rating clicks in the playground go through the ledger's rules (review finding 3): a click is a
 * vote with its event time, like a reaction, and clearing takes back the person's standing votes as
 * the ledger holds them — nothing decided from a value cached in the adapter. Driven over HTTP as the
 * page does, on the real core: concurrent clicks, 200 clicks over the 84 gallery images then clearing
 * them all (/profile: 0 ratings), and random set/clear sequences (some concurrent) that must end with
 * the ledger equal to the last click per image.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userKeyOf } from '../src/core/identity';
import { queryRows } from '../src/db/util';
import { silentLogger } from '../src/log';
import { createPlaygroundAdapter, personFor, type PlaygroundAdapter } from '../src/platforms/playground/adapter';
import { openTestCore, type TestCore } from './helpers/core';
import { PlaygroundClient } from './helpers/playground-client';

/** Deterministic pseudo-random numbers (mulberry32): a failing sequence can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('playground rating clicks follow the ledger (real core, over HTTP)', () => {
  let core: TestCore;
  let adapter: PlaygroundAdapter;
  /** One rateable message per gallery image: message id → image id. */
  const messages = new Map<string, string>();

  beforeAll(async () => {
    core = await openTestCore();
    adapter = createPlaygroundAdapter({ services: core.app.services, log: silentLogger, port: 0, runFeedPollMs: 50 });
    await adapter.start();
    const images = await queryRows<{ id: string }>(core.app.database.db, sql`select id from images order by id`);
    expect(images.length).toBe(84);
    for (const { id } of images) {
      const messageId = await adapter.channel.post({ kind: 'rate', text: 'Rate this image 1–10', image: { imageId: id, rateable: true } });
      messages.set(messageId, id);
    }
  });
  afterAll(async () => {
    await adapter?.stop();
    await core?.close();
  });

  const ledger = (user: string, imageId: string) => core.rating(userKeyOf(personFor(user)), imageId);
  const standing = (user: string, imageId: string) => core.app.services.ratings.standing(personFor(user), imageId);
  const ids = () => [...messages.keys()];

  it('two concurrent clicks on one image, then a click that clears it: no rating is left anywhere', async () => {
    const ann = await PlaygroundClient.as(adapter.url(), 'ann');
    const [messageId] = ids() as [string];
    const imageId = messages.get(messageId)!;
    const [a, b] = await Promise.all([ann.rate(messageId, 3), ann.rate(messageId, 5)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    // The later click (by event time) is the rating, in the ledger and on the page.
    const latest = a.body.at! > b.body.at! ? 3 : 5;
    expect(await ledger('ann', imageId)).toBe(latest);
    expect(await standing('ann', imageId)).toEqual([latest]);
    expect(adapter.state.messages.get(messageId)!.ratings.ann).toBe(latest);
    expect((await ann.rate(messageId, null)).status).toBe(200);
    expect(await ledger('ann', imageId)).toBeNull();
    expect(await standing('ann', imageId)).toEqual([]);
    expect(adapter.state.messages.get(messageId)!.ratings.ann).toBeUndefined();
  });

  it('200 concurrent clicks over the 84 images, then every rating cleared: /profile says 0 ratings', async () => {
    const bo = await PlaygroundClient.as(adapter.url(), 'bo');
    const random = rng(200);
    const all = ids();
    const clicks = Array.from({ length: 200 }, (_, i) => ({
      messageId: all[i < all.length ? i : Math.floor(random() * all.length)]!,
      score: 1 + Math.floor(random() * 10),
    }));
    const answers = await Promise.all(clicks.map((c) => bo.rate(c.messageId, c.score)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    // Before clearing: the ledger holds each image's latest click.
    const last = new Map<string, { score: number; at: number }>();
    clicks.forEach((c, i) => {
      const at = answers[i]!.body.at!;
      if ((last.get(c.messageId)?.at ?? -1) < at) last.set(c.messageId, { score: c.score, at });
    });
    expect(last.size).toBe(84);
    for (const [messageId, { score }] of last) expect(await ledger('bo', messages.get(messageId)!)).toBe(score);
    expect(await core.app.services.ratings.count(userKeyOf(personFor('bo')))).toBe(84);

    // Clear all 84 at once, as fast clicking on each one's highlighted button.
    const cleared = await Promise.all(all.map((id) => bo.rate(id, null)));
    expect(cleared.every((a) => a.status === 200)).toBe(true);
    expect(await core.app.services.ratings.count(userKeyOf(personFor('bo')))).toBe(0);
    const left = await queryRows(
      core.app.database.db,
      sql`select image_id, score from rating_votes where user_key = ${userKeyOf(personFor('bo'))} and present`,
    );
    expect(left).toEqual([]);
    for (const id of all) expect(adapter.state.messages.get(id)!.ratings.bo).toBeUndefined();

    await core.app.taste.idle();
    expect((await bo.command('/profile')).status).toBe(200);
    const profile = [...adapter.state.messages.values()].filter((m) => m.ephemeralFor === 'bo' && /profile/i.test(m.text)).at(-1)!;
    expect(profile.text).toMatch(/— 0 ratings\b/);
  }, 300_000);

  it('property: random set/clear sequences (some concurrent, several people) end with the ledger equal to the last click per image', async () => {
    const people = ['cy', 'di'];
    const clients = Object.fromEntries(
      await Promise.all(people.map(async (p) => [p, await PlaygroundClient.as(adapter.url(), p)] as const)),
    );
    for (const seed of [1, 2, 3, 4]) {
      const random = rng(seed);
      // A few images per sequence so clicks collide; fresh ones each time.
      const pool = ids().slice(10 + seed * 4, 10 + seed * 4 + 3);
      const last = new Map<string, { score: number | null; at: number }>();
      for (let batch = 0; batch < 6; batch++) {
        // 1–4 clicks at once (a fast double click, two people at the same image…), then the next batch.
        const size = 1 + Math.floor(random() * 4);
        const clicks = Array.from({ length: size }, () => ({
          person: people[Math.floor(random() * people.length)]!,
          messageId: pool[Math.floor(random() * pool.length)]!,
          score: random() < 0.3 ? null : 1 + Math.floor(random() * 10),
        }));
        const answers = await Promise.all(clicks.map((c) => clients[c.person]!.rate(c.messageId, c.score)));
        clicks.forEach((c, i) => {
          expect(answers[i]!.status, `seed ${seed}`).toBe(200);
          const key = `${c.person}|${c.messageId}`;
          const at = answers[i]!.body.at!;
          if ((last.get(key)?.at ?? -1) < at) last.set(key, { score: c.score, at });
        });
      }
      for (const person of people) {
        for (const messageId of pool) {
          const imageId = messages.get(messageId)!;
          const expected = last.get(`${person}|${messageId}`)?.score ?? null;
          const where = `seed ${seed}, ${person} on ${messageId}`;
          expect(await ledger(person, imageId), where).toBe(expected);
          // One vote at most stands: the person's click, nothing left over from earlier ones.
          expect(await standing(person, imageId), where).toEqual(expected === null ? [] : [expected]);
          expect(adapter.state.messages.get(messageId)!.ratings[person] ?? null, where).toBe(expected);
        }
      }
    }
  }, 300_000);
});

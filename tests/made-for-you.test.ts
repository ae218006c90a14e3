/**
 * The weekly "made for you" run over a real RunService and database (PGlite, and PostgreSQL when
 * TEST_DATABASE_URL is set), with an injected clock: a due subscription starts exactly one run even
 * with two schedulers claiming at once; opting out stops it; a week over quota is skipped with its
 * reason, told once; a forget deletes the subscription; nobody is opted in without liked ratings.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import type { Database } from '../src/db/connection';
import { runs } from '../src/db/schema';
import { userKeyOf, type PersonRef } from '../src/core/identity';
import { MadeForYou, readSubscription } from '../src/core/made-for-you';
import { forgetPerson } from '../src/core/privacy';
import type { ImageRecord } from '../src/core/records';
import type { RunParams } from '../src/core/optimizer/params';
import { testBackends } from './helpers/db';
import { makeService } from './helpers/runs';

const ZOE: PersonRef = { platform: 'playground', userId: 'zoe', displayName: 'Zoe' };
const ZOE_KEY = userKeyOf(ZOE);
const HOUR = 3_600_000;

/** The person's ratings and the images' prompts: the inputs the prompt is drawn from. */
function ratingsOf(list: { imageId: string; score: number; prompt: string | null }[]) {
  return {
    ledger: { listRatings: async () => list.map(({ imageId, score }) => ({ imageId, score })) },
    images: {
      getMany: async (ids: string[]) =>
        new Map(
          list
            .filter((r) => ids.includes(r.imageId))
            .map((r) => [r.imageId, { id: r.imageId, prompt: r.prompt } as unknown as ImageRecord]),
        ),
    },
  };
}

const LIKED = [
  { imageId: 'i1', score: 9, prompt: 'a lighthouse at night, warm lights' },
  { imageId: 'i2', score: 3, prompt: 'a grey office' },
  { imageId: 'i3', score: 8, prompt: null },
];

for (const backend of testBackends()) {
  describe(`made for you (${backend.name})`, () => {
    let database: Database;
    let clock: Date;
    beforeEach(async () => {
      database = await backend.open();
      clock = new Date('2026-12-07T09:00:00Z');
    }, 120_000);
    afterEach(async () => {
      await database.close();
    });

    const service = (config: Record<string, string> = {}, list = LIKED) => {
      const { service: runService } = makeService(database.db, { config }); // no worker: runs stay queued
      return new MadeForYou({ db: database.db, runs: runService, ...ratingsOf(list), intervalHours: 168, now: () => clock });
    };
    const subscription = { userKey: ZOE_KEY, platform: 'playground', channelId: 'general', displayName: 'Zoe' };
    const runsOfZoe = () => database.db.select().from(runs).where(eq(runs.userKey, ZOE_KEY));

    it('starts exactly one short run for a due week, even with two schedulers claiming at once', async () => {
      const a = service();
      const b = service();
      expect(await a.optIn(subscription)).toEqual({ kind: 'subscribed', intervalHours: 168 });
      const outcomes = (await Promise.all([a.runDue(), b.runDue(), a.runDue(), b.runDue()])).flat();
      expect(outcomes).toHaveLength(1);
      const made = await runsOfZoe();
      expect(made).toHaveLength(1);
      const params = made[0]!.params as RunParams;
      expect(params.prompt).toBe('a lighthouse at night, warm lights');
      expect([params.iterations, params.candidates]).toEqual([2, 4]);
      expect(made[0]!.destination).toMatchObject({ platform: 'playground', channelId: 'general', title: '🎁 Made for you, Zoe' });
      expect((await readSubscription(database.db, ZOE_KEY))?.lastRunId).toBe(made[0]!.id);
      // Not due again within the interval; due (and claimed once) when it has passed.
      clock = new Date(clock.getTime() + 167 * HOUR);
      expect(await a.runDue()).toEqual([]);
      clock = new Date(clock.getTime() + 1 * HOUR);
      const next = (await Promise.all([a.runDue(), b.runDue()])).flat();
      expect(next).toHaveLength(1);
      // Last week's run is still queued here (no worker): this week is skipped with that reason, not retried.
      expect(next[0]).toMatchObject({ skipped: expect.stringMatching(/already have a run going/) });
      expect(await a.runDue()).toEqual([]);
    }, 120_000);

    it('opting out stops the weekly run', async () => {
      const s = service();
      await s.optIn(subscription);
      expect(await s.optOut(ZOE_KEY)).toBe(true);
      expect(await s.runDue()).toEqual([]);
      expect(await runsOfZoe()).toHaveLength(0);
      expect(await s.optOut(ZOE_KEY)).toBe(false);
    }, 120_000);

    it('a week over the daily image quota is skipped with the reason, told once', async () => {
      const s = service({ DAILY_IMAGE_QUOTA_USER: '5' });
      await s.optIn(subscription);
      const [outcome] = await s.runDue();
      expect(outcome).toMatchObject({ userKey: ZOE_KEY, skipped: expect.stringMatching(/daily images left/) });
      expect(await runsOfZoe()).toHaveLength(0);
      expect(await s.untoldSkip(ZOE_KEY)).toMatch(/daily images left/);
      expect(await s.untoldSkip(ZOE_KEY)).toBeUndefined();
      // Skipped means this week is done: the next check does not try again.
      expect(await s.runDue()).toEqual([]);
    }, 120_000);

    it('refuses a person with no liked rating with a prompt, and a forget deletes the subscription', async () => {
      expect(await service({}, [{ imageId: 'i2', score: 3, prompt: 'a grey office' }]).optIn(subscription)).toEqual({ kind: 'no-ratings' });
      expect(await readSubscription(database.db, ZOE_KEY)).toBeUndefined();
      const s = service();
      await s.optIn(subscription);
      expect(await readSubscription(database.db, ZOE_KEY)).toBeDefined();
      await forgetPerson(database.db, ZOE_KEY);
      expect(await readSubscription(database.db, ZOE_KEY)).toBeUndefined();
      expect(await s.runDue()).toEqual([]);
    }, 120_000);
  });
}

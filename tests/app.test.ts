/**
 * The whole core, wired as in production (src/app.ts) with the offline backends: gallery seeding,
 * ratings → coalesced refits of the personal scorer, active selection, profile, and a durable
 * /optimize run scored by that scorer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { createApp, type App } from '../src/app';
import { testConfig } from '../src/config';
import { candidates, outbox, runs, scorerModels, usage } from '../src/db/schema';
import { ONBOARDING_PROMPTS } from '../src/core/gallery';
import { userKeyOf, type PersonRef } from '../src/core/identity';
import type { RunEvent } from '../src/core/optimizer/events';
import { silentLogger } from '../src/log';
import { parseSketchPrompt } from '../src/providers/imagegen/sketch/parse';
import { InvalidScoreError, UnknownImageError } from '../src/core/errors';
import { testBackends } from './helpers/db';
import { waitFor } from './helpers/runs';

for (const backend of testBackends()) {
  describe(`app on ${backend.name}`, () => {
    let app: App;
    const ada: PersonRef = { platform: 'playground', userId: 'ada' };
    const ctx = { source: 'test', scopeId: 'scope-1', channelId: 'c1' };
    let trained: string[] = [];

    beforeAll(async () => {
      const database = await backend.open();
      const config = testConfig({ DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tl-app-')), IMAGE_SIZE: '96' });
      app = await createApp(config, { log: silentLogger, database, runOptions: { outboxPollMs: 50 } });
      await app.start();
      app.drawGallery(); // in the background, as after npm start connects
      await app.gallery.done;
    });
    afterAll(async () => {
      await app?.close();
      await app?.database.close();
    });

    it('seeds the starter gallery and onboarding set on first start, and says which backend each part uses', async () => {
      expect((await app.images.list({ source: 'onboarding' })).length).toBe(ONBOARDING_PROMPTS.length);
      expect((await app.images.list({ source: 'gallery' })).length).toBeGreaterThanOrEqual(60);
      expect(Object.keys(app.backends).sort()).toEqual(['database', 'embedder', 'imagegen', 'images', 'llm', 'queue', 'scorer']);
      expect(app.backends.llm).toMatch(/none/);
    });

    it('offers onboarding images first to a new person', async () => {
      const first = await app.services.taste.nextToRate(userKeyOf(ada), 3);
      expect(first.map((i) => i.prompt)).toEqual(ONBOARDING_PROMPTS.slice(0, 3).map((p) => p.prompt));
    });

    it('learns a taste from ratings: the scorer refits after every rating and ranks new images by it', async () => {
      // Ada likes warm images: her rating is a function of the renderer's scene spec (never of the features).
      const likes = (prompt: string) => {
        const s = parseSketchPrompt(prompt);
        return Math.max(1, Math.min(10, Math.round(5.5 + 4 * s.warmth)));
      };
      const pool = [...(await app.images.list({ source: 'gallery' })), ...(await app.images.list({ source: 'onboarding' }))];
      const train = pool.slice(0, 50);
      // All at once, as a burst of reactions would arrive: refits must coalesce and the last one see everything.
      await Promise.all(train.map((img) => app.services.ratings.rate(ada, img.id, likes(img.prompt ?? ''), ctx)));
      trained = train.map((i) => i.id);
      await app.taste.idle();
      const key = userKeyOf(ada);
      expect(await app.services.ratings.count(key)).toBe(50);
      expect(app.taste.scorer.count(key)).toBe(50);
      const refits = app.taste.scheduler.stats();
      expect(refits.completed).toBeLessThan(50); // coalesced
      const test = pool.slice(50);
      const predicted = await app.services.taste.predict(
        key,
        test.map((i) => i.id),
      );
      const truth = test.map((i) => likes(i.prompt ?? ''));
      const { srocc } = await import('../src/core/scorer/quality-metrics');
      expect(srocc(truth, predicted)).toBeGreaterThan(0.5);

      // The scorer's summary is recorded for /profile and /privacy export.
      const [summary] = await app.database.db.select().from(scorerModels).where(eq(scorerModels.userKey, key));
      expect(summary).toMatchObject({ model: app.taste.modelId, n: 50 });
      expect((summary!.quality as { srocc: number | null }).srocc).not.toBeNull();

      const profile = await app.services.taste.profile(key);
      expect(profile.ratings).toBe(50);
      expect(profile.quality.n).toBe(50);
      expect(profile.quality.srocc).not.toBeNull();
      expect(profile.topImages.length).toBeGreaterThan(0);
      expect(profile.topImages[0]!.score).toBe(Math.max(...train.map((i) => likes(i.prompt ?? ''))));
    }, 180_000); // 50 ratings, each refitting the scorer: ~17 s on a busy 2-core machine

    it('a prediction right after a rating already uses it (human-in-the-loop scoring)', async () => {
      const dora: PersonRef = { platform: 'playground', userId: 'dora' };
      const imgs = (await app.images.list({ source: 'gallery' })).slice(0, 6);
      await Promise.all(imgs.map((img, i) => app.services.ratings.rate(dora, img.id, 3 + i, ctx)));
      // No idle(): predict itself waits for Dora's pending refit.
      await app.services.taste.predict(userKeyOf(dora), [imgs[0]!.id]);
      expect(app.taste.scorer.count(userKeyOf(dora))).toBe(6);
    });

    it('removing a rating refits the scorer without it', async () => {
      const key = userKeyOf(ada);
      const imageId = trained[0]!;
      const before = (await app.ledger.getRating(key, imageId))!.score;
      await app.services.ratings.unrate(ada, imageId, before, ctx);
      await app.taste.idle();
      expect(app.taste.scorer.count(key)).toBe(49);
      await app.services.ratings.rate(ada, imageId, before, ctx);
      await app.taste.idle();
      expect(app.taste.scorer.count(key)).toBe(50);
    });

    it('rejects bad ratings with typed errors and stores nothing', async () => {
      const [img] = await app.images.list({ source: 'gallery', limit: 1 });
      await expect(app.services.ratings.rate(ada, img!.id, 11, ctx)).rejects.toBeInstanceOf(InvalidScoreError);
      await expect(app.services.ratings.rate(ada, 'f'.repeat(64), 5, ctx)).rejects.toBeInstanceOf(UnknownImageError);
      expect(await app.services.ratings.count(userKeyOf(ada))).toBe(50);
    });

    it('enforces the daily provider budget per person, and caps a run at what is left', async () => {
      const carl: PersonRef = { platform: 'playground', userId: 'carl' };
      const key = userKeyOf(carl);
      await app.database.db
        .insert(usage)
        .values({ userKey: key, provider: 'replicate', model: 'flux', kind: 'image', images: 1, costUsd: 5 });
      await expect(app.services.runs.start({ requester: carl, prompt: 'a fox' })).rejects.toThrow(
        /daily provider budget \(\$5\.00 of \$5\.00\)/,
      );
      await app.database.db.delete(usage).where(eq(usage.userKey, key));
      await app.database.db
        .insert(usage)
        .values({ userKey: key, provider: 'replicate', model: 'flux', kind: 'image', images: 1, costUsd: 4.25 });
      const { runId } = await app.services.runs.start({ requester: carl, prompt: 'a fox', iterations: 1, candidates: 1 });
      const [row] = await app.database.db.select().from(runs).where(eq(runs.id, runId));
      expect((row!.params as { budget: { maxUsd: number } }).budget.maxUsd).toBeCloseTo(0.75, 6);
      // Carl has no ratings: the header says his scores are the community's for now.
      const [started] = await app.database.db
        .select()
        .from(outbox)
        .where(eq(outbox.key, `${runId}:started`));
      expect((started!.payload as { note?: string }).note).toMatch(/community's taste for now \(you have 0 ratings/);
      await app.services.runs.cancel(key, runId);
      await app.database.db.delete(usage).where(eq(usage.userKey, key));
    });

    it('refuses a group run with someone who has not opted in, whatever surface asks (privacy in the core)', async () => {
      const bob: PersonRef = { platform: 'playground', userId: 'bob' };
      await app.services.people.touch(bob, 'scope-1');
      const attempt = () =>
        app.services.runs.start({
          requester: ada,
          members: [userKeyOf(ada), userKeyOf(bob)],
          objective: 'min',
          prompt: 'a garden',
          scopeId: 'scope-1',
        });
      await expect(attempt()).rejects.toThrow(/not available|can't|cannot/i);
      expect(
        (
          await app.database.db
            .select()
            .from(runs)
            .where(eq(runs.userKey, userKeyOf(ada)))
        ).length,
      ).toBe(0);
    });

    it('runs /optimize durably for the person, scored by their own scorer, with the method metrics', async () => {
      const events: RunEvent[] = [];
      const off = app.services.runs.subscribe((e) => events.push(e));
      const { runId } = await app.services.runs.start({
        requester: ada,
        prompt: 'a quiet harbor',
        iterations: 2,
        candidates: 3,
        seed: 7,
        scopeId: 'scope-1',
      });
      await waitFor(() => events.some((e) => e.runId === runId && e.type === 'run.finished'), 'run.finished', 120_000);
      off();
      const [row] = await app.database.db.select().from(runs).where(eq(runs.id, runId));
      expect(row!.status).toBe('finished');
      const started = events.find((e) => e.type === 'run.started' && e.runId === runId);
      expect(started && started.type === 'run.started' && started.params.optimizer).toBe('genetic');
      const finished = events.find((e) => e.type === 'run.finished' && e.runId === runId);
      if (finished?.type !== 'run.finished') throw new Error('no finish');
      const m = finished.metrics;
      expect(m.max).toBeGreaterThanOrEqual(m.init);
      expect(m.maxMinusInit).toBeCloseTo(m.max - m.init, 6);
      expect(m.imagesUsed).toBe(1 + 2 * 3);
      expect(m.maxSim).not.toBeNull(); // Ada has high-rated earlier images
      expect(m.scoreOfMostSim).toBeGreaterThanOrEqual(7);
      // Candidate scores equal the person's scorer's prediction for that image.
      const cands = await app.database.db.select().from(candidates).where(eq(candidates.runId, runId));
      const scored = cands.filter((c) => c.imageId && c.score !== null);
      const again = await app.taste.belief(
        userKeyOf(ada),
        scored.map((c) => c.imageId!),
      );
      // The scorer did not change during the run (no ratings), so scores are reproducible: each stored
      // score is the calibrated one shown for the person's prediction of that image.
      scored.forEach((c, i) => expect(c.score!).toBeCloseTo(again.shown[i]!, 6));
      // Offline: nothing billable was recorded.
      const spent = await app.database.db.select().from(usage);
      expect(spent.every((u) => u.costUsd === 0)).toBe(true);
    });
  });
}

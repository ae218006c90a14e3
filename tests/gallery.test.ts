import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { testBackends } from './helpers/db';
import type { Database } from '../src/db/connection';
import { queryRows } from '../src/db/util';
import { FsImageBlobStore } from '../src/providers/blobstore/fs';
import { ImageStore } from '../src/core/images';
import { GALLERY_PROMPTS, ONBOARDING_PROMPTS, galleryImageIds, onboardingImageIds, seedGallery } from '../src/core/gallery';
import { parseSketchPrompt } from '../src/providers/imagegen/sketch/parse';
import { SketchGenerator } from '../src/providers/imagegen/sketch/generator';
import type { GenerateOptions, ImageGenerator } from '../src/core/ports';

describe('gallery prompts', () => {
  it('has ≥ 60 distinct gallery prompts and exactly 20 onboarding prompts with fixed seeds', () => {
    expect(GALLERY_PROMPTS.length).toBeGreaterThanOrEqual(60);
    expect(new Set(GALLERY_PROMPTS.map((p) => p.prompt)).size).toBe(GALLERY_PROMPTS.length);
    expect(ONBOARDING_PROMPTS).toHaveLength(20);
    expect(new Set(ONBOARDING_PROMPTS.map((p) => p.prompt)).size).toBe(20);
    expect(new Set(ONBOARDING_PROMPTS.map((p) => p.probes)).size).toBe(20);
    for (const p of [...GALLERY_PROMPTS, ...ONBOARDING_PROMPTS]) expect(Number.isInteger(p.seed)).toBe(true);
    // The onboarding order is a contract (first ratings are comparable across people).
    expect(ONBOARDING_PROMPTS[0]!.prompt).toBe('warm golden hour mountains with a low sun');
    expect(ONBOARDING_PROMPTS[19]!.prompt).toBe('misty grey overcast coast, muted and calm');
  });

  it('is diverse: every subject, medium, composition and both poles of light and warmth appear', () => {
    const specs = [...GALLERY_PROMPTS, ...ONBOARDING_PROMPTS].map((p) => parseSketchPrompt(p.prompt));
    const subjects = new Set(specs.flatMap((s) => (s.subjectsExplicit ? s.subjects : [])));
    for (const s of ['mountains', 'sea', 'city', 'forest', 'figure', 'abstract', 'sun', 'moon', 'flowers', 'desert', 'stars'])
      expect(subjects, s).toContain(s);
    expect(new Set(specs.map((s) => s.medium))).toEqual(new Set(['flat', 'watercolor', 'ink', 'pixel', 'oil']));
    expect(new Set(specs.map((s) => s.composition))).toEqual(new Set(['centered', 'symmetric', 'minimal', 'busy', 'balanced']));
    expect(new Set(specs.map((s) => s.lighting))).toEqual(new Set(['day', 'golden', 'night', 'neon', 'overcast', 'dawn']));
    expect(specs.filter((s) => s.warmth > 0.4).length).toBeGreaterThanOrEqual(6);
    expect(specs.filter((s) => s.warmth < -0.4).length).toBeGreaterThanOrEqual(6);
    // The onboarding set probes opposite poles.
    const ob = ONBOARDING_PROMPTS.map((p) => parseSketchPrompt(p.prompt));
    expect(ob[0]!.warmth).toBeGreaterThan(ob[1]!.warmth);
    expect(ob[3]!.detail).toBeGreaterThan(ob[2]!.detail);
    expect(ob[4]!.brightness).toBeGreaterThan(ob[5]!.brightness);
    expect([ob[10]!.medium, ob[11]!.medium]).toEqual(['watercolor', 'pixel']);
  });
});

for (const backend of testBackends()) {
  describe(`seedGallery (${backend.name})`, () => {
    let database: Database;
    let dir: string;
    let store: ImageStore;
    /** The real sketch renderer at a small size, counting calls. */
    class CountingSketch implements ImageGenerator {
      readonly inner = new SketchGenerator({ size: 48, concurrency: 3 });
      readonly name = this.inner.name;
      readonly model = this.inner.model;
      readonly concurrency = this.inner.concurrency;
      calls = 0;
      generate(prompt: string, opts?: GenerateOptions) {
        this.calls++;
        return this.inner.generate(prompt, opts);
      }
      describe() {
        return 'counting sketch';
      }
    }

    beforeAll(async () => {
      database = await backend.open();
      dir = await mkdtemp(path.join(os.tmpdir(), 'tl-gallery-'));
      store = new ImageStore(database.db, new FsImageBlobStore(dir));
    });
    afterAll(async () => {
      await database.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('renders everything once, then is idempotent', async () => {
      const total = GALLERY_PROMPTS.length + ONBOARDING_PROMPTS.length;
      const gen = new CountingSketch();
      const logs: object[] = [];
      const first = await seedGallery(store, gen, { log: { info: (o) => logs.push(o) } });
      expect(first).toEqual({ rendered: total, skipped: 0 });
      expect(gen.calls).toBe(total);
      expect(logs).toEqual([{ rendered: total, skipped: 0 }]);
      const count = async (source: string) =>
        Number(
          (await queryRows<{ n: string | number }>(database.db, sql`select count(*) as n from images where source = ${source}`))[0]!.n,
        );
      expect(await count('onboarding')).toBe(20);
      expect(await count('gallery')).toBe(GALLERY_PROMPTS.length);
      const files = (await readdir(dir, { recursive: true })).filter((f) => String(f).endsWith('.png'));
      expect(files).toHaveLength(total);

      const gen2 = new CountingSketch();
      expect(await seedGallery(store, gen2)).toEqual({ rendered: 0, skipped: total });
      expect(gen2.calls).toBe(0);
      expect(await count('onboarding')).toBe(20);
    });

    it('re-renders only what is missing', async () => {
      const ids = await galleryImageIds(database.db);
      await store.delete(ids[3]!);
      const gen = new CountingSketch();
      const r = await seedGallery(store, gen);
      expect(r.rendered).toBe(1);
      expect(gen.calls).toBe(1);
      expect(await galleryImageIds(database.db)).toEqual(ids); // deterministic renderer → same id back
    });

    it('onboardingImageIds follows the fixed prompt order', async () => {
      const ids = await onboardingImageIds(database.db);
      expect(ids).toHaveLength(20);
      for (let i = 0; i < 20; i++) {
        const rec = await store.get(ids[i]!);
        expect(rec).toMatchObject({
          source: 'onboarding',
          prompt: ONBOARDING_PROMPTS[i]!.prompt,
          seed: ONBOARDING_PROMPTS[i]!.seed,
          generator: 'sketch',
        });
      }
      expect(await onboardingImageIds(database.db)).toEqual(ids);
      const gallery = await galleryImageIds(database.db);
      expect(gallery).toHaveLength(GALLERY_PROMPTS.length);
      expect(new Set([...gallery, ...ids]).size).toBe(GALLERY_PROMPTS.length + 20);
      expect((await store.get(gallery[0]!))!.prompt).toBe(GALLERY_PROMPTS[0]!.prompt);
    });
  });
}

/**
 * Taste profiles: named feature directions (features-v1), the phrase path behind the TextEmbedder
 * interface (with a stand-in text embedder, since CLIP's text tower is not available offline),
 * "more than the community", and the pictures (distribution chart, image grid) as real PNGs of the
 * expected size; then /profile's data end to end on the real taste stack.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/connection';
import { userKeyOf, type PersonRef } from '../src/core/identity';
import { touchPerson } from '../src/core/people';
import { featureDirections, phraseDirections, type TextEmbedder } from '../src/core/profile-directions';
import { allDescriptorPhrases } from '../src/core/profile-phrases';
import { gridSize, imageGrid, ratingDistributionChart } from '../src/core/profile-pictures';
import { describeTaste, separatingSentence } from '../src/core/profile-words';
import { directionResponses, slopePerSd } from '../src/core/profiles';
import { createRng } from '../src/core/random';
import { inProcessChartRenderer } from '../src/charts/render';
import { FeaturesEmbedder, FEATURE_DIM, FEATURE_GROUPS } from '../src/providers/embedder/features';
import { parseSketchPrompt } from '../src/providers/imagegen/sketch/parse';
import { renderSketch } from '../src/providers/imagegen/sketch/render';
import { testBackends } from './helpers/db';
import { createTasteWorld, type TasteWorld } from './helpers/taste-world';

const WARM = [
  'warm golden hour desert with a low sun',
  'warm orange autumn forest',
  'red and amber sunset over dunes',
  'cozy warm village at dusk, golden',
  'fiery orange abstract flames',
  'golden wheat fields under a warm sky',
];
const COOL = [
  'cool blue icy lake under a pale winter sky',
  'frozen blue forest in winter, icy',
  'teal ocean at blue hour, cold',
  'cold blue night city',
  'navy and cyan abstract waves, cool',
  'misty blue mountains, icy cold',
];

async function render(prompts: string[], seedBase: number, size = 96): Promise<Buffer[]> {
  return Promise.all(prompts.map((p, i) => renderSketch(parseSketchPrompt(p), { seed: seedBase + i, size })));
}

describe('taste directions and descriptions (features-v1)', () => {
  let X: Float32Array[];
  const isWarm: boolean[] = [];

  beforeAll(async () => {
    const embedder = new FeaturesEmbedder();
    const pngs = [...(await render(WARM, 1)), ...(await render(COOL, 1)), ...(await render(WARM, 50)), ...(await render(COOL, 50))];
    X = await embedder.embed(pngs);
    for (let k = 0; k < 2; k++) isWarm.push(...WARM.map(() => true), ...COOL.map(() => false));
  });

  it('builds unit directions over the feature layout', () => {
    const dirs = featureDirections(FEATURE_GROUPS);
    expect(dirs.map((d) => d.id)).toEqual(expect.arrayContaining(['warm', 'contrast', 'busy', 'saturated', 'dark', 'symmetry']));
    for (const d of dirs) {
      expect(d.vector).toHaveLength(FEATURE_DIM);
      expect(Math.hypot(...d.vector)).toBeCloseTo(1, 9);
    }
    // Warm renders sit further along "warm" than cool ones.
    const warm = dirs.find((d) => d.id === 'warm')!;
    const pos = X.map((x) => x.reduce((s, v, j) => s + v * warm.vector[j]!, 0));
    const mean = (f: boolean) => pos.filter((_, i) => isWarm[i] === f).reduce((a, b) => a + b, 0) / (pos.length / 2);
    expect(mean(true)).toBeGreaterThan(mean(false));
  });

  it('describes a warm lover as liking warm palettes, more than a neutral community', () => {
    const person = isWarm.map((w) => (w ? 8.5 : 3));
    const community = isWarm.map(() => 5.5);
    const responses = directionResponses(X, person, community, featureDirections(FEATURE_GROUPS));
    const warm = responses.find((r) => r.direction.id === 'warm')!;
    expect(warm.slope).toBeGreaterThan(1);
    expect(warm.relative).toBeCloseTo(warm.slope, 9);
    const d = describeTaste(responses);
    expect(d.likes).toContain('warm palettes');
    expect(d.dislikes).toContain('cool palettes');
    expect(d.moreThanCommunity).toContain('warm palettes');
    expect(d.text).toMatch(/You lean towards .*warm palettes/);
    // The mirror person gets the other pole; with the community liking warmth as much, nothing is "more".
    const cool = describeTaste(
      directionResponses(
        X,
        isWarm.map((w) => (w ? 3 : 8.5)),
        community,
        featureDirections(FEATURE_GROUPS),
      ),
    );
    expect(cool.likes).toContain('cool palettes');
    const same = describeTaste(directionResponses(X, person, person, featureDirections(FEATURE_GROUPS)));
    expect(same.moreThanCommunity).toEqual([]);
    expect(
      separatingSentence(
        { name: 'Ann', responses },
        {
          name: 'Bob',
          responses: directionResponses(
            X,
            isWarm.map((w) => (w ? 3 : 8.5)),
            community,
            featureDirections(FEATURE_GROUPS),
          ),
        },
      ),
    ).toMatch(/Ann (leans towards warm palettes while Bob leans towards cool palettes|likes reds and oranges much more than Bob does)/);
  });

  it('uses descriptor phrases through a TextEmbedder (the CLIP path)', async () => {
    const phrases = allDescriptorPhrases();
    expect(phrases.length).toBeGreaterThanOrEqual(140);
    expect(new Set(phrases).size).toBe(phrases.length);
    // Stand-in text tower living in the features space: "warm colors" points along warmth, "cool colors" against it.
    const warm = featureDirections(FEATURE_GROUPS).find((d) => d.id === 'warm')!.vector;
    const rng = createRng(3);
    const text: TextEmbedder = {
      modelId: 'fake-clip',
      embedText: async (ts) =>
        ts.map((t) =>
          Float32Array.from(
            { length: FEATURE_DIM },
            (_, j) => (t === 'warm colors' ? warm[j]! : t === 'cool colors' ? -warm[j]! : 0) + rng.normal() * 0.01,
          ),
        ),
    };
    const dirs = await phraseDirections(text);
    expect(dirs).toHaveLength(phrases.length);
    const d = describeTaste(
      directionResponses(
        X,
        isWarm.map((w) => (w ? 8.5 : 3)),
        isWarm.map(() => 5.5),
        dirs,
      ),
    );
    expect(d.likes[0]).toBe('warm colors');
    expect(d.dislikes[0]).toBe('cool colors');
  });

  it('slopePerSd is rating points per SD and 0 for a flat direction', () => {
    expect(slopePerSd([1, 3], [0, 1])).toBeCloseTo(1, 9);
    expect(slopePerSd([1, 2, 3], [5, 5, 5])).toBe(0);
  });
});

describe('profile pictures', () => {
  it('renders the score distribution as a PNG of the requested size', async () => {
    const png = await ratingDistributionChart(inProcessChartRenderer, [1, 5, 5, 7, 9, 10, 10], { width: 480, height: 280 });
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    expect([meta.width, meta.height]).toEqual([480, 280]);
    // Not blank: a chart has bars and text in several colours.
    const { channels } = await sharp(png).stats();
    expect(channels[0]!.min).toBeLessThan(200);
  });

  it('composes a grid of top-rated and predicted-favorite images', async () => {
    const tiles = (await render([...WARM.slice(0, 3)], 9)).map((png, i) => ({ png, caption: `rated ${9 - i}/10` }));
    const rows = [
      { label: 'Top rated', tiles },
      { label: 'Predicted favorites', tiles: tiles.slice(0, 2) },
    ];
    const png = await imageGrid(inProcessChartRenderer, rows);
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    expect({ width: meta.width, height: meta.height }).toEqual(gridSize(rows));
    expect(gridSize(rows).width).toBe(8 + 3 * (192 + 8));
  });
});

for (const backend of testBackends()) {
  describe(`/profile data on the real taste stack (${backend.name})`, () => {
    let database: Database;
    let world: TasteWorld;
    const ME: PersonRef = { platform: 'discord', userId: '42', displayName: 'Mia' };

    beforeAll(async () => {
      database = await backend.open();
      world = createTasteWorld(database.db);
      const prompts = [...WARM, ...COOL];
      const ids: string[] = [];
      for (let round = 0; round < 3; round++) {
        const pngs = await render(prompts, 100 * round);
        for (const [i, png] of pngs.entries())
          ids.push((await world.store.put(png, { source: 'gallery', prompt: prompts[i]!, seed: 100 * round + i })).id);
      }
      await touchPerson(world.db, ME, 'g1');
      // Rate two thirds: warm high, cool low; the last round stays unrated (predicted favorites come from it).
      for (let k = 0; k < 24; k++) {
        const warm = k % 12 < WARM.length;
        await world.ledger.rate({
          userKey: userKeyOf(ME),
          imageId: ids[k]!,
          score: warm ? 9 - (k % 2) : 2 + (k % 2),
          ctx: { source: 'discord', scopeId: 'g1' },
        });
      }
      await world.taste.idle();
    }, 120_000);

    afterAll(async () => {
      world?.close();
      await database?.close();
    });

    it('describes, charts and shows the grid', async () => {
      const view = await world.profiles.view({ viewer: ME, scopeId: 'g1' });
      expect(view.self).toBe(true);
      expect(view.name).toBe('Mia');
      expect(view.summary.ratings).toBe(24);
      expect(view.likes).toContain('warm palettes');
      expect(view.description).toMatch(/warm palettes/);
      const chart = await sharp(view.distributionChart!).metadata();
      expect([chart.format, chart.width, chart.height]).toEqual(['png', 480, 280]);
      const grid = await sharp(view.grid!).metadata();
      expect(grid.format).toBe('png');
      expect(grid.width).toBe(8 + 4 * (192 + 8));
      expect(grid.height).toBe(8 + 2 * (28 + 192 + 22 + 8));
      // The predicted favorites are unrated warm images.
      for (const f of view.summary.predictedFavorites.slice(0, 2)) expect(WARM).toContain(f.image.prompt);
    });
  });
}

/**
 * /suggest's core on the real taste stack (features-v1 embeddings, the person's own scorer): the
 * scope's pool is what was rated or generated there, minus what the person has seen (voted on, even
 * a vote taken back, or made in their own run); the top suggestion is the unseen image their scorer
 * predicts highest; reasons use their taste directions and only their own ratings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/connection';
import { candidates, runs } from '../src/db/schema';
import { userKeyOf, type PersonRef } from '../src/core/identity';
import { createSuggestions, unseenPool, type SuggestionsApi } from '../src/core/suggestions';
import { reasonBasis, reasonFor } from '../src/core/suggestion-reasons';
import { parseSketchPrompt } from '../src/providers/imagegen/sketch/parse';
import { renderSketch } from '../src/providers/imagegen/sketch/render';
import { FeaturesEmbedder, FEATURE_GROUPS } from '../src/providers/embedder/features';
import { featureDirections } from '../src/core/profile-directions';
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
const PROMPTS = [...WARM, ...COOL];

describe('suggestion reasons (pure)', () => {
  it('names only the asker’s own liked scores and says so in words', async () => {
    const embedder = new FeaturesEmbedder();
    const pngs = await Promise.all(PROMPTS.map((p, i) => renderSketch(parseSketchPrompt(p), { seed: 7 + i, size: 96 })));
    const X = await embedder.embed(pngs);
    const predicted = PROMPTS.map((_, i) => (i < WARM.length ? 8 : 3));
    // Liked: the first two warm renders (9 and 10); a 4 is never "liked".
    const basis = reasonBasis(featureDirections(FEATURE_GROUPS), X, predicted, [
      { vector: X[0]!, score: 9 },
      { vector: X[1]!, score: 10 },
      { vector: X[6]!, score: 4 },
    ]);
    const reason = reasonFor(X[2]!, basis);
    expect(reason.phrases).toContain('warm palettes');
    expect(reason.likeScores).toEqual([9, 10]);
    expect(reason.text).toMatch(/warm palettes.* — like the ones you rated 9 and 10$/);
    // A cool image shares no warm leaning and resembles none of the liked warm ones.
    const cool = reasonFor(X[8]!, basis);
    expect(cool.phrases).not.toContain('warm palettes');
    expect(cool.likeScores).toEqual([]);
  });
});

for (const backend of testBackends()) {
  describe(`/suggest on the real taste stack (${backend.name})`, () => {
    let database: Database;
    let world: TasteWorld;
    let api: SuggestionsApi;
    const ME: PersonRef = { platform: 'discord', userId: '42', displayName: 'Mia' };
    const OTHER: PersonRef = { platform: 'discord', userId: '77', displayName: 'Oz' };
    const NEW: PersonRef = { platform: 'discord', userId: '99', displayName: 'Neo' };
    const me = userKeyOf(ME);
    const other = userKeyOf(OTHER);
    /** rounds[r][i]: the image of PROMPTS[i] drawn with round r's seeds. */
    const rounds: string[][] = [];

    async function addRun(id: string, userKey: string, scopeId: string, imageId: string): Promise<void> {
      await world.db.insert(runs).values({ id, userKey, scopeId, status: 'finished', initialPrompt: 'x', params: {} });
      await world.db.insert(candidates).values({ runId: id, iteration: 0, idx: 0, prompt: 'x', imageId, score: 5 });
    }

    beforeAll(async () => {
      database = await backend.open();
      world = createTasteWorld(database.db);
      api = createSuggestions({ ...world, images: world.store, embedder: new FeaturesEmbedder() });
      for (let r = 0; r < 5; r++) {
        const pngs = await Promise.all(PROMPTS.map((p, i) => renderSketch(parseSketchPrompt(p), { seed: 100 * r + i, size: 96 })));
        const ids: string[] = [];
        for (const [i, png] of pngs.entries())
          ids.push((await world.store.put(png, { source: 'gallery', prompt: PROMPTS[i]!, seed: 100 * r + i })).id);
        rounds.push(ids);
      }
      const rate = (userKey: string, imageId: string, score: number, scopeId: string) =>
        world.ledger.rate({ userKey, imageId, score, ctx: { source: 'discord', scopeId } });
      // Mia rates rounds 0–1 in g1: warm 8–9, cool 2–3 (a personal scorer that likes warm palettes).
      for (const r of [0, 1])
        for (const [i, id] of rounds[r]!.entries()) await rate(me, id, i < WARM.length ? 9 - (i % 2) : 2 + (i % 2), 'g1');
      // Oz rates round 2 in g1 (the pool), with scores Mia's reasons must never show.
      for (const id of rounds[2]!) await rate(other, id, 10, 'g1');
      // Round 3 only in another server.
      for (const id of rounds[3]!) await rate(other, id, 10, 'g2');
      // Mia voted on one pool image and took it back: seen all the same.
      await rate(me, rounds[2]![0]!, 6, 'g1');
      await world.ledger.unrate({ userKey: me, imageId: rounds[2]![0]!, score: 6, ctx: { source: 'discord', scopeId: 'g1' } });
      // Generated in g1: Oz's run (in the pool) and Mia's own run (seen in her thread).
      await addRun('run-oz', other, 'g1', rounds[4]![1]!);
      await addRun('run-mia', me, 'g1', rounds[4]![2]!);
      await addRun('run-elsewhere', other, 'g2', rounds[4]![3]!);
      await rate(userKeyOf(NEW), rounds[2]![5]!, 7, 'g1');
      await world.taste.idle();
    }, 180_000);

    afterAll(async () => {
      world?.close();
      await database?.close();
    });

    it('the pool is what was rated or generated in this scope, minus what she has seen', async () => {
      const pool = await unseenPool(world.db, 'g1', me, 2000);
      const expected = [...rounds[2]!.slice(1), rounds[4]![1]!];
      expect([...pool].sort()).toEqual([...expected].sort());
      // Bounded: the cap keeps the newest.
      expect(await unseenPool(world.db, 'g1', me, 3)).toHaveLength(3);
    });

    it('the top suggestion is the unseen image her scorer predicts highest, with her reasons', async () => {
      const result = await api.suggest({ userKey: me, scopeId: 'g1', count: 3 });
      if (result.kind !== 'suggestions') throw new Error(`expected suggestions, got ${result.kind}`);
      const pool = await unseenPool(world.db, 'g1', me, 2000);
      const predicted = await world.taste.predict(me, pool);
      const best = pool[predicted.indexOf(Math.max(...predicted))]!;
      expect(result.suggestions[0]!.image.id).toBe(best);
      expect(result.suggestions).toHaveLength(3);
      expect(result.suggestions.map((s) => s.predicted)).toEqual([...result.suggestions.map((s) => s.predicted)].sort((a, b) => b - a));
      for (const s of result.suggestions) {
        expect(pool).toContain(s.image.id);
        expect(WARM).toContain(s.image.prompt);
        // Only her own liked scores (8 and 9), never Oz's 10s.
        for (const score of s.reason.likeScores) expect([8, 9]).toContain(score);
      }
      expect(result.leanings).toMatch(/warm palettes/);
      expect(result.suggestions.some((s) => s.reason.phrases.includes('warm palettes'))).toBe(true);
    });

    it('other scopes stay out; a person with too few ratings and an empty pool get their answers', async () => {
      const inG2 = await api.suggest({ userKey: me, scopeId: 'g2', count: 10 });
      if (inG2.kind !== 'suggestions') throw new Error(`expected suggestions, got ${inG2.kind}`);
      const g2 = new Set([...rounds[3]!, rounds[4]![3]!]);
      expect(inG2.suggestions.every((s) => g2.has(s.image.id))).toBe(true);
      expect(await api.suggest({ userKey: userKeyOf(NEW), scopeId: 'g1', count: 4 })).toEqual({ kind: 'learning', ratings: 1, needed: 5 });
      expect(await api.suggest({ userKey: me, scopeId: 'g3', count: 4 })).toEqual({ kind: 'empty' });
    });
  });
}

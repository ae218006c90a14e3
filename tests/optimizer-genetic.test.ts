import { describe, expect, it } from 'vitest';
import { GeneticProposer, crossover, mutate } from '../src/core/optimizer/genetic';
import { RandomProposer } from '../src/core/optimizer/random';
import { ALL_KEYWORDS, MAX_KEYWORDS, parsePrompt } from '../src/core/optimizer/keywords';
import { runLoop } from '../src/core/optimizer/loop';
import { resolveRunParams } from '../src/core/optimizer/params';
import { mulberry32, shuffle } from '../src/core/optimizer/rng';
import { FakeGenerator, KeywordObjective, MemoryImageStore } from './fakes/optimizer-fakes';

async function bestOf(kind: 'genetic' | 'random', seed: number, preferred: string[]) {
  const store = new MemoryImageStore();
  const objective = new KeywordObjective((id) => store.promptOf(id), preferred);
  const { params } = resolveRunParams(
    { prompt: 'a lighthouse on a cliff', members: ['u'], optimizer: kind, iterations: 10, candidates: 6, seed },
    { llmAvailable: false, maxImagesPerRun: 1000 },
  );
  const proposer = kind === 'genetic' ? new GeneticProposer() : new RandomProposer();
  const res = await runLoop(params, { generator: new FakeGenerator(4), store, objective, proposer }, { runId: `r-${kind}-${seed}` });
  return res;
}

describe('keyword operators', () => {
  it('parses subject and keywords', () => {
    expect(parsePrompt('a cat, Watercolor , golden hour,,watercolor')).toEqual({ subject: 'a cat', keywords: ['watercolor', 'golden hour'] });
  });
  it('crossover keeps shared keywords; mutation changes the set and respects the cap', () => {
    const rng = mulberry32(1);
    for (let i = 0; i < 50; i++) {
      const child = crossover(['a', 'b', 'c'], ['b', 'x'], rng);
      expect(child).toContain('b');
      expect(child.every((k) => ['a', 'b', 'c', 'x'].includes(k))).toBe(true);
      const full = ALL_KEYWORDS.slice(0, MAX_KEYWORDS);
      expect(mutate(full, rng).length).toBeLessThanOrEqual(MAX_KEYWORDS);
      expect(mutate(['watercolor'], rng)).not.toEqual(['watercolor']);
    }
  });
});

describe('genetic vs random at equal image budgets', () => {
  it('is deterministic under the seed', async () => {
    const pref = ['watercolor', 'golden hour', 'pastel palette', 'wide angle'];
    const a = await bestOf('genetic', 7, pref);
    const b = await bestOf('genetic', 7, pref);
    expect(a.state.history.map((h) => h.prompt)).toEqual(b.state.history.map((h) => h.prompt));
    expect(a.metrics.max).toBe(b.metrics.max);
  });

  it('genetic beats random on a hidden preferred keyword set (several seeds)', async () => {
    const seeds = [1, 2, 3, 4, 5, 6];
    const gains = { genetic: [] as number[], random: [] as number[] };
    const images = { genetic: [] as number[], random: [] as number[] };
    for (const seed of seeds) {
      // A different hidden taste per seed: 4 keywords from the vocabulary.
      const pref = shuffle(mulberry32(1000 + seed), ALL_KEYWORDS).slice(0, 4);
      for (const kind of ['genetic', 'random'] as const) {
        const r = await bestOf(kind, seed, pref);
        gains[kind].push(r.metrics.max);
        images[kind].push(r.metrics.imagesUsed);
      }
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    // Same budget for both rows.
    expect(images.genetic).toEqual(images.random);
    expect(images.genetic.every((n) => n === 61)).toBe(true);
    console.log(`mean best score over ${seeds.length} seeds: genetic ${mean(gains.genetic).toFixed(2)}, random ${mean(gains.random).toFixed(2)}`);
    expect(mean(gains.genetic)).toBeGreaterThan(mean(gains.random) + 0.5);
  });
});

import { describe, expect, it } from 'vitest';
import { GeneticProposer, crossover, mutate } from '../src/core/optimizer/genetic';
import { RandomProposer } from '../src/core/optimizer/random-proposer';
import {
  ALL_KEYWORDS,
  KEYWORD_CATEGORIES,
  KEYWORD_VOCABULARY,
  MAX_KEYWORDS,
  diverseInitialPrompts,
  parsePrompt,
} from '../src/core/optimizer/keywords';
import type { ScoredPrompt } from '../src/core/optimizer/proposer';
import { parseSketchPrompt } from '../src/providers/imagegen/sketch/parse';
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
    expect(parsePrompt('a cat, Watercolor , golden hour,,watercolor')).toEqual({
      subject: 'a cat',
      keywords: ['watercolor', 'golden hour'],
    });
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

describe('keyword vocabulary', () => {
  it('every keyword is understood by the offline sketch renderer (none is only hash noise)', () => {
    const base = parseSketchPrompt('a lighthouse on a cliff');
    for (const k of ALL_KEYWORDS) {
      const spec = parseSketchPrompt(`a lighthouse on a cliff, ${k}`);
      // Every word of the keyword is read (a mood, color, composition, medium or subject), apart from
      // filler such as "full" in "full moon" — and the scene's readable fields move.
      expect(spec.unknownWords.filter((w) => !base.unknownWords.includes(w)).length, k).toBeLessThanOrEqual(
        k === 'full moon' || k === 'highly detailed' ? 1 : 0,
      );
    }
  });

  it('initial prompts are spread: no keyword repeats across the first N prompts and they cover many categories', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const prompts = diverseInitialPrompts('a lighthouse on a cliff', 4, mulberry32(seed));
      expect(prompts).toHaveLength(4);
      const kws = prompts.flatMap((p) => parsePrompt(p).keywords);
      expect(new Set(kws).size).toBe(kws.length);
      const cats = new Set(kws.map((k) => KEYWORD_CATEGORIES.find((c) => (KEYWORD_VOCABULARY[c] as readonly string[]).includes(k))));
      expect(cats.size).toBe(KEYWORD_CATEGORIES.length);
    }
  });
});

describe('genetic operators in a run', () => {
  const diff = (a: string[], b: string[]) => a.filter((k) => !b.includes(k)).length + b.filter((k) => !a.includes(k)).length;
  const ctx = { initialPrompt: 'a lighthouse on a cliff', iteration: 5 };
  const at = (prompt: string, score: number, iteration: number, idx: number): ScoredPrompt => ({ prompt, score, iteration, idx });

  it('is elitist: children grow from the best prompt so far by one small mutation, even when it is old', async () => {
    const history: ScoredPrompt[] = [
      at('a lighthouse on a cliff', 4, 0, 0),
      at('a lighthouse on a cliff, watercolor, golden hour, pastel', 9, 1, 0), // the best, from iteration 1
      ...Array.from({ length: 12 }, (_, i) =>
        at(`a lighthouse on a cliff, ${ALL_KEYWORDS[10 + i]}, ${ALL_KEYWORDS[30 + i]}`, 3 + (i % 3) * 0.1, 2 + Math.floor(i / 4), i % 4),
      ),
    ];
    const best = ['watercolor', 'golden hour', 'pastel'];
    for (let seed = 1; seed <= 10; seed++) {
      const out = await new GeneticProposer().next(history, 4, mulberry32(seed), ctx);
      expect(out).toHaveLength(4);
      const near = out.filter((p) => diff(parsePrompt(p).keywords, best) <= 2);
      expect(near.length).toBeGreaterThanOrEqual(2);
      for (const p of out) expect(history.map((h) => h.prompt)).not.toContain(p);
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
    console.log(
      `mean best score over ${seeds.length} seeds: genetic ${mean(gains.genetic).toFixed(2)}, random ${mean(gains.random).toFixed(2)}`,
    );
    expect(mean(gains.genetic)).toBeGreaterThan(mean(gains.random) + 0.5);
  });
});

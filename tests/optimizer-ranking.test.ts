import { describe, expect, it } from 'vitest';
import { GeneticProposer } from '../src/core/optimizer/genetic';
import { runLoop, type LoopDeps, type Objective, type ObjectiveResult } from '../src/core/optimizer/loop';
import { createScorerObjective } from '../src/core/optimizer/objective';
import { resolveRunParams, type RunParamsInput } from '../src/core/optimizer/params';
import { rankingValue, thompsonDraw, UCB_BETA } from '../src/core/optimizer/ranking';
import { displayScore, fitDisplayMap } from '../src/core/scorer/display-score';
import { FakeGenerator, MemoryImageStore } from './fakes/optimizer-fakes';

const MAP = fitDisplayMap([], { mean: 5.5 });

/** An objective that hands out scripted beliefs per call (iteration): uncapped means and sds, shown through the display map. */
class ScriptedBeliefObjective implements Objective {
  calls = 0;
  constructor(private readonly script: { mean: number; sd: number }[][]) {}
  describe(): string {
    return 'scripted beliefs';
  }
  async score(ids: string[]): Promise<ObjectiveResult> {
    const batch = this.script[this.calls++] ?? [];
    return {
      scorerN: 0,
      scores: ids.map((_, i) => {
        const b = batch[i] ?? { mean: 5, sd: 0 };
        return { score: displayScore(MAP, b.mean), memberScores: {}, mean: b.mean, sd: b.sd };
      }),
    };
  }
}

function run(script: { mean: number; sd: number }[][], input: Partial<RunParamsInput> = {}) {
  const store = new MemoryImageStore();
  const objective = new ScriptedBeliefObjective(script);
  const { params } = resolveRunParams(
    { prompt: 'a fox in a forest', members: ['u'], iterations: 1, candidates: 2, seed: 3, ...input },
    { llmAvailable: false, maxImagesPerRun: 64 },
  );
  const deps: LoopDeps = { generator: new FakeGenerator(2, 0), store, objective, proposer: new GeneticProposer() };
  return runLoop(params, deps, { runId: 'ranking' });
}

describe('ranking on what the scorer believes', () => {
  it('tells two candidates apart when both are believed past 10 (clipped, both read 10.0 and the first would win)', async () => {
    const res = await run([
      [{ mean: 8, sd: 0 }],
      [
        { mean: 11, sd: 0 },
        { mean: 13, sd: 0 },
      ],
    ]);
    const it1 = res.state.history.filter((c) => c.iteration === 1);
    expect(it1.map((c) => c.mean)).toEqual([11, 13]);
    // The second candidate is the better one: it is the run's best, its shown score the best so far.
    expect(res.metrics.bestPrompt).toBe(it1[1]!.prompt);
    expect(res.metrics.max).toBeCloseTo(displayScore(MAP, 13), 9);
    expect(res.state.bestMeanSoFar).toBe(13);
    // Shown scores stay below 10.0 and apart from each other.
    expect(it1[1]!.score!).toBeGreaterThan(it1[0]!.score!);
    expect(it1[1]!.score!).toBeLessThan(9.95);
    expect(res.metrics.init).toBeCloseTo(displayScore(MAP, 8), 9);
  });

  it('ucb ranks the optimizer’s view on mean + β·sd, but the best image is still the one believed best', async () => {
    const script = [
      [{ mean: 8, sd: 0 }],
      [
        { mean: 11, sd: 3 },
        { mean: 12, sd: 0 },
      ],
    ];
    const res = await run(script, { ranking: 'ucb' });
    const it1 = res.state.history.filter((c) => c.iteration === 1);
    expect(it1.map((c) => c.rank)).toEqual([11 + 3 * UCB_BETA, 12]);
    expect(res.metrics.bestPrompt).toBe(it1[1]!.prompt);
    const byMean = await run(script, { ranking: 'mean' });
    expect(byMean.state.history.filter((c) => c.iteration === 1).map((c) => c.rank)).toEqual([11, 12]);
  });

  it('thompson draws are reproducible per (seed, iteration, candidate) and spread by the sd', () => {
    const a = rankingValue('thompson', 10, 2, thompsonDraw(7, 1, 0));
    const b = rankingValue('thompson', 10, 2, thompsonDraw(7, 1, 0));
    const c = rankingValue('thompson', 10, 2, thompsonDraw(7, 1, 1));
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(rankingValue('thompson', 10, 0, thompsonDraw(7, 1, 0))).toBe(10);
    const draws = Array.from({ length: 2000 }, (_, i) => rankingValue('thompson', 0, 2, thompsonDraw(1, 1, i)));
    const sd = Math.sqrt(draws.reduce((s, x) => s + x * x, 0) / draws.length);
    expect(sd).toBeGreaterThan(1.8);
    expect(sd).toBeLessThan(2.2);
  });

  it('a group objective shows members’ calibrated scores and ranks on their beliefs', async () => {
    const objective = createScorerObjective(
      {
        predict: async () => [10, 10],
        belief: async (u) =>
          u === 'a' ? { mean: [12, 14], sd: [1, 1], shown: [9.7, 9.9] } : { mean: [9, 15], sd: [2, 0], shown: [8.9, 9.9] },
        ratingCount: async () => 3,
      },
      { members: ['a', 'b'], objective: 'min' },
    );
    const res = await objective.score(['x', 'y']);
    expect(res.scores.map((s) => s.score)).toEqual([8.9, 9.9]);
    expect(res.scores.map((s) => s.mean)).toEqual([9, 14]);
    expect(res.scores.map((s) => s.sd)).toEqual([2, 1]);
    expect(res.scores[0]!.memberScores).toEqual({ a: 9.7, b: 8.9 });
  });
});

/**
 * The loop's per-iteration pipeline (measured by `npm run bench:loop`): feedback for all N candidates goes out in
 * one round (bounded by the feedback concurrency), each image is handed to the objective's `prepare`
 * (embedding warm-up) as soon as it is stored — while other renders are still in flight — and none of
 * this changes what a run produces. Ordering is asserted through event logs, never through timing.
 */
import { describe, expect, it } from 'vitest';
import { LlmProposer } from '../src/core/optimizer/llm';
import { GeneticProposer } from '../src/core/optimizer/genetic';
import { DEFAULT_FEEDBACK_CONCURRENCY, runLoop, type LoopDeps, type Objective, type ObjectiveResult } from '../src/core/optimizer/loop';
import { resolveRunParams } from '../src/core/optimizer/params';
import type { FeedbackLlm, GenerateOptions, GeneratedImage, ImageGenerator, LlmMessageImage } from '../src/core/ports';
import { FakeGenerator, KeywordObjective, MemoryImageStore, ScriptedOptimizerLlm, promptPng } from './fakes/optimizer-fakes';

const PREF = ['watercolor', 'golden hour', 'pastel', 'minimalist'];
const tick = () => new Promise<void>((r) => setImmediate(r));

/** Feedback LLM that records how many calls were in flight at once (each call yields a few ticks). */
class CountingFeedbackLlm implements FeedbackLlm {
  readonly model = 'counting-feedback';
  inFlight = 0;
  maxInFlight = 0;
  calls = 0;
  async feedback(req: { prompt: string; score: number; image: LlmMessageImage }): Promise<string> {
    this.calls++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    for (let i = 0; i < 5; i++) await tick();
    this.inFlight--;
    return `advice for ${req.prompt}`;
  }
}

function llmParams(candidates: number, iterations = 2) {
  return resolveRunParams(
    { prompt: 'a fox in a forest', members: ['u'], iterations, candidates, seed: 3, optimizer: 'llm', feedback: 's+p+f' },
    { llmAvailable: true, maxImagesPerRun: 200 },
  ).params;
}

describe('feedback for all candidates at once', () => {
  it("asks for every candidate's feedback concurrently (default bound 16), not four at a time", async () => {
    const store = new MemoryImageStore();
    const fb = new CountingFeedbackLlm();
    const deps: LoopDeps = {
      generator: new FakeGenerator(12),
      store,
      objective: new KeywordObjective((id) => store.promptOf(id), PREF),
      proposer: new LlmProposer(new ScriptedOptimizerLlm(), 's+p+f'),
      feedbackLlm: fb,
    };
    await runLoop(llmParams(12), deps, { runId: 'fb-all' });
    expect(fb.calls).toBe(12); // iteration 1's 12 candidates (iteration 0 has no feedback; the last iteration proposes nothing)
    expect(DEFAULT_FEEDBACK_CONCURRENCY).toBeGreaterThanOrEqual(16);
    expect(fb.maxInFlight).toBe(12);
  });

  it('respects a configured feedback concurrency', async () => {
    const store = new MemoryImageStore();
    const fb = new CountingFeedbackLlm();
    const deps: LoopDeps = {
      generator: new FakeGenerator(12),
      store,
      objective: new KeywordObjective((id) => store.promptOf(id), PREF),
      proposer: new LlmProposer(new ScriptedOptimizerLlm(), 's+p+f'),
      feedbackLlm: fb,
      feedbackConcurrency: 3,
    };
    await runLoop(llmParams(12), deps, { runId: 'fb-3' });
    expect(fb.calls).toBe(12);
    expect(fb.maxInFlight).toBe(3);
  });
});

/**
 * Image generator for one batch at a time: the first call of a batch (made while nothing is in
 * flight) finishes at once; the others finish only after a new image was prepared (or after a bounded
 * number of event-loop ticks once the first is done, so a loop that does not pipeline fails the
 * ordering assertions instead of hanging).
 */
class StaggeredGenerator implements ImageGenerator {
  readonly name = 'staggered';
  readonly model = 'staggered-v1';
  readonly concurrency = 4;
  private inFlight = 0;
  private baseline = 0;
  private firstDone = false;
  constructor(
    private readonly log: string[],
    private readonly prepared: () => number,
  ) {}
  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GeneratedImage> {
    const first = this.inFlight === 0;
    this.inFlight++;
    if (first) {
      this.baseline = this.prepared();
      this.firstDone = false;
    }
    this.log.push(`gen-start:${prompt}`);
    // PNG encoding runs on libuv's thread pool, so it happens before any waiting: the bounded wait
    // below counts event-loop ticks only from the moment the batch's first image is done.
    const bytes = await promptPng(prompt, opts.seed);
    if (first) this.firstDone = true;
    else {
      while (!this.firstDone) await tick();
      for (let i = 0; i < 200 && this.prepared() <= this.baseline; i++) await tick();
    }
    this.log.push(`gen-done:${prompt}`);
    this.inFlight--;
    return { bytes, generator: this.name, model: this.model, seed: opts.seed, costUsd: 0 };
  }
  describe() {
    return 'staggered generator';
  }
}

/** Wraps the keyword objective with a `prepare` that logs (and optionally fails). */
class PreparingObjective implements Objective {
  readonly prepared = new Set<string>();
  constructor(
    private readonly inner: KeywordObjective,
    private readonly log: string[],
    private readonly failPrepare = false,
  ) {}
  describe() {
    return 'preparing objective';
  }
  async prepare(id: string): Promise<void> {
    await tick();
    this.log.push(`prepare:${id.slice(0, 6)}`);
    this.prepared.add(id);
    if (this.failPrepare) throw new Error('embedding service hiccup');
  }
  async score(ids: string[]): Promise<ObjectiveResult> {
    this.log.push(`score:${ids.length}`);
    return this.inner.score(ids);
  }
}

describe('per-image pipeline: render → store → prepare, scoring once per iteration', () => {
  it('prepares each image as soon as it is stored, before the rest of the batch has rendered, and scores after all are prepared', async () => {
    const store = new MemoryImageStore();
    const log: string[] = [];
    const objective = new PreparingObjective(new KeywordObjective((id) => store.promptOf(id), PREF), log);
    const generator = new StaggeredGenerator(log, () => objective.prepared.size);
    const { params } = resolveRunParams(
      { prompt: 'a fox in a forest', members: ['u'], iterations: 1, candidates: 4, seed: 9 },
      { llmAvailable: false, maxImagesPerRun: 64 },
    );
    const res = await runLoop(params, { generator, store, objective, proposer: new GeneticProposer() }, { runId: 'pipe' });
    expect(res.stopReason).toBe('completed');
    // Iteration 1 (4 concurrent renders): the first image was prepared before any other finished rendering.
    const it1 = log.slice(log.indexOf('score:1') + 1);
    const firstPrepare = it1.findIndex((l) => l.startsWith('prepare:'));
    const otherDone = it1.map((l, i) => (l.startsWith('gen-done:') ? i : -1)).filter((i) => i >= 0);
    expect(otherDone).toHaveLength(4);
    expect(firstPrepare).toBeGreaterThan(otherDone[0]!);
    expect(firstPrepare).toBeLessThan(otherDone[1]!);
    // One score call per iteration, after every image of the iteration was prepared.
    expect(log.filter((l) => l.startsWith('score:'))).toEqual(['score:1', 'score:4']);
    const lastScore = log.lastIndexOf('score:4');
    expect(it1.filter((l) => l.startsWith('prepare:'))).toHaveLength(4);
    expect(log.slice(lastScore + 1).some((l) => l.startsWith('prepare:'))).toBe(false);
  });

  it('a failing prepare does not fail the iteration, and prepare never changes the results', async () => {
    const run = async (mode: 'none' | 'ok' | 'fail') => {
      const store = new MemoryImageStore();
      const inner = new KeywordObjective((id) => store.promptOf(id), PREF);
      const objective: Objective = mode === 'none' ? inner : new PreparingObjective(inner, [], mode === 'fail');
      const { params } = resolveRunParams(
        { prompt: 'a fox in a forest', members: ['u'], iterations: 4, candidates: 4, seed: 21 },
        { llmAvailable: false, maxImagesPerRun: 64 },
      );
      const res = await runLoop(
        params,
        { generator: new FakeGenerator(3), store, objective, proposer: new GeneticProposer() },
        { runId: 'same' },
      );
      return res.state.history.map((c) => [c.prompt, c.imageId, c.score]);
    };
    const plain = await run('none');
    expect(plain).toHaveLength(17);
    expect(await run('ok')).toEqual(plain);
    expect(await run('fail')).toEqual(plain);
  });
});

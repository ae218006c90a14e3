import { describe, expect, it } from 'vitest';
import { InvalidPromptError, LimitReachedError } from '../src/core/errors';
import { GeneticProposer } from '../src/core/optimizer/genetic';
import { LlmProposer } from '../src/core/optimizer/llm';
import { runLoop, type LoopDeps } from '../src/core/optimizer/loop';
import { resolveRunParams, type RunParamsInput } from '../src/core/optimizer/params';
import type { FeedbackSet } from '../src/core/optimizer/events';
import {
  FakeGenerator,
  KeywordObjective,
  MemoryImageStore,
  ScriptedFeedbackLlm,
  ScriptedOptimizerLlm,
  WordModerator,
} from './fakes/optimizer-fakes';

const PREF = ['watercolor', 'golden hour', 'pastel palette', 'wide angle'];

function setup(input: Partial<RunParamsInput> = {}, opts: { llm?: boolean; delayMs?: number; concurrency?: number } = {}) {
  const store = new MemoryImageStore();
  const objective = new KeywordObjective((id) => store.promptOf(id), PREF);
  const generator = new FakeGenerator(opts.concurrency ?? 2, opts.delayMs ?? 0);
  const llm = new ScriptedOptimizerLlm();
  const feedbackLlm = new ScriptedFeedbackLlm();
  const { params, note } = resolveRunParams(
    { prompt: 'a fox in a forest', members: ['discord:-:1'], iterations: 3, candidates: 3, seed: 5, ...input },
    { llmAvailable: opts.llm ?? false, maxImagesPerRun: 64 },
  );
  const proposer = params.optimizer === 'llm' ? new LlmProposer(llm, params.feedback) : new GeneticProposer();
  const deps: LoopDeps = { generator, store, objective, proposer, feedbackLlm };
  return { store, objective, generator, llm, feedbackLlm, params, note, deps };
}

describe('run parameters', () => {
  it('defaults to N=4, K=6, s+p+f; no LLM → genetic, and the run says so', () => {
    const { params, note } = resolveRunParams({ prompt: 'x', members: ['u'] }, { llmAvailable: false, maxImagesPerRun: 64 });
    expect(params).toMatchObject({ candidates: 4, iterations: 6, feedback: 's+p+f', optimizer: 'genetic', objective: 'single' });
    expect(note).toMatch(/genetic/);
    const asked = resolveRunParams({ prompt: 'x', members: ['u'], optimizer: 'llm' }, { llmAvailable: false, maxImagesPerRun: 64 });
    expect(asked.params.optimizer).toBe('genetic');
    expect(asked.note).toMatch(/No LLM/);
    expect(resolveRunParams({ prompt: 'x', members: ['u'] }, { llmAvailable: true, maxImagesPerRun: 64 }).params.optimizer).toBe('llm');
  });
  it('rejects K × N above the cap with a clear message', () => {
    expect(() =>
      resolveRunParams({ prompt: 'x', members: ['u'], iterations: 10, candidates: 8 }, { llmAvailable: false, maxImagesPerRun: 64 }),
    ).toThrow(LimitReachedError);
    expect(() =>
      resolveRunParams({ prompt: 'x', members: ['u'], iterations: 10, candidates: 8 }, { llmAvailable: false, maxImagesPerRun: 64 }),
    ).toThrow(/10 × 8 = 80 images; the limit is 64/);
  });
});

describe('a whole run per feedback set (scripted LLMs)', () => {
  for (const set of ['none', 's+p', 's+p+f', 's+p+f+I'] as FeedbackSet[]) {
    it(`feedback ${set}: the LLM sees exactly what the ablation allows`, async () => {
      const s = setup({ feedback: set, optimizer: 'llm' }, { llm: true });
      const res = await runLoop(s.params, s.deps, { runId: `run-${set}` });
      expect(res.stopReason).toBe('completed');
      expect(res.metrics.imagesUsed).toBe(1 + 3 * 3);
      expect(res.events.map((e) => e.type).filter((t) => t === 'iteration.images')).toHaveLength(4);
      expect(res.events.at(-1)?.type).toBe('run.finished');
      // Iteration 0 → initial request; iterations 1 and 2 → improve requests; none after the last.
      expect(s.llm.requests.map((r) => r.task)).toEqual(['initial', 'improve', 'improve']);
      const improve = s.llm.requests[2]!;
      if (set === 'none') {
        expect(improve.history).toBeUndefined();
        expect(improve.feedback).toBeUndefined();
        expect(improve.images).toBeUndefined();
        // Only its own previous prompts (iterations 1 and 2), no scores anywhere.
        expect(improve.previousPrompts).toHaveLength(6);
        expect(JSON.stringify(improve)).not.toMatch(/score/);
        expect(s.feedbackLlm.seen).toHaveLength(0);
      } else {
        expect(improve.history).toHaveLength(7); // init + 2 iterations × 3
        const scores = improve.history!.map((h) => h.score as number);
        expect(scores).toEqual([...scores].sort((a, b) => b - a));
        expect(improve.previousPrompts).toBeUndefined();
      }
      if (set === 's+p') {
        expect(improve.feedback).toBeUndefined();
        expect(s.feedbackLlm.seen).toHaveLength(0);
      }
      if (set === 's+p+f' || set === 's+p+f+I') {
        // The feedback LLM saw each (image, score) of iterations 1 and 2.
        expect(s.feedbackLlm.seen).toHaveLength(6);
        expect(s.feedbackLlm.seen[0]!.image.bytes.subarray(1, 4).toString()).toBe('PNG');
        expect(improve.feedback).toHaveLength(3);
        expect(improve.feedback![0]).toMatch(/Advice: make/);
        const summaries = res.events.filter((e) => e.type === 'iteration.summary');
        expect(summaries.some((e) => e.type === 'iteration.summary' && e.feedbackDigest?.includes('warmer'))).toBe(true);
      }
      if (set === 's+p+f+I') {
        expect(improve.images).toHaveLength(3);
        expect(improve.images![0]!.image.mime).toBe('image/png');
      } else {
        expect(improve.images).toBeUndefined();
      }
    });
  }
});

describe('loop controls', () => {
  it('a flagged generated prompt is skipped with a reason and never rendered', async () => {
    const s = setup({ optimizer: 'llm', feedback: 's+p', iterations: 2 }, { llm: true });
    s.llm.script = [['a fox in a forest, watercolor', 'a fox in a forest, gore everywhere', 'a fox in a forest, pastel palette']];
    const moderator = new WordModerator(['gore']);
    const res = await runLoop(s.params, { ...s.deps, moderator }, { runId: 'mod' });
    const flagged = res.state.history.find((c) => c.prompt.includes('gore'))!;
    expect(flagged.skippedReason).toMatch(/flagged by moderation \(violence\)/);
    expect(flagged.imageId).toBeNull();
    expect(s.generator.calls.some((c) => c.prompt.includes('gore'))).toBe(false);
    expect(moderator.checked).toContain('a fox in a forest'); // the person's prompt passed moderation too
    expect(res.metrics.imagesUsed).toBe(1 + 2 + 3);
  });

  it('a flagged or banned initial prompt fails before any image', async () => {
    const s = setup({ prompt: 'a gore scene' });
    await expect(runLoop(s.params, { ...s.deps, moderator: new WordModerator(['gore']) }, { runId: 'bad' })).rejects.toThrow(
      InvalidPromptError,
    );
    const t = setup({ prompt: 'a forbidden fox' });
    await expect(runLoop(t.params, { ...t.deps, sanitize: { bannedWords: ['forbidden'] } }, { runId: 'bad2' })).rejects.toThrow(
      /not allowed/,
    );
    expect(s.generator.calls.length + t.generator.calls.length).toBe(0);
  });

  it('cancel mid-run stops spending within one provider call', async () => {
    const s = setup({ iterations: 6, candidates: 4 }, { delayMs: 20, concurrency: 2 });
    const ac = new AbortController();
    s.generator.onCall = (n) => {
      if (n === 7) ac.abort();
    };
    const res = await runLoop(s.params, s.deps, { runId: 'cancel', signal: ac.signal });
    expect(res.stopReason).toBe('cancelled');
    expect(res.events.at(-1)?.type).toBe('run.cancelled');
    // No generation started after the abort; the calls in flight got the signal.
    expect(s.generator.calls.filter((c) => c.startedAfterAbort)).toHaveLength(0);
    expect(s.generator.calls.length).toBeLessThanOrEqual(7 + 1);
  });

  it('patience: stops after P iterations without improvement', async () => {
    const s = setup({ iterations: 10, candidates: 2, patience: 2, optimizer: 'llm', feedback: 's+p' }, { llm: true });
    // The LLM keeps proposing prompts without any preferred keyword: never better than the init.
    s.llm.script = Array.from({ length: 20 }, (_, i) => [`a fox in a forest, neon glow ${i}`, `a fox in a forest, sepia ${i}`]);
    const res = await runLoop(s.params, s.deps, { runId: 'patience' });
    expect(res.stopReason).toBe('patience');
    expect(res.state.iteration - 1).toBe(2); // iterations 1 and 2 ran, no improvement in either
    expect(res.metrics.kStar).toBe(0);
  });

  it('budget: stops when the image budget is spent (partial last batch)', async () => {
    const s = setup({ iterations: 6, candidates: 4, budget: { maxImages: 11 } });
    const res = await runLoop(s.params, s.deps, { runId: 'budget' });
    expect(res.stopReason).toBe('budget');
    expect(res.metrics.imagesUsed).toBe(11);
    expect(s.generator.calls).toHaveLength(11);
    const usd = setup({ iterations: 6, candidates: 4, budget: { maxUsd: 0.1 } });
    const r2 = await runLoop(usd.params, usd.deps, { runId: 'budget-usd' });
    expect(r2.stopReason).toBe('budget');
    expect(r2.metrics.costUsd).toBeLessThanOrEqual(0.1 + 1e-9);
    expect(r2.metrics.imagesUsed).toBe(9); // 1 + 4 + 4 = $0.09; another 4 would cost $0.13
  });

  it('human in the loop: a rating between iterations changes the next scores and the recorded scorer n', async () => {
    const base = setup({ iterations: 3, candidates: 3 });
    const plain = await runLoop(base.params, base.deps, { runId: 'hitl-a' });
    const s = setup({ iterations: 3, candidates: 3 });
    const res = await runLoop(s.params, s.deps, {
      runId: 'hitl-b',
      beforeIteration: (it) => {
        // Between iterations 1 and 2 the person rates an image with the style about to be tried: 10.
        if (it === 2) s.objective.rate(plain.state.history.find((c) => c.iteration === 2)!.prompt, 10);
      },
    });
    const scorerN = res.iterations.map((r) => r.scorerN);
    expect(scorerN).toEqual([0, 0, 1, 1]);
    const summaries = res.events.filter((e) => e.type === 'iteration.summary').map((e) => (e as { scorerN: number }).scorerN);
    expect(summaries).toEqual([0, 0, 1, 1]);
    // Same seed, same prompts up to iteration 2's proposals; iteration 2's scores now differ.
    const it2 = (r: typeof res) => r.state.history.filter((c) => c.iteration === 2);
    expect(it2(res).map((c) => c.prompt)).toEqual(it2(plain).map((c) => c.prompt));
    expect(it2(res).map((c) => c.score)).not.toEqual(it2(plain).map((c) => c.score));
  });
});

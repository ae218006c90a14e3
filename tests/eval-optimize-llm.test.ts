/**
 * eval:optimize's LLM rows (the method's feedback ablations) through the real openai client against
 * the local fake server: every ablation row runs with the same image budget as the baselines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOptimizeEval } from '../src/eval/optimize/experiment';
import { createOpenAILlms } from '../src/providers/llm/openai';
import { startFakeOpenAI, type FakeOpenAIServer } from './fakes/openai-server';

describe('eval:optimize LLM rows against a fake OpenAI-compatible server', () => {
  let fake: FakeOpenAIServer;
  beforeAll(async () => {
    let call = 0;
    fake = await startFakeOpenAI({
      chat: ({ schemaName, text }) => {
        if (schemaName === 'prompt_feedback') return { feedback: 'More warm light.' };
        const n = Number(/exactly (\d+) prompts/.exec(text)?.[1] ?? 4);
        call++;
        return { prompts: Array.from({ length: n }, (_, i) => `a warm golden hour harbor, watercolor, variant ${call} ${i}`) };
      },
    });
  });
  afterAll(async () => fake?.close());

  it('runs none, s+p, s+p+f and s+p+f+I with equal budgets and reports them', async () => {
    const llms = createOpenAILlms({ apiKey: 'sk-test-fake', baseURL: fake.baseURL, model: 'gpt-4o-mini', timeoutMs: 10_000 });
    const s = await runOptimizeEval({
      seeds: [3],
      people: 1,
      community: 6,
      poolSize: 40,
      trainRatings: 20,
      generalRuns: 1,
      iterations: 2,
      candidates: 2,
      size: 64,
      rows: ['random', 'llm:none', 'llm:s+p', 'llm:s+p+f', 'llm:s+p+f+I'],
      llm: { optimizer: llms.optimizer, feedback: llms.feedback },
      cacheDir: false,
    });
    for (const row of ['llm:none', 'llm:s+p', 'llm:s+p+f', 'llm:s+p+f+I']) {
      const g = (s.general as Record<string, { images: number; max: number }>)[row];
      expect(g, row).toBeDefined();
      expect(g!.images).toBe(5);
      expect(g!.max).toBeGreaterThanOrEqual(1);
    }
    expect(s.llm).not.toBeNull();
    // The feedback LLM was used only by the rows whose ablation includes text feedback.
    const feedbackCalls = fake.requests.filter((r) => r.body?.response_format?.json_schema?.name === 'prompt_feedback');
    expect(feedbackCalls.length).toBeGreaterThan(0);
  });
});

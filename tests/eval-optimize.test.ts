import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runOptimizeEval, type OptimizeSummary } from '../src/eval/optimize/experiment';
import { optimizeMarkdown } from '../src/eval/optimize/report';

const num = z.number().refine(Number.isFinite, 'finite');
const generalRow = z.object({ max: num, max_minus_init: num, k_star: num, true_gain: num, images: z.number().int() });
const personalRow = generalRow.extend({ max_sim: num, score_of_most_sim: num });
const shape = z.object({
  general: z.object({ random: generalRow, genetic: generalRow }),
  personal: z.object({ random: personalRow, genetic: personalRow }),
});

describe('eval:optimize on a tiny configuration', () => {
  let s: OptimizeSummary;

  it('prints the documented JSON shape with finite metrics and equal image budgets', async () => {
    s = await runOptimizeEval({
      seeds: [2],
      people: 2,
      community: 6,
      poolSize: 60,
      trainRatings: 30,
      generalRuns: 2,
      iterations: 2,
      candidates: 2,
      size: 64,
      rows: ['random', 'genetic'],
      llm: null,
      cacheDir: false,
    });
    const parsed = shape.parse(JSON.parse(JSON.stringify(s)));
    for (const table of [parsed.general, parsed.personal]) {
      for (const r of Object.values(table)) {
        expect(r.images).toBe(5); // 1 initial + K·N = 1 + 2·2, the same for every row
        expect(r.max).toBeGreaterThanOrEqual(1);
        expect(r.max).toBeLessThanOrEqual(10);
        expect(r.k_star).toBeGreaterThanOrEqual(0);
        expect(r.k_star).toBeLessThanOrEqual(2);
      }
    }
    for (const table of [s.general, s.personal]) {
      for (const r of Object.values(table)) {
        // The per-iteration record agrees with the run metrics: its first entry is the initial image's
        // score and its last the best score of the run (means over runs, each rounded to 4 decimals).
        const first = r.best_so_far[0]!;
        const last = r.best_so_far[r.best_so_far.length - 1]!;
        expect(r.max).toBeCloseTo(last, 3);
        expect(r.max_minus_init).toBeCloseTo(last - first, 3);
        // K* is the earliest iteration reaching the max, so it is above 0 exactly when some run beat its
        // initial image.
        expect(r.k_star > 0).toBe(r.max_minus_init > 0);
      }
    }
    for (const r of Object.values(parsed.personal)) {
      expect(r.max_sim).toBeGreaterThan(-1);
      expect(r.max_sim).toBeLessThanOrEqual(1 + 1e-9);
      expect(r.score_of_most_sim).toBeGreaterThanOrEqual(1);
    }
  });

  it('records a non-decreasing best-so-far curve per row and says the LLM rows need an LLM', () => {
    for (const table of [s.general, s.personal]) {
      for (const r of Object.values(table)) {
        expect(r.best_so_far.length).toBe(3);
        for (let i = 1; i < r.best_so_far.length; i++) expect(r.best_so_far[i]!).toBeGreaterThanOrEqual(r.best_so_far[i - 1]! - 1e-9);
      }
    }
    expect(s.llm).toBeNull();
    expect(s.notes.join(' ')).toMatch(/need an LLM/);
    expect(optimizeMarkdown(s)).toMatch(/\| genetic \|/);
  });
});

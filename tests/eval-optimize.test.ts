import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runOptimizeEval, type OptimizeSummary } from '../src/eval/optimize/experiment';
import { optimizeChecks, optimizeMarkdown } from '../src/eval/optimize/report';
import { comparisonPairs } from '../src/eval/optimize/comparisons';
import { seedsOf, formatSeeds } from '../src/eval/cli';

const num = z.number().refine(Number.isFinite, 'finite');
const generalRow = z.object({
  max: num,
  max_minus_init: num,
  k_star: num,
  true_gain: num,
  images: z.number().int(),
  runs: z.number().int(),
});
const personalRow = generalRow.extend({ max_sim: num, score_of_most_sim: num });
const shape = z.object({
  general: z.object({ 'best-of-n': generalRow, random: generalRow, genetic: generalRow }),
  personal: z.object({ 'best-of-n': personalRow, random: personalRow, genetic: personalRow }),
});
const comparison = z.object({
  a: z.string(),
  b: z.string(),
  metric: z.enum(['max − init', 'true-taste gain']),
  mean: num,
  se: num,
  lo: num,
  hi: num,
  n: z.number().int(),
  n_a: z.number().int(),
  n_b: z.number().int(),
  pairs: z.number().int(),
  seeds: z.number().int(),
  units: z.string(),
  verdict: z.enum(['MET', 'MISSED']),
  by_seed: z.array(z.object({ seed: z.number().int(), mean: num, n: z.number().int() })),
  missed_seeds: z.array(z.number().int()),
});

/** Two tiny populations and three rows of runs: minutes, not seconds, on a busy 2-core machine. */
const HEAVY_MS = 300_000;

describe('eval:optimize on a tiny configuration', () => {
  let s: OptimizeSummary;

  it(
    'prints the documented JSON shape with finite metrics and equal image budgets',
    async () => {
      s = await runOptimizeEval({
        seeds: [2, 3],
        people: 2,
        community: 6,
        poolSize: 60,
        trainRatings: 30,
        generalRuns: 2,
        iterations: 2,
        candidates: 2,
        size: 64,
        rows: ['best-of-n', 'random', 'genetic'],
        llm: null,
        cacheDir: false,
      });
      const parsed = shape.parse(JSON.parse(JSON.stringify(s)));
      expect(s.seeds).toEqual([2, 3]);
      for (const table of [parsed.general, parsed.personal]) {
        for (const r of Object.values(table)) {
          expect(r.images).toBe(5); // 1 initial + K·N = 1 + 2·2, the same for every row
          expect(r.max).toBeGreaterThanOrEqual(1);
          expect(r.max).toBeLessThanOrEqual(10);
          expect(r.k_star).toBeGreaterThanOrEqual(0);
          expect(r.k_star).toBeLessThanOrEqual(2);
          // Two seeds × two runs each (people / general runs), every seed exactly once.
          expect(r.runs).toBe(4);
        }
      }
      // Shown scores are calibrated (display-score.ts): the share read as "10.0" is reported beside the clipped one.
      for (const table of [s.general, s.personal])
        for (const r of Object.values(table)) {
          expect(r.shown_at_10).toBeGreaterThanOrEqual(0);
          expect(r.shown_at_10).toBeLessThanOrEqual(0.05);
          expect(r.clipped_at_10).toBeGreaterThanOrEqual(0);
          expect(r.clipped_at_10).toBeLessThanOrEqual(1);
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
    },
    HEAVY_MS,
  );

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

  it("keeps best-of-N at the budget: the start prompt only (true-taste gain 0), from the loop's own initial image", () => {
    for (const table of [s.general, s.personal]) {
      const b = table['best-of-n']!;
      expect(b.true_gain).toBe(0);
      expect(b.true_gain_std).toBe(0);
      expect(b.images).toBe(5);
      expect(b.max_minus_init).toBeGreaterThanOrEqual(0);
      // Run i of every row starts from the same image, so the first best-so-far (the initial score) agrees.
      expect(b.best_so_far[0]).toBeCloseTo(table.random!.best_so_far[0]!, 4);
      expect(b.best_so_far[0]).toBeCloseTo(table.genetic!.best_so_far[0]!, 4);
    }
  });

  it('reports every comparison as a paired difference over the seeds, in the JSON and in the text', () => {
    const json = JSON.parse(JSON.stringify(s)) as OptimizeSummary;
    for (const table of ['general', 'personal'] as const) {
      const cs = z.array(comparison).parse(json.comparisons[table]);
      expect(cs.map((c) => `${c.a}>${c.b}:${c.metric}`)).toEqual([
        'random>best-of-n:max − init',
        'random>best-of-n:true-taste gain',
        'genetic>best-of-n:max − init',
        'genetic>best-of-n:true-taste gain',
        'genetic>random:max − init',
        'genetic>random:true-taste gain',
      ]);
      for (const c of cs) {
        expect(c).toMatchObject({ units: 'seeds', n: 2, seeds: 2, pairs: 4, n_a: 4, n_b: 4 });
        expect(c.by_seed.map((x) => [x.seed, x.n])).toEqual([
          [2, 2],
          [3, 2],
        ]);
        // Equal runs per seed: the mean of the seed means is the difference of the two rows' means.
        const field = c.metric === 'max − init' ? 'max_minus_init' : 'true_gain';
        expect(c.mean).toBeCloseTo(json[table][c.a]![field] - json[table][c.b]![field], 3);
        expect(c.lo).toBeLessThanOrEqual(c.mean);
        expect(c.verdict === 'MET').toBe(c.lo > 0);
      }
    }
    const checks = optimizeChecks(s);
    expect(checks).toHaveLength(12);
    for (const line of checks)
      expect(line).toMatch(
        /^(general|personal): .* ± .*\(95% CI .* to .*; 2 seeds, 4 pairs\); claim .*: (MET|MISSED); wrong side on \d\/2 seeds/,
      );
    expect(optimizeMarkdown(s)).toMatch(/\| genetic − best-of-n \| true-taste gain \| [+−]\d\.\d\d ± \d\.\d\d \|/);
  });
});

describe('eval:optimize seeds and comparisons', () => {
  it('runs exactly the seeds asked for: --seed N is seed N alone, --seeds a range or list, never both', () => {
    expect(seedsOf({ seed: 3, seeds: '' }, ['--seed', '3'])).toEqual([3]);
    expect(seedsOf({ seed: 1, seeds: '' }, [])).toEqual([1]);
    expect(seedsOf({ seed: 1, seeds: '1-10' }, ['--seeds', '1-10'])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(() => seedsOf({ seed: 2, seeds: '1-3' }, ['--seed', '2', '--seeds', '1-3'])).toThrow(/either --seed N .* or --seeds/);
    expect(() => seedsOf({ seed: 1.5, seeds: '' }, ['--seed=1.5'])).toThrow(/--seed takes a whole number/);
    expect(formatSeeds([1, 2, 3, 4, 7, 9, 10])).toBe('1–4, 7, 9–10');
  });

  it('refuses --seed with --seeds on the command line before running anything', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/eval/optimize/cli.ts', '--seed', '2', '--seeds', '1-3'], {
      encoding: 'utf8',
      env: { ...process.env, OPENAI_API_KEY: '' },
    });
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe('error: give either --seed N (one seed) or --seeds 1-10 (each seed once), not both');
    expect(run.stdout).toBe('');
  });

  it('compares every optimizer with best-of-N and random, and each LLM ablation with the one before', () => {
    expect(comparisonPairs(['best-of-n', 'random', 'genetic', 'llm:none', 'llm:s+p'])).toEqual([
      ['random', 'best-of-n'],
      ['genetic', 'best-of-n'],
      ['llm:none', 'best-of-n'],
      ['llm:s+p', 'best-of-n'],
      ['genetic', 'random'],
      ['llm:none', 'random'],
      ['llm:s+p', 'random'],
      ['llm:s+p', 'llm:none'],
    ]);
  });
});

/**
 * Population v2 (src/eval/synthetic-v2.ts): taste that is personal — people agree little (mean
 * inter-person correlation of true tastes about 0.2–0.35), a linear fit on the scene latents explains
 * clearly less of it than on v1, and people use the scale differently; the eval flags that pick the
 * population and the embedder are checked before any work starts; the CLI prints the population figures.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildPopulation, trueTaste, type Population } from '../src/eval/synthetic';
import { describePopulation, linearR2, meanInterPersonCorrelation, populationStats } from '../src/eval/synthetic-stats';
import { INTERACTION_NAMES, interactionTerms } from '../src/eval/synthetic-v2';
import { LATENT_NAMES, judgeLatents } from '../src/eval/synthetic-latents';
import { parseSketchPrompt } from '../src/providers/imagegen/sketch/parse';

/** Building a population renders its pool: slow on a busy 2-core machine. */
const HEAVY_MS = 300_000;
const tsx = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', ...args], { encoding: 'utf8', timeout: HEAVY_MS, cwd: path.join(__dirname, '..') });

describe('population v2: taste that is personal', () => {
  let v1: Population;
  let v2: Population;
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-pop-v2-'));

  it(
    'people agree about 0.2–0.35 on v2 (0.6 on v1), and a linear fit on the latents explains less of each taste than on v1',
    async () => {
      // The same seed renders the same pool for both populations: only the tastes differ.
      v1 = await buildPopulation({ seed: 5, people: 30, poolSize: 150, population: 'v1', cacheDir });
      v2 = await buildPopulation({ seed: 5, people: 30, poolSize: 150, cacheDir });
      expect(v2.judge.population).toBe('v2');
      expect(v2.pool.map((p) => p.prompt)).toEqual(v1.pool.map((p) => p.prompt));
      const s1 = populationStats(v1);
      const s2 = populationStats(v2);
      expect(s2.inter_person_correlation).toBeGreaterThanOrEqual(0.2);
      expect(s2.inter_person_correlation).toBeLessThanOrEqual(0.35);
      expect(s1.inter_person_correlation).toBeGreaterThan(0.5);
      // v1 is nearly linear in the latents; v2's interactions leave a clear part no linear fit can reach.
      expect(s1.linear_r2).toBeGreaterThan(0.98);
      expect(s2.linear_r2).toBeLessThan(0.85);
      expect(s2.linear_r2).toBeLessThan(s1.linear_r2 - 0.15);
      expect(s2.linear_r2_max).toBeLessThan(0.95);
      expect(describePopulation(s2)).toMatch(
        /^population v2: mean inter-person correlation of true tastes 0\.\d{3}; a linear fit on the scene latents explains R² 0\.\d{3}/,
      );
      fs.rmSync(cacheDir, { recursive: true, force: true });
    },
    HEAVY_MS,
  );

  it('people use the scale differently: some rate 1–10, others only inside a band such as 3–8', () => {
    const narrow = v2.people.filter((p) => p.scale && (p.scale.lo > 1 || p.scale.hi < 10));
    const wide = v2.people.filter((p) => p.scale && p.scale.lo === 1 && p.scale.hi === 10);
    expect(narrow.length).toBeGreaterThan(3);
    expect(wide.length).toBeGreaterThan(3);
    v2.people.forEach((p, i) => {
      const r = Array.from(v2.ratings[i]!);
      expect(Math.min(...r)).toBeGreaterThanOrEqual(p.scale!.lo);
      expect(Math.max(...r)).toBeLessThanOrEqual(p.scale!.hi);
    });
    // A wide rater actually reaches both ends over 150 images; a narrow one never leaves the band.
    const spanOf = (i: number) => Math.max(...v2.ratings[i]!) - Math.min(...v2.ratings[i]!);
    const meanSpan = (ps: typeof v2.people) => ps.reduce((t, p) => t + spanOf(v2.people.indexOf(p)), 0) / ps.length;
    expect(meanSpan(wide)).toBeGreaterThan(meanSpan(narrow));
  });

  it('the statistics measure what they say: identical tastes correlate 1, a linear taste has R² 1, an interaction less', () => {
    const a = Float64Array.from([1, 2, 3, 4, 5]);
    expect(meanInterPersonCorrelation([a, a.map((x) => 2 * x + 1)])).toBeCloseTo(1, 9);
    expect(meanInterPersonCorrelation([a, a.map((x) => -x)])).toBeCloseTo(-1, 9);
    const latents = v2.pool.map((p) => judgeLatents(p.spec));
    const w = LATENT_NAMES.indexOf('warmth');
    const night = LATENT_NAMES.indexOf('light:night');
    const linear = Float64Array.from(latents, (z) => 3 * z[w]! - 2 * z[night]!);
    const product = Float64Array.from(latents, (z) => z[w]! * z[night]!);
    const [r2Linear, r2Product] = linearR2(latents, [linear, product]);
    expect(r2Linear).toBeCloseTo(1, 6);
    expect(r2Product!).toBeLessThan(0.99);
  });

  it('the v2 judge reads the scene only: warmth counts differently at night, and no embedder is imported', () => {
    const src = fs.readFileSync(path.join(__dirname, '../src/eval/synthetic-v2.ts'), 'utf8');
    for (const l of src.split('\n').filter((x) => /^import /.test(x))) expect(l).not.toMatch(/embedder|features|extractFeatures|clip/i);
    const spec = parseSketchPrompt('warm orange city at night, watercolor');
    const raw = judgeLatents(spec);
    const z = raw.map(() => 1);
    const terms = interactionTerms(raw, z);
    expect(terms).toHaveLength(INTERACTION_NAMES.length);
    expect(terms[INTERACTION_NAMES.indexOf('warmth×light:night')]).toBe(1);
    expect(terms[INTERACTION_NAMES.indexOf('warmth×light:day')]).toBe(0);
    // trueTaste keeps its (person, judge, spec) signature: a v2 person's taste of any scene, from the scene alone.
    expect(Number.isFinite(trueTaste(v2.people[0]!, v2.judge, spec))).toBe(true);
  });
});

describe('eval flags: --population and --embedder', () => {
  it(
    'a bad value is one plain line naming the flag and what it accepts, exit code 2, nothing run',
    () => {
      const pop = tsx(['src/eval/piaa/cli.ts', '--quick', '--population', 'v3']);
      expect(pop.status).toBe(2);
      expect(pop.stderr.trim()).toBe(
        'error: --population must be "v2" (default: taste that is personal) or "v1" (the earlier, shared taste), got "v3"',
      );
      expect(pop.stdout).toBe('');
      const emb = tsx(['src/eval/piaa/cli.ts', '--quick', '--embedder', 'vgg']);
      expect(emb.status).toBe(2);
      expect(emb.stderr.trim()).toBe('error: --embedder must be one of features, mobilenet, mobilenet+features, got "vgg"');
      const oracle = tsx(['src/eval/piaa/cli.ts', '--quick', '--oracle-embedding', '--embedder', 'mobilenet']);
      expect(oracle.status).toBe(2);
      expect(oracle.stderr).toMatch(/--oracle-embedding replaces the embedder/);
      const opt = tsx(['src/eval/optimize/cli.ts', '--quick', '--population', 'v0']);
      expect(opt.status).toBe(2);
      expect(opt.stderr.trim()).toMatch(/^error: --population must be "v2"/);
    },
    HEAVY_MS,
  );

  it(
    'eval:piaa prints the population figures in its report and its JSON',
    () => {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-piaa-pop-'));
      try {
        const run = tsx([
          'src/eval/piaa/cli.ts',
          '--quick',
          '--people',
          '12',
          '--pool',
          // 100 training ratings plus a quarter of the pool kept fresh for testing.
          '180',
          '--methods',
          'finetune,global,auto',
          '--active-replicates',
          '1',
          '--random-orders',
          '1',
          '--out',
          out,
        ]);
        expect(run.status, run.stderr).toBe(0);
        expect(run.stdout).toMatch(/Population: population v2: mean inter-person correlation of true tastes 0\.\d{3}; a linear fit/);
        expect(run.stdout).toMatch(/\| ratings \| method \| SROCC \| % of ceiling \| % of bound \|/);
        expect(run.stdout).toMatch(/SROCC @100: (finetune|auto) − global .*claim \w+ − global > 0\.1: (MET|MISSED)/);
        expect(run.stdout).toMatch(/SROCC @100: best method − auto .*claim best method − auto < 0\.02: (MET|MISSED)/);
        const json = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { population: { population: string; linear_r2: number } };
        expect(json.population.population).toBe('v2');
        expect(json.population.linear_r2).toBeGreaterThan(0);
      } finally {
        fs.rmSync(out, { recursive: true, force: true });
      }
    },
    HEAVY_MS,
  );
});

/**
 * `npm run eval:optimize [-- --seed N | --seeds 1-10] [--quick --people 10 --iterations 6 --candidates 4]
 *                         [--population v2|v1] [--embedder features|mobilenet|mobilenet+features]`
 *
 * `--population` picks the synthetic population (v2, the default: taste that is personal; v1 for
 * comparison; each seed's inter-person correlation and linear R² go into the notes), `--embedder` what
 * the scorers (community model, virtual humans) see.
 *
 * `--seed N` runs exactly seed N; `--seeds 1-10` (or a list, `1,4,7`) runs each seed once, so no two
 * reported runs share a population. (`--seeds` used to be a count added to `--seed`: `--seed 2` ran seeds
 * 2, 3 and 4, so "seed 1/2/3" results shared two thirds of their data.)
 *
 * Reproduces the method's two prompt-optimization tables with the product's own loop and proposers
 * (experiment.ts), the offline sketch generator and features-v1 embeddings:
 *   - general preference: the objective is the community (global) scorer;
 *   - personal preference: the objective is a "virtual human" — the product's `auto` scorer fitted to
 *     one synthetic person's ratings (as in the method, a scorer stands in for the person).
 * Every row also reports the TRUE-taste gain of the best image over the initial one (see experiment.ts).
 * General preference's true taste is the population's mean hidden taste.
 *
 * Rows: `best-of-n` (the start prompt re-rolled with the whole budget of seeds: the baseline every
 * optimizer must beat), `random` and `genetic` always; the LLM feedback ablations (none, s+p, s+p+f, s+p+f+I) only
 * when OPENAI_API_KEY is configured. Every row gets the same image budget (1 + K·N) and, per run,
 * the same initial prompt and seed, hence the same initial image.
 *
 * Every comparison (optimizer vs best-of-n, vs random, ablation vs ablation) is a paired difference with
 * its standard error, 95% CI and seed count (comparisons.ts, ../paired.ts).
 *
 * Output: markdown on stdout, a PNG of best-so-far vs iteration under eval-results/, and the JSON
 * summary as the LAST stdout line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runMain, parseArgs, progress, seedsOf, formatSeeds } from '../cli';
import { embedderFlag, populationFlag } from '../eval-flags';
import { runOptimizeEval } from './experiment';
import { llmFromEnv, optimizeConfig } from './settings';
import { optimizeChart, optimizeChecks, optimizeMarkdown } from './report';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv, {
    seed: 1,
    quick: false,
    people: 0,
    seeds: '',
    iterations: 6,
    candidates: 4,
    out: 'eval-results',
    population: 'v2',
    embedder: 'features',
  });
  const population = populationFlag(args.population);
  const embedder = embedderFlag(args.embedder);
  const quick = Boolean(args.quick);
  const seeds = seedsOf(args, argv);
  const llm = await llmFromEnv();
  if (!llm)
    progress(
      'No LLM configured (OPENAI_API_KEY): running best-of-n and the offline baselines random and genetic only; the LLM feedback rows need an LLM.',
    );
  const cfg = optimizeConfig({
    seeds,
    quick,
    people: Number(args.people),
    iterations: Number(args.iterations),
    candidates: Number(args.candidates),
    llm,
    population,
    embedder,
    onProgress: progress,
  });
  const t0 = performance.now();
  const summary = await runOptimizeEval(cfg);
  const outDir = String(args.out);
  fs.mkdirSync(outDir, { recursive: true });
  const png = path.join(outDir, `optimize-seeds-${formatSeeds(seeds).replace(/[–, ]+/g, '_')}.png`);
  fs.writeFileSync(png, await optimizeChart(summary));
  console.log(optimizeMarkdown(summary));
  console.log('');
  for (const c of optimizeChecks(summary)) console.log(`- ${c}`);
  for (const n of summary.notes) console.log(`- ${n}`);
  console.log(`- plot: ${png}; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(JSON.stringify(summary));
}

runMain(import.meta.url, main);

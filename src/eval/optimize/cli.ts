/**
 * `npm run eval:optimize [-- --seed N --quick --people 10 --seeds 3 --iterations 6 --candidates 4]`
 *
 * Reproduces the method's two prompt-optimization tables with the product's own loop and proposers
 * (experiment.ts), the offline sketch generator and features-v1 embeddings:
 *   - general preference: the objective is the community (global) scorer;
 *   - personal preference: the objective is a "virtual human" — the product's `auto` scorer fitted to
 *     one synthetic person's ratings (as in the method, a scorer stands in for the person).
 * Every row also reports the TRUE-taste gain of the best image over the initial one (see experiment.ts).
 * General preference's true taste is the population's mean hidden taste.
 *
 * Rows: `random` and `genetic` always; the LLM feedback ablations (none, s+p, s+p+f, s+p+f+I) only
 * when OPENAI_API_KEY is configured. Every row gets the same image budget (1 + K·N) and, per run,
 * the same initial prompt and seed, hence the same initial image.
 *
 * Output: markdown on stdout, a PNG of best-so-far vs iteration under eval-results/, and the JSON
 * summary as the LAST stdout line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../config';
import { runMain, parseArgs, progress } from '../cli';
import { LLM_ROWS, runOptimizeEval, type OptimizeConfig } from './experiment';
import { optimizeChart, optimizeChecks, optimizeMarkdown } from './report';

async function llmFromEnv(): Promise<OptimizeConfig['llm']> {
  const config = loadConfig();
  if (!config.OPENAI_API_KEY) return null;
  const { createOpenAILlms } = await import('../../providers/llm/openai');
  const llms = createOpenAILlms({
    apiKey: config.OPENAI_API_KEY,
    baseURL: config.OPENAI_BASE_URL,
    model: config.LLM_MODEL,
    feedbackModel: config.LLM_FEEDBACK_MODEL,
    timeoutMs: config.LLM_TIMEOUT_MS,
  });
  return { optimizer: llms.optimizer, feedback: llms.feedback };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), {
    seed: 1,
    quick: false,
    people: 0,
    seeds: 3,
    iterations: 6,
    candidates: 4,
    out: 'eval-results',
  });
  const quick = Boolean(args.quick);
  const seed = Number(args.seed);
  const nSeeds = Math.max(1, Number(args.seeds));
  const people = Number(args.people) || (quick ? 10 : 20);
  const llm = await llmFromEnv();
  const rows = ['random', 'genetic', ...(llm ? LLM_ROWS.map((r) => `llm:${r}`) : [])];
  if (!llm)
    progress(
      'No LLM configured (OPENAI_API_KEY): running the offline baselines random and genetic only; the LLM feedback rows need an LLM.',
    );
  const cfg: OptimizeConfig = {
    seeds: Array.from({ length: nSeeds }, (_, i) => seed + i),
    people,
    community: quick ? 30 : 60,
    poolSize: quick ? 300 : 600,
    trainRatings: 100,
    generalRuns: people,
    iterations: Number(args.iterations),
    candidates: Number(args.candidates),
    size: 128,
    rows,
    llm,
    onProgress: progress,
  };
  const t0 = performance.now();
  const summary = await runOptimizeEval(cfg);
  const outDir = String(args.out);
  fs.mkdirSync(outDir, { recursive: true });
  const png = path.join(outDir, `optimize-${seed}.png`);
  fs.writeFileSync(png, await optimizeChart(summary));
  console.log(optimizeMarkdown(summary));
  console.log('');
  for (const c of optimizeChecks(summary)) console.log(`- ${c}`);
  for (const n of summary.notes) console.log(`- ${n}`);
  console.log(`- plot: ${png}; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(JSON.stringify(summary));
}

runMain(import.meta.url, main);

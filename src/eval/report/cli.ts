/**
 * `npm run eval:report [-- --quick] [--seeds 1-10] [--readme README.md] [--write=false] [--from eval-results/report.json]`
 *
 * Runs eval:optimize (general and personal tables, best-of-N and the offline baselines; the LLM rows too
 * when OPENAI_API_KEY is set) and eval:piaa's synthetic protocol over a seed range — each seed once, the two
 * evaluations side by side — and writes the README's figures section between its markers (readme.ts).
 * Default: full sizes over seeds 1–10. --quick: both evaluations at their --quick sizes over seeds 1–3
 * (unless --seeds says otherwise), small enough for CI.
 *
 * Both summaries are saved to eval-results/report.json before anything is rendered; `--from` that file
 * renders the section again without re-running the evaluations (its command line is the one saved).
 *
 * Output: the generated section on stdout, then a JSON line with both summaries (the last stdout line).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, parseSeeds, progress, runMain } from '../cli';
import { runOptimizeEval } from '../optimize/experiment';
import { llmFromEnv, optimizeConfig } from '../optimize/settings';
import { runPiaaSeeds } from '../piaa/seeds';
import { acrossSeeds } from '../piaa/report';
import type { OptimizeSummary } from '../optimize/experiment';
import type { PiaaSummary } from '../piaa/protocol';
import { replaceBetweenMarkers, reportSection } from './readme';

const DEFAULT_SEEDS = { full: '1-10', quick: '1-3' };

/** What one eval:report run measured: enough to render the section again. */
interface ReportRun {
  command: string;
  seeds: number[];
  quick: boolean;
  seconds: number;
  date: string;
  optimize: OptimizeSummary;
  piaaSeeds: PiaaSummary[];
}

async function measure(argv: string[], quick: boolean, seedSpec: string): Promise<ReportRun> {
  const seeds = parseSeeds(seedSpec || (quick ? DEFAULT_SEEDS.quick : DEFAULT_SEEDS.full));
  const command = ['npm run eval:report', ...(argv.length ? ['--', ...argv] : [])].join(' ');
  const t0 = performance.now();
  const llm = await llmFromEnv();
  const tag = (name: string) => (msg: string) => progress(`[${name}] ${msg}`);
  // The two evaluations share nothing: side by side they finish in about the time of the longer one.
  const [optimize, piaaSeeds] = await Promise.all([
    runOptimizeEval(optimizeConfig({ seeds, quick, llm, onProgress: tag('optimize') })),
    runPiaaSeeds({ seeds, quick, onProgress: tag('piaa') }),
  ]);
  const seconds = (performance.now() - t0) / 1000;
  return { command, seeds, quick, seconds, date: new Date().toISOString().slice(0, 10), optimize, piaaSeeds };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv, { quick: false, seeds: '', readme: 'README.md', write: true, from: '', out: 'eval-results' });
  let run: ReportRun;
  if (args.from) run = JSON.parse(fs.readFileSync(String(args.from), 'utf8')) as ReportRun;
  else {
    run = await measure(argv, Boolean(args.quick), String(args.seeds));
    fs.mkdirSync(String(args.out), { recursive: true });
    const saved = path.join(String(args.out), 'report.json');
    fs.writeFileSync(saved, JSON.stringify(run));
    progress(`saved both summaries to ${saved} (re-render with --from ${saved})`);
  }
  const piaa = acrossSeeds(run.piaaSeeds);
  const section = reportSection({ ...run, piaa });
  if (args.write) {
    const readme = String(args.readme);
    fs.writeFileSync(readme, replaceBetweenMarkers(fs.readFileSync(readme, 'utf8'), section));
    progress(`wrote the figures section of ${readme}`);
  }
  console.log(section);
  console.log(
    JSON.stringify({
      command: run.command,
      seeds: run.seeds,
      quick: run.quick,
      optimize: run.optimize,
      piaa: { across: piaa, seeds: run.piaaSeeds },
    }),
  );
}

runMain(import.meta.url, main);

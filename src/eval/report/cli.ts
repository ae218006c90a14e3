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
 * --extras measures and writes the second block instead (extras.ts: the picks arm, the meter's calibration,
 * the share displayed at 10.0, UCB vs mean and mobilenet vs features), saved to eval-results/extras.json
 * and re-rendered with `--extras --from` that file; it is saved after every finished seed, so a run stopped
 * early still renders what it measured. `--people N` sets eval:optimize's virtual people per seed there
 * (default: its quick/full size).
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
import { extrasSection, replaceExtras, type ExtrasRun } from './extras';
import { measureExtras } from './extras-measure';

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

/** --extras: the second generated block (extras.ts), measured or re-read from its saved JSON. */
async function extras(
  argv: string[],
  args: { quick: boolean; seeds: string; readme: string; write: boolean; from: string; out: string; people: number },
) {
  let run: ExtrasRun;
  if (args.from) run = JSON.parse(fs.readFileSync(args.from, 'utf8')) as ExtrasRun;
  else {
    const seeds = parseSeeds(args.seeds || (args.quick ? DEFAULT_SEEDS.quick : DEFAULT_SEEDS.full));
    const command = ['npm run eval:report --', ...argv].join(' ');
    fs.mkdirSync(args.out, { recursive: true });
    const saved = path.join(args.out, 'extras.json');
    // Saved after every finished piece: a run stopped early still renders (each section names its seeds).
    const onPiece = (r: ExtrasRun) => fs.writeFileSync(saved, JSON.stringify(r));
    const onProgress = (name: string) => (msg: string) => progress(`[${name}] ${msg}`);
    run = await measureExtras({ command, seeds, quick: args.quick, people: args.people, onProgress, onPiece });
    progress(`saved the extras run to ${saved} (re-render with --extras --from ${saved})`);
  }
  const section = extrasSection(run);
  if (args.write) {
    fs.writeFileSync(args.readme, replaceExtras(fs.readFileSync(args.readme, 'utf8'), section));
    progress(`wrote the extras block of ${args.readme}`);
  }
  console.log(section);
  console.log(JSON.stringify(run));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv, {
    quick: false,
    seeds: '',
    readme: 'README.md',
    write: true,
    from: '',
    out: 'eval-results',
    extras: false,
    people: 0,
  });
  if (args.extras) {
    const { quick, seeds, readme, write, from, out, people } = args;
    return extras(argv, {
      quick: Boolean(quick),
      seeds: String(seeds),
      readme: String(readme),
      write: Boolean(write),
      from: String(from),
      out: String(out),
      people: Number(people),
    });
  }
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

/**
 * `npm run eval:piaa [-- --seed N --quick --people N --pool N --methods maml,finetune,knn,global,auto
 *                      --out eval-results --sac <sqlite> --images <dir> --oracle-embedding --judge drawn|words
 *                      --active-replicates 4 --random-orders 4 (how active vs random is averaged per person)
 *                      --fresh-share 0.25 --seeds 1-5 --population v2|v1 --embedder features|mobilenet|mobilenet+features --picks (k picks of four vs k ratings: picks.ts)
 *                      --ratings <file.csv|.jsonl> --images <dir> [--columns rater=…,image=…,score=…] [--scale 1-5] [--min-ratings 30]]`
 *
 * Reproduces the method's PIAA table (SROCC / MSE / MAE of MAML, FineTune and kNN from 10, 50 and 100
 * of a person's ratings) and extends it with `global`, `auto`, the noise ceiling and active vs random
 * selection of the images to rate (the protocol: protocol.ts).
 *
 * --population picks the synthetic population: v2 (default; taste that is personal, with taste types,
 * interactions and personal use of the scale: ../synthetic-v2.ts) or v1 (the earlier, shared and nearly
 * linear taste). Every synthetic run prints its population's mean inter-person correlation of true tastes
 * and the mean R² of a linear fit on the scene latents (../synthetic-stats.ts). --embedder picks what the
 * scorers see: the built-in features (default), MobileNetV2 (mobilenet) or both (mobilenet+features).
 *
 * --seeds runs the synthetic protocol once per seed and adds an across-seeds table: the targets must
 * hold for any seed, so each seed's target checks are listed, never only a pooled average.
 * Every comparison (active vs random, the best method vs each other, the targets) is a paired difference
 * with its standard error and 95% CI, people the units within a seed and seeds across seeds
 * (comparisons.ts, ../paired.ts); MET only when the interval is on the claimed side.
 * --sac is a preset of --ratings (sac.ts): the release's ratings become rating rows under the survey rule and
 * take the same pipeline, embedded with CLIP unless --embedder is given. --people caps the number of raters
 * (those with the most ratings are kept).
 * --calibration adds a section checking /profile's quality figure and the confidence meter against the
 * SROCC measured on fresh images, by ratings count (calibration.ts).
 * --ratings runs the same protocol on any (rater, image file, score) dataset with the configured embedder
 * (EMBEDDER, or --embedder when given); rejected rows are counted and named on stderr (external.ts, ../../ratings-import/ratings-file.ts).
 * --oracle-embedding is a diagnostic control (see syntheticPiaaData), never the reported result; so is
 * --judge words (a hidden judge that scores the prompt's words rather than what is drawn; see JudgeView);
 * so is --fresh-share 0 (test images shared with the community models; see the protocol note).
 *
 * Output: markdown on stdout, plots under eval-results/, JSON summary as the LAST stdout line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AVAILABLE_METHODS } from './methods';
import { syntheticPiaaData, type PiaaData } from './data';
import { ACTIVE_REPLICATES, FULL_CONFIG, QUICK_CONFIG, RANDOM_ORDERS, defaultConfig, type PiaaConfig } from './config';
import { runPiaaProtocolParallel } from './parallel';
import { PICK_COUNTS } from './picks';
import { externalDataForCli, externalRequest, type ExternalRequest } from './external';
import { acrossSeeds, acrossSeedsChecks, acrossSeedsReport, markdownReport, piaaChart, targetChecks, type PiaaRun } from './report';
import type { JudgeView, PopulationVersion } from '../synthetic';
import { embedderForEval, type EvalEmbedderName } from '../embedding';
import { embedderFlag, populationFlag } from '../eval-flags';
import { runMain, UsageError, parseArgs, parseSeeds, progress } from '../cli';

const FLAGS = {
  seed: 1,
  quick: false,
  people: 0,
  pool: 0,
  sac: '',
  images: '',
  ratings: '',
  columns: '',
  scale: '',
  'min-ratings': 30,
  out: 'eval-results',
  methods: 'maml,finetune,knn,global,auto',
  'oracle-embedding': false,
  judge: 'drawn',
  'fresh-share': 0.25,
  seeds: '',
  'active-replicates': ACTIVE_REPLICATES,
  'random-orders': RANDOM_ORDERS,
  population: 'v2',
  embedder: 'features',
  picks: false,
  calibration: false,
};

/** A whole number of draws from 1 to 64, or a UsageError naming the flag. */
function countFlag(args: Record<string, string | number | boolean>, name: string): number {
  const v = Number(args[name]);
  if (!Number.isInteger(v) || v < 1 || v > 64)
    throw new UsageError(`--${name} must be a whole number from 1 to 64, got "${String(args[name])}"`);
  return v;
}

/** The command line, checked: a bad value is a UsageError before any work starts. */
interface RunRequest {
  seed: number;
  quick: boolean;
  methods: string[];
  freshShare: number;
  /** How the active-vs-random comparison is averaged per person (1 and 1: a single draw of each). */
  averaging: Pick<PiaaConfig, 'activeReplicates' | 'randomOrders'>;
  embedding: 'oracle-latents' | 'embedder';
  judgeView: JudgeView;
  /** The synthetic population (v2 by default) and the offline embedder the scorers see. */
  population: PopulationVersion;
  embedder: EvalEmbedderName;
  seeds: number[] | null;
  people: number;
  pool: number;
  sac: string;
  images: string;
  /** --ratings and its companions, or null. */
  ratings: ExternalRequest | null;
  out: string;
  /** --picks: also run the picks arm (picks.ts), k picks vs k ratings against the hidden taste. */
  picks: boolean;
  /** --calibration: also check the reported quality and the confidence meter against the truth (calibration.ts). */
  calibration: boolean;
  /** --embedder was given: a real dataset (--sac) uses it instead of its default (CLIP). */
  embedderGiven: boolean;
}

function readRequest(argv: string[]): RunRequest {
  const args = parseArgs(argv, FLAGS);
  const wanted = String(args.methods)
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  const methods = wanted.filter((m) => AVAILABLE_METHODS[m]);
  const missing = wanted.filter((m) => !AVAILABLE_METHODS[m]);
  if (missing.length) progress(`note: methods not available in this build, skipped: ${missing.join(', ')}`);
  const freshShare = Number(args['fresh-share']);
  if (!(freshShare >= 0 && freshShare < 1))
    throw new UsageError(`--fresh-share must be a number from 0 up to (not including) 1, got "${String(args['fresh-share'])}"`);
  if (freshShare === 0)
    progress('DIAGNOSTIC: test images may be ones the community models were trained on (--fresh-share 0); not a reportable result');
  const averaging = { activeReplicates: countFlag(args, 'active-replicates'), randomOrders: countFlag(args, 'random-orders') };
  const embedding = args['oracle-embedding'] ? 'oracle-latents' : 'embedder';
  const judgeView = String(args.judge);
  if (judgeView !== 'drawn' && judgeView !== 'words')
    throw new UsageError(`--judge must be "drawn" (default) or "words" (diagnostic), got "${judgeView}"`);
  const population = populationFlag(args.population);
  const embedder = embedderFlag(args.embedder);
  if (embedding === 'oracle-latents' && embedder !== 'features')
    throw new UsageError(`--oracle-embedding replaces the embedder with the judge's own numbers: leave out --embedder ${embedder}`);
  const seeds = args.seeds ? parseSeeds(String(args.seeds)) : null;
  if (seeds && (args.sac || args.ratings))
    throw new UsageError('--seeds is for the synthetic population (a real dataset has one fixed set of people)');
  if (!args.sac && !args.ratings) {
    if (embedding === 'oracle-latents')
      progress(
        "DIAGNOSTIC: scorers get the judge's scene latents instead of image embeddings (--oracle-embedding); not a reportable result",
      );
    if (judgeView === 'words')
      progress(
        "DIAGNOSTIC: the hidden judge scores the prompt's sky words and mood numbers (--judge words), not the picture; not a reportable result",
      );
  }
  return {
    seed: Number(args.seed),
    quick: Boolean(args.quick),
    methods,
    freshShare,
    averaging,
    embedding,
    judgeView,
    population,
    embedder,
    seeds,
    people: Number(args.people),
    pool: Number(args.pool),
    sac: String(args.sac),
    images: String(args.images),
    ratings: externalRequest(args, argv),
    out: String(args.out),
    picks: Boolean(args.picks),
    calibration: Boolean(args.calibration),
    embedderGiven: argv.some((a) => a === '--embedder' || a.startsWith('--embedder=')),
  };
}

/** The protocol's configuration for one seed of this request. */
function configFor(req: RunRequest, seed: number): PiaaConfig {
  const picks = req.picks ? { pickCounts: PICK_COUNTS } : {};
  const calibration = req.calibration ? { calibration: true } : {};
  return {
    ...defaultConfig(seed, req.quick, req.methods),
    ...req.averaging,
    freshShare: req.freshShare,
    ...picks,
    ...calibration,
    onProgress: progress,
  };
}

function syntheticData(req: RunRequest, seed: number): Promise<PiaaData> {
  const base = req.quick ? QUICK_CONFIG : FULL_CONFIG;
  return syntheticPiaaData({
    seed,
    people: req.people || base.people,
    poolSize: req.pool || base.pool,
    embedding: req.embedding,
    judgeView: req.judgeView,
    population: req.population,
    embedder: req.embedder,
    onProgress: progress,
  });
}

/** --seeds: one synthetic run per seed, then the across-seeds table and JSON. */
async function runSeeds(req: RunRequest, seeds: number[], t0: number): Promise<void> {
  const summaries: PiaaRun[] = [];
  for (const sd of seeds) {
    progress(`--- seed ${sd} (${summaries.length + 1}/${seeds.length})`);
    const data = await syntheticData(req, sd);
    const sum: PiaaRun = { ...(await runPiaaProtocolParallel(data, configFor(req, sd))), population: data.population };
    summaries.push(sum);
    for (const c of targetChecks(sum)) progress(`seed ${sd}: ${c}`);
  }
  const across = acrossSeeds(summaries);
  console.log(acrossSeedsReport(across));
  console.log('');
  for (const c of acrossSeedsChecks(across)) console.log(`- ${c}`);
  console.log(`- ${((performance.now() - t0) / 1000).toFixed(1)} s for ${seeds.length} seeds`);
  console.log(JSON.stringify({ across, seeds: summaries }));
}

/** One run on the synthetic population or on SAC (--sac): tables, checks, plot and JSON. */
async function runOnce(req: RunRequest, t0: number): Promise<void> {
  let data: PiaaData;
  if (req.sac) {
    const { sacPiaaData } = await import('./sac');
    data = await sacPiaaData({
      sqlite: req.sac,
      imagesDir: req.images,
      onProgress: progress,
      maxRaters: req.people || undefined,
      ...(req.embedderGiven ? { embedder: await embedderForEval(req.embedder) } : {}),
    });
  } else if (req.ratings) {
    data = await externalDataForCli(req.ratings, req.images, req.people || undefined, progress);
  } else {
    data = await syntheticData(req, req.seed);
  }
  const summary: PiaaRun = { ...(await runPiaaProtocolParallel(data, configFor(req, req.seed))), population: data.population };
  const md = markdownReport(summary, req.methods);
  const checks = targetChecks(summary);
  fs.mkdirSync(req.out, { recursive: true });
  const pngPath = path.join(req.out, `piaa-${summary.source}-${req.seed}.png`);
  fs.writeFileSync(pngPath, await piaaChart(summary, req.methods));
  console.log(md);
  console.log('');
  for (const c of checks) console.log(`- ${c}`);
  for (const n of summary.notes) console.log(`- ${n}`);
  console.log(`- plot: ${pngPath}; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(JSON.stringify(summary));
}

async function main(): Promise<void> {
  const req = readRequest(process.argv.slice(2));
  const t0 = performance.now();
  if (req.seeds) await runSeeds(req, req.seeds, t0);
  else await runOnce(req, t0);
}

runMain(import.meta.url, main);

/**
 * Measures what `eval:report --extras` renders (extras.ts): per seed, eval:piaa with the picks arm and the
 * calibration check, and eval:optimize with the features and the MobileNetV2 embedders. Each seed runs on
 * its own, so its figures are one unit of the across-seeds intervals.
 */
import { syntheticPiaaData } from '../piaa/data';
import { FULL_CONFIG, QUICK_CONFIG, defaultConfig } from '../piaa/config';
import { runPiaaProtocolParallel } from '../piaa/parallel';
import { PICK_COUNTS } from '../piaa/picks';
import { runOptimizeEval, type OptimizeSummary } from '../optimize/experiment';
import { optimizeConfig } from '../optimize/settings';
import type { ExtrasOptimizeSeed, ExtrasPiaaSeed, ExtrasRun } from './extras';

const PICK_METRIC = /^SROCC vs hidden taste/;

async function piaaSeed(seed: number, quick: boolean, onProgress: (m: string) => void): Promise<ExtrasPiaaSeed> {
  const base = quick ? QUICK_CONFIG : FULL_CONFIG;
  const data = await syntheticPiaaData({ seed, people: base.people, poolSize: base.pool, onProgress });
  // finetune only, no active-vs-random arm: both extra arms read finetune, and the main report has the rest.
  const s = await runPiaaProtocolParallel(data, {
    ...defaultConfig(seed, quick, ['finetune']),
    activeCounts: [],
    pickCounts: PICK_COUNTS,
    calibration: true,
    onProgress,
  });
  return {
    seed,
    picks: s.comparisons.filter((c) => PICK_METRIC.test(c.metric)),
    picks_vs_ratings: s.picks_vs_ratings ?? {},
    calibration: s.calibration ?? {},
  };
}

const slim = (seed: number, s: OptimizeSummary): ExtrasOptimizeSeed => ({
  seed,
  general: s.general,
  personal: s.personal,
  comparisons: s.comparisons,
});

export async function measureExtras(opts: {
  command: string;
  seeds: number[];
  quick: boolean;
  /** Virtual people (and general runs) per eval:optimize seed; 0 = the quick/full default. */
  people: number;
  onProgress: (name: string) => (m: string) => void;
  /** Called with the run so far after every finished piece, so a run cut short keeps what it measured. */
  onPiece: (run: ExtrasRun) => void;
}): Promise<ExtrasRun> {
  const t0 = performance.now();
  const run: ExtrasRun = {
    command: opts.command,
    seeds: opts.seeds,
    quick: opts.quick,
    seconds: 0,
    date: new Date().toISOString().slice(0, 10),
    piaa: [],
    optimize: { features: [], mobilenet: [] },
  };
  const done = () => {
    run.seconds = (performance.now() - t0) / 1000;
    opts.onPiece(run);
  };
  const optimize = async (seed: number, embedder: 'features' | 'mobilenet') => {
    const onProgress = opts.onProgress(`optimize ${embedder} ${seed}`);
    // No LLM rows: the extras compare offline rows only, so a key in the environment changes nothing here.
    const cfg = optimizeConfig({ seeds: [seed], quick: opts.quick, people: opts.people, llm: null, embedder, onProgress });
    run.optimize[embedder].push(slim(seed, await runOptimizeEval(cfg)));
    done();
  };
  // eval:piaa and eval:optimize share nothing: side by side they take about the time of the longer one.
  await Promise.all([
    (async () => {
      for (const seed of opts.seeds) {
        run.piaa.push(await piaaSeed(seed, opts.quick, opts.onProgress(`piaa ${seed}`)));
        done();
      }
    })(),
    (async () => {
      for (const seed of opts.seeds) {
        await optimize(seed, 'features');
        await optimize(seed, 'mobilenet');
      }
    })(),
  ]);
  done();
  return run;
}

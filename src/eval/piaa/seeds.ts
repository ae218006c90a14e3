/** eval:piaa's synthetic protocol over several seeds with the command line's defaults (used by eval:report). */
import { syntheticPiaaData } from './data';
import { FULL_CONFIG, QUICK_CONFIG, defaultConfig } from './config';
import { runPiaaProtocolParallel } from './parallel';
import type { PiaaSummary } from './protocol';
import type { PiaaRun } from './report';

export const REPORT_METHODS = ['maml', 'finetune', 'knn', 'global', 'auto'];

/** One protocol run per seed (a fresh population each), in seed order. */
export async function runPiaaSeeds(opts: {
  seeds: readonly number[];
  quick: boolean;
  methods?: string[];
  onProgress?: (msg: string) => void;
}): Promise<PiaaSummary[]> {
  const base = opts.quick ? QUICK_CONFIG : FULL_CONFIG;
  const methods = opts.methods ?? REPORT_METHODS;
  const out: PiaaSummary[] = [];
  for (const seed of opts.seeds) {
    opts.onProgress?.(`piaa: seed ${seed} (${out.length + 1}/${opts.seeds.length})`);
    const data = await syntheticPiaaData({ seed, people: base.people, poolSize: base.pool, onProgress: opts.onProgress });
    // The population's figures ride along, so the across-seeds view can print them (report.ts PiaaRun).
    const run: PiaaRun = {
      ...(await runPiaaProtocolParallel(data, { ...defaultConfig(seed, opts.quick, methods), onProgress: opts.onProgress })),
      population: data.population,
    };
    out.push(run);
  }
  return out;
}

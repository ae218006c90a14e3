/**
 * `npm run bench:startup [-- --runs 5 --image-size 512 --timeout 300]`
 *
 * How long `npm start` takes until it is ready, as an operator (or an orchestrator's probe) sees it:
 * `node --import tsx src/main.ts` (npm start without npm's wrapper) in a child process with the
 * offline defaults, a fresh DATA_DIR and free PORT / HEALTH_PORT, timed from spawn to the first 200 from
 * /readyz. Each run starts twice on its own folder:
 *
 *   empty  the first start on an empty DATA_DIR (database created, starter gallery not drawn yet);
 *          also timed until the log's "starter gallery ready" line (the gallery is drawn in the
 *          background after the platforms connect);
 *   warm   the same folder again, after that first start's gallery was complete.
 *
 * `--image-size` sets IMAGE_SIZE (default: the config's, as `npm start` has it; smaller draws faster).
 * Figures are medians over the runs; the machine's load matters (a 2-core box running tests is
 * slower), so the JSON carries the core count, the load average at the start and, on Linux, the CPU
 * seconds the process used until ready (`*_cpu_s`: what the start costs, whatever else runs).
 *
 * Last stdout line: JSON {empty_ready_s, warm_ready_s, gallery_done_s, empty_ready_cpu_s,
 * warm_ready_cpu_s, runs, image_size, cores, load_1m, empty_ready_runs_s, warm_ready_runs_s,
 * gallery_done_runs_s}.
 *
 * `--people N --database-url postgres://…` instead starts against a PostgreSQL database seeded with N
 * people (their ratings and stored scorer states): time to ready and memory at a large population, see
 * ./startup-population.ts for its flags and JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, progress, runMain, UsageError } from '../cli';
import { startMain, withTimeout } from './startup-process';
import { populationStartup } from './startup-population';

interface RunResult {
  empty: number;
  gallery: number;
  warm: number;
  emptyCpu: number | null;
  warmCpu: number | null;
}

/** One run: a first start on an empty folder (until its gallery is drawn), then a warm start on it. */
async function oneRun(timeoutMs: number, imageSize: number): Promise<RunResult> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tl-bench-startup-'));
  try {
    const first = await startMain(dataDir, timeoutMs, imageSize);
    let empty: { s: number; cpu: number | null };
    let gallery: number;
    try {
      empty = await first.ready;
      gallery = await withTimeout(first.galleryDone, timeoutMs, 'the starter gallery');
    } finally {
      await first.stop();
    }
    const second = await startMain(dataDir, timeoutMs, imageSize);
    try {
      const warm = await second.ready;
      return { empty: empty.s, gallery, warm: warm.s, emptyCpu: empty.cpu, warmCpu: warm.cpu };
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const r2 = (x: number) => Math.round(x * 100) / 100;

function medianOrNull(xs: (number | null)[]): number | null {
  return xs.every((x): x is number => x !== null) ? r2(median(xs)) : null;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), {
    runs: 5,
    'image-size': 0,
    timeout: 300,
    people: 0,
    ratings: 20,
    groups: 200,
    'cache-mb': 64,
    use: 3000,
    'database-url': '',
  });
  if (args.people > 0) {
    const out = await populationStartup({
      people: args.people,
      ratings: args.ratings,
      groups: args.groups,
      cacheMb: args['cache-mb'],
      use: args.use,
      databaseUrl: args['database-url'],
      timeoutMs: args.timeout * 1000,
    });
    console.log(JSON.stringify({ ...out, cores: availableParallelism(), load_1m: r2(loadavg()[0]!) }));
    return;
  }
  const runs = args.runs;
  if (!Number.isInteger(runs) || runs < 1) throw new UsageError(`--runs needs a whole number from 1 (got ${runs})`);
  const timeoutMs = args.timeout * 1000;
  const cores = availableParallelism();
  const load = loadavg()[0]!;
  progress(`startup: ${runs} run(s) of src/main.ts with the offline defaults on ${cores} cores (load ${load.toFixed(2)})`);
  const results: RunResult[] = [];
  for (let i = 1; i <= runs; i++) {
    const r = await oneRun(timeoutMs, args['image-size']);
    results.push(r);
    const cpu =
      r.emptyCpu === null || r.warmCpu === null
        ? ''
        : ` (CPU until ready: ${r.emptyCpu.toFixed(2)} s empty, ${r.warmCpu.toFixed(2)} s warm)`;
    progress(
      `run ${i}/${runs}: empty DATA_DIR ready in ${r.empty.toFixed(2)} s (gallery drawn at ${r.gallery.toFixed(2)} s), warm ready in ${r.warm.toFixed(2)} s${cpu}`,
    );
  }
  const out = {
    empty_ready_s: r2(median(results.map((r) => r.empty))),
    warm_ready_s: r2(median(results.map((r) => r.warm))),
    gallery_done_s: r2(median(results.map((r) => r.gallery))),
    empty_ready_cpu_s: medianOrNull(results.map((r) => r.emptyCpu)),
    warm_ready_cpu_s: medianOrNull(results.map((r) => r.warmCpu)),
    runs,
    image_size: args['image-size'] || 'default',
    cores,
    load_1m: r2(load),
    empty_ready_runs_s: results.map((r) => r2(r.empty)),
    warm_ready_runs_s: results.map((r) => r2(r.warm)),
    gallery_done_runs_s: results.map((r) => r2(r.gallery)),
  };
  console.log(
    `spawn → /readyz 200, median of ${runs}: empty DATA_DIR ${out.empty_ready_s} s, warm ${out.warm_ready_s} s; starter gallery drawn ${out.gallery_done_s} s after spawn`,
  );
  console.log(JSON.stringify(out));
}

runMain(import.meta.url, main);

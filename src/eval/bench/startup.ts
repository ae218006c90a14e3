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
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, progress, runMain, UsageError } from '../cli';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const POLL_MS = 50;
const GALLERY_DONE = 'starter gallery ready';

interface Started {
  child: ChildProcess;
  /** Seconds from spawn to the first /readyz 200, and the CPU seconds the process used until then. */
  ready: Promise<{ s: number; cpu: number | null }>;
  /** Seconds from spawn to the log's gallery-done line. */
  galleryDone: Promise<number>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Resolves on the first line matching `test`; rejects if the process ends first. */
function watchLog(child: ChildProcess, t0: number, test: (msg: string) => boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        let msg: string;
        try {
          msg = (JSON.parse(line) as { msg?: string }).msg ?? '';
        } catch {
          continue;
        }
        if (test(msg)) resolve((performance.now() - t0) / 1000);
      }
    });
    child.once('exit', (code) => reject(new Error(`src/main.ts exited (code ${code}) before logging what was awaited`)));
  });
}

/**
 * CPU seconds (user + system, all threads) a process has used, from /proc (Linux; null elsewhere). Unlike
 * wall time it barely depends on what else the machine runs: on an idle machine wall time is at most this.
 */
function cpuSeconds(pid: number | undefined): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

async function pollReady(
  url: string,
  child: ChildProcess,
  t0: number,
  timeoutMs: number,
  stderr: () => string,
): Promise<{ s: number; cpu: number | null }> {
  while (performance.now() - t0 < timeoutMs) {
    if (child.exitCode !== null)
      throw new Error(`src/main.ts exited with code ${child.exitCode} before it was ready:\n${stderr().slice(-2000)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return { s: (performance.now() - t0) / 1000, cpu: cpuSeconds(child.pid) };
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`not ready within ${timeoutMs / 1000} s`);
}

async function startMain(dataDir: string, timeoutMs: number, imageSize: number): Promise<Started> {
  const [port, healthPort] = [await freePort(), await freePort()];
  // A clean environment: the offline defaults, never this machine's tokens or database settings.
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATA_DIR: dataDir,
    PORT: String(port),
    HEALTH_PORT: String(healthPort),
    LOG_LEVEL: 'info',
    ...(imageSize ? { IMAGE_SIZE: String(imageSize) } : {}),
  };
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const galleryDone = watchLog(child, t0, (msg) => msg.startsWith(GALLERY_DONE));
  galleryDone.catch(() => {}); // awaited only on the empty start
  const ready = pollReady(`http://127.0.0.1:${healthPort}/readyz`, child, t0, timeoutMs, () => err);
  return {
    child,
    ready,
    galleryDone,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms / 1000} s`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

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
  const args = parseArgs(process.argv.slice(2), { runs: 5, 'image-size': 0, timeout: 300 });
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

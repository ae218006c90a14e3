/**
 * `npm start` as an operator sees it, for the startup benchmarks: `node --import tsx src/main.ts` in a
 * child process with the offline defaults (plus what a benchmark sets), free PORT / HEALTH_PORT, timed
 * from spawn to the first 200 from /readyz, with the CPU seconds and resident memory it used until then.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const POLL_MS = 50;
const GALLERY_DONE = 'starter gallery ready';

export interface Started {
  child: ChildProcess;
  /** The PORT it was given (the playground listens there). */
  port: number;
  /** performance.now() at spawn. */
  t0: number;
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
export function watchLog(child: ChildProcess, t0: number, test: (msg: string) => boolean): Promise<number> {
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
export function cpuSeconds(pid: number | undefined): number | null {
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

export async function startMain(
  dataDir: string,
  timeoutMs: number,
  imageSize: number,
  extraEnv: Record<string, string> = {},
): Promise<Started> {
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
    ...extraEnv,
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
    port,
    t0,
    ready,
    galleryDone,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
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

/** Resident memory of a process in MiB, from /proc (Linux; null elsewhere). */
export function rssMiB(pid: number | undefined): number | null {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * The bot's npm scripts (`npm start`, `npm run discord:rest-proxy`) in child processes, black-box: an
 * environment built from scratch (PATH, HOME and what an operator sets), each process in its own
 * process group (so a test can kill -9 it, and cleanup can kill whatever it left), its JSON log lines
 * parsed as they come. Deadlines are guards against hangs on a slow machine, never speed assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './ports';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface LogLine {
  msg?: string;
  [k: string]: unknown;
}

export interface ProcExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Proc {
  name: string;
  child: ChildProcess;
  dataDir: string;
  ports: { port: number; health: number };
  logs: LogLine[];
  hasLog(msg: string | RegExp): boolean;
  /** The last lines of its output (for failure messages). */
  tail(): string;
  exit: ProcExit | null;
  exited: Promise<ProcExit>;
}

/** The processes one test suite started, and the temporary data directories they used. */
export class ProcessGroup {
  readonly procs: Proc[] = [];
  private readonly dirs: string[] = [];

  constructor(private readonly prefix = 'tl-proc-') {}

  /** A fresh directory, removed by closeAll (e.g. one DATA_DIR shared by every process of a deployment). */
  tempDir(): string {
    const dir = mkdtempSync(path.join(tmpdir(), this.prefix));
    this.dirs.push(dir);
    return dir;
  }

  /** `npm start` as an operator runs it; DATA_DIR, PORT and HEALTH_PORT are fresh unless given. */
  async npmStart(name: string, extra: Record<string, string>): Promise<Proc> {
    const ports = { port: await freePort(), health: await freePort() };
    return this.spawnNpm(
      name,
      ['start'],
      {
        DATA_DIR: extra.DATA_DIR ?? this.tempDir(),
        PORT: String(ports.port),
        HEALTH_PORT: String(ports.health),
        IMAGE_SIZE: '128',
        GALLERY: 'off',
        LOG_LEVEL: 'info',
        ...extra,
      },
      ports,
    );
  }

  /** Any npm script (`['run', 'discord:rest-proxy']`), with only this environment beside PATH and HOME. */
  spawnNpm(name: string, args: string[], extra: Record<string, string>, ports = { port: 0, health: 0 }): Proc {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
    const child = spawn('npm', args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    let partial = '';
    const logs: LogLine[] = [];
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      partial += d.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const l of parts) {
        if (!l.startsWith('{')) continue;
        try {
          logs.push(JSON.parse(l) as LogLine);
        } catch {
          /* not a log line */
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const p: Proc = {
      name,
      child,
      dataDir: extra.DATA_DIR ?? '',
      ports,
      logs,
      hasLog: (msg) => logs.some((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg ?? '')))),
      tail: () =>
        `--- last lines of ${name} ---\n${out.split('\n').filter(Boolean).slice(-25).join('\n').slice(-6000)}\n--- stderr ---\n${err.slice(-2000)}`,
      exit: null,
      exited: new Promise((r) => child.once('exit', (code, signal) => r((p.exit = { code, signal })))),
    };
    this.procs.push(p);
    return p;
  }

  /** kill -9 of the whole process group (npm and the node process under it), as a crash does it. */
  kill9(p: Proc): void {
    killGroup(p);
  }

  /** Kills what is left (process groups), waits for the exits, removes the temporary directories. */
  async closeAll(): Promise<void> {
    for (const p of this.procs) if (!p.exit) killGroup(p);
    await Promise.all(this.procs.map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 5_000))])));
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

function killGroup(p: Proc): void {
  try {
    process.kill(-p.child.pid!, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** Polls `fn` until truthy; fails naming what it waited for, with the watched processes' last log lines. */
export async function step<V>(what: string, watch: Proc[], fn: () => V | Promise<V>, ms = 90_000): Promise<NonNullable<V>> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    const ended = watch.find((p) => p.exit);
    if (ended) throw new Error(`${ended.name} ended (${JSON.stringify(ended.exit)}) while waiting for ${what}\n${ended.tail()}`);
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end)
      throw new Error(
        `waiting for ${what}${last ? ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})` : ''}\n${watch.map((p) => p.tail()).join('\n')}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** /readyz: 200, ready, and exactly these checks. */
export async function ready(p: Proc, checks: string[]): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${p.ports.health}/readyz`);
  const body = (await res.json()) as { status: string; checks: Record<string, unknown> };
  return res.status === 200 && body.status === 'ready' && Object.keys(body.checks).sort().join() === [...checks].sort().join();
}

/** /readyz's body (its `info` says, e.g., how far the starter gallery is). */
export async function readyz(p: Proc): Promise<{ status: string; checks: Record<string, unknown>; info?: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${p.ports.health}/readyz`);
  return (await res.json()) as { status: string; checks: Record<string, unknown>; info?: Record<string, unknown> };
}

/** SIGTERM to npm; resolves with how the process ended, or null when it did not within `ms`. */
export async function terminate(p: Proc, ms = 30_000): Promise<ProcExit | null> {
  p.child.kill('SIGTERM');
  return Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), ms))]);
}

/**
 * The README's `npm start`, black-box, twice on one DATA_DIR (clean environment, free ports, the
 * embedded database): the second start must stop with a non-zero exit code and a message on stderr
 * naming the directory, the first process's PID and what to do, while the first keeps serving. After
 * the first is killed with -9 (no cleanup: its lock stays behind), a new start takes the stale lock
 * over, says so in its log, and serves. Nothing of the app is imported; every wait is for a condition.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/ports';
import { waitFor } from './helpers/wait';

const ROOT = path.resolve(import.meta.dirname, '..');
/** Deadlines against hangs on a loaded machine (a first start creates the database), not speed checks. */
const START_MS = 240_000;

interface Started {
  child: ChildProcess;
  health: number;
  port: number;
  stdout: () => string;
  stderr: () => string;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: Started[] = [];
const dataDir = mkdtempSync(path.join(tmpdir(), 'tl-lock-start-'));

/** Kills a start's whole process group (npm and the bot it started). */
function killGroup(p: Started, signal: NodeJS.Signals): void {
  try {
    process.kill(-p.child.pid!, signal);
  } catch {
    /* nothing left */
  }
}

afterAll(() => {
  for (const p of running) killGroup(p, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
});

/** `npm start` as an operator runs it, with only what a shell gives plus these settings. */
async function npmStart(): Promise<Started> {
  const port = await freePort();
  const health = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATA_DIR: dataDir,
    PORT: String(port),
    HEALTH_PORT: String(health),
    IMAGE_SIZE: '128',
    LOG_LEVEL: 'info',
  };
  // detached: its own process group, so the test can kill npm and the bot together.
  const child = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const started: Started = {
    child,
    health,
    port,
    stdout: () => out,
    stderr: () => err,
    exit: null,
    exited: new Promise((r) => child.once('exit', (code, signal) => r((started.exit = { code, signal })))),
  };
  running.push(started);
  return started;
}

/** /readyz answers 200 (database and playground up). */
async function ready(p: Started): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${p.health}/readyz`).catch(() => undefined);
  return res?.status === 200;
}

/** Waits until the start is ready; fails at once, with its output, if it ends first. */
async function waitReady(p: Started, what: string): Promise<void> {
  const deadline = Date.now() + START_MS;
  while (!(await ready(p))) {
    if (p.exit || Date.now() > deadline)
      throw new Error(
        `${p.exit ? `the process ended (${JSON.stringify(p.exit)})` : 'timed out'} waiting for ${what}\n` +
          `--- stdout ---\n${p.stdout().slice(-3000)}\n--- stderr ---\n${p.stderr()}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Whether `pid` no longer runs (a zombie awaiting its reaper counts as gone: it holds nothing). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

function lockHolderPid(): number {
  return (JSON.parse(readFileSync(path.join(dataDir, 'pglite.lock'), 'utf8')) as { pid: number }).pid;
}

describe('npm start twice on one DATA_DIR (embedded database)', () => {
  it('refuses the second start with a clear message while the first serves; after kill -9 of the first, a new start takes over', async () => {
    const first = await npmStart();
    await waitReady(first, 'the first start to be ready');
    const holder = lockHolderPid();

    const second = await npmStart();
    const { code } = await second.exited;
    expect(code, second.stderr()).not.toBe(0);
    expect(code).not.toBeNull();
    const stderr = second.stderr();
    expect(stderr).toContain('Tasteloop could not start');
    expect(stderr).toContain(path.join(dataDir, 'pglite'));
    expect(stderr).toContain(`process ${holder}`);
    expect(stderr).toContain(
      'Stop the other Tasteloop process, or give this one its own DATA_DIR, or set DATABASE_URL to share a PostgreSQL',
    );

    // The first is untouched: still ready, its playground still answers.
    expect(first.exit).toBeNull();
    expect(await ready(first)).toBe(true);
    const page = await fetch(`http://127.0.0.1:${first.port}/`);
    expect(page.status).toBe(200);

    // kill -9: no shutdown runs, the lock file stays behind naming a PID that no longer runs.
    killGroup(first, 'SIGKILL');
    await first.exited;
    await waitFor(() => gone(holder), `the first bot (pid ${holder}) to be gone`);
    expect(lockHolderPid()).toBe(holder);

    const third = await npmStart();
    await waitReady(third, 'the start after kill -9 to be ready');
    expect(third.stdout()).toMatch(new RegExp(`taking over the embedded database at [^"]*: process ${holder} \\(since`));
    expect(lockHolderPid()).not.toBe(holder);

    // A clean stop releases the lock.
    third.child.kill('SIGTERM');
    expect((await third.exited).code).toBe(0);
    expect(existsSync(path.join(dataDir, 'pglite.lock'))).toBe(false);
  }, 900_000);
});

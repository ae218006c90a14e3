/**
 * One process per PGlite directory (src/db/pglite-lock.ts), in this process: a second open of the
 * same directory is refused with an error that names the directory, the holder's PID and the three
 * ways out; closing frees it; a lock left by a process that no longer runs (kill -9) is taken over
 * with a log line; one held by a live process is not. The in-memory database takes no lock.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/db/connection';
import { DataDirLockedError, lockFileFor } from '../src/db/pglite-lock';

const dirs: string[] = [];
const open: Database[] = [];
afterAll(async () => {
  for (const d of open) await d.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function freshDir(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'tl-pglite-lock-'));
  dirs.push(root);
  return path.join(root, 'pglite');
}

async function openDir(dir: string, onStaleLock?: (m: string) => void): Promise<Database> {
  const database = await openDatabase({ pgliteDir: dir, migrate: false, onStaleLock });
  open.push(database);
  return database;
}

/** A child process that runs until killed (a live holder that is not this process). */
function sleeper(): { pid: number; kill: () => Promise<void> } {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { pid: child.pid!, kill: () => (child.kill('SIGKILL'), exited) };
}

/** The PID of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise<void>((r) => child.once('exit', () => r()));
  return child.pid!;
}

function writeLock(dir: string, pid: number, token = 'earlier'): void {
  writeFileSync(lockFileFor(dir), JSON.stringify({ pid, startedAt: '2024-01-01T00:00:00.000Z', host: 'elsewhere', token }));
}

describe('PGlite directory lock', () => {
  it('refuses a second open of one directory with an error naming it, the holder and what to do; close frees it', async () => {
    const dir = freshDir();
    const first = await openDir(dir);
    expect(existsSync(lockFileFor(dir))).toBe(true);

    const err = await openDatabase({ pgliteDir: dir, migrate: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DataDirLockedError);
    const message = (err as Error).message;
    expect(message).toContain(dir);
    expect(message).toContain(`process ${process.pid}`);
    expect(message).toContain('Stop the other Tasteloop process');
    expect(message).toContain('its own DATA_DIR');
    expect(message).toContain('set DATABASE_URL to share a PostgreSQL');
    // The refused open left the holder's lock and database alone.
    expect(JSON.parse(readFileSync(lockFileFor(dir), 'utf8'))).toMatchObject({ pid: process.pid });
    await first.db.execute(sql`select 1`);

    await first.close();
    expect(existsSync(lockFileFor(dir))).toBe(false);
    const again = await openDir(dir);
    await again.db.execute(sql`select 1`);
    await again.close();
  });

  it('refuses a directory whose lock is held by another live process, naming its PID', async () => {
    const dir = freshDir();
    const other = sleeper();
    try {
      writeLock(dir, other.pid);
      const err = await openDatabase({ pgliteDir: dir, migrate: false }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DataDirLockedError);
      expect((err as Error).message).toContain(`process ${other.pid}`);
      expect((err as Error).message).toContain(dir);
      // Still the other process's lock.
      expect(JSON.parse(readFileSync(lockFileFor(dir), 'utf8'))).toMatchObject({ pid: other.pid });
    } finally {
      await other.kill();
    }
    // Once it is gone (kill -9: no cleanup), its lock is stale and taken over.
    const said: string[] = [];
    const database = await openDir(dir, (m) => said.push(m));
    expect(said).toEqual([expect.stringContaining(`process ${other.pid}`)]);
    await database.close();
  });

  it('takes over a stale lock (dead PID, or this PID from an earlier life) with a log line', async () => {
    const dir = freshDir();
    const pid = await deadPid();
    writeLock(dir, pid);
    const said: string[] = [];
    const database = await openDir(dir, (m) => said.push(m));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(`process ${pid}`);
    expect(said[0]).toContain(dir);
    expect(JSON.parse(readFileSync(lockFileFor(dir), 'utf8'))).toMatchObject({ pid: process.pid });
    await database.close();
    expect(existsSync(lockFileFor(dir))).toBe(false);

    // A container restarted with the same PID: the lock names this process, which never took it.
    writeLock(dir, process.pid);
    const said2: string[] = [];
    const again = await openDir(dir, (m) => said2.push(m));
    expect(said2).toEqual([expect.stringContaining(`process ${process.pid}`)]);
    await again.close();
  });

  it('takes no lock for the in-memory database', async () => {
    const a = await openDatabase({ migrate: false });
    const b = await openDatabase({ migrate: false });
    await Promise.all([a.db.execute(sql`select 1`), b.db.execute(sql`select 1`)]);
    await Promise.all([a.close(), b.close()]);
  });
});

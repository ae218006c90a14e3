/**
 * One process per embedded database. PGlite keeps the whole database in the memory of the process
 * that opened it and writes its directory back as it goes: a second process on the same directory
 * opens fine, sees only its own writes, and the two overwrite each other's files — ratings vanish
 * after a restart without a word. So opening a PGlite directory takes a lock file beside it
 * (`<dir>.lock`: the holder's PID, start time and host), released on close or at exit.
 *
 * A lock whose PID is no longer running (the holder was killed with -9, the machine rebooted) is
 * stale and taken over with a log line; so is one holding this very PID that this process did not
 * take (a container restarted with the same PID). The lock file sits beside the directory, not in
 * it, so PGlite's own files stay untouched.
 */
import { closeSync, linkSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';

interface LockHolder {
  pid: number;
  /** When the holder took the lock (ISO time). */
  startedAt: string;
  host: string;
  /** Tells this lock from an earlier one of the same PID. */
  token: string;
}

interface DataDirLock {
  readonly file: string;
  /** Removes the lock file if it is still this lock's (idempotent). */
  release(): void;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly holder: LockHolder | undefined,
    readonly lockFile: string,
  ) {
    const who = holder
      ? `process ${holder.pid} (on ${holder.host}, since ${holder.startedAt})`
      : 'another process (its lock file cannot be read)';
    super(
      `The embedded database at ${dir} is in use by ${who}: two processes on one PGlite directory each see ` +
        `only their own writes and lose each other's data. Stop the other Tasteloop process, or give this one its ` +
        `own DATA_DIR, or set DATABASE_URL to share a PostgreSQL. (Only if no Tasteloop process uses ${dir}: ` +
        `delete ${lockFile}.)`,
    );
    this.name = 'DataDirLockedError';
  }
}

/** Lock files this process holds: a second open of the same directory in one process is refused too. */
const held = new Set<string>();

export function lockFileFor(dir: string): string {
  return `${path.resolve(dir)}.lock`;
}

/**
 * Takes the lock on `dir` or throws DataDirLockedError naming the holder. `onTakeover` is told when a
 * stale lock was replaced (default: one line on stderr).
 */
export function lockDataDir(dir: string, onTakeover: (message: string, stale: LockHolder | undefined) => void = warnStderr): DataDirLock {
  const file = lockFileFor(dir);
  if (held.has(file)) throw new DataDirLockedError(dir, readHolder(file), file);
  const me: LockHolder = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    host: hostname(),
    token: `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
  };
  // Two rounds: the first may find a stale lock and clear it; if another process won the race to
  // replace it, the second round finds that live lock and refuses.
  for (let round = 0; round < 2; round++) {
    if (createExclusive(file, me)) return hold(file, me);
    const holder = readHolder(file);
    if (holder && isAlive(holder)) throw new DataDirLockedError(dir, holder, file);
    if (!holder && !unreadableIsStale(file)) throw new DataDirLockedError(dir, undefined, file);
    if (clearStale(file, holder)) {
      const was = holder ? `process ${holder.pid} (since ${holder.startedAt}) is no longer running` : 'its lock file was empty';
      onTakeover(`taking over the embedded database at ${dir}: ${was}`, holder);
    }
  }
  throw new DataDirLockedError(dir, readHolder(file), file);
}

function hold(file: string, me: LockHolder): DataDirLock {
  held.add(file);
  // process.exit() without a close (a shutdown deadline, a fatal start) must not leave a lock behind.
  const onExit = () => release();
  process.once('exit', onExit);
  function release(): void {
    if (!held.delete(file)) return;
    process.off('exit', onExit);
    if (readHolder(file)?.token !== me.token) return;
    try {
      unlinkSync(file);
    } catch {
      /* already gone */
    }
  }
  return { file, release };
}

/**
 * Creates the lock file only if there is none, complete in one step: the content is written to a
 * private file first and hard-linked into place (link fails if the name exists), so no reader ever
 * sees a half-written lock. Where hard links are not supported, `open(…, 'wx')` does the same job.
 */
function createExclusive(file: string, me: LockHolder): boolean {
  const body = `${JSON.stringify(me)}\n`;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, body);
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw err;
    return createWithOpen(file, body);
  } finally {
    unlinkSync(tmp);
  }
}

function createWithOpen(file: string, body: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, body);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Removes a stale lock, but only the one that was judged stale: a guard file (created exclusively)
 * keeps two processes from both clearing and one of them deleting the other's fresh lock.
 * Returns whether this process cleared it.
 */
function clearStale(file: string, stale: LockHolder | undefined): boolean {
  const guard = `${file}.takeover`;
  const me: LockHolder = { pid: process.pid, startedAt: new Date().toISOString(), host: hostname(), token: 'takeover' };
  if (!createWithOpen(guard, JSON.stringify(me))) {
    const other = readHolder(guard);
    // A takeover that died midway leaves its guard: clear that too, and let the next round decide.
    if (!other || !isAlive(other)) unlinkQuietly(guard);
    return false;
  }
  try {
    if (readHolder(file)?.token !== stale?.token) return false;
    unlinkQuietly(file);
    return true;
  } finally {
    unlinkQuietly(guard);
  }
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    if (typeof h.pid !== 'number' || typeof h.token !== 'string') return undefined;
    return { pid: h.pid, startedAt: String(h.startedAt), host: String(h.host), token: h.token };
  } catch {
    return undefined;
  }
}

/**
 * An empty lock (a full disk; or, without hard links, a holder between open and write) is stale once
 * it is older than any such moment. Unparseable content is someone's file: left for the operator.
 */
function unreadableIsStale(file: string): boolean {
  try {
    return readFileSync(file, 'utf8').trim() === '' && Date.now() - statSync(file).mtimeMs > EMPTY_LOCK_STALE_MS;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

const EMPTY_LOCK_STALE_MS = 5_000;

/** Whether the holder still runs. Our own PID counts only if this process took the lock (`held`). */
function isAlive(holder: LockHolder): boolean {
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to another user — still a live holder.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(holder.pid);
}

/**
 * A holder killed with -9 whose parent has not reaped it yet (a container without an init) still
 * answers signal 0, but holds nothing: Linux shows it as state Z. Elsewhere, assume it runs.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* gone already */
  }
}

function warnStderr(message: string): void {
  process.stderr.write(`${message}\n`);
}

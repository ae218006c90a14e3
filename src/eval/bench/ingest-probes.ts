/**
 * What `bench:ingest` reads besides its own clock: the CPU time of the threads started after a
 * baseline (the community trainer's worker threads), PostgreSQL's own counters of WAL written and
 * transactions committed, and the CPU time of the server processes serving this database.
 */
import { pbkdf2 } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import type { Database } from '../../db/connection';
import { queryRows } from '../../db/util';
import { progress } from '../cli';

/** Clock ticks per second of /proc/<pid>/task/<tid>/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_S = 100;

/** CPU seconds (user + system) of one thread or process (/proc/<path>/stat), or null when it is gone or unreadable. */
function cpuSecondsOf(procPath: string): number | null {
  try {
    const stat = readFileSync(`/proc/${procPath}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line.
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return null;
  }
}

function threadIds(): string[] {
  try {
    return readdirSync('/proc/self/task');
  } catch {
    return [];
  }
}

export interface NewThreadCpu {
  /** CPU seconds used so far by threads started after the baseline; null where /proc is missing. */
  seconds(): number | null;
  stop(): void;
}

/**
 * Samples, every `everyMs`, the CPU time of every thread that did not exist at the baseline: in this
 * benchmark the only threads started later are the community trainer's workers (Node's own threads —
 * the V8 platform and the libuv pool, which `warmThreadPool` starts first — already exist). A thread's
 * CPU after its last sample before it exits is not seen, so this errs low by at most one interval of
 * each training.
 */
export function sampleNewThreadCpu(everyMs = 100): NewThreadCpu {
  const baseline = new Set(threadIds());
  if (baseline.size === 0) return { seconds: () => null, stop: () => {} };
  const lastSeen = new Map<string, number>();
  const sample = () => {
    for (const tid of threadIds()) {
      if (baseline.has(tid)) continue;
      const s = cpuSecondsOf(`self/task/${tid}`);
      if (s !== null) lastSeen.set(tid, s);
    }
  };
  const timer = setInterval(sample, everyMs);
  return {
    seconds: () => {
      sample();
      return [...lastSeen.values()].reduce((a, b) => a + b, 0);
    },
    stop: () => clearInterval(timer),
  };
}

/** CPU seconds of the main thread alone (the event loop every rating passes through); null without /proc. */
export function mainThreadCpuSeconds(): number | null {
  return cpuSecondsOf(`self/task/${process.pid}`);
}

/** Starts the libuv thread pool (it starts lazily, on first use) so its threads belong to the baseline. */
export async function warmThreadPool(): Promise<void> {
  await promisify(pbkdf2)('warm', 'pool', 1, 8, 'sha256');
}

export interface PgCounters {
  commits: number;
}

async function readCounters(database: Database): Promise<PgCounters> {
  const [row] = await queryRows<{ commits: string | number }>(
    database.db,
    sql`select xact_commit as commits from pg_stat_database where datname = current_database()`,
  );
  return { commits: Number(row!.commits) };
}

/** This database's WAL records between two flushed positions (see WalMeter); throws without pg_walinspect. */
async function databaseWalBetween(database: Database, from: string, to: string): Promise<number> {
  const [row] = await queryRows<{ bytes: string | null }>(
    database.db,
    sql`with recs as (select xid, resource_manager, record_length, block_ref from pg_get_wal_records_info(${from}::pg_lsn, ${to}::pg_lsn)),
      db as (select '% rel %/' || oid::text || '/%' as pattern from pg_database where datname = current_database()),
      mine as (select r.* from recs r, db where r.block_ref like db.pattern),
      commits as (select r.* from recs r where r.resource_manager = 'Transaction' and r.xid in (select xid from mine where xid <> 0))
      select ((select coalesce(sum(record_length), 0) from mine) + (select coalesce(sum(record_length), 0) from commits))::text as bytes`,
  );
  return Number(row?.bytes ?? 0);
}

async function flushedLsn(database: Database): Promise<string> {
  const [row] = await queryRows<{ lsn: string }>(database.db, sql`select pg_current_wal_flush_lsn()::text as lsn`);
  return row!.lsn;
}

export interface WalMeter {
  /** WAL bytes since start, and whose: this database's ("database") or the whole server's ("cluster"). */
  stop(): Promise<{ bytes: number; scope: 'database' | 'cluster' }>;
}

/**
 * Measures the WAL written from now until stop(). With the pg_walinspect extension (PostgreSQL 15
 * contrib; creating it needs a superuser) only this database's share counts — the records touching its
 * relations, full-page images included, and the commit records of the transactions that wrote them —
 * read back every `everyMs` while the segments are still on disk (a busy server recycles them within
 * a minute). Without it, the whole server's WAL, other databases' included, said so in `scope`.
 */
export async function startWalMeter(database: Database, everyMs = 2000): Promise<WalMeter> {
  const first = await flushedLsn(database);
  let inspect = await database.db.execute(sql`create extension if not exists pg_walinspect`).then(
    () => true,
    (err: { cause?: Error; message: string }) => {
      progress(`WAL of this database alone not measured (${(err.cause ?? err).message}); counting the whole server's`);
      return false;
    },
  );
  let last = first;
  let bytes = 0;
  let reading: Promise<void> = Promise.resolve();
  const readUpToNow = async () => {
    if (!inspect) return;
    const now = await flushedLsn(database);
    // Nothing flushed since the last reading (pg_walinspect refuses an empty range).
    if (now === last) return;
    try {
      bytes += await databaseWalBetween(database, last, now);
      last = now;
    } catch (err) {
      inspect = false;
      progress(
        `WAL of this database could not be read back (${((err as { cause?: Error }).cause ?? (err as Error)).message}); counting the whole server's`,
      );
    }
  };
  const timer = setInterval(() => void (reading = reading.then(readUpToNow)), everyMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await (reading = reading.then(readUpToNow));
      if (inspect) return { bytes, scope: 'database' };
      const [row] = await queryRows<{ bytes: string }>(
        database.db,
        sql`select pg_wal_lsn_diff(pg_current_wal_flush_lsn(), ${first}::pg_lsn)::text as bytes`,
      );
      return { bytes: Number(row!.bytes), scope: 'cluster' };
    },
  };
}

/**
 * This database's committed transactions, once every connection has
 * reported its transactions: PostgreSQL 15 backends publish their counts at most once a second (and
 * an idle one within a few seconds), so this reads until the count stops moving. Each read is itself a
 * transaction: a difference of two settled counts includes a few of them, nothing next to the
 * thousands of ratings measured. PGlite has neither: null.
 */
export async function settledPgCounters(database: Database, maxWaitMs = 15_000): Promise<PgCounters | null> {
  if (database.kind !== 'postgres') return null;
  const t0 = performance.now();
  let last = await readCounters(database);
  let still = 0;
  while (performance.now() - t0 < maxWaitMs && still < 2) {
    await new Promise((r) => setTimeout(r, 1200));
    const now = await readCounters(database);
    // Our own previous read is the one commit expected between two quiet reads.
    still = now.commits - last.commits <= 1 ? still + 1 : 0;
    last = now;
  }
  return last;
}

/**
 * CPU seconds used so far by the PostgreSQL backends connected to this database, read from /proc:
 * only when the server runs on this machine and its processes are readable (else null). A backend that
 * ended is no longer counted, so compare two readings taken while the pool stays open.
 */
export async function pgBackendCpuSeconds(database: Database): Promise<Map<number, number> | null> {
  if (database.kind !== 'postgres') return null;
  const rows = await queryRows<{ pid: number }>(
    database.db,
    sql`select pid from pg_stat_activity where datname = current_database() and backend_type = 'client backend'`,
  );
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    const s = cpuSecondsOf(String(pid));
    if (s === null) return null;
    out.set(pid, s);
  }
  return out;
}

/** CPU seconds the backends of `after` used since `before` (a backend absent before counts from its start). */
export function pgCpuBetween(before: Map<number, number> | null, after: Map<number, number> | null): number | null {
  if (!before || !after) return null;
  let total = 0;
  for (const [pid, s] of after) total += s - (before.get(pid) ?? 0);
  return total;
}

/**
 * One database handle type for both backends: embedded PGlite (default, under DATA_DIR) and
 * PostgreSQL through postgres.js (when DATABASE_URL is set). All queries are written once against
 * `Db`; a union of the two driver types would break `.returning()` and friends.
 */
import { mkdirSync } from 'node:fs';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import * as schema from './schema';
import { lockDataDir } from './pglite-lock';
import { runtimeAsset } from '../runtime-files';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface Database {
  db: Db;
  /** 'pglite' or 'postgres', for startup logs. */
  kind: 'pglite' | 'postgres';
  /** A human description without secrets. */
  description: string;
  close(): Promise<void>;
  /** The postgres.js connection string when kind = postgres (for the job queue). */
  connectionString?: string;
  /**
   * LISTEN on a channel: `onNotify` gets each payload sent with pg_notify, delivered on commit, from any
   * process. Resolves once listening; the returned function stops it. PostgreSQL only: PGlite is one
   * process, whose own events suffice, so it omits it. The connection re-LISTENs after it reconnects;
   * notifications sent meanwhile are lost, so a listener must not be the only way to learn of a change.
   */
  listen?: (channel: string, onNotify: (payload: string) => void) => Promise<() => Promise<void>>;
}

export const MIGRATIONS_DIR = runtimeAsset('migrations');

export interface OpenOptions {
  /** postgres:// URL; when absent, PGlite is used. */
  databaseUrl?: string;
  /** PGlite data directory; undefined = in-memory (tests). */
  pgliteDir?: string;
  /** Told when a PGlite directory's lock was left by a process no longer running and is taken over. */
  onStaleLock?: (message: string) => void;
  /** Apply migrations (default true). */
  migrate?: boolean;
  maxConnections?: number;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  const database = opts.databaseUrl
    ? await openPostgres(opts.databaseUrl, opts.maxConnections ?? 10)
    : await openPglite(opts.pgliteDir, opts.onStaleLock);
  if (opts.migrate !== false) await migrateDatabase(database);
  return database;
}

async function openPostgres(url: string, max: number): Promise<Database> {
  const { default: postgres } = await import('postgres');
  const { drizzle } = await import('drizzle-orm/postgres-js');
  const client = postgres(url, { max, onnotice: () => {}, connect_timeout: 10 });
  const db = drizzle(client, { schema }) as unknown as Db;
  try {
    await db.execute(sql`select 1`);
  } catch (err) {
    await client.end({ timeout: 1 }).catch(() => {});
    throw new Error(
      `Cannot connect to PostgreSQL at ${describeUrl(url)}: ${rootMessage(err)}. ` +
        'Check DATABASE_URL (postgres://user@host:5432/db), or unset it to use the embedded database.',
      { cause: err },
    );
  }
  return {
    db,
    kind: 'postgres',
    description: `PostgreSQL ${describeUrl(url)}`,
    connectionString: url,
    // postgres.js opens one extra connection for all LISTENs of this client and re-issues them after a reconnect.
    listen: async (channel, onNotify) => {
      const listening = await client.listen(channel, onNotify);
      return async () => void (await listening.unlisten());
    },
    close: () => client.end({ timeout: 5 }),
  };
}

async function openPglite(dir: string | undefined, onStaleLock?: (message: string) => void): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  if (dir) mkdirSync(dir, { recursive: true });
  // A second process on the same directory would silently fork the data (pglite-lock.ts); in memory, nothing is shared.
  const lock = dir ? lockDataDir(dir, onStaleLock) : undefined;
  const client = dir ? new PGlite(dir) : new PGlite();
  await client.waitReady.catch((err: unknown) => {
    lock?.release();
    throw err;
  });
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
    description: dir ? `embedded PGlite at ${dir}` : 'embedded PGlite (in memory)',
    close: async () => {
      if (!client.closed) await client.close();
      lock?.release();
    },
  };
}

/** Applies committed migrations. On PostgreSQL, an advisory lock lets several processes start at once. */
export async function migrateDatabase(database: Database): Promise<void> {
  if (database.kind === 'pglite') {
    const { migrate } = await import('drizzle-orm/pglite/migrator');
    await migrate(database.db as never, { migrationsFolder: MIGRATIONS_DIR });
    return;
  }
  // A dedicated single-connection client so the session advisory lock covers the migrator's own transaction.
  const { default: postgres } = await import('postgres');
  const { drizzle } = await import('drizzle-orm/postgres-js');
  const { migrate } = await import('drizzle-orm/postgres-js/migrator');
  const client = postgres(database.connectionString!, { max: 1, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(7281923)`;
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_DIR });
    await client`select pg_advisory_unlock(7281923)`;
  } finally {
    await client.end({ timeout: 5 });
  }
}

/** The innermost cause's message (drizzle wraps driver errors in "Failed query: …"). */
function rootMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown; code?: string } | undefined;
  while (e && e.cause) e = e.cause;
  return [e?.code, e?.message].filter(Boolean).join(' ') || String(err);
}

export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

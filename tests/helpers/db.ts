/**
 * Databases under test: PGlite always; real PostgreSQL too when TEST_DATABASE_URL is set
 * (each call creates a fresh, uniquely named database on that server and drops it on close).
 *
 *   for (const backend of testBackends()) describe(backend.name, () => { ... backend.open() ... })
 */
import postgres from 'postgres';
import { randomBytes } from 'node:crypto';
import { openDatabase, type Database } from '../../src/db/connection';

export interface TestBackend {
  name: 'pglite' | 'postgres';
  open(): Promise<Database>;
}

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

export function testBackends(): TestBackend[] {
  const list: TestBackend[] = [{ name: 'pglite', open: () => openDatabase({}) }];
  if (TEST_DATABASE_URL) list.push({ name: 'postgres', open: () => openFreshPostgres() });
  return list;
}

/** A fresh database on the TEST_DATABASE_URL server, dropped when closed. */
export async function openFreshPostgres(opts: { maxConnections?: number } = {}): Promise<Database> {
  if (!TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set');
  const { url, drop } = await createFreshPostgresDatabase();
  const database = await openDatabase({ databaseUrl: url, maxConnections: opts.maxConnections ?? 20 });
  return {
    ...database,
    close: async () => {
      await database.close();
      await drop();
    },
  };
}

export async function createFreshPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set');
  const name = `tl_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const u = new URL(TEST_DATABASE_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const a = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

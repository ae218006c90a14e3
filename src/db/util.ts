import type { SQL } from 'drizzle-orm';
import type { Db } from './connection';

/** Raw SQL rows, the same shape on PGlite (result.rows) and postgres.js (array result). */
export async function queryRows<T = Record<string, unknown>>(db: Db, query: SQL): Promise<T[]> {
  const result: unknown = await db.execute(query);
  if (Array.isArray(result)) return result as T[];
  return (result as { rows?: T[] }).rows ?? [];
}

import { sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import type { Db } from './connection';

/** Raw SQL rows, the same shape on PGlite (result.rows) and postgres.js (array result). */
export async function queryRows<T = Record<string, unknown>>(db: Db, query: SQL): Promise<T[]> {
  const result: unknown = await db.execute(query);
  if (Array.isArray(result)) return result as T[];
  return (result as { rows?: T[] }).rows ?? [];
}

/**
 * `column = any(values)` with the values as one jsonb parameter: the statement's text is the same however
 * many there are, so the driver prepares it once per connection and the server plans it once, where
 * `in ($1, …, $n)` is a new statement (a parse, a describe, a plan, a cached statement) for every n.
 * An index on the column still serves it (an index condition on the array).
 */
export function inJsonList(column: SQLWrapper, values: readonly string[]): SQL {
  return sql`${column} = any(array(select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb)))`;
}

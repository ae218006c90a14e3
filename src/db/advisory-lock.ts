/**
 * A session-level PostgreSQL advisory lock on a connection of its own, for "one process in the
 * deployment does this" (the community trainer). The server frees it when that connection ends — a
 * process that exits, crashes or is killed included — so another process's next `acquire` gets it.
 * The connection is never recycled (postgres.js would otherwise end it after a while and, with it,
 * the hold); if it drops anyway, the next `acquire` reconnects and only gets the lock back if no one
 * else took it meanwhile.
 */
import type { Sql } from 'postgres';

/** Namespace of Tasteloop's two-key advisory locks (the migrator's single-key lock is another space). */
const LOCK_NAMESPACE = 7281924;

export interface SessionLock {
  /** True when held by this connection now (taken now, or confirmed still held); false while another session holds it. */
  acquire(): Promise<boolean>;
  /** Ends the connection, which frees the lock; the lock is not taken again afterwards. */
  release(): Promise<void>;
}

export function sessionAdvisoryLock(connectionString: string, name: string): SessionLock {
  let client: Sql | null = null;
  let released = false;
  return {
    async acquire() {
      if (!client) {
        const { default: postgres } = await import('postgres');
        // Released while loading the driver (a shutdown during startup): opening now would hold the lock past the end.
        if (released) return false;
        client ??= postgres(connectionString, { max: 1, idle_timeout: 0, max_lifetime: null, connect_timeout: 10, onnotice: () => {} });
      }
      // Confirming a held lock must not take it again (session locks stack); COALESCE stops at the first non-null.
      const [row] = await client<{ held: boolean }[]>`
        select coalesce(
          (select true from pg_locks
            where locktype = 'advisory' and pid = pg_backend_pid() and granted and objsubid = 2
              and classid = ${LOCK_NAMESPACE}::int::oid and objid = (hashtext(${name}) & 2147483647)::oid),
          pg_try_advisory_lock(${LOCK_NAMESPACE}::int, hashtext(${name}) & 2147483647)
        ) as held`;
      return row?.held === true;
    },
    async release() {
      released = true;
      const c = client;
      client = null;
      await c?.end({ timeout: 5 });
    },
  };
}

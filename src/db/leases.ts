/**
 * Named leases in the database (table `leases`): a name has at most one holder until its expiry. Taking
 * is one statement (insert, or take over a row that expired or is already ours), so two processes
 * asking at once never both win. Expiry is measured on the database's clock: processes on different
 * machines never disagree about whether a lease ran out.
 *
 * What a lease guards and how often it is renewed is the caller's policy (e.g.
 * src/platforms/discord/shard-leases.ts); this file only speaks SQL.
 */
import { sql } from 'drizzle-orm';
import type { Db } from './connection';
import { queryRows } from './util';

export interface LeaseRow {
  name: string;
  holder: string;
  expiresAt: Date;
}

/**
 * Takes `name` for `holder` for `ttlMs` from now, or extends it when `holder` has it already (renewal is
 * the same call). False while another holder's lease is unexpired.
 */
export async function takeLease(db: Db, o: { name: string; holder: string; ttlMs: number }): Promise<boolean> {
  const ttl = sql`clock_timestamp() + ${Math.max(1, Math.round(o.ttlMs))} * interval '1 millisecond'`;
  const rows = await queryRows(
    db,
    sql`insert into leases (name, holder, expires_at) values (${o.name}, ${o.holder}, ${ttl})
        on conflict (name) do update set holder = excluded.holder, expires_at = excluded.expires_at
         where leases.holder = excluded.holder or leases.expires_at <= clock_timestamp()
        returning holder`,
  );
  return rows.length > 0;
}

/** Gives `name` up if `holder` still has it (a lease taken over meanwhile stays its new holder's). */
export async function releaseLease(db: Db, o: { name: string; holder: string }): Promise<void> {
  await db.execute(sql`delete from leases where name = ${o.name} and holder = ${o.holder}`);
}

/** Unexpired leases whose name starts with `prefix`, by name. */
export async function liveLeases(db: Db, prefix: string): Promise<LeaseRow[]> {
  const rows = await queryRows<{ name: string; holder: string; expires_at: string | Date }>(
    db,
    sql`select name, holder, expires_at from leases
         where starts_with(name, ${prefix}) and expires_at > clock_timestamp()
         order by name`,
  );
  return rows.map((r) => ({ name: r.name, holder: r.holder, expiresAt: new Date(r.expires_at) }));
}

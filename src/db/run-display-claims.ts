/**
 * Which process shows a run on a platform (table `run_display_claims`): several processes may read one
 * platform's run feed (Slack web replicas behind a load balancer, two Discord gateways during a rolling
 * update), and each looks up an event's platform message before posting it — two of them can both
 * look, then both post. A process posts a run's events only while it holds the run's claim.
 *
 * Taking and renewing are one statement (insert, or take over a row that expired or is already ours),
 * so two processes asking at once never both win. Expiry is on the database's clock: processes on
 * different machines never disagree about whether a claim ran out. How long a claim lasts and when it
 * is renewed is the caller's policy (src/platforms/run-display.ts); this file only speaks SQL.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from './connection';
import { runDisplayClaims } from './schema';
import { queryRows } from './util';

export interface RunDisplayClaim {
  /** The caller holds the claim now (taken, taken over after expiry, or renewed). */
  ours: boolean;
  /** The run's display has ended on this platform (its done marker is recorded), or the run is gone: nothing to claim. */
  over: boolean;
  /** When another holder has it: ms until its claim expires (as last committed; null when unknown). */
  othersExpireInMs: number | null;
}

/**
 * Takes the run's claim on `platform` for `holder` for `leaseMs` from now, or extends it when `holder`
 * has it already. Refused while another holder's claim is unexpired, and never taken for a run whose
 * display has ended (`<run id>:end:done` recorded on the platform, see core/run-feed.ts) — so a process
 * that was behind does not re-create the row its holder deleted at the end.
 */
export async function claimRunDisplay(
  db: Db,
  o: { platform: string; runId: string; holder: string; leaseMs: number },
): Promise<RunDisplayClaim> {
  const expiry = sql`clock_timestamp() + ${Math.max(1, Math.round(o.leaseMs))} * interval '1 millisecond'`;
  const showing = sql`select r.id from runs r
                       where r.id = ${o.runId}
                         and not exists (select 1 from platform_messages pm
                                          where pm.platform = ${o.platform} and pm.event_key = r.id || ':end:done')`;
  const [row] = await queryRows<{ ours: boolean; over: boolean; others_expire_in_ms: number | string | null }>(
    db,
    sql`with taken as (
          insert into run_display_claims (platform, run_id, holder, expires_at)
          select ${o.platform}, s.id, ${o.holder}, ${expiry} from (${showing}) s
          on conflict (platform, run_id) do update set holder = excluded.holder, expires_at = excluded.expires_at
           where run_display_claims.holder = excluded.holder or run_display_claims.expires_at <= clock_timestamp()
          returning holder)
        select exists (select 1 from taken) as ours,
               not exists (${showing}) as over,
               (select greatest(0, extract(epoch from (c.expires_at - clock_timestamp())) * 1000)
                  from run_display_claims c
                 where c.platform = ${o.platform} and c.run_id = ${o.runId} and c.holder <> ${o.holder}) as others_expire_in_ms`,
  );
  const others = row?.others_expire_in_ms;
  return {
    ours: Boolean(row?.ours),
    over: Boolean(row?.over),
    othersExpireInMs: others === null || others === undefined ? null : Number(others),
  };
}

/** Gives the run's claim up if `holder` still has it (a claim taken over meanwhile stays its new holder's). */
export async function releaseRunDisplay(db: Db, o: { platform: string; runId: string; holder: string }): Promise<void> {
  await db
    .delete(runDisplayClaims)
    .where(and(eq(runDisplayClaims.platform, o.platform), eq(runDisplayClaims.runId, o.runId), eq(runDisplayClaims.holder, o.holder)));
}

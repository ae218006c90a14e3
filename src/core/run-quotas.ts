/**
 * What a new run may use. RunService.start checks these under the workspace's advisory lock, so
 * parallel requests cannot overshoot them: one active run per person, the person's daily provider
 * budget, and the daily image quotas of the person and of the workspace.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Config } from '../config';
import type { Db } from '../db/connection';
import { runs } from '../db/schema';
import { queryRows } from '../db/util';
import { LimitReachedError } from './errors';
import type { UserKey } from './identity';
import { ACTIVE_STATUSES } from './run-status';

export type QuotaConfig = Pick<Config, 'DAILY_IMAGE_QUOTA_USER' | 'DAILY_IMAGE_QUOTA_WORKSPACE' | 'DAILY_BUDGET_USD'>;

/** Serializes quota checks of one workspace (and of one person without workspace) until the transaction ends. */
export async function lockQuotaScope(tx: Pick<Db, 'execute'>, scope: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(7281924, hashtext(${scope}))`);
}

export async function assertNoActiveRun(db: Db, userKey: UserKey): Promise<void> {
  const act = await db
    .select({ id: runs.id })
    .from(runs)
    .where(and(eq(runs.userKey, userKey), inArray(runs.status, ACTIVE_STATUSES)))
    .limit(1);
  if (act[0]) throw new LimitReachedError(`You already have a run going (${act[0].id}); /cancel it first.`);
}

/** What is left of the person's daily provider budget (DAILY_BUDGET_USD over the last 24 h of usage). */
export async function budgetLeftUsd(db: Db, config: QuotaConfig, userKey: UserKey): Promise<number> {
  const budget = config.DAILY_BUDGET_USD;
  const rows = await queryRows<{ spent: number | string | null }>(
    db,
    sql`select coalesce(sum(cost_usd), 0) as spent from usage where user_key = ${userKey} and created_at > now() - interval '1 day'`,
  );
  const spent = Number(rows[0]?.spent ?? 0);
  if (spent >= budget) {
    throw new LimitReachedError(
      `You have used your daily provider budget ($${spent.toFixed(2)} of $${budget.toFixed(2)}). Try again tomorrow, or ask an operator to raise DAILY_BUDGET_USD.`,
    );
  }
  return budget - spent;
}

/** Daily image quotas: images generated in the last 24 h plus what active runs may still use. */
export async function assertImageQuota(
  db: Db,
  config: QuotaConfig,
  userKey: UserKey,
  scopeId: string | undefined,
  planned: number,
): Promise<void> {
  const userQuota = config.DAILY_IMAGE_QUOTA_USER;
  const u = await imagesUsed(db, 'user_key', userKey);
  if (u + planned > userQuota) {
    throw new LimitReachedError(
      `That run needs up to ${planned} images but you have ${Math.max(0, userQuota - u)} of your ${userQuota} daily images left. ` +
        'Try fewer iterations or candidates, or again tomorrow.',
    );
  }
  if (scopeId) {
    const wsQuota = config.DAILY_IMAGE_QUOTA_WORKSPACE;
    const w = await imagesUsed(db, 'scope_id', scopeId);
    if (w + planned > wsQuota) {
      throw new LimitReachedError(
        `This server/workspace has ${Math.max(0, wsQuota - w)} of its ${wsQuota} daily images left and that run needs up to ${planned}. ` +
          'Try a smaller run, or again tomorrow.',
      );
    }
  }
}

/** Images of the person (user_key) or workspace (scope_id) made in the last 24 h plus those their active runs may still make. */
async function imagesUsed(db: Db, col: 'user_key' | 'scope_id', value: string): Promise<number> {
  const rows = await queryRows<{ used: number | string | null; reserved: number | string | null }>(
    db,
    sql`select
          (select count(*) from candidates c join runs r on r.id = c.run_id
            where r.${sql.raw(col)} = ${value} and c.image_id is not null and c.created_at > now() - interval '1 day') as used,
          (select coalesce(sum(least(1 + (r.params->>'iterations')::int * (r.params->>'candidates')::int,
                    coalesce((r.params->'budget'->>'maxImages')::int, 1000000000))), 0)
             - coalesce((select count(*) from candidates c2 join runs r2 on r2.id = c2.run_id
                  where r2.${sql.raw(col)} = ${value} and r2.status in ('queued','running') and c2.image_id is not null), 0)
             from runs r where r.${sql.raw(col)} = ${value} and r.status in ('queued','running')) as reserved`,
  );
  const r = rows[0];
  return Number(r?.used ?? 0) + Math.max(0, Number(r?.reserved ?? 0));
}

/**
 * Persisted compact scorer states (table scorer_states): what a process needs to bring a person back into
 * memory without replaying their ratings — their rating ids and scores in row order, the fit (Δ as
 * float64 bytes, the evaluation scalars) and the ledger and community versions it was fitted at.
 *
 * A write never brings a forgotten person back: it runs under the person's shared lock (a forget takes
 * the exclusive one) and stores nothing for someone without ratings (a forget deletes them all).
 * The scorer's summary (scorer_models: method, λ and k, cross-validated quality — what /profile and the
 * /privacy export report) is written with the state, in the same transaction and under the same rule.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { ratings, scorerModels, scorerStates } from '../db/schema';
import type { UserKey } from './identity';
import { inJsonList, queryRows } from '../db/util';
import { LOCK_NS_PERSON, lockPersonShared } from './ratings';
import type { ScorerQuality } from './records';
import type { PersonFit, PersonSnapshot } from './scorer/person-snapshot';

export interface StoredScorerState {
  snapshot: PersonSnapshot;
  /** RatingLedger.versions of the person when the snapshot was fitted. */
  ledgerVersion: string;
  /** The community models' version the fit was made with; null = not comparable (unshared community). */
  communityVersion: number | null;
  /** The scorer_models row to store with it. */
  summary?: ScorerSummary;
}

/** The scorer_models row of a person's scorer. */
export interface ScorerSummary {
  method: string;
  n: number;
  params: { lambda: number; k: number };
  quality: ScorerQuality;
}

/** The fit's scalars, as stored in `fit` (Δ goes to `delta`). */
type FitScalars = Omit<PersonFit, 'delta'>;

export async function loadScorerState(db: Db, userKey: UserKey, model: string): Promise<StoredScorerState | null> {
  return (await loadScorerStates(db, [userKey], model)).get(userKey) ?? null;
}

/** Several people's stored states in one query (people coming into memory together); a person without a usable one is left out. */
export async function loadScorerStates(db: Db, userKeys: readonly UserKey[], model: string): Promise<Map<UserKey, StoredScorerState>> {
  const out = new Map<UserKey, StoredScorerState>();
  if (userKeys.length === 0) return out;
  const rows = await db
    .select()
    .from(scorerStates)
    .where(and(inJsonList(scorerStates.userKey, [...new Set(userKeys)]), eq(scorerStates.model, model)));
  for (const row of rows) {
    const scalars = row.fit as FitScalars | null;
    if (!scalars || row.imageIds.length !== row.scores.length) continue;
    const delta = row.fit && row.delta ? unpackFloat64(row.delta) : null;
    out.set(row.userKey, {
      snapshot: { imageIds: row.imageIds, scores: row.scores, fit: { ...scalars, delta } },
      ledgerVersion: row.ledgerVersion,
      communityVersion: row.communityVersion,
    });
  }
  return out;
}

/** Stores (replaces) a person's state; false when nothing was stored because the person has no ratings. */
export async function saveScorerState(db: Db, userKey: UserKey, model: string, state: StoredScorerState): Promise<boolean> {
  const { delta, ...scalars } = state.snapshot.fit;
  const values = {
    ledgerVersion: state.ledgerVersion,
    communityVersion: state.communityVersion,
    imageIds: state.snapshot.imageIds,
    scores: state.snapshot.scores,
    fit: scalars,
    delta: delta ? packFloat64(delta) : null,
    updatedAt: new Date(),
  };
  return db.transaction(async (tx) => {
    await lockPersonShared(tx, userKey);
    const [rated] = await tx.select({ k: ratings.userKey }).from(ratings).where(eq(ratings.userKey, userKey)).limit(1);
    if (!rated) return false;
    await tx
      .insert(scorerStates)
      .values({ userKey, model, ...values })
      .onConflictDoUpdate({ target: [scorerStates.userKey, scorerStates.model], set: values });
    if (state.summary) {
      const summary = { ...state.summary, updatedAt: values.updatedAt };
      await tx
        .insert(scorerModels)
        .values({ userKey, model, ...summary })
        .onConflictDoUpdate({ target: [scorerModels.userKey, scorerModels.model], set: summary });
    }
    return true;
  });
}

/**
 * Stores (replaces) several people's states in one transaction of three statements, whatever their
 * number: their shared locks, then every state, then every summary, each row only for a person who still
 * has ratings (a forget deletes them all). Answers the people stored.
 */
export async function saveScorerStates(
  db: Db,
  model: string,
  states: readonly { userKey: UserKey; state: StoredScorerState }[],
): Promise<UserKey[]> {
  if (states.length === 0) return [];
  const keys = [...new Set(states.map((s) => s.userKey))].sort();
  const rows = states.map(({ userKey, state }) => {
    const { delta, ...scalars } = state.snapshot.fit;
    return {
      user_key: userKey,
      ledger_version: state.ledgerVersion,
      community_version: state.communityVersion,
      image_ids: state.snapshot.imageIds,
      scores: state.snapshot.scores,
      fit: scalars,
      delta: delta ? Buffer.from(packFloat64(delta)).toString('base64') : null,
      summary: state.summary ?? null,
    };
  });
  const json = JSON.stringify(rows);
  return db.transaction(async (tx) => {
    await tx.execute(
      sql`select count(pg_advisory_xact_lock_shared(${LOCK_NS_PERSON}::int4, hashtext(k)))
        from (select jsonb_array_elements_text(${JSON.stringify(keys)}::jsonb) as k order by 1) as people`,
    );
    const stored = await queryRows<{ user_key: string }>(
      tx,
      sql`insert into scorer_states as s (user_key, model, ledger_version, community_version, image_ids, scores, fit, delta, updated_at)
        select x.user_key, ${model}, x.ledger_version, x.community_version, x.image_ids, x.scores, x.fit, decode(x.delta, 'base64'), now()
        from jsonb_to_recordset(${json}::jsonb) as x(user_key text, ledger_version text, community_version integer,
          image_ids text[], scores smallint[], fit jsonb, delta text)
        where exists (select 1 from ratings r where r.user_key = x.user_key)
        on conflict (user_key, model) do update set ledger_version = excluded.ledger_version,
          community_version = excluded.community_version, image_ids = excluded.image_ids, scores = excluded.scores,
          fit = excluded.fit, delta = excluded.delta, updated_at = excluded.updated_at
        returning s.user_key`,
    );
    if (rows.some((r) => r.summary)) {
      await tx.execute(
        sql`insert into scorer_models (user_key, model, method, n, params, quality, updated_at)
          select x.user_key, ${model}, x.summary->>'method', (x.summary->>'n')::integer, x.summary->'params', x.summary->'quality', now()
          from jsonb_to_recordset(${json}::jsonb) as x(user_key text, summary jsonb)
          where x.summary is not null and exists (select 1 from ratings r where r.user_key = x.user_key)
          on conflict (user_key, model) do update set method = excluded.method, n = excluded.n, params = excluded.params,
            quality = excluded.quality, updated_at = excluded.updated_at`,
      );
    }
    return stored.map((r) => r.user_key);
  });
}

/** Deletes the states of these people under every model (a forget; a person left without ratings). */
export async function deleteScorerStates(db: Pick<Db, 'delete'>, userKeys: readonly UserKey[]): Promise<void> {
  if (userKeys.length === 0) return;
  await db.delete(scorerStates).where(inArray(scorerStates.userKey, [...userKeys]));
}

/** Little-endian float64 bytes: exact, so a restored Δ predicts to the last bit. */
function packFloat64(v: Float64Array): Uint8Array {
  const out = new Uint8Array(v.length * 8);
  const view = new DataView(out.buffer);
  v.forEach((x, i) => view.setFloat64(i * 8, x, true));
  return out;
}

function unpackFloat64(bytes: Uint8Array): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(Math.floor(bytes.byteLength / 8));
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

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
import { and, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { ratings, scorerModels, scorerStates } from '../db/schema';
import type { UserKey } from './identity';
import { lockPersonShared } from './ratings';
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
  const [row] = await db
    .select()
    .from(scorerStates)
    .where(and(eq(scorerStates.userKey, userKey), eq(scorerStates.model, model)));
  if (!row) return null;
  const scalars = row.fit as FitScalars | null;
  if (!scalars || row.imageIds.length !== row.scores.length) return null;
  const delta = row.fit && row.delta ? unpackFloat64(row.delta) : null;
  return {
    snapshot: { imageIds: row.imageIds, scores: row.scores, fit: { ...scalars, delta } },
    ledgerVersion: row.ledgerVersion,
    communityVersion: row.communityVersion,
  };
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

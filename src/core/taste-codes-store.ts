/**
 * Stored taste codes (tables taste_codes and retired_taste_codes), as scorer states are stored
 * (./scorer-state-store): a snapshot is written under the person's shared lock and only while they
 * have ratings, so a forget (exclusive lock, deletes every rating) either deletes it or is never
 * followed by it. A forget retires the person's codes: the rows go, a hash of each code stays.
 */
import { and, desc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { ratings, retiredTasteCodes, tasteCodes } from '../db/schema';
import type { UserKey } from './identity';
import { lockPersonShared } from './ratings';
import { hashTasteCode, newTasteCode, packFloat32, packFloat64, unpackFloat32, unpackFloat64, type FrozenScorer } from './taste-codes';
import type { MethodName } from './scorer/auto';

/** A code's description, without its model. */
export interface TasteCodeInfo {
  code: string;
  userKey: UserKey;
  model: string;
  ledgerVersion: string;
  /** Ratings the frozen scorer was fitted on. */
  ratings: number;
  method: MethodName;
  createdAt: Date;
}

interface StoredTasteCode extends TasteCodeInfo {
  scorer: FrozenScorer;
}

/** How many fresh codes to draw when one is taken (a collision of 40 random bits is already rare). */
const DRAWS = 5;

/** The person's code for this model and ledger version, if one was taken. */
export async function findSnapshotCode(db: Db, userKey: UserKey, model: string, ledgerVersion: string): Promise<TasteCodeInfo | null> {
  const [row] = await db
    .select(infoColumns)
    .from(tasteCodes)
    .where(and(eq(tasteCodes.userKey, userKey), eq(tasteCodes.model, model), eq(tasteCodes.ledgerVersion, ledgerVersion)));
  return row ? info(row) : null;
}

/**
 * Stores a snapshot under a fresh code, or returns the one already taken for the same person, model and
 * ledger version (two /profile at once agree on one code). Null when the person has no ratings (a
 * forget deleted them): nothing is stored for them.
 */
export async function saveSnapshot(
  db: Db,
  s: Omit<StoredTasteCode, 'code' | 'createdAt'>,
  draw: () => string = newTasteCode,
): Promise<TasteCodeInfo | null> {
  for (let attempt = 0; attempt < DRAWS; attempt++) {
    const code = draw();
    const stored = await db.transaction(async (tx) => {
      await lockPersonShared(tx, s.userKey);
      const [rated] = await tx.select({ k: ratings.userKey }).from(ratings).where(eq(ratings.userKey, s.userKey)).limit(1);
      if (!rated) return 'unrated' as const;
      const [retired] = await tx
        .select()
        .from(retiredTasteCodes)
        .where(eq(retiredTasteCodes.codeHash, hashTasteCode(code)));
      if (retired) return 'taken' as const;
      const rows = await tx
        .insert(tasteCodes)
        .values({ code, ...columnsOf(s) })
        .onConflictDoNothing()
        .returning(infoColumns);
      return rows[0] ? info(rows[0]) : 'taken';
    });
    if (stored === 'unrated') return null;
    if (stored !== 'taken') return stored;
    // Taken: either this snapshot was stored meanwhile (the answer) or the code belongs to another one (draw again).
    const same = await findSnapshotCode(db, s.userKey, s.model, s.ledgerVersion);
    if (same) return same;
  }
  throw new Error(`no free taste code after ${DRAWS} draws`);
}

/** A code with its frozen scorer, or null when no such code is stored. */
export async function loadTasteCode(db: Db, code: string): Promise<StoredTasteCode | null> {
  const [row] = await db.select().from(tasteCodes).where(eq(tasteCodes.code, code));
  if (!row) return null;
  const w = row.weights ? unpackFloat64(row.weights) : null;
  const vectors = row.neighbourVectors ? unpackFloat32(row.neighbourVectors) : null;
  return {
    ...info(row),
    scorer: {
      method: row.method as MethodName,
      dim: row.dim,
      linear: w ? { w, bias: row.bias ?? 0 } : null,
      neighbours: vectors && row.neighbourScores ? { vectors, scores: row.neighbourScores, k: row.neighbourK ?? 1 } : null,
    },
  };
}

/** Whether a forget retired this code. */
export async function isRetiredTasteCode(db: Db, code: string): Promise<boolean> {
  const [row] = await db
    .select()
    .from(retiredTasteCodes)
    .where(eq(retiredTasteCodes.codeHash, hashTasteCode(code)));
  return Boolean(row);
}

/** The person's codes, newest first. */
export async function listTasteCodes(db: Db, userKey: UserKey, limit: number): Promise<TasteCodeInfo[]> {
  const rows = await db
    .select(infoColumns)
    .from(tasteCodes)
    .where(eq(tasteCodes.userKey, userKey))
    .orderBy(desc(tasteCodes.createdAt), desc(tasteCodes.ratings))
    .limit(limit);
  return rows.map(info);
}

/** A forget: deletes the person's codes and keeps a hash of each, so they answer "no longer exists". */
export async function retireTasteCodes(db: Pick<Db, 'select' | 'insert' | 'delete'>, userKey: UserKey): Promise<number> {
  const gone = await db.delete(tasteCodes).where(eq(tasteCodes.userKey, userKey)).returning({ code: tasteCodes.code });
  if (gone.length === 0) return 0;
  await db
    .insert(retiredTasteCodes)
    .values(gone.map((g) => ({ codeHash: hashTasteCode(g.code) })))
    .onConflictDoNothing();
  return gone.length;
}

/** The person's codes as their data export shows them (no weights: numbers nobody can read). */
export async function exportTasteCodes(db: Db, userKeys: readonly UserKey[]): Promise<Record<string, unknown>[]> {
  if (userKeys.length === 0) return [];
  const rows = await db
    .select(infoColumns)
    .from(tasteCodes)
    .where(inArray(tasteCodes.userKey, [...userKeys]));
  return rows.map(({ userKey: _userKey, ...rest }) => rest);
}

const infoColumns = {
  code: tasteCodes.code,
  userKey: tasteCodes.userKey,
  model: tasteCodes.model,
  ledgerVersion: tasteCodes.ledgerVersion,
  ratings: tasteCodes.ratings,
  method: tasteCodes.method,
  createdAt: tasteCodes.createdAt,
};

function info(row: { [K in keyof typeof infoColumns]: unknown }): TasteCodeInfo {
  return {
    code: row.code as string,
    userKey: row.userKey as UserKey,
    model: row.model as string,
    ledgerVersion: row.ledgerVersion as string,
    ratings: row.ratings as number,
    method: row.method as MethodName,
    createdAt: row.createdAt as Date,
  };
}

function columnsOf(s: Omit<StoredTasteCode, 'code' | 'createdAt'>) {
  const { linear, neighbours } = s.scorer;
  return {
    userKey: s.userKey,
    model: s.model,
    ledgerVersion: s.ledgerVersion,
    ratings: s.ratings,
    method: s.method,
    dim: s.scorer.dim,
    weights: linear ? packFloat64(linear.w) : null,
    bias: linear ? linear.bias : null,
    neighbourVectors: neighbours ? packFloat32(neighbours.vectors) : null,
    neighbourScores: neighbours ? neighbours.scores : null,
    neighbourK: neighbours ? neighbours.k : null,
  };
}

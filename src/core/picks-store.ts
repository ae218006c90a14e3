/**
 * The picks tables (migrations/0011_picks.sql): offers of images shown together, and each person's pick
 * on one (the winner over each other image). Picking again on the same offer replaces the pick; a forget
 * deletes the person's picks and every offer showing an image it deleted (with everyone's picks on it).
 */
import { randomUUID } from 'node:crypto';
import { arrayOverlaps, desc, eq, or, sql } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { pickOffers, picks } from '../db/schema';
import type { UserKey } from './identity';
import { assertNotForgotten } from './people';
import { RATING_CHANNEL } from './ratings';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** One stored pick: the image picked and the ones it was picked over. */
export interface StoredPick {
  offerId: string;
  winner: string;
  losers: string[];
  pickedAt: Date;
}

/** Stores a set of images shown together; returns its id (what the pick controls carry). */
export async function storeOffer(db: Db, imageIds: readonly string[]): Promise<string> {
  const id = randomUUID();
  await db.insert(pickOffers).values({ id, imageIds: [...imageIds] });
  return id;
}

export async function readOffer(db: Db, offerId: string): Promise<string[] | undefined> {
  const [row] = await db.select({ imageIds: pickOffers.imageIds }).from(pickOffers).where(eq(pickOffers.id, offerId)).limit(1);
  return row?.imageIds;
}

/**
 * The person's pick of `winner` on the offer, replacing an earlier one of theirs there. Throws
 * ForgottenError (stores nothing) for a forgotten person: checked under their shared lock, as ratings are.
 */
export async function storePick(
  db: Db,
  p: { userKey: UserKey; offerId: string; winner: string; losers: readonly string[]; source: string },
): Promise<void> {
  await db.transaction(async (tx) => {
    await assertNotForgotten(tx, p.userKey);
    const row = { offerId: p.offerId, userKey: p.userKey, winnerImageId: p.winner, loserImageIds: [...p.losers], source: p.source };
    await tx
      .insert(picks)
      .values(row)
      .onConflictDoUpdate({
        target: [picks.offerId, picks.userKey],
        set: { winnerImageId: row.winnerImageId, loserImageIds: row.loserImageIds, source: row.source, pickedAt: new Date() },
      });
    // A pick changes the person's ledger version (RatingLedger.versions) as a rating does: announced on
    // the ratings' channel, so every process refits them (delivered only if this commits).
    await tx.execute(sql`select pg_notify(${RATING_CHANNEL}, ${p.userKey})`);
  });
}

/** The person's picks, newest first (at most `limit`). */
export async function listPicks(db: Db, userKey: UserKey, limit = 1000): Promise<StoredPick[]> {
  const rows = await db
    .select({ offerId: picks.offerId, winner: picks.winnerImageId, losers: picks.loserImageIds, pickedAt: picks.pickedAt })
    .from(picks)
    .where(eq(picks.userKey, userKey))
    .orderBy(desc(picks.pickedAt))
    .limit(limit);
  return rows;
}

/** Inside a forget's transaction: the person's picks, and the offers (with their picks) showing a deleted image. */
export async function forgetPicks(tx: Tx, userKey: UserKey, deletedImageIds: readonly string[]): Promise<void> {
  const showsDeleted = deletedImageIds.length ? arrayOverlaps(pickOffers.imageIds, [...deletedImageIds]) : undefined;
  await tx.delete(picks).where(eq(picks.userKey, userKey));
  if (showsDeleted) await tx.delete(pickOffers).where(or(showsDeleted));
}

/**
 * Privacy: opt-in sharing, who may see or use whose profile, forgetting and exporting a person.
 *
 * Visibility rule (reliability row 23): another person's profile can be seen (/profile user:…),
 * compared (/compare) or included in a group run only when that person opted in
 * (users.share_profile) AND both people have been seen in the scope the request came from
 * (user_scopes; the scope is the guild / workspace of the verified platform event, never a command
 * argument). Every refusal throws the same ProfileNotAvailableError, whatever the reason.
 *
 * Forget (row 24): ONE transaction that first takes the person's advisory lock exclusively (rating
 * events hold it shared), writes the forgotten_users tombstone (a hash, not the key) so later
 * events for them are dropped, and deletes every row that names them. Their uploaded/attachment
 * images are deleted too (rows in the transaction, files after commit), with everybody's ratings of
 * those images (an image that no longer exists cannot be scored). Group runs of OTHER people that
 * included them keep their rows but lose the person's key from their JSON (members, member scores).
 */
import { rm } from 'node:fs/promises';
import { and, asc, eq, inArray, or, sql } from 'drizzle-orm';
import type { Db } from '../db/connection';
import {
  candidates, embeddings, forgottenUsers, images, outbox, platformMessages, processedEvents, ratingEvents, ratingVotes, ratings,
  runIterations, runs, scorerModels, usage, userScopes, users,
} from '../db/schema';
import { ProfileNotAvailableError } from './errors';
import { hashUserKey, type UserKey } from './identity';
import { isForgotten } from './people';
import { lockPersonExclusive } from './ratings';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** What replaces a forgotten member's key inside other people's group runs. */
export const FORGOTTEN_MEMBER = 'forgotten-member';

export async function setSharing(db: Db, userKey: UserKey, share: boolean): Promise<boolean> {
  const rows = await db.update(users).set({ shareProfile: share }).where(eq(users.userKey, userKey)).returning({ k: users.userKey });
  return rows.length > 0;
}

export async function isSharing(db: Db, userKey: UserKey): Promise<boolean> {
  const rows = await db.select({ s: users.shareProfile }).from(users).where(eq(users.userKey, userKey)).limit(1);
  return rows[0]?.s ?? false;
}

export interface AccessRequest {
  requesterKey: UserKey;
  targetKey: UserKey;
  /** Guild / workspace of the verified platform event (undefined = a DM or a surface without scopes). */
  scopeId: string | undefined;
}

/** True when the requester may see / use the target's profile (always for oneself). */
export async function canUseProfile(db: Db, req: AccessRequest): Promise<boolean> {
  if (req.requesterKey === req.targetKey) return true;
  if (!req.scopeId) return false;
  if (await isForgotten(db, req.targetKey)) return false;
  const rows = await db
    .select({ share: users.shareProfile })
    .from(users)
    .where(eq(users.userKey, req.targetKey))
    .limit(1);
  if (!rows[0]?.share) return false;
  const scopes = await db
    .select({ k: userScopes.userKey })
    .from(userScopes)
    .where(and(eq(userScopes.scopeId, req.scopeId), inArray(userScopes.userKey, [req.requesterKey, req.targetKey])));
  return new Set(scopes.map((s) => s.k)).size === 2;
}

/** Throws ProfileNotAvailableError (one message for every reason) unless canUseProfile. */
export async function assertCanUseProfile(db: Db, req: AccessRequest): Promise<void> {
  if (!(await canUseProfile(db, req))) throw new ProfileNotAvailableError();
}

// ---------------------------------------------------------------- forget

export interface ForgetReport {
  ratings: number;
  votes: number;
  ratingEvents: number;
  runs: number;
  images: number;
  /** Other people whose ratings of the deleted images were removed (their scorers need a refit). */
  affectedPeople: UserKey[];
  /** Image ids whose files were deleted. */
  imageIds: string[];
}

export interface ForgetOptions {
  /** Where an image's file lives (ImageStore.path); files are deleted after commit. */
  imagePath?: (imageId: string) => string;
}

/** Deletes everything that names the person, in one transaction, and tombstones them. */
export async function forgetPerson(db: Db, userKey: UserKey, opts: ForgetOptions = {}): Promise<ForgetReport> {
  const report = await db.transaction(async (tx) => forgetInTx(tx, userKey));
  if (opts.imagePath) {
    for (const id of report.imageIds) {
      // After commit: a rollback must never leave rows pointing at deleted files.
      await rm(opts.imagePath(id), { force: true }).catch(() => undefined);
    }
  }
  return report;
}

async function forgetInTx(tx: Tx, userKey: UserKey): Promise<ForgetReport> {
  // First: rating events in flight for this person commit before us or see the tombstone after us.
  await lockPersonExclusive(tx, userKey);
  await tx.insert(forgottenUsers).values({ userKeyHash: hashUserKey(userKey) }).onConflictDoNothing();

  const imageIds = (await tx.select({ id: images.id }).from(images).where(eq(images.ownerKey, userKey))).map((r) => r.id);
  const runIds = (await tx.select({ id: runs.id }).from(runs).where(eq(runs.userKey, userKey))).map((r) => r.id);
  const affected = await tx
    .selectDistinct({ k: ratings.userKey })
    .from(ratings)
    .where(inArray(ratings.imageId, imageIds));

  await tx.delete(platformMessages).where(or(inArray(platformMessages.runId, runIds), inArray(platformMessages.imageId, imageIds)));
  await tx.delete(outbox).where(inArray(outbox.runId, runIds));
  await tx.delete(usage).where(or(eq(usage.userKey, userKey), inArray(usage.runId, runIds)));
  await tx.delete(candidates).where(inArray(candidates.runId, runIds));
  await tx.delete(runIterations).where(inArray(runIterations.runId, runIds));
  const deletedRuns = await tx.delete(runs).where(inArray(runs.id, runIds)).returning({ id: runs.id });

  const mine = (col: typeof ratings.userKey | typeof ratingVotes.userKey | typeof ratingEvents.userKey, img: typeof ratings.imageId | typeof ratingVotes.imageId | typeof ratingEvents.imageId) =>
    or(eq(col, userKey), inArray(img, imageIds));
  const deletedRatings = await tx.delete(ratings).where(mine(ratings.userKey, ratings.imageId)).returning({ k: ratings.userKey });
  const deletedVotes = await tx.delete(ratingVotes).where(mine(ratingVotes.userKey, ratingVotes.imageId)).returning({ k: ratingVotes.userKey });
  const deletedEvents = await tx.delete(ratingEvents).where(mine(ratingEvents.userKey, ratingEvents.imageId)).returning({ k: ratingEvents.userKey });

  await tx.delete(scorerModels).where(eq(scorerModels.userKey, userKey));
  await tx.delete(userScopes).where(eq(userScopes.userKey, userKey));
  await tx.delete(processedEvents).where(eq(processedEvents.userKey, userKey));
  await tx.delete(users).where(eq(users.userKey, userKey));
  await tx.delete(embeddings).where(inArray(embeddings.imageId, imageIds));
  await tx.delete(images).where(inArray(images.id, imageIds));

  // Other people's group runs that included them: keep the runs, drop the person's key from their JSON.
  const needle = JSON.stringify(userKey).slice(1, -1);
  const placeholder = FORGOTTEN_MEMBER;
  for (const [table, column] of [
    ['runs', 'params'], ['runs', 'state'], ['runs', 'metrics'], ['runs', 'destination'],
    ['candidates', 'member_scores'], ['run_iterations', 'optimizer_state'], ['outbox', 'payload'],
  ] as const) {
    await tx.execute(sql`update ${sql.identifier(table)} set ${sql.identifier(column)} = replace(${sql.identifier(column)}::text, ${needle}, ${placeholder})::jsonb
      where ${sql.identifier(column)} is not null and strpos(${sql.identifier(column)}::text, ${needle}) > 0`);
  }

  return {
    ratings: deletedRatings.filter((r) => r.k === userKey).length,
    votes: deletedVotes.filter((r) => r.k === userKey).length,
    ratingEvents: deletedEvents.filter((r) => r.k === userKey).length,
    runs: deletedRuns.length,
    images: imageIds.length,
    affectedPeople: affected.map((a) => a.k).filter((k) => k !== userKey),
    imageIds,
  };
}

// ---------------------------------------------------------------- export

export interface PersonExport {
  format: 'tasteloop-export-v1';
  exportedAt: string;
  userKey: UserKey;
  user: Record<string, unknown> | null;
  scopes: Record<string, unknown>[];
  ratings: Record<string, unknown>[];
  votes: Record<string, unknown>[];
  ratingEvents: Record<string, unknown>[];
  runs: (Record<string, unknown> & { iterations: Record<string, unknown>[]; candidates: Record<string, unknown>[] })[];
  uploadedImages: Record<string, unknown>[];
  scorerModels: Record<string, unknown>[];
  usage: Record<string, unknown>[];
}

/** Everything stored about the person, as plain JSON-able data. */
export async function exportPerson(db: Db, userKey: UserKey, now = new Date()): Promise<PersonExport> {
  const [user] = await db.select().from(users).where(eq(users.userKey, userKey));
  const runRows = await db.select().from(runs).where(eq(runs.userKey, userKey)).orderBy(asc(runs.createdAt));
  const runIds = runRows.map((r) => r.id);
  const its = await db.select().from(runIterations).where(inArray(runIterations.runId, runIds)).orderBy(asc(runIterations.iteration));
  const cands = await db.select().from(candidates).where(inArray(candidates.runId, runIds)).orderBy(asc(candidates.iteration), asc(candidates.idx));
  const models = await db
    .select({ model: scorerModels.model, method: scorerModels.method, n: scorerModels.n, quality: scorerModels.quality, updatedAt: scorerModels.updatedAt })
    .from(scorerModels)
    .where(eq(scorerModels.userKey, userKey));
  return {
    format: 'tasteloop-export-v1',
    exportedAt: now.toISOString(),
    userKey,
    user: user ?? null,
    scopes: await db.select().from(userScopes).where(eq(userScopes.userKey, userKey)),
    ratings: await db.select().from(ratings).where(eq(ratings.userKey, userKey)).orderBy(asc(ratings.eventTime)),
    votes: await db.select().from(ratingVotes).where(eq(ratingVotes.userKey, userKey)).orderBy(asc(ratingVotes.eventTime)),
    ratingEvents: await db.select().from(ratingEvents).where(eq(ratingEvents.userKey, userKey)).orderBy(asc(ratingEvents.id)),
    runs: runRows.map((r) => ({
      ...r,
      // Internal worker bookkeeping is not the person's data.
      lockedBy: undefined,
      heartbeatAt: undefined,
      iterations: its.filter((i) => i.runId === r.id),
      candidates: cands.filter((c) => c.runId === r.id),
    })),
    uploadedImages: await db.select().from(images).where(eq(images.ownerKey, userKey)),
    scorerModels: models,
    usage: await db.select().from(usage).where(eq(usage.userKey, userKey)),
  };
}

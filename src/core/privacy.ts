/**
 * Privacy: opt-in sharing, who may see or use whose profile, forgetting and exporting a person.
 *
 * Visibility rule: another person's profile can be seen (/profile user:…),
 * compared (/compare) or included in a group run only when that person opted in
 * (users.share_profile) AND both people have been seen in the scope the request came from
 * (user_scopes; the scope is the guild / workspace of the verified platform event, never a command
 * argument). Every refusal throws the same ProfileNotAvailableError, whatever the reason.
 *
 * Forget is a state, not a one-off delete (the privacy service's forget runs the steps):
 *  1. tombstone: forgotten_users gets the hash of the person's key (never the key), committed at
 *     once under their exclusive advisory lock. Everything that stores for a person (ratings, touch,
 *     run start) checks it under the shared lock, so from here on nothing new is stored: those entry
 *     points throw ForgottenError, which platforms answer with one private reply;
 *  2. their run is cancelled and awaited (no image is stored after the deletes);
 *  3. ONE transaction deletes every row that names them or holds their text: ratings, votes and
 *     audit, runs with iterations, candidates, outbox events and usage, platform message records,
 *     scorer state, users/user_scopes, processed events, and the images that are theirs — uploads
 *     and every image made from their prompts — with everybody's ratings of those images (an image
 *     that no longer exists cannot be scored); the image files go after commit. Group runs of OTHER
 *     people that included them keep their rows but lose the person's key from their JSON. It announces
 *     (RATING_CHANNEL) the person and everyone who lost rating rows, so every process refits or drops them;
 *  4. in-memory scorers, and the platforms' own stores (ForgetHook: the playground's log and files).
 * resumePerson (people.ts) removes the tombstone: /privacy action:resume opts back in.
 */
import { and, asc, eq, inArray, isNotNull, ne, or, sql } from 'drizzle-orm';
import type { Db } from '../db/connection';
import {
  candidates,
  embeddings,
  forgottenUsers,
  images,
  outbox,
  pickOffers,
  picks,
  platformMessages,
  processedEvents,
  ratingEvents,
  ratingVotes,
  ratings,
  runIterations,
  runs,
  scorerModels,
  usage,
  userScopes,
  users,
} from '../db/schema';
import { ProfileNotAvailableError } from './errors';
import { hashUserKey, parseUserKey, type PersonRef, type UserKey } from './identity';
import { isForgotten } from './people';
import { announceChange, lockPersonExclusive } from './ratings';
import { deleteScorerStates } from './scorer-state-store';
import { exportTasteCodes, retireTasteCodes } from './taste-codes-store';
import { forgetPicks } from './picks-store';
import { unsubscribe as forgetMadeForYou } from './made-for-you-store';
import { queryRows } from '../db/util';

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
  const rows = await db.select({ share: users.shareProfile }).from(users).where(eq(users.userKey, req.targetKey)).limit(1);
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

/**
 * What a forget removed, for the stores outside the database that platforms keep (the playground's
 * conversation log and files): they drop what belongs to the person or quotes their text.
 */
export interface ForgottenPerson {
  userKey: UserKey;
  /** Platform and user id (from the key): who the platform's own records name. */
  person: PersonRef;
  /** Their runs (deleted): messages that show them go. */
  runIds: string[];
  /** Images deleted with them (uploads, images made from their prompts): messages that show them go. */
  imageIds: string[];
  /** Their prompts (initial and every candidate): public messages quoting one go. */
  prompts: string[];
}

/**
 * A store outside the database that holds something of a person (registered by a platform with
 * PrivacyApi.onForget). Called after the database forgot them; must be idempotent (a failed forget
 * is repeated by asking again).
 */
export interface ForgetHook {
  /** For logs. */
  name: string;
  forget(p: ForgottenPerson): Promise<void>;
}

export interface ForgetReport extends ForgottenPerson {
  ratings: number;
  votes: number;
  ratingEvents: number;
  runs: number;
  images: number;
  /** Other people whose ratings of the deleted images were removed (their scorers need a refit). */
  affectedPeople: UserKey[];
}

export interface ForgetOptions {
  /** Deletes an image's bytes wherever they are kept (ImageStore.deleteBytes: a file or an object); called after commit. */
  deleteImage?: (imageId: string) => Promise<void>;
}

/**
 * Step one of a forget: the tombstone, committed on its own under the person's exclusive lock, so
 * from here on nothing new is stored for them (ratings, touch, run start all check it under the
 * shared lock) while their runs are stopped and before everything is deleted.
 */
export async function tombstonePerson(db: Db, userKey: UserKey): Promise<void> {
  await db.transaction(async (tx) => {
    await lockPersonExclusive(tx, userKey);
    await tx
      .insert(forgottenUsers)
      .values({ userKeyHash: hashUserKey(userKey) })
      .onConflictDoNothing();
  });
}

/**
 * Deletes everything that names the person or holds their text, in ONE transaction, and tombstones
 * them; then the deleted images' files. Stop their runs first (a run still executing could store an
 * image after this): see the privacy service's forget.
 */
export async function forgetPerson(db: Db, userKey: UserKey, opts: ForgetOptions = {}): Promise<ForgetReport> {
  const report = await db.transaction(async (tx) => forgetInTx(tx, userKey));
  if (opts.deleteImage) {
    for (const id of report.imageIds) {
      // After commit: a rollback must never leave rows pointing at deleted bytes. A failed delete
      // leaves an orphan nobody can reach (its row is gone), never a reference to nothing.
      await opts.deleteImage(id).catch(() => undefined);
    }
  }
  return report;
}

/** Image sources that are shared starter sets, never a person's: kept whatever prompt they carry. */
const SHARED_SOURCES = ['gallery', 'onboarding'];

async function forgetInTx(tx: Tx, userKey: UserKey): Promise<ForgetReport> {
  // First: rating events in flight for this person commit before us or see the tombstone after us.
  await lockPersonExclusive(tx, userKey);
  await tx
    .insert(forgottenUsers)
    .values({ userKeyHash: hashUserKey(userKey) })
    .onConflictDoNothing();

  const runIds = (await tx.select({ id: runs.id }).from(runs).where(eq(runs.userKey, userKey))).map((r) => r.id);
  const prompts = await promptsOfRuns(tx, runIds);
  const imageIds = await imagesToForget(tx, userKey, runIds, prompts);

  const affected = await tx.selectDistinct({ k: ratings.userKey }).from(ratings).where(inArray(ratings.imageId, imageIds));

  await tx.delete(platformMessages).where(or(inArray(platformMessages.runId, runIds), inArray(platformMessages.imageId, imageIds)));
  await tx.delete(outbox).where(inArray(outbox.runId, runIds));
  await tx.delete(usage).where(or(eq(usage.userKey, userKey), inArray(usage.runId, runIds)));
  await tx.delete(candidates).where(inArray(candidates.runId, runIds));
  await tx.delete(runIterations).where(inArray(runIterations.runId, runIds));
  const deletedRuns = await tx.delete(runs).where(inArray(runs.id, runIds)).returning({ id: runs.id });

  const mine = (
    col: typeof ratings.userKey | typeof ratingVotes.userKey | typeof ratingEvents.userKey,
    img: typeof ratings.imageId | typeof ratingVotes.imageId | typeof ratingEvents.imageId,
  ) => or(eq(col, userKey), inArray(img, imageIds));
  const deletedRatings = await tx.delete(ratings).where(mine(ratings.userKey, ratings.imageId)).returning({ k: ratings.userKey });
  const deletedVotes = await tx
    .delete(ratingVotes)
    .where(mine(ratingVotes.userKey, ratingVotes.imageId))
    .returning({ k: ratingVotes.userKey });
  const deletedEvents = await tx
    .delete(ratingEvents)
    .where(mine(ratingEvents.userKey, ratingEvents.imageId))
    .returning({ k: ratingEvents.userKey });

  await tx.delete(scorerModels).where(eq(scorerModels.userKey, userKey));
  await forgetPicks(tx, userKey, imageIds);
  // Their taste codes go; each answers "this taste code no longer exists" from now on.
  await retireTasteCodes(tx, userKey);
  // No weekly "made for you" run for a forgotten person.
  await forgetMadeForYou(tx, userKey);
  // Stored scorer states of the person and of everyone who lost ratings here (their states name images
  // deleted now): each is refitted from the ratings that remain when next used.
  await deleteScorerStates(tx, [userKey, ...new Set([...deletedEvents, ...deletedRatings, ...deletedVotes].map((r) => r.k))]);
  await tx.delete(userScopes).where(eq(userScopes.userKey, userKey));
  await tx.delete(processedEvents).where(eq(processedEvents.userKey, userKey));
  await tx.delete(users).where(eq(users.userKey, userKey));
  await tx.delete(embeddings).where(inArray(embeddings.imageId, imageIds));
  await tx.delete(images).where(inArray(images.id, imageIds));

  await dropFromGroupRuns(tx, userKey);
  // Every process refits whoever lost rating events (the person, and others who rated their images) and
  // drops the person entirely; group runs change no one's ratings, so they need no announcement.
  const changed = new Set([userKey, ...[...deletedEvents, ...deletedRatings, ...deletedVotes].map((r) => r.k)]);
  for (const k of [...changed].sort()) await announceChange(tx, k);

  return {
    userKey,
    person: parseUserKey(userKey),
    runIds,
    imageIds,
    prompts: [...prompts],
    ratings: deletedRatings.filter((r) => r.k === userKey).length,
    votes: deletedVotes.filter((r) => r.k === userKey).length,
    ratingEvents: deletedEvents.filter((r) => r.k === userKey).length,
    runs: deletedRuns.length,
    images: imageIds.length,
    affectedPeople: affected.map((a) => a.k).filter((k) => k !== userKey),
  };
}

/** Their text: every prompt of their runs (the initial one and each candidate's). */
async function promptsOfRuns(tx: Tx, runIds: string[]): Promise<Set<string>> {
  const prompts = new Set<string>();
  for (const r of await tx.select({ p: runs.initialPrompt, params: runs.params }).from(runs).where(inArray(runs.id, runIds))) {
    prompts.add(r.p);
    const pp = (r.params as { prompt?: unknown } | null)?.prompt;
    if (typeof pp === 'string') prompts.add(pp);
  }
  for (const c of await tx.selectDistinct({ p: candidates.prompt }).from(candidates).where(inArray(candidates.runId, runIds)))
    prompts.add(c.p);
  prompts.delete('');
  return prompts;
}

/**
 * Images that are theirs: uploads/attachments they brought, and every image made from their
 * prompts — committed candidates, images checkpointed by an iteration that never committed
 * (runs.state.partial), and any generated image carrying one of their prompts (stored just before
 * a crash, never checkpointed). Starter images and images other people's runs show are kept.
 */
async function imagesToForget(tx: Tx, userKey: UserKey, runIds: string[], prompts: Set<string>): Promise<string[]> {
  const db = tx as unknown as Db;
  const candidateIds = new Set<string>();
  for (const r of await tx.select({ id: images.id }).from(images).where(eq(images.ownerKey, userKey))) candidateIds.add(r.id);
  for (const r of await tx
    .selectDistinct({ id: candidates.imageId })
    .from(candidates)
    .where(and(inArray(candidates.runId, runIds), isNotNull(candidates.imageId))))
    candidateIds.add(r.id!);
  if (runIds.length) {
    const partial = await queryRows<{ id: string | null }>(
      db,
      sql`select p.value->>'imageId' as id from runs r, jsonb_each(coalesce(r.state->'partial', '{}'::jsonb)) p
          where r.id in (${sql.join(
            runIds.map((id) => sql`${id}`),
            sql`, `,
          )})`,
    );
    for (const r of partial) if (r.id) candidateIds.add(r.id);
  }
  if (prompts.size) {
    const byPrompt = await tx
      .select({ id: images.id })
      .from(images)
      .where(and(eq(images.source, 'generated'), inArray(images.prompt, [...prompts])));
    for (const r of byPrompt) candidateIds.add(r.id);
  }
  const kept = new Set<string>();
  if (candidateIds.size) {
    const ids = [...candidateIds];
    for (const r of await tx
      .select({ id: images.id })
      .from(images)
      .where(and(inArray(images.id, ids), inArray(images.source, SHARED_SOURCES))))
      kept.add(r.id);
    const others = await tx
      .selectDistinct({ id: candidates.imageId })
      .from(candidates)
      .innerJoin(runs, eq(runs.id, candidates.runId))
      .where(and(inArray(candidates.imageId, ids), ne(runs.userKey, userKey)));
    for (const r of others) if (r.id) kept.add(r.id);
  }
  return [...candidateIds].filter((id) => !kept.has(id)).sort();
}

/** Other people's group runs that included them: keep the runs, drop the person's key from their JSON. */
async function dropFromGroupRuns(tx: Tx, userKey: UserKey): Promise<void> {
  const needle = JSON.stringify(userKey).slice(1, -1);
  const placeholder = FORGOTTEN_MEMBER;
  for (const [table, column] of [
    ['runs', 'params'],
    ['runs', 'state'],
    ['runs', 'metrics'],
    ['runs', 'destination'],
    ['candidates', 'member_scores'],
    ['run_iterations', 'optimizer_state'],
    ['outbox', 'payload'],
  ] as const) {
    await tx.execute(sql`update ${sql.identifier(table)} set ${sql.identifier(column)} = replace(${sql.identifier(column)}::text, ${needle}, ${placeholder})::jsonb
      where ${sql.identifier(column)} is not null and strpos(${sql.identifier(column)}::text, ${needle}) > 0`);
  }
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
  /** Their taste codes (code, model, ratings, method, date; the frozen numbers are not shown). */
  tasteCodes?: Record<string, unknown>[];
  /** Their picks (/rate mode:pick): the images offered together, the one picked, where and when. */
  picks?: { offerId: string; offeredImageIds: string[]; pickedImageId: string; source: string; pickedAt: Date }[];
  usage: Record<string, unknown>[];
}

/** Everything stored about the person, as plain JSON-able data. */
export async function exportPerson(db: Db, userKey: UserKey, now = new Date()): Promise<PersonExport> {
  const [user] = await db.select().from(users).where(eq(users.userKey, userKey));
  const runRows = await db.select().from(runs).where(eq(runs.userKey, userKey)).orderBy(asc(runs.createdAt));
  const runIds = runRows.map((r) => r.id);
  const its = await db.select().from(runIterations).where(inArray(runIterations.runId, runIds)).orderBy(asc(runIterations.iteration));
  const cands = await db
    .select()
    .from(candidates)
    .where(inArray(candidates.runId, runIds))
    .orderBy(asc(candidates.iteration), asc(candidates.idx));
  const models = await db
    .select({
      model: scorerModels.model,
      method: scorerModels.method,
      n: scorerModels.n,
      quality: scorerModels.quality,
      updatedAt: scorerModels.updatedAt,
    })
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
    tasteCodes: await exportTasteCodes(db, [userKey]),
    picks: await db
      .select({
        offerId: picks.offerId,
        offeredImageIds: pickOffers.imageIds,
        pickedImageId: picks.winnerImageId,
        source: picks.source,
        pickedAt: picks.pickedAt,
      })
      .from(picks)
      .innerJoin(pickOffers, eq(pickOffers.id, picks.offerId))
      .where(eq(picks.userKey, userKey))
      .orderBy(asc(picks.pickedAt)),
    usage: await db.select().from(usage).where(eq(usage.userKey, userKey)),
  };
}

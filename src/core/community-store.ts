/**
 * The community models as every process shares them: the process that retrains stores them here with
 * a version one higher than the stored one and announces it on COMMUNITY_CHANNEL in the same
 * transaction; every other process loads the stored row when its version is newer than the one it
 * holds (on the notification, at startup and before each use), so all replicas predict from the same
 * community model whatever their own retrain counts, start times or lost notifications.
 *
 * The numbers go through jsonb, which keeps a number's decimal digits exactly, so a JavaScript double
 * written with its shortest round-trip digits reads back as the same double.
 */
import { and, eq, gt, sql } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { communityModels } from '../db/schema';
import type { GlobalModel } from './scorer/global';
import type { MetaParams } from './scorer/maml';

/** The LISTEN/NOTIFY channel a stored community model is announced on; the payload is the embedder model id. */
export const COMMUNITY_CHANNEL = 'tasteloop_community_model';

/** The community models and the retraining policy's state, so whoever loads them retrains as the trainer would. */
export interface CommunityState {
  global: GlobalModel;
  meta: MetaParams | null;
  /** Community size the meta-init was trained on (shouldRetrainMeta). */
  metaUsers: number;
  /** Ratings in the community when the λ schedule was last calibrated. */
  calibratedRatings: number;
}

export interface StoredCommunity extends CommunityState {
  version: number;
}

interface Encoded {
  global: Omit<GlobalModel, 'w' | 'spectrum'> & { w: number[]; spectrum?: { values: string; vectors: string } };
  meta: (Omit<MetaParams, 'w0'> & { w0: number[] }) | null;
  metaUsers: number;
  calibratedRatings: number;
}

/** Stores the models as the next version and announces it (on commit). Returns that version. */
export async function storeCommunity(db: Db, modelId: string, state: CommunityState): Promise<number> {
  const params: Encoded = {
    global: encodeGlobal(state.global),
    meta: state.meta ? { ...state.meta, w0: Array.from(state.meta.w0) } : null,
    metaUsers: state.metaUsers,
    calibratedRatings: state.calibratedRatings,
  };
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(communityModels)
      .values({ model: modelId, version: 1, params, updatedAt: new Date() })
      .onConflictDoUpdate({
        target: communityModels.model,
        // excluded.params: the models (megabytes at d = 512) are sent once, not a second time for the update.
        set: { version: sql`${communityModels.version} + 1`, params: sql`excluded.params`, updatedAt: new Date() },
      })
      .returning({ version: communityModels.version });
    await tx.execute(sql`select pg_notify(${COMMUNITY_CHANNEL}, ${modelId})`);
    return row!.version;
  });
}

/** The stored models when their version is newer than `held` (one small query when it is not). */
export async function newerCommunity(db: Db, modelId: string, held: number): Promise<StoredCommunity | null> {
  const [row] = await db
    .select({ version: communityModels.version, params: communityModels.params })
    .from(communityModels)
    .where(and(eq(communityModels.model, modelId), gt(communityModels.version, held)));
  if (!row) return null;
  const p = row.params as Encoded;
  return {
    version: row.version,
    global: decodeGlobal(p.global),
    meta: p.meta ? { ...p.meta, w0: Float64Array.from(p.meta.w0) } : null,
    metaUsers: p.metaUsers,
    calibratedRatings: p.calibratedRatings,
  };
}

/**
 * The spectrum (d² numbers: 2 MiB at d = 512) travels as the bytes of its Float64Arrays in base64, not as
 * jsonb numbers: it is exact either way, but a typed array spread into jsonb becomes an object with one
 * key per entry. Every replica needs it, not only the trainer: `auto` takes a person back out of the
 * prior with it, and a replica without it would choose differently from the one that trained.
 */
function encodeGlobal(g: GlobalModel): Encoded['global'] {
  const { spectrum, w, ...rest } = g;
  return {
    ...rest,
    w: Array.from(w),
    ...(spectrum ? { spectrum: { values: bytesOf(spectrum.values), vectors: bytesOf(spectrum.vectors) } } : {}),
  };
}

function decodeGlobal(e: Encoded['global']): GlobalModel {
  const { spectrum, w, ...rest } = e;
  return {
    ...rest,
    w: Float64Array.from(w),
    ...(spectrum ? { spectrum: { values: floatsOf(spectrum.values), vectors: floatsOf(spectrum.vectors) } } : {}),
  };
}

const bytesOf = (a: Float64Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

function floatsOf(b64: string): Float64Array {
  const bytes = Buffer.from(b64, 'base64');
  // Copied into a fresh buffer: a Buffer's byteOffset need not be a multiple of 8.
  const out = new Float64Array(bytes.byteLength / 8);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

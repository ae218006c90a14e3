/**
 * Taste codes as a service (`Services.tasteCodes`, and the runs' side of `/optimize taste:<code>`).
 *
 * - A snapshot is taken when /profile is shown and the person's scorer moved on since their last one:
 *   the scorer is brought to the ledger's version, then frozen (./taste-codes FrozenScorer) and stored
 *   under a fresh code; the same person, embedding model and ledger version always give the same code.
 * - Who may use a code: its owner, always (on any server of their platform identity); anyone else,
 *   on any server or platform, only while the owner opts in to sharing (`/privacy share:on`, the same
 *   switch as for profiles) and is not forgotten. Every other case gets one wording (no probing).
 * - A forget retires the person's codes (./taste-codes-store): they answer "this taste code no longer exists".
 */
import type { Db } from '../db/connection';
import type { EmbeddingService } from './embeddings';
import { userKeyOf, type UserKey } from './identity';
import { isForgotten, touchPerson } from './people';
import { assertCanUseProfile, isSharing } from './privacy';
import type { MethodName } from './scorer/auto';
import {
  parseTasteCode,
  predictFrozen,
  TasteCodeGoneError,
  TasteCodeInputError,
  TasteCodeModelError,
  TasteCodeNotAvailableError,
  type FrozenScorer,
  type TasteCodeRuns,
  type TasteCodesApi,
  type TasteCodeView,
} from './taste-codes';
import { findSnapshotCode, isRetiredTasteCode, listTasteCodes, loadTasteCode, saveSnapshot, type TasteCodeInfo } from './taste-codes-store';
import type { TasteService } from './taste-service';

interface TasteCodesDeps {
  db: Db;
  taste: TasteService;
  embeddings: Pick<EmbeddingService, 'embed'>;
}

export type TasteCodes = TasteCodesApi & TasteCodeRuns;

export function createTasteCodes(deps: TasteCodesDeps): TasteCodes {
  const { db, taste } = deps;

  async function stored(code: string) {
    const row = await loadTasteCode(db, code);
    if (row) return row;
    throw (await isRetiredTasteCode(db, code)) ? new TasteCodeGoneError() : new TasteCodeNotAvailableError();
  }

  async function authorize(requesterKey: UserKey, input: string): Promise<{ code: string; note: string }> {
    const code = parseTasteCode(input);
    if (!code) throw new TasteCodeInputError(input);
    const row = await stored(code);
    const mine = row.userKey === requesterKey;
    if (!mine && !((await isSharing(db, row.userKey)) && !(await isForgotten(db, row.userKey)))) throw new TasteCodeNotAvailableError();
    if (row.model !== taste.modelId) throw new TasteCodeModelError(row.model, taste.modelId);
    const when = row.createdAt.toISOString().slice(0, 10);
    const ratings = `${row.ratings} rating${row.ratings === 1 ? '' : 's'}`;
    return {
      code,
      note: `Scored with taste code ${code}: ${mine ? 'your' : 'a shared'} taste as it was on ${when} (${ratings}); later ratings do not change it.`,
    };
  }

  return {
    async current({ viewer, target, scopeId }) {
      const viewerKey = await touchPerson(db, viewer, scopeId);
      const targetKey = target ? userKeyOf(target) : viewerKey;
      await assertCanUseProfile(db, { requesterKey: viewerKey, targetKey, scopeId });
      const info = await snapshot(deps, targetKey);
      return info ? view(info) : null;
    },
    async history(person, opts = {}) {
      const key = await touchPerson(db, person, opts.scopeId);
      return (await listTasteCodes(db, key, opts.limit ?? 20)).map(view);
    },
    async check(person, input, scopeId) {
      await authorize(await touchPerson(db, person, scopeId), input);
    },
    authorize,
    async predict(code, imageIds) {
      const row = await stored(code);
      if (row.model !== taste.modelId) throw new TasteCodeModelError(row.model, taste.modelId);
      if (imageIds.length === 0) return [];
      const vectors = await deps.embeddings.embed(imageIds);
      return predictFrozen(
        row.scorer,
        imageIds.map((id) => vectors.get(id)!),
      );
    },
    async ratingCount(code) {
      return (await stored(code)).ratings;
    },
  };
}

function view({ userKey: _userKey, ledgerVersion: _version, ...rest }: TasteCodeInfo): TasteCodeView {
  return rest;
}

/**
 * The person's code for their scorer as it is now: the existing one when nothing changed since (same
 * model, same ledger version), else a new snapshot. Null without ratings.
 */
async function snapshot(deps: TasteCodesDeps, userKey: UserKey): Promise<TasteCodeInfo | null> {
  const { db, taste } = deps;
  await taste.loaded();
  const release = taste.resident.pin(userKey);
  try {
    await taste.scheduler.settled(userKey);
    await taste.freshen([userKey]);
    // Read in one go, with no await in between: a refit cannot land between the version and the model.
    const version = taste.resident.versionOf(userKey);
    const ratings = taste.scorer.count(userKey);
    if (!version || ratings === 0) return null;
    const model = taste.modelId;
    const frozen = freezeNow(taste, userKey);
    const existing = await findSnapshotCode(db, userKey, model, version);
    if (existing) return existing;
    const scorer = await withNeighbourVectors(deps, frozen);
    return await saveSnapshot(db, { userKey, model, ledgerVersion: version, ratings, method: scorer.method, scorer });
  } finally {
    release();
  }
}

/** A frozen scorer still naming its neighbours by image id (their vectors are read next). */
interface FrozenByIds extends Omit<FrozenScorer, 'neighbours'> {
  neighbours: { imageIds: string[]; scores: number[]; k: number } | null;
}

/** The person's scorer as it predicts right now (ScorerService.predict's choice of model), copied. */
function freezeNow(taste: TasteService, userKey: UserKey): FrozenByIds {
  const scorer = taste.scorer;
  let method: MethodName = scorer.method(userKey);
  const rows = method === 'knn' || method === 'blend' ? scorer.snapshot(userKey) : undefined;
  // A neighbour method whose rows cannot be named again is frozen as the fine-tuned linear model.
  if ((method === 'knn' || method === 'blend') && !rows) method = 'finetune';
  const linear = scorer.linearModel(userKey, method === 'blend' ? 'finetune' : method);
  return {
    method,
    dim: scorer.dim,
    linear: linear ? { w: Float64Array.from(linear.w), bias: linear.bias } : null,
    neighbours: rows ? { imageIds: [...rows.imageIds], scores: [...rows.scores], k: scorer.details(userKey)?.k ?? 1 } : null,
  };
}

async function withNeighbourVectors(deps: TasteCodesDeps, frozen: FrozenByIds): Promise<FrozenScorer> {
  const { neighbours, ...rest } = frozen;
  if (!neighbours) return { ...rest, neighbours: null };
  const vectors = await deps.embeddings.embed(neighbours.imageIds);
  const packed = new Float32Array(neighbours.imageIds.length * frozen.dim);
  neighbours.imageIds.forEach((id, i) => packed.set(vectors.get(id)!, i * frozen.dim));
  return { ...rest, neighbours: { vectors: packed, scores: neighbours.scores, k: neighbours.k } };
}

/**
 * Pick one of four (/rate mode:pick): which images to show together, and a person's pick on them.
 * The four are chosen by active selection (scorer/pick-selection.ts) from the images the person has
 * not seen — neither rated nor shown in an earlier pick — under the joint fit of their ratings and
 * picks (scorer/pairwise.ts) on the community prior. A pick is stored as the winner over each other
 * image shown (three pairwise preferences), one per person per offer: picking again replaces it.
 */
import { desc, eq } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { images as imagesTable } from '../db/schema';
import type { EmbeddingService } from './embeddings';
import { isForgottenError } from './errors';
import { galleryImageIds, onboardingImageIds } from './gallery';
import type { PersonRef, UserKey } from './identity';
import type { ImageStore } from './images';
import { touchPerson } from './people';
import { listPicks, readOffer, storeOffer, storePick, type StoredPick } from './picks-store';
import type { RatingLedger } from './ratings';
import type { ImageRecord } from './records';
import type { GlobalModel } from './scorer/global';
import { fitJoint, type PairPreference } from './scorer/pairwise';
import { choosePickSet, PICK_SET_SIZE } from './scorer/pick-selection';

/** A set of images to pick from, stored: `offerId` is what the pick controls carry. */
export interface PickOffer {
  offerId: string;
  images: ImageRecord[];
}

export type PickOutcome = { kind: 'stored'; number: number } | { kind: 'forgotten' } | { kind: 'gone' };

export interface PickRequest {
  person: PersonRef;
  scopeId?: string;
  offerId: string;
  /** 1-based number of the image picked, as shown on its tile. */
  number: number;
  /** Which platform the click came from. */
  source: string;
}

export interface PicksApi {
  /** Up to four unseen images to pick from (null: fewer than two left), stored as an offer. */
  offer(userKey: UserKey): Promise<PickOffer | null>;
  /** Stores the person's pick; 'gone' when the offer or the number is unknown. */
  pick(req: PickRequest): Promise<PickOutcome>;
  /** The person's picks, newest first. */
  list(userKey: UserKey): Promise<StoredPick[]>;
}

export interface PicksDeps {
  db: Db;
  ledger: Pick<RatingLedger, 'listRatings'>;
  embeddings: Pick<EmbeddingService, 'embed' | 'dim'>;
  images: Pick<ImageStore, 'getMany'>;
  /** The community prior the fit starts from (the taste service's current one). */
  prior: () => GlobalModel;
  /** Told of every pick stored, after it committed: the live scorer refits the person (TasteService.picked). */
  picked?: (userKey: UserKey) => void;
}

/** Candidates considered per offer: the onboarding and gallery images and the newest generated ones. */
const CANDIDATE_POOL = 400;
/**
 * The selection fit uses a person's most recent ratings and picks up to this many each: its cost grows
 * with the cube of their count, and the newest evidence says most about which images are still unsure.
 */
const SELECTION_EVIDENCE = 150;

export function createPicks(deps: PicksDeps): PicksApi {
  const { db } = deps;
  return {
    async offer(userKey) {
      const ratings = (await deps.ledger.listRatings(userKey)).sort((a, b) => b.eventTime.getTime() - a.eventTime.getTime());
      const earlier = await listPicks(db, userKey, SELECTION_EVIDENCE);
      const seen = new Set([...ratings.map((r) => r.imageId), ...earlier.flatMap((p) => [p.winner, ...p.losers])]);
      const pool = (await candidatePool(db)).filter((id) => !seen.has(id));
      if (pool.length < 2) return null;
      const used = ratings.slice(0, SELECTION_EVIDENCE);
      const vectors = await deps.embeddings.embed([...new Set([...pool, ...used.map((r) => r.imageId), ...seen])]);
      const candidates = pool.filter((id) => vectors.has(id));
      const fit = jointFitFor(deps.prior(), deps.embeddings.dim, used, earlier, vectors);
      const chosen = choosePickSet(
        fit,
        candidates.map((id) => vectors.get(id)!),
        PICK_SET_SIZE,
      ).map((i) => candidates[i]!);
      if (chosen.length < 2) return null;
      const records = await deps.images.getMany(chosen);
      const shown = chosen.map((id) => records.get(id)).filter((r): r is ImageRecord => r !== undefined);
      return {
        offerId: await storeOffer(
          db,
          shown.map((r) => r.id),
        ),
        images: shown,
      };
    },
    async pick(req) {
      const imageIds = await readOffer(db, req.offerId);
      const winner = imageIds?.[req.number - 1];
      if (!imageIds || !winner) return { kind: 'gone' };
      try {
        const userKey = await touchPerson(db, req.person, req.scopeId);
        const losers = imageIds.filter((id) => id !== winner);
        await storePick(db, { userKey, offerId: req.offerId, winner, losers, source: req.source });
        deps.picked?.(userKey);
        return { kind: 'stored', number: req.number };
      } catch (err) {
        if (isForgottenError(err)) return { kind: 'forgotten' };
        throw err;
      }
    },
    list: (userKey) => listPicks(db, userKey),
  };
}

/** The joint fit of the person's ratings and picks, for choosing what to show next. */
function jointFitFor(
  global: GlobalModel,
  dim: number,
  ratings: readonly { imageId: string; score: number }[],
  earlier: readonly StoredPick[],
  vectors: Map<string, Float32Array>,
) {
  const rated = ratings.filter((r) => vectors.has(r.imageId));
  const X = new Float32Array(rated.length * dim);
  rated.forEach((r, i) => X.set(vectors.get(r.imageId)!, i * dim));
  const y = Float64Array.from(rated, (r) => r.score);
  const pairs: PairPreference[] = earlier.flatMap((p) =>
    p.losers
      .filter((l) => vectors.has(l) && vectors.has(p.winner))
      .map((l) => ({ winner: vectors.get(p.winner)!, loser: vectors.get(l)! })),
  );
  const prior = { w: global.w, bias: global.bias, lambdaSchedule: global.lambdaSchedule };
  return fitJoint(prior, { n: rated.length, dim, X, y }, pairs, {
    noiseVar: global.residualVar,
    interactions: rated.length + earlier.length,
  });
}

async function candidatePool(db: Db): Promise<string[]> {
  const gallery = [...(await onboardingImageIds(db)), ...(await galleryImageIds(db))];
  const generated = await db
    .select({ id: imagesTable.id })
    .from(imagesTable)
    .where(eq(imagesTable.source, 'generated'))
    .orderBy(desc(imagesTable.createdAt))
    .limit(CANDIDATE_POOL);
  return [...new Set([...gallery, ...generated.map((r) => r.id)])].slice(0, CANDIDATE_POOL);
}

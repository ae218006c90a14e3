/**
 * A person's picks as the live scorer holds them (scorer/pick-fit.ts): each pick is the image chosen
 * over each other image shown, read from the picks table (one indexed query by person) with the
 * images' vectors.
 */
import type { Db } from '../db/connection';
import type { EmbeddingService } from './embeddings';
import type { UserKey } from './identity';
import { listPicks } from './picks-store';
import type { HeldPair } from './scorer/pick-fit';

/**
 * The live scorer fits at most this many of a person's most recent picks: the joint fit costs the cube
 * of ratings + 3·picks per refit (pairwise.ts), and the newest picks say most about their taste now.
 */
const LIVE_PICKS = 200;

/** The person's newest picks as pairs, in a fixed order (by offer) so every process fits them alike. */
export async function loadHeldPairs(
  db: Db,
  embeddings: Pick<EmbeddingService, 'embed'>,
  userKey: UserKey,
): Promise<{ pairs: HeldPair[]; picks: number }> {
  const stored = (await listPicks(db, userKey, LIVE_PICKS)).sort((a, b) => (a.offerId < b.offerId ? -1 : a.offerId > b.offerId ? 1 : 0));
  if (stored.length === 0) return { pairs: [], picks: 0 };
  const vectors = await embeddings.embed([...new Set(stored.flatMap((p) => [p.winner, ...p.losers]))]);
  const pairs = stored.flatMap((p) =>
    [...p.losers]
      .sort()
      .filter((l) => vectors.has(l) && vectors.has(p.winner))
      .map((l) => ({ winnerId: p.winner, loserId: l, winner: vectors.get(p.winner)!, loser: vectors.get(l)! })),
  );
  return { pairs, picks: stored.length };
}

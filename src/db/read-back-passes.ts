/**
 * One reaction read-back per platform across every process of a deployment (see schema
 * `read_back_passes`). A process needs a pass that *started* after its session began (what happened
 * before it, it did not see; what happens after, it receives live). If another process already started
 * such a pass, this one is covered: it skips when that pass has finished, and waits while it runs. A pass
 * whose process died without finishing is taken over once its lease is out.
 */
import { and, eq, isNull, lt, or } from 'drizzle-orm';
import type { Db } from './connection';
import { readBackPasses } from './schema';

/**
 * 'claimed' = run the pass; 'covered' = a pass that started after it was needed has finished;
 * 'busy' = one is running (wait and ask again).
 */
export type ReadBackClaim = 'claimed' | 'covered' | 'busy';

/** Claims the platform's read-back for `holder`, atomically (one statement): see ReadBackClaim. */
export async function claimReadBack(
  db: Db,
  o: { platform: string; holder: string; neededSince: Date; leaseMs: number; now?: Date },
): Promise<ReadBackClaim> {
  const now = o.now ?? new Date();
  const staleBefore = new Date(now.getTime() - o.leaseMs);
  const won = await db
    .insert(readBackPasses)
    .values({ platform: o.platform, holder: o.holder, startedAt: now, finishedAt: null })
    .onConflictDoUpdate({
      target: readBackPasses.platform,
      set: { holder: o.holder, startedAt: now, finishedAt: null },
      // Take it over only if the last pass started before we needed one, or died mid-way.
      setWhere: or(
        lt(readBackPasses.startedAt, o.neededSince),
        and(isNull(readBackPasses.finishedAt), lt(readBackPasses.startedAt, staleBefore)),
      ),
    })
    .returning({ holder: readBackPasses.holder });
  if (won.length) return 'claimed';
  const [row] = await db
    .select({ finishedAt: readBackPasses.finishedAt })
    .from(readBackPasses)
    .where(eq(readBackPasses.platform, o.platform));
  return row?.finishedAt ? 'covered' : 'busy';
}

/** Marks the holder's pass finished (a pass that was taken over by another process stays theirs). */
export async function finishReadBack(db: Db, o: { platform: string; holder: string; now?: Date }): Promise<void> {
  await db
    .update(readBackPasses)
    .set({ finishedAt: o.now ?? new Date() })
    .where(and(eq(readBackPasses.platform, o.platform), eq(readBackPasses.holder, o.holder)));
}

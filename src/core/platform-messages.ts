/**
 * The messages the bot posted on a platform, as the database remembers them: which image a message
 * carries (so a reaction on it is a rating even after a restart, from any replica), which run event it
 * shows (so a restarted process does not post that event twice), the one reaction read-back per
 * platform that every process of a deployment shares, which process shows each run, and the thread
 * opened for a run that had none.
 */
import { and, desc, eq, gte, isNotNull } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { claimReadBack, finishReadBack } from '../db/read-back-passes';
import { claimRunDisplay, releaseRunDisplay } from '../db/run-display-claims';
import { platformMessages } from '../db/schema';
import { attachRunThread } from './run-feed';
import type { Services } from './services';

export type PlatformMessages = Services['messages'];

export function createPlatformMessages(db: Db): PlatformMessages {
  return {
    record: async (m) => {
      await db
        .insert(platformMessages)
        .values({
          platform: m.platform,
          messageId: m.messageId,
          channelId: m.channelId,
          scopeId: m.scopeId ?? null,
          imageId: m.imageId ?? null,
          runId: m.runId ?? null,
          kind: m.kind,
          eventKey: m.eventKey ?? null,
        })
        .onConflictDoNothing();
    },
    lookup: async (platform, messageId) => {
      const [row] = await db
        .select()
        .from(platformMessages)
        .where(and(eq(platformMessages.platform, platform), eq(platformMessages.messageId, messageId)))
        .limit(1);
      return row ? { imageId: row.imageId, runId: row.runId, kind: row.kind, channelId: row.channelId } : undefined;
    },
    byEventKey: async (platform, eventKey) => {
      const [row] = await db
        .select({ messageId: platformMessages.messageId, channelId: platformMessages.channelId })
        .from(platformMessages)
        .where(and(eq(platformMessages.platform, platform), eq(platformMessages.eventKey, eventKey)))
        .limit(1);
      return row;
    },
    recentRateable: async (platform, since, limit) => {
      const rows = await db
        .select({
          messageId: platformMessages.messageId,
          channelId: platformMessages.channelId,
          scopeId: platformMessages.scopeId,
          imageId: platformMessages.imageId,
        })
        .from(platformMessages)
        .where(and(eq(platformMessages.platform, platform), gte(platformMessages.createdAt, since), isNotNull(platformMessages.imageId)))
        .orderBy(desc(platformMessages.createdAt))
        .limit(limit);
      // The query keeps only rows with an image, which drizzle's row type cannot express.
      return rows.map((r) => ({ ...r, imageId: r.imageId as string }));
    },
    claimReadBack: (o) => claimReadBack(db, o),
    finishReadBack: (o) => finishReadBack(db, o),
    claimRunDisplay: (o) => claimRunDisplay(db, o),
    releaseRunDisplay: (o) => releaseRunDisplay(db, o),
    attachRunThread: (runId, threadId) => attachRunThread(db, runId, threadId),
  };
}

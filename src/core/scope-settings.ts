/**
 * What a server or workspace has turned on for itself (scope_settings); every switch is off until a
 * row says otherwise, so a new server gets the conservative behaviour.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { scopeSettings } from '../db/schema';

/** Whether rating an image a person posted (an attachment) is allowed in this server. */
export async function ingestsAttachments(db: Db, scopeId: string): Promise<boolean> {
  const [row] = await db
    .select({ ingestAttachments: scopeSettings.ingestAttachments })
    .from(scopeSettings)
    .where(eq(scopeSettings.scopeId, scopeId))
    .limit(1);
  return row?.ingestAttachments ?? false;
}

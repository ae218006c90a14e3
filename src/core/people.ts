/**
 * People as the database knows them: one `users` row per person (platform + user id, plus the Slack
 * workspace) and one `user_scopes` row per server/workspace they were seen in, which is what
 * cross-person features check before showing one person's profile to another.
 */
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { forgottenUsers, userScopes, users } from '../db/schema';
import { hashUserKey, userKeyOf, type PersonRef, type UserKey } from './identity';

/**
 * Records the person (and the scope they were seen in) and returns their key. A person who asked to
 * be forgotten is not recorded again by late events: nothing is written for them.
 */
export async function touchPerson(db: Db, person: PersonRef, scopeId?: string): Promise<UserKey> {
  const userKey = userKeyOf(person);
  if (await isForgotten(db, userKey)) return userKey;
  const displayName = person.displayName?.trim() || null;
  await db
    .insert(users)
    .values({
      userKey,
      platform: person.platform,
      workspaceId: person.platform === 'slack' ? (person.workspaceId ?? null) : null,
      platformUserId: person.userId,
      displayName,
    })
    .onConflictDoUpdate({
      target: users.userKey,
      // Keep the last known name when an event carries none; never touch share_profile here.
      set: { displayName: sql`coalesce(excluded.display_name, ${users.displayName})` },
    });
  if (scopeId) {
    await db
      .insert(userScopes)
      .values({ userKey, scopeId })
      .onConflictDoUpdate({ target: [userScopes.userKey, userScopes.scopeId], set: { lastSeenAt: sql`now()` } });
  }
  return userKey;
}

export async function isForgotten(db: Db, userKey: UserKey): Promise<boolean> {
  const rows = await db
    .select({ h: forgottenUsers.userKeyHash })
    .from(forgottenUsers)
    .where(eq(forgottenUsers.userKeyHash, hashUserKey(userKey)))
    .limit(1);
  return rows.length > 0;
}

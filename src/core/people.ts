/**
 * People as the database knows them: one `users` row per person (platform + user id, plus the Slack
 * workspace) and one `user_scopes` row per server/workspace they were seen in, which is what
 * cross-person features check before showing one person's profile to another.
 *
 * A person who asked to be forgotten (/privacy action:forget) has only a tombstone: the hash of their
 * key in forgotten_users. Nothing is recorded for them until they opt back in (resumePerson):
 * touchPerson throws ForgottenError, which the platform edge turns into one private reply.
 */
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/connection';
import { forgottenUsers } from '../db/schema';
import { queryRows } from '../db/util';
import { ForgottenError } from './errors';
import { hashUserKey, userKeyOf, type PersonRef, type UserKey } from './identity';
import { lockPersonShared } from './ratings';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * Records the person (and the scope they were seen in) and returns their key. Throws ForgottenError
 * for a person who asked to be forgotten: nothing is written for them. One statement
 * (tasteloop_touch_person, migrations/0006) checks and writes under the person's shared lock, so a
 * forget running at the same time either sees these rows (and deletes them) or commits its tombstone
 * first (and this throws). It writes only what is new: an unknown person or a new name, a scope not
 * seen in the last minute — a person rating twenty images in a row is recorded once, not twenty times.
 */
export async function touchPerson(db: Db, person: PersonRef, scopeId?: string): Promise<UserKey> {
  const userKey = userKeyOf(person);
  const displayName = person.displayName?.trim() || null;
  const workspaceId = person.platform === 'slack' ? (person.workspaceId ?? null) : null;
  const [row] = await queryRows<{ recorded: boolean }>(
    db,
    sql`select tasteloop_touch_person(${userKey}, ${hashUserKey(userKey)}, ${person.platform}, ${workspaceId},
      ${person.userId}, ${displayName}, ${scopeId ?? null}) as recorded`,
  );
  if (!row?.recorded) throw new ForgottenError();
  return userKey;
}

/**
 * Inside a transaction that is about to store something for the person: takes their shared lock and
 * throws ForgottenError when they are forgotten.
 */
export async function assertNotForgotten(tx: Tx | Db, userKey: UserKey): Promise<void> {
  await lockPersonShared(tx, userKey);
  if (await isForgotten(tx, userKey)) throw new ForgottenError();
}

export async function isForgotten(db: Db, userKey: UserKey): Promise<boolean> {
  const rows = await db
    .select({ h: forgottenUsers.userKeyHash })
    .from(forgottenUsers)
    .where(eq(forgottenUsers.userKeyHash, hashUserKey(userKey)))
    .limit(1);
  return rows.length > 0;
}

/** Opts a forgotten person back in: removes their tombstone. Returns whether there was one. */
export async function resumePerson(db: Db, userKey: UserKey): Promise<boolean> {
  const rows = await db
    .delete(forgottenUsers)
    .where(eq(forgottenUsers.userKeyHash, hashUserKey(userKey)))
    .returning({ h: forgottenUsers.userKeyHash });
  return rows.length > 0;
}

/**
 * The rating write path as platforms drive it (services.ratings over the ledger): one statement per
 * vote that also records the person, writing the person's rows only when something about them is new,
 * and every committed change announced to the other processes once, after its commit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../src/db/connection';
import { forgottenUsers, images, ratingEvents, ratingVotes, userScopes, users } from '../src/db/schema';
import { queryRows } from '../src/db/util';
import { ForgottenError, InvalidScoreError, UnknownImageError } from '../src/core/errors';
import { hashUserKey, userKeyOf, type PersonRef } from '../src/core/identity';
import { touchPerson } from '../src/core/people';
import { createPersonRatings } from '../src/core/person-ratings';
import { RATING_CHANNEL, RatingLedger } from '../src/core/ratings';
import type { RatingContext } from '../src/core/records';
import { testBackends } from './helpers/db';

const ctx = (scopeId: string, messageId = 'm1'): RatingContext => ({ source: 'discord', scopeId, channelId: 'c1', messageId });

/** The row's xmin: it changes exactly when the row is written again (an update makes a new row version). */
async function rowVersion(database: Database, table: 'users' | 'user_scopes', userKey: string): Promise<string[]> {
  const rows = await queryRows<{ v: string }>(
    database.db,
    sql`select xmin::text as v from ${sql.identifier(table)} where user_key = ${userKey} order by 1`,
  );
  return rows.map((r) => r.v);
}

for (const backend of testBackends()) {
  describe(`one statement per rating on ${backend.name}`, () => {
    let database: Database;
    let ledger: RatingLedger;
    let rate: ReturnType<typeof createPersonRatings>;

    beforeAll(async () => {
      database = await backend.open();
      ledger = new RatingLedger(database.db);
      rate = createPersonRatings(ledger);
      await database.db
        .insert(images)
        .values(['i1', 'i2', 'i3', 'i4'].map((id) => ({ id, width: 8, height: 8, bytes: 100, source: 'gallery' })));
    });
    afterAll(async () => {
      await database?.close();
    });

    it('records the person and the scope with the vote, and rewrites neither for the next votes within a minute', async () => {
      const ann: PersonRef = { platform: 'slack', workspaceId: 'T1', userId: 'U-ann', displayName: ' Ann ' };
      const key = userKeyOf(ann);
      expect(await rate.rate(ann, 'i1', 7, ctx('T1'))).toMatchObject({ userKey: key, before: null, after: 7, changed: true });
      const [row] = await database.db.select().from(users).where(eq(users.userKey, key));
      expect(row).toMatchObject({ platform: 'slack', workspaceId: 'T1', platformUserId: 'U-ann', displayName: 'Ann', shareProfile: false });
      const usersBefore = await rowVersion(database, 'users', key);
      const scopesBefore = await rowVersion(database, 'user_scopes', key);

      // The same person again (also with no name, as a reaction event often carries none): nothing of theirs is written.
      await rate.rate({ ...ann, displayName: undefined }, 'i2', 4, ctx('T1', 'm2'));
      await rate.unrate(ann, 'i2', 4, ctx('T1', 'm2'));
      expect(await rowVersion(database, 'users', key)).toEqual(usersBefore);
      expect(await rowVersion(database, 'user_scopes', key)).toEqual(scopesBefore);

      // A new name, a new scope, and a scope last seen over a minute ago are written.
      await database.db
        .update(userScopes)
        .set({ lastSeenAt: sql`now() - interval '2 minutes'` })
        .where(eq(userScopes.userKey, key));
      const stale = (await database.db.select().from(userScopes).where(eq(userScopes.userKey, key)))[0]!.lastSeenAt;
      await rate.rate({ ...ann, displayName: 'Ann B.' }, 'i3', 5, ctx('T1-other'));
      await rate.rate(ann, 'i3', 6, ctx('T1'));
      const scopes = await database.db.select().from(userScopes).where(eq(userScopes.userKey, key));
      expect(scopes.map((s) => s.scopeId).sort()).toEqual(['T1', 'T1-other']);
      expect(scopes.find((s) => s.scopeId === 'T1')!.lastSeenAt.getTime()).toBeGreaterThan(stale.getTime());
      expect((await database.db.select().from(users).where(eq(users.userKey, key)))[0]!.displayName).toBe('Ann');
    });

    it('touchPerson writes only what is new too, and keeps the last known name', async () => {
      const bob: PersonRef = { platform: 'discord', userId: 'bob', displayName: 'Bob' };
      const key = await touchPerson(database.db, bob, 'g1');
      const usersBefore = await rowVersion(database, 'users', key);
      const scopesBefore = await rowVersion(database, 'user_scopes', key);
      await touchPerson(database.db, { ...bob, displayName: undefined }, 'g1');
      await touchPerson(database.db, bob, 'g1');
      expect(await rowVersion(database, 'users', key)).toEqual(usersBefore);
      expect(await rowVersion(database, 'user_scopes', key)).toEqual(scopesBefore);
      await touchPerson(database.db, { ...bob, displayName: 'Robert' }, '');
      expect((await database.db.select().from(users).where(eq(users.userKey, key)))[0]!.displayName).toBe('Robert');
      expect(await rowVersion(database, 'user_scopes', key)).toEqual(scopesBefore); // an empty scope is no scope
    });

    it('a forgotten person stores nothing; an unknown image or a bad score stores no vote', async () => {
      const gone: PersonRef = { platform: 'discord', userId: 'gone' };
      await database.db.insert(forgottenUsers).values({ userKeyHash: hashUserKey(userKeyOf(gone)) });
      await expect(rate.rate(gone, 'i1', 5, ctx('g1'))).rejects.toBeInstanceOf(ForgottenError);
      await expect(rate.unrate(gone, 'i1', 5, ctx('g1'))).rejects.toBeInstanceOf(ForgottenError);
      await expect(touchPerson(database.db, gone, 'g1')).rejects.toBeInstanceOf(ForgottenError);
      expect(
        await database.db
          .select()
          .from(users)
          .where(eq(users.userKey, userKeyOf(gone))),
      ).toEqual([]);
      expect(
        await database.db
          .select()
          .from(userScopes)
          .where(eq(userScopes.userKey, userKeyOf(gone))),
      ).toEqual([]);

      const cat: PersonRef = { platform: 'discord', userId: 'cat' };
      await expect(rate.rate(cat, 'no-such-image', 5, ctx('g1'))).rejects.toBeInstanceOf(UnknownImageError);
      await expect(rate.rate(cat, 'i1', 11, ctx('g1'))).rejects.toBeInstanceOf(InvalidScoreError);
      const votes = await database.db
        .select()
        .from(ratingVotes)
        .where(eq(ratingVotes.userKey, userKeyOf(cat)));
      expect(votes).toEqual([]);
      // As before the write path became one statement: the person seen with an unknown image is recorded.
      expect(
        await database.db
          .select({ k: users.userKey })
          .from(users)
          .where(eq(users.userKey, userKeyOf(cat))),
      ).toEqual([{ k: userKeyOf(cat) }]);
    });

    it('a duplicate changes nothing and is not audited; each change is one audit row and one version step', async () => {
      const dan: PersonRef = { platform: 'discord', userId: 'dan' };
      const key = userKeyOf(dan);
      const at = new Date('2025-06-01T12:00:00.000Z');
      const v0 = (await ledger.versions([key])).get(key);
      expect((await rate.rate(dan, 'i4', 8, ctx('g1'), at)).changed).toBe(true);
      const v1 = (await ledger.versions([key])).get(key);
      expect((await rate.rate(dan, 'i4', 8, ctx('g1'), at)).changed).toBe(false);
      expect((await ledger.versions([key])).get(key)).toBe(v1);
      expect(v1).not.toBe(v0);
      const audit = await database.db
        .select()
        .from(ratingEvents)
        .where(and(eq(ratingEvents.userKey, key), eq(ratingEvents.imageId, 'i4')));
      expect(audit).toHaveLength(1);
    });

    it('votes sent together (group commit) end as each sent alone would, each answered with its own outcome and audit row', async () => {
      // One slot: while the first vote is in flight the others queue, and go together in the next statement.
      const grouped = new RatingLedger(database.db, { writeSlots: 1 });
      const alone = new RatingLedger(database.db, { writeSlots: 1, maxVotesPerStatement: 1 });
      const gone: PersonRef = { platform: 'discord', userId: 'gone-too' };
      await database.db.insert(forgottenUsers).values({ userKeyHash: hashUserKey(userKeyOf(gone)) });
      const at = (s: number) => new Date(Date.UTC(2025, 7, 1, 0, 0, s));
      /** The same events for one person through one ledger, all at once; what each call answered. */
      const drive = async (l: RatingLedger, who: string) => {
        const p: PersonRef = { platform: 'discord', userId: who, displayName: who };
        const r = createPersonRatings(l);
        const events: Promise<unknown>[] = [
          r.rate(p, 'i1', 3, ctx('g1'), at(1)),
          r.rate(p, 'i1', 3, ctx('g1'), at(1)),
          r.rate(p, 'i1', 9, ctx('g1'), at(2)),
          r.unrate(p, 'i1', 9, ctx('g1'), at(3)),
          r.rate(p, 'i2', 6, ctx('g1'), at(4)),
          r.rate(p, 'i2', 5, ctx('g1'), at(1)),
          r.rate(p, 'no-such-image', 5, ctx('g1'), at(5)),
          r.rate(gone, 'i3', 5, ctx('g1'), at(5)),
        ];
        const settled = await Promise.allSettled(events);
        return settled.map((s) => (s.status === 'fulfilled' ? { ...(s.value as object), userKey: undefined } : (s.reason as Error).name));
      };
      const changes: { userKey: string; eventId: number | null }[] = [];
      grouped.onChange((c) => changes.push(c));
      const [together, oneByOne] = [await drive(grouped, 'grp'), await drive(alone, 'one')];
      expect(together).toEqual(oneByOne);
      expect(together).toContain('UnknownImageError');
      expect(together).toContain('ForgottenError');
      expect(grouped.writeStats().statements).toBeLessThan(grouped.writeStats().votes);
      expect(alone.writeStats().statements).toBe(alone.writeStats().votes);
      for (const [a, b] of [['grp', 'one']] as const) {
        const of = async (who: string) => ({
          ratings: await ledger.listRatings(userKeyOf({ platform: 'discord', userId: who })),
          audit: (await ledger.history(userKeyOf({ platform: 'discord', userId: who }))).map((h) => [
            h.imageId,
            h.kind,
            h.score,
            h.effectiveScore,
          ]),
        });
        const [x, y] = [await of(a), await of(b)];
        expect(x.ratings.map((r) => [r.imageId, r.score])).toEqual(y.ratings.map((r) => [r.imageId, r.score]));
        expect(x.audit.sort()).toEqual(y.audit.sort());
      }
      // Each change told to listeners carries the audit row it added.
      const key = userKeyOf({ platform: 'discord', userId: 'grp' });
      const ids = (await ledger.history(key)).map((h) => h.id).sort((p, q) => p - q);
      expect(changes.map((c) => c.eventId).sort((p, q) => p! - q!)).toEqual(ids);
    });

    it.skipIf(backend.name !== 'postgres')(
      'announces every committed change once, after its commit, and nothing for a duplicate (PostgreSQL only: PGlite has no other process to tell)',
      async () => {
        // Earlier tests' changes are announced a few milliseconds after their commits: sent before listening.
        await ledger.announced();
        const heard: string[] = [];
        let marker: () => void = () => {};
        const markerHeard = new Promise<void>((resolve) => (marker = resolve));
        const stop = await database.listen!(RATING_CHANNEL, (payload) => (payload === 'end-marker' ? marker() : heard.push(payload)));
        try {
          const people = Array.from({ length: 12 }, (_, i): PersonRef => ({ platform: 'discord', userId: `n${i}` }));
          // Each person changes three times (add, a second vote, take it back) and sends one duplicate, all at once.
          await Promise.all(
            people.map(async (p, i) => {
              const t = (s: number) => new Date(Date.UTC(2025, 6, 1, 0, i, s));
              await rate.rate(p, 'i1', 3, ctx('g1'), t(1));
              await rate.rate(p, 'i1', 3, ctx('g1'), t(1));
              await rate.rate(p, 'i1', 9, ctx('g1'), t(2));
              await rate.unrate(p, 'i1', 9, ctx('g1'), t(3));
            }),
          );
          await ledger.announced();
          // Notifications arrive in commit order: once this later one is heard, every announcement before it was too.
          await database.db.execute(sql`select pg_notify(${RATING_CHANNEL}, 'end-marker')`);
          await markerHeard;
          const perPerson = new Map<string, number>();
          for (const k of heard) perPerson.set(k, (perPerson.get(k) ?? 0) + 1);
          expect(Object.fromEntries(perPerson)).toEqual(Object.fromEntries(people.map((p) => [userKeyOf(p), 3])));
        } finally {
          await stop();
        }
      },
    );
  });
}

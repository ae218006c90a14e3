/**
 * Privacy: opt-in, scope from the verified event, one refusal wording, forget in one transaction
 * (checked by scanning EVERY table's text/json columns for the key), uploaded image files deleted, late
 * duplicate events dropped, export contains the ratings.
 */
import { existsSync } from 'node:fs';
import sharp from 'sharp';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, Db } from '../src/db/connection';
import { candidates, outbox, platformMessages, processedEvents, runIterations, runs, scorerModels, usage } from '../src/db/schema';
import { queryRows } from '../src/db/util';
import { ForgottenError, ProfileNotAvailableError } from '../src/core/errors';
import { hashUserKey, userKeyOf, type PersonRef } from '../src/core/identity';
import { isForgotten, touchPerson } from '../src/core/people';
import { canUseProfile, FORGOTTEN_MEMBER } from '../src/core/privacy';
import { testBackends } from './helpers/db';
import { findCommand } from '../commands/index';
import { parseMentions } from '../commands/mentions';
import { FORGET_WARNING } from '../commands/privacy';
import type { CommandContext, OutMessage } from '../commands/kit/types';
import { MENTION_STYLES } from '../src/platforms/mention-styles';
import { silentLogger } from '../src/log';

describe('mentions in text options', () => {
  it('reads Discord and Slack mentions with the platform and workspace of the invoker', () => {
    expect(parseMentions('<@123> <@!456>,<@123>', { platform: 'discord', userId: '1' }, MENTION_STYLES.discord)).toEqual([
      { platform: 'discord', userId: '123' },
      { platform: 'discord', userId: '456' },
    ]);
    expect(parseMentions('<@U1|ann><@U2>', { platform: 'slack', workspaceId: 'T9', userId: 'U0' }, MENTION_STYLES.slack)).toEqual([
      { platform: 'slack', userId: 'U1', displayName: 'ann', workspaceId: 'T9' },
      { platform: 'slack', userId: 'U2', workspaceId: 'T9' },
    ]);
    expect(parseMentions('@Ann @bob', { platform: 'playground', userId: 'me' }, MENTION_STYLES.playground).map((p) => p.userId)).toEqual([
      'ann',
      'bob',
    ]);
    expect(() => parseMentions('<@1> bob', { platform: 'discord', userId: '1' }, MENTION_STYLES.discord)).toThrow(/mention people with @/);
  });
});
import { createTasteWorld, type TasteWorld } from './helpers/taste-world';

const person = (id: string): PersonRef => ({ platform: 'discord', userId: id, displayName: id });
const solid = (i: number) =>
  sharp({ create: { width: 48, height: 48, channels: 3, background: { r: (i * 53) % 256, g: (i * 97) % 256, b: (i * 151) % 256 } } })
    .png()
    .toBuffer();

/** Every (table, column) in the public schema whose values can hold text: text, varchar, json(b), arrays. */
async function textColumns(db: Db): Promise<{ table: string; column: string }[]> {
  const rows = await queryRows<{ table_name: string; column_name: string }>(
    db,
    sql`select table_name, column_name from information_schema.columns
        where table_schema = 'public' and data_type in ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY')
        order by table_name, column_name`,
  );
  return rows.map((r) => ({ table: r.table_name, column: r.column_name }));
}

/** Rows anywhere in the schema that mention `needle`, as "table.column: n". */
async function mentions(db: Db, needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const { table, column } of await textColumns(db)) {
    const [row] = await queryRows<{ n: number | string }>(
      db,
      sql`select count(*) as n from ${sql.identifier(table)} where strpos(${sql.identifier(column)}::text, ${needle}) > 0`,
    );
    if (Number(row?.n ?? 0) > 0) found.push(`${table}.${column}: ${row?.n}`);
  }
  return found;
}

for (const backend of testBackends()) {
  describe(`privacy (${backend.name})`, () => {
    let database: Database;
    let world: TasteWorld;
    const gallery: string[] = [];
    const ANN = person('111');
    const BOB = person('222');
    const CAT = person('333'); // in another server only
    const NOBODY = person('999'); // never seen

    const rateN = async (who: PersonRef, n: number, scopeId: string, offset = 0) => {
      for (let i = 0; i < n; i++) {
        await world.ledger.rate({
          userKey: userKeyOf(who),
          imageId: gallery[(i + offset) % gallery.length]!,
          score: 1 + ((i * 7 + offset) % 10),
          ctx: { source: 'discord', scopeId },
        });
      }
    };

    beforeAll(async () => {
      database = await backend.open();
      world = createTasteWorld(database.db);
      for (let i = 0; i < 12; i++)
        gallery.push((await world.store.put(await solid(i), { source: 'gallery', prompt: `g${i}`, seed: i })).id);
      await touchPerson(world.db, ANN, 'g1');
      await touchPerson(world.db, BOB, 'g1');
      await touchPerson(world.db, CAT, 'g2');
      await touchPerson(world.db, ANN, 'g2');
      await rateN(ANN, 10, 'g1');
      await rateN(BOB, 10, 'g1', 3);
      await rateN(CAT, 10, 'g2', 5);
      await world.taste.idle();
    }, 120_000);

    afterAll(async () => {
      world?.close();
      await database?.close();
    });

    async function refusal(p: Promise<unknown>): Promise<string> {
      const err = await p.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ProfileNotAvailableError);
      return (err as Error).message;
    }

    it('refuses a person who has not opted in, a cross-server request and an unknown person with one wording', async () => {
      const notOptedIn = await refusal(world.profiles.compare({ requester: ANN, people: [ANN, BOB], scopeId: 'g1' }));
      const unknown = await refusal(world.profiles.compare({ requester: ANN, people: [ANN, NOBODY], scopeId: 'g1' }));
      await world.privacy.setSharing(CAT, true, 'g2');
      // Cat shares, but only g2 has both of them; asking from g1 (Ann's event) is refused like the rest.
      const crossServer = await refusal(world.profiles.compare({ requester: ANN, people: [ANN, CAT], scopeId: 'g1' }));
      const noScope = await refusal(world.profiles.view({ viewer: ANN, target: CAT }));
      const profileOfUnknown = await refusal(world.profiles.view({ viewer: ANN, target: NOBODY, scopeId: 'g1' }));
      const groupRun = await refusal(world.privacy.authorizeMembers(ANN, [ANN, BOB], 'g1'));
      expect(new Set([notOptedIn, unknown, crossServer, noScope, profileOfUnknown, groupRun]).size).toBe(1);
      expect(notOptedIn).toBe(ProfileNotAvailableError.MESSAGE);
      // From g2, where both are, Cat's opt-in counts.
      expect(await canUseProfile(world.db, { requesterKey: userKeyOf(ANN), targetKey: userKeyOf(CAT), scopeId: 'g2' })).toBe(true);
      const ok = await world.profiles.compare({ requester: ANN, people: [CAT], scopeId: 'g2' });
      expect(ok.members.map((m) => m.key).sort()).toEqual([userKeyOf(ANN), userKeyOf(CAT)].sort());
    });

    it('lets people see and use an opted-in profile in a shared server, and opting out takes it back', async () => {
      await world.privacy.setSharing(BOB, true, 'g1');
      expect(await world.privacy.isSharing(BOB)).toBe(true);
      const view = await world.profiles.view({ viewer: ANN, target: BOB, scopeId: 'g1' });
      expect(view.self).toBe(false);
      expect(view.summary.ratings).toBe(10);
      expect(await world.privacy.authorizeMembers(ANN, [ANN, BOB], 'g1')).toEqual([userKeyOf(ANN), userKeyOf(BOB)]);
      await world.privacy.setSharing(BOB, false, 'g1');
      await refusal(world.profiles.view({ viewer: ANN, target: BOB, scopeId: 'g1' }));
      // One's own profile needs no opt-in and no scope.
      expect((await world.profiles.view({ viewer: ANN })).self).toBe(true);
    });

    it('exports a person’s data as JSON with their ratings', async () => {
      const { filename, json } = await world.privacy.export(ANN);
      expect(filename).toMatch(/\.json$/);
      const data = JSON.parse(json) as {
        userKey: string;
        ratings: { imageId: string; score: number }[];
        ratingEvents: unknown[];
        scopes: unknown[];
      };
      expect(data.userKey).toBe(userKeyOf(ANN));
      expect(data.ratings).toHaveLength(10);
      expect(data.ratings.map((r) => r.imageId).sort()).toEqual(gallery.slice(0, 10).sort());
      expect(data.ratingEvents.length).toBeGreaterThanOrEqual(10);
      expect(data.scopes).toHaveLength(2);
    });

    it('runs through the commands: /compare refuses, /privacy asks before forgetting, exports a file', async () => {
      const replies: OutMessage[] = [];
      const run = async (name: string, options: Record<string, unknown>, who: PersonRef) => {
        const ctx = {
          platform: 'discord',
          person: who,
          scopeId: 'g1',
          invocationId: 'i-1',
          options,
          log: silentLogger,
          mentions: MENTION_STYLES.discord,
          services: { profiles: world.profiles, privacy: world.privacy },
          defer: async () => {},
          reply: async (m: OutMessage) => void replies.push(m),
          channel: { id: 'c1', mention: '#c1', post: async () => 'm', edit: async () => {} },
          openThread: async () => {
            throw new Error('no threads here');
          },
        } as unknown as CommandContext;
        await findCommand(name)!.execute(ctx);
      };
      await world.privacy.setSharing(BOB, false, 'g1');
      // The refusal names the person the asker named, as they wrote them (a Discord mention carries no name).
      const bobRefused = ProfileNotAvailableError.naming([`<@${BOB.userId}>`]);
      await expect(run('compare', { users: `<@${BOB.userId}>` }, ANN)).rejects.toThrow(bobRefused);
      await expect(run('optimize', { prompt: 'a fox', for: `<@${ANN.userId}> <@${BOB.userId}>` }, ANN)).rejects.toThrow(bobRefused);
      await run('privacy', { action: 'forget' }, ANN);
      expect(replies.at(-1)!.text).toBe(FORGET_WARNING);
      expect(await world.ledger.count(userKeyOf(ANN))).toBe(10);
      await run('privacy', { action: 'export' }, ANN);
      const file = replies.at(-1)!.files![0]!;
      expect(file.contentType).toBe('application/json');
      expect((JSON.parse(file.data.toString()) as { ratings: unknown[] }).ratings).toHaveLength(10);
      await run('privacy', { share: 'on' }, BOB);
      await run('compare', { users: `<@${BOB.userId}>` }, ANN);
      expect(replies.some((m) => /Taste match/.test(m.text))).toBe(true);
      await run('profile', { user: BOB }, ANN);
      const prof = replies.at(-1)!;
      expect(prof.text).toMatch(/222’s taste profile/);
      expect(prof.files!.map((f) => f.name)).toEqual(expect.arrayContaining(['ratings.png']));
    });

    it('forget leaves zero rows naming the person in every table, deletes their image files, and late events stay dropped', async () => {
      const DAN = person('444');
      const dan = userKeyOf(DAN);
      const bob = userKeyOf(BOB);
      const db = world.db;
      await touchPerson(db, DAN, 'g1');
      await rateN(DAN, 6, 'g1', 2);
      // An image Dan uploaded, rated by Dan and by Bob; its message is recorded.
      const upload = await world.store.put(await solid(77), { source: 'attachment', ownerKey: dan });
      const uploadFile = world.store.path(upload.id);
      expect(existsSync(uploadFile)).toBe(true);
      await world.embeddings.embed([upload.id]);
      const late = {
        userKey: dan,
        imageId: upload.id,
        score: 9,
        eventTime: new Date('2030-01-01T00:00:00Z'),
        ctx: { source: 'discord', scopeId: 'g1' },
      };
      await world.ledger.rate(late);
      await world.ledger.rate({ userKey: bob, imageId: upload.id, score: 4, ctx: { source: 'discord', scopeId: 'g1' } });
      await world.ledger.unrate({ userKey: dan, imageId: gallery[2]!, score: 3, ctx: { source: 'discord' } });
      await db
        .insert(platformMessages)
        .values({ platform: 'discord', messageId: 'm-upload', channelId: 'c1', scopeId: 'g1', imageId: upload.id, kind: 'attachment' });
      // Dan's run with everything hanging off it.
      await db.insert(runs).values({
        id: 'run-dan',
        userKey: dan,
        scopeId: 'g1',
        requestKey: 'discord:i-1',
        status: 'finished',
        initialPrompt: 'a fox',
        params: { members: [dan] },
        state: { history: [] },
      });
      await db.insert(runIterations).values({ runId: 'run-dan', iteration: 0, bestScore: 6, bestSoFar: 6, scorerN: 6 });
      await db
        .insert(candidates)
        .values({ runId: 'run-dan', iteration: 0, idx: 0, prompt: 'a fox', imageId: gallery[0]!, score: 6, memberScores: { [dan]: 6 } });
      await db
        .insert(outbox)
        .values({ runId: 'run-dan', key: 'run-dan:started', kind: 'run.started', payload: { params: { members: [dan] } } });
      await db
        .insert(usage)
        .values({ runId: 'run-dan', userKey: dan, scopeId: 'g1', provider: 'sketch', model: 'sketch', kind: 'image', images: 1 });
      await db
        .insert(platformMessages)
        .values({ platform: 'discord', messageId: 'm-run', channelId: 'c1', runId: 'run-dan', kind: 'header' });
      await db.insert(scorerModels).values({ userKey: dan, model: 'an-earlier-embedder', method: 'finetune', n: 6, params: {} });
      await db.insert(processedEvents).values({ eventKey: 'discord:i-1', userKey: dan });
      // Bob's group run that included Dan: kept, but Dan's key leaves its JSON.
      await db.insert(runs).values({
        id: 'run-bob',
        userKey: bob,
        status: 'finished',
        initialPrompt: 'a lake',
        params: { members: [bob, dan], objective: 'min' },
      });
      await db.insert(candidates).values({
        runId: 'run-bob',
        iteration: 0,
        idx: 0,
        prompt: 'a lake',
        imageId: gallery[1]!,
        score: 5,
        memberScores: { [bob]: 7, [dan]: 5 },
      });
      await db
        .insert(outbox)
        .values({ runId: 'run-bob', key: 'run-bob:started', kind: 'run.started', payload: { params: { members: [bob, dan] } } });
      await world.taste.idle();
      expect(world.taste.scorer.hasUser(dan)).toBe(true);
      expect((await mentions(db, dan)).length).toBeGreaterThan(8);

      const report = await world.privacy.forget(DAN);
      expect(report).toMatchObject({ ratings: 6, runs: 1, images: 1 });

      // The generic scan: no text/json column of any table mentions Dan any more.
      expect(await mentions(db, dan)).toEqual([]);
      expect(await mentions(db, upload.id)).toEqual([]);
      expect(existsSync(uploadFile)).toBe(false);
      expect(world.taste.scorer.hasUser(dan)).toBe(false);
      expect(await isForgotten(db, dan)).toBe(true);
      const [tomb] = await queryRows<{ n: number | string }>(
        db,
        sql`select count(*) as n from forgotten_users where user_key_hash = ${hashUserKey(dan)}`,
      );
      expect(Number(tomb?.n)).toBe(1);
      // Bob's run survives, with Dan replaced by a placeholder.
      const [bobRun] = await queryRows<{ params: unknown }>(db, sql`select params from runs where id = 'run-bob'`);
      expect(JSON.stringify(bobRun?.params)).toContain(FORGOTTEN_MEMBER);
      // Bob's rating of the deleted image is gone too (an image that no longer exists cannot be scored).
      expect(await world.ledger.getRating(bob, upload.id)).toBeNull();

      // A late duplicate of an old event, a newer event and a touch from a platform event are refused and bring nothing back.
      const gal = { ...late, imageId: gallery[4]! };
      await expect(world.ledger.rate(gal)).rejects.toBeInstanceOf(ForgottenError);
      await expect(world.ledger.rate({ ...gal, eventTime: new Date('2031-01-01T00:00:00Z') })).rejects.toBeInstanceOf(ForgottenError);
      await expect(touchPerson(db, DAN, 'g1')).rejects.toBeInstanceOf(ForgottenError);
      await world.taste.idle();
      expect(await mentions(db, dan)).toEqual([]);
      expect(world.taste.scorer.hasUser(dan)).toBe(false);
      // Dan can no longer be compared, with the same refusal as anyone else.
      await world.privacy.setSharing(BOB, true, 'g1');
      expect(await refusal(world.profiles.compare({ requester: BOB, people: [DAN], scopeId: 'g1' }))).toBe(
        ProfileNotAvailableError.MESSAGE,
      );
    });
  });
}

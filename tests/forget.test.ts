/**
 * Forget is a state, not a one-off delete (nothing a forgotten person does later is stored), end to end
 * on the real core and the playground platform in-process, on PGlite and (with TEST_DATABASE_URL)
 * PostgreSQL:
 *
 *  - a person rates, runs /optimize to the end, exports their data, and is forgotten in the MIDDLE of
 *    a second run (a GatedGenerator holds a generation): the run is cancelled and awaited, then
 *    every table of every schema (each column that is not a real[] vector, as text) and every file
 *    under DATA_DIR (playground.jsonl, playground-files with the export, images/) is scanned for
 *    their key and for a word only their prompts contain: zero hits; the images made from their
 *    prompts are gone by id (rows and files), with another person's rating of one of them;
 *  - afterwards /optimize, /rate, /profile, /privacy status|export and a click store nothing (row
 *    counts of every table and DATA_DIR unchanged), each command answered privately with the one
 *    forgotten reply, a click refused with it, a Discord/Slack-style reaction dropped with one log
 *    line that names nobody;
 *  - /privacy action:resume opts back in: a rating is stored again.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, Db } from '../src/db/connection';
import { queryRows } from '../src/db/util';
import { ForgottenError } from '../src/core/errors';
import { userKeyOf } from '../src/core/identity';
import { silentLogger } from '../src/log';
import { createPlaygroundAdapter, personFor, type PlaygroundAdapter } from '../src/platforms/playground/adapter';
import { forgetInState } from '../src/platforms/playground/forget';
import { CHANNEL_ID, PlaygroundState, type PlaygroundMessage } from '../src/platforms/playground/state';
import { storeReactionRating } from '../src/platforms/reactions';
import { RESUMED } from '../commands/privacy';
import { GatedGenerator, openTestCore, type TestCore } from './helpers/core';
import { testBackends } from './helpers/db';
import { captureLogger } from './helpers/log-capture';
import { waitFor } from './helpers/wait';

/** Only the forgotten person's prompts contain it. */
const WORD = 'zebraquux';
const ZOE = 'zoe';
const BOB = 'bob';

/** Every column of every base table outside the system schemas, except real[] vectors (embeddings). */
async function scannableColumns(db: Db): Promise<{ schema: string; table: string; column: string }[]> {
  const rows = await queryRows<{ table_schema: string; table_name: string; column_name: string }>(
    db,
    sql`select c.table_schema, c.table_name, c.column_name
        from information_schema.columns c
        join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
        where t.table_type = 'BASE TABLE'
          and c.table_schema not in ('pg_catalog', 'information_schema') and c.table_schema not like 'pg_toast%'
          and c.udt_name <> '_float4'
        order by 1, 2, 3`,
  );
  return rows.map((r) => ({ schema: r.table_schema, table: r.table_name, column: r.column_name }));
}

/** "schema.table.column: n" for every column whose text contains `needle`. */
async function dbHits(db: Db, needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const { schema, table, column } of await scannableColumns(db)) {
    const [row] = await queryRows<{ n: number | string }>(
      db,
      sql`select count(*) as n from ${sql.identifier(schema)}.${sql.identifier(table)} where strpos(${sql.identifier(column)}::text, ${needle}) > 0`,
    );
    if (Number(row?.n ?? 0) > 0) found.push(`${schema}.${table}.${column}: ${row?.n}`);
  }
  return found;
}

/** Row count of every table of the app's schema. */
async function rowCounts(db: Db): Promise<Record<string, number>> {
  const tables = await queryRows<{ table_name: string }>(
    db,
    sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`,
  );
  const out: Record<string, number> = {};
  for (const { table_name } of tables) {
    const [r] = await queryRows<{ n: number | string }>(db, sql`select count(*) as n from ${sql.identifier(table_name)}`);
    out[table_name] = Number(r?.n ?? 0);
  }
  return out;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out.sort();
}

/** Files under DATA_DIR whose bytes contain `needle`. */
function fileHits(dir: string, needle: string): string[] {
  const n = Buffer.from(needle);
  return filesUnder(dir)
    .filter((f) => readFileSync(f).includes(n))
    .map((f) => path.relative(dir, f));
}

/** Every file with its size and content hash: "nothing was written here". */
function dirFingerprint(dir: string): Record<string, string> {
  return Object.fromEntries(filesUnder(dir).map((f) => [path.relative(dir, f), readFileSync(f).toString('base64')]));
}

for (const backend of testBackends()) {
  describe(`forget is a state (${backend.name})`, () => {
    let database: Database;
    let core: TestCore;
    let adapter: PlaygroundAdapter;
    let dataDir: string;
    const gen = new GatedGenerator({ delayMs: 150 });
    const zoeKey = userKeyOf(personFor(ZOE));
    const bobKey = userKeyOf(personFor(BOB));
    const db = () => database.db;

    const messages = () => [...adapter.state.messages.values()];
    const lastFor = (user: string): PlaygroundMessage =>
      messages()
        .filter((m) => m.author.bot && m.ephemeralFor === user)
        .at(-1)!;
    const run = async (user: string, text: string) => {
      const outcome = await adapter.command(user, text);
      expect(outcome.accepted, `${text}: ${outcome.error}`).toBe(true);
    };
    const rateMessages = (after = '') => messages().filter((m) => m.kind === 'rate' && m.imageId && m.id > after);
    const runRow = async (prompt: string) =>
      (
        await queryRows<{ id: string; status: string }>(
          db(),
          sql`select id, status from runs where user_key = ${zoeKey} and initial_prompt = ${prompt}`,
        )
      )[0];

    beforeAll(async () => {
      database = await backend.open();
      dataDir = mkdtempSync(path.join(tmpdir(), 'tl-forget-'));
      core = await openTestCore({ database, dataDir, generator: gen, runOptions: { heartbeatMs: 100 } });
      adapter = createPlaygroundAdapter({
        services: core.app.services,
        log: silentLogger,
        port: 0,
        runFeedPollMs: 50,
        stateFile: path.join(dataDir, 'playground.jsonl'),
      });
      await adapter.start();
    }, 240_000);

    afterAll(async () => {
      gen.release();
      await adapter?.stop();
      await core?.close();
      await database?.close();
    });

    let zoeImages: string[] = [];
    let exportFile: { id: string; path: string } | undefined;
    let lastIdBeforeForget = '';

    it('forgotten in the middle of a run and after an export: no row, column or file under DATA_DIR names them or quotes their prompts', async () => {
      // Zoe and Bob rate starter images.
      await run(ZOE, '/rate count:3');
      for (const m of rateMessages().slice(0, 3)) await adapter.rate(ZOE, m.id, 7);
      const seen = messages().at(-1)!.id;
      await run(BOB, '/rate count:2');
      for (const m of rateMessages(seen).slice(0, 2)) await adapter.rate(BOB, m.id, 4);
      expect(await core.app.ledger.count(zoeKey)).toBe(3);

      // A whole run; Bob rates one of its images in the thread.
      const first = `a ${WORD} lighthouse at dusk`;
      await run(ZOE, `/optimize prompt:${first} iterations:1 candidates:2`);
      await waitFor(async () => (await runRow(first))?.status === 'finished', 'the first run to finish', 60_000);
      const runId = (await runRow(first))!.id;
      const candidate = await waitFor(
        // The run's best image, posted rateable with its summary (candidates are tiles of grid messages).
        () => messages().find((m) => m.runId === runId && m.kind === 'summary' && m.imageId && m.rateable),
        'the run summary’s image',
      );
      // A message is in the conversation a moment before it is recorded (post, then record): a click
      // in between is answered "no such message", so wait for the record as a person's click would.
      await waitFor(() => core.app.services.messages.lookup('playground', candidate.id), 'the summary message recorded');
      await adapter.rate(BOB, candidate.id, 9);
      expect(await core.rating(bobKey, candidate.imageId!)).toBe(9);

      // Her export, kept by the playground as a file.
      await run(ZOE, '/privacy action:export');
      const exported = lastFor(ZOE).files?.[0];
      expect(exported?.contentType).toBe('application/json');
      exportFile = { id: exported!.id, path: path.join(dataDir, 'playground-files', exported!.id) };
      expect(readFileSync(exportFile.path, 'utf8')).toContain(WORD);

      // A second run, held mid-iteration with images of the iteration in flight already stored.
      const second = `${WORD} castle in the fog`;
      await run(ZOE, `/optimize prompt:${second} iterations:3 candidates:3`);
      await waitFor(
        async () => {
          const r = await runRow(second);
          if (!r) return null;
          const [s] = await queryRows<{ n: number | string }>(
            db(),
            sql`select count(*) as n from jsonb_object_keys(coalesce((select state->'partial' from runs where id = ${r.id}), '{}'::jsonb))`,
          );
          return Number(s?.n) >= 1 ? r : null;
        },
        'an image of the iteration in flight',
        60_000,
      );
      gen.hold();
      await waitFor(() => gen.waiting > 0, 'a generation held');
      expect((await runRow(second))!.status).toBe('running');

      const images = await queryRows<{ id: string }>(
        db(),
        sql`select id from images where source = 'generated' and strpos(prompt, ${WORD}) > 0`,
      );
      zoeImages = images.map((r) => r.id);
      expect(zoeImages.length).toBeGreaterThanOrEqual(4);
      for (const id of zoeImages) expect(existsSync(core.app.images.path(id))).toBe(true);
      expect(await dbHits(db(), zoeKey)).not.toEqual([]);
      // Stored scorer states: hers, and Bob's naming her image, are among what the forget must delete.
      await core.app.taste.idle();
      expect(await dbHits(db(), zoeKey)).toContain('public.scorer_states.user_key: 1');
      expect(await dbHits(db(), candidate.imageId!)).toContain('public.scorer_states.image_ids: 1');
      expect(fileHits(dataDir, WORD)).toEqual(expect.arrayContaining(['playground.jsonl', path.join('playground-files', exportFile.id)]));
      lastIdBeforeForget = messages().at(-1)!.id;

      await run(ZOE, '/privacy action:forget confirm:yes');
      expect(lastFor(ZOE).text).toMatch(/^🗑️ Done: deleted 3 ratings, 2 runs and \d+ images of yours\./);
      gen.release();

      // The held run was cancelled and waited for, then deleted with everything else.
      expect(await runRow(second)).toBeUndefined();
      await core.app.taste.idle();

      // Every table, every column (real[] vectors aside), every schema: nothing names her or quotes her.
      expect(await dbHits(db(), zoeKey)).toEqual([]);
      expect(await dbHits(db(), WORD)).toEqual([]);
      expect(await dbHits(db(), runId)).toEqual([]);
      // Every file under DATA_DIR: the playground's log, its files (her export), the images.
      expect(fileHits(dataDir, zoeKey)).toEqual([]);
      expect(fileHits(dataDir, WORD)).toEqual([]);
      expect(fileHits(dataDir, `"${ZOE}"`)).toEqual([]);
      expect(existsSync(exportFile.path)).toBe(false);
      expect(adapter.state.files.has(exportFile.id)).toBe(false);
      // The images made from her prompts, by id: rows and files.
      for (const id of zoeImages) {
        expect(existsSync(core.app.images.path(id))).toBe(false);
        expect(await dbHits(db(), id)).toEqual([]);
      }
      // Bob's rating of her image went with the image; his other ratings stay.
      expect(await core.rating(bobKey, candidate.imageId!)).toBeNull();
      expect(await core.app.ledger.count(bobKey)).toBe(2);
      // In memory: her scorer, and the playground's conversation.
      expect(core.app.taste.scorer.hasUser(zoeKey)).toBe(false);
      // (The answer to her forget is shown to her but transient: never written.)
      expect(
        messages()
          .filter((m) => !m.transient)
          .some((m) => m.author.id === ZOE || m.ephemeralFor === ZOE || m.runId === runId || ZOE in m.ratings),
      ).toBe(false);
      expect(lastFor(ZOE).transient).toBe(true);
      expect([...adapter.state.threads.values()].some((t) => t.title.includes(WORD))).toBe(false);
      // Only the tombstone is left: a hash of her key.
      const tomb = await queryRows<{ h: string }>(db(), sql`select user_key_hash as h from forgotten_users`);
      expect(tomb).toHaveLength(1);
      expect(tomb[0]!.h).toMatch(/^[0-9a-f]{64}$/);
    }, 240_000);

    it('afterwards every command and click of hers stores nothing and gets the one forgotten reply; a reaction is dropped with a log line naming nobody', async () => {
      await core.app.taste.idle();
      const before = await rowCounts(db());
      const files = dirFingerprint(dataDir);
      const rateable = rateMessages().find((m) => m.imageId)!;

      for (const text of [
        `/optimize prompt:${WORD} again`,
        '/rate count:2',
        '/profile',
        '/privacy action:status',
        '/privacy action:export',
        '/privacy share:on',
        '/cancel',
      ]) {
        await run(ZOE, text);
        const answer = lastFor(ZOE);
        expect(answer.text, text).toBe(ForgottenError.MESSAGE);
        // Shown to her, never written to the conversation log.
        expect(answer.transient, text).toBe(true);
      }
      await expect(adapter.rate(ZOE, rateable.id, 5)).rejects.toBeInstanceOf(ForgottenError);
      expect(rateable.ratings[ZOE]).toBeUndefined();

      // A chat platform's reaction path: nothing stored, one line that names no one.
      const log = captureLogger('debug');
      const outcome = await storeReactionRating(
        core.app.services,
        {
          kind: 'add',
          person: personFor(ZOE),
          imageId: rateable.imageId!,
          rating: 6,
          ctx: { source: 'discord', scopeId: 'g1', channelId: 'c1', messageId: 'm1' },
        },
        { log: log.logger, what: 'rating from a Discord reaction' },
      );
      expect(outcome).toBe('forgotten');
      expect(log.lines()).toHaveLength(1);
      expect(JSON.stringify(log.lines())).not.toMatch(new RegExp(`${ZOE}|${rateable.imageId}|m1|c1|g1`));

      await core.app.taste.idle();
      expect(await rowCounts(db())).toEqual(before);
      expect(dirFingerprint(dataDir)).toEqual(files);
      expect(await dbHits(db(), zoeKey)).toEqual([]);
      expect(await dbHits(db(), WORD)).toEqual([]);
    }, 120_000);

    it('/privacy action:resume opts her back in: a rating is stored again, and no message id is handed out twice', async () => {
      await run(ZOE, '/privacy action:resume');
      expect(lastFor(ZOE).text).toBe(RESUMED);
      expect(await core.app.services.privacy.isForgotten(personFor(ZOE))).toBe(false);
      const seen = messages().at(-1)!.id;
      await run(ZOE, '/rate count:1');
      const m = rateMessages(seen)[0]!;
      expect(m.id > lastIdBeforeForget).toBe(true);
      await adapter.rate(ZOE, m.id, 8);
      expect(await core.rating(zoeKey, m.imageId!)).toBe(8);
      expect(await core.app.ledger.count(zoeKey)).toBe(1);
      // The log on disk has her again (she opted in), and replays with the id sequence intact.
      expect(fileHits(dataDir, `"${ZOE}"`)).toEqual(['playground.jsonl']);
    }, 120_000);
  });
}

describe('the playground forgets what is theirs, and only that', () => {
  it("removes their commands, private replies, clicks, run threads and bot quotes of their prompts; keeps others' messages and /rate offers", () => {
    const state = new PlaygroundState(() => 1);
    const bot = { id: 'tasteloop', name: 'Tasteloop', bot: true };
    const say = (who: string, text: string) =>
      state.addMessage({ conversationId: CHANNEL_ID, author: { id: who, name: who, bot: false }, text, rateable: false });
    const long = `an ${WORD} ${'very '.repeat(30)}long prompt`;
    const echo = say(ZOE, `/optimize prompt:${long}`);
    const thread = state.addThread(echo.id, `🎨 ${long.slice(0, 90)}`);
    const inThread = state.addMessage({
      conversationId: thread.id,
      author: bot,
      text: 'Iteration 1 · #1 6.0/10',
      rateable: true,
      imageId: 'b'.repeat(64),
      runId: 'r1',
    });
    const started = state.addMessage({
      conversationId: CHANNEL_ID,
      author: bot,
      text: `🎨 Run started — follow it in the thread “🎨 ${long.slice(0, 90)}”.`,
      rateable: false,
    });
    const privateReply = state.addMessage({
      conversationId: CHANNEL_ID,
      author: bot,
      text: 'Your profile is private.',
      rateable: false,
      ephemeralFor: ZOE,
      files: [{ id: 'f'.repeat(24), name: 'x.json', contentType: 'application/json', size: 2 }],
    });
    const offer = state.addMessage({
      conversationId: CHANNEL_ID,
      author: bot,
      text: 'Image 1/3',
      rateable: true,
      imageId: 'a'.repeat(64),
      kind: 'rate',
    });
    state.updateMessage(offer.id, { ratings: { [ZOE]: 7, [BOB]: 4 } }, false);
    const bobSays = say(BOB, `I like ${WORD} too`);
    const bobNotice = state.addMessage({ conversationId: CHANNEL_ID, author: bot, text: 'Here are 3 images to rate', rateable: false });
    const shortPrompt = state.addMessage({
      conversationId: CHANNEL_ID,
      author: bot,
      text: 'Image 2/3',
      rateable: true,
      imageId: 'c'.repeat(64),
      kind: 'rate',
    });

    const gone = forgetInState(state, {
      userKey: 'playground:-:zoe',
      person: personFor(ZOE),
      runIds: ['r1'],
      imageIds: [],
      prompts: [long, 'image'],
    });
    expect(gone.messages.sort()).toEqual([echo.id, inThread.id, started.id, privateReply.id].sort());
    expect(gone.threads).toEqual([thread.id]);
    expect(gone.files).toEqual(['f'.repeat(24)]);
    expect([...state.messages.keys()].sort()).toEqual([offer.id, bobSays.id, bobNotice.id, shortPrompt.id].sort());
    expect(state.messages.get(offer.id)!.ratings).toEqual({ [BOB]: 4 });
  });
});

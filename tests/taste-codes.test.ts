/**
 * Taste codes on the real core (createApp with the offline backends) on PGlite and, with
 * TEST_DATABASE_URL, PostgreSQL: a code names an immutable snapshot (the same scores after more
 * ratings), one code per ledger version, a run with `taste:` is scored by the snapshot, only the owner
 * or — once they share — anyone may use it, and a forget retires it ("this taste code no longer exists").
 */
import sharp from 'sharp';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { candidates, retiredTasteCodes, runs, tasteCodes } from '../src/db/schema';
import { queryRows } from '../src/db/util';
import { userKeyOf, type PersonRef } from '../src/core/identity';
import {
  newTasteCode,
  parseTasteCode,
  TasteCodeGoneError,
  TasteCodeGroupError,
  TasteCodeInputError,
  TasteCodeNotAvailableError,
} from '../src/core/taste-codes';
import { createTasteCodes } from '../src/core/taste-codes-service';
import { openTestCore, type TestCore } from './helpers/core';
import { testBackends } from './helpers/db';
import { waitFor } from './helpers/wait';

/** Equal up to summation order (the live scorer sums float32 products in four lanes). */
function expectClose(got: number[], want: number[]): void {
  expect(got).toHaveLength(want.length);
  got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 9));
}

describe('taste code spelling', () => {
  it('draws 40 random bits in Crockford base32 and reads them back however they are typed', () => {
    const drawn = new Set(Array.from({ length: 2000 }, () => newTasteCode()));
    expect(drawn.size).toBe(2000);
    for (const code of drawn) {
      expect(code).toMatch(/^tl-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
      expect(parseTasteCode(code)).toBe(code);
      expect(parseTasteCode(code.toLowerCase().replace(/-/g, ''))).toBe(code);
      expect(parseTasteCode(code.slice(3))).toBe(code);
    }
    // All ones and zeros, then every bit set: the full 40-bit range.
    expect(newTasteCode(() => new Uint8Array(5))).toBe('tl-0000-0000');
    expect(newTasteCode(() => new Uint8Array(5).fill(255))).toBe('tl-ZZZZ-ZZZZ');
    // Look-alikes read as Crockford does; what cannot be a code is refused.
    expect(parseTasteCode(' TL-7q4k-m2xo ')).toBe('tl-7Q4K-M2X0');
    expect(parseTasteCode('tl-7Q4K-M2XI')).toBe('tl-7Q4K-M2X1');
    expect(parseTasteCode('tl-7Q4K-M2XU')).toBeNull();
    expect(parseTasteCode('tl-7Q4K-M2X')).toBeNull();
    expect(parseTasteCode('hello')).toBeNull();
  });
});

const solid = (i: number) =>
  sharp({ create: { width: 48, height: 48, channels: 3, background: { r: (i * 53) % 256, g: (i * 97) % 256, b: (i * 151) % 256 } } })
    .png()
    .toBuffer();

for (const backend of testBackends()) {
  describe(`taste codes (${backend.name})`, () => {
    let core: TestCore;
    const images: string[] = [];
    const ANN: PersonRef = { platform: 'discord', userId: 'ann', displayName: 'ann' };
    const BOB: PersonRef = { platform: 'discord', userId: 'bob', displayName: 'bob' };
    // The same human elsewhere is another identity: their codes reach it only through sharing.
    const ANN_ON_SLACK: PersonRef = { platform: 'slack', workspaceId: 'T1', userId: 'U7', displayName: 'ann' };
    let first = '';
    let second = '';

    // The service as the app wires it (stateless over the database): its run side too, not just Services'.
    const codes = () => createTasteCodes({ db: core.app.database.db, taste: core.app.taste, embeddings: core.app.embeddings });
    const rate = (who: PersonRef, i: number, score: number) =>
      core.app.services.ratings.rate(who, images[i]!, score, { source: 'discord', scopeId: 'g1' });
    const refusal = async (p: Promise<unknown>) =>
      p.then(
        () => null,
        (e: unknown) => e,
      );

    beforeAll(async () => {
      core = await openTestCore({ database: await backend.open(), seedGallery: false });
      for (let i = 0; i < 16; i++)
        images.push((await core.app.images.put(await solid(i), { source: 'gallery', prompt: `g${i}`, seed: i })).id);
      for (const p of [ANN, BOB]) await core.app.services.people.touch(p, 'g1');
      for (let i = 0; i < 6; i++) await rate(ANN, i, 1 + ((i * 7) % 10));
    }, 120_000);

    afterAll(async () => {
      const database = core?.app.database;
      await core?.close();
      await database?.close();
    });

    it('/profile takes a snapshot only when the scorer moved on; the history lists each with its ratings', async () => {
      expect(await codes().current({ viewer: BOB, scopeId: 'g1' })).toBeNull(); // no ratings, no code
      const a = await codes().current({ viewer: ANN, scopeId: 'g1' });
      expect(a).toMatchObject({ ratings: 6, model: core.app.embeddings.modelId });
      expect((await codes().current({ viewer: ANN, scopeId: 'g1' }))!.code).toBe(a!.code);
      await rate(ANN, 6, 9);
      const b = await codes().current({ viewer: ANN, scopeId: 'g1' });
      expect(b!.code).not.toBe(a!.code);
      expect(b!.ratings).toBe(7);
      const history = await codes().history(ANN);
      expect(history.map((c) => [c.code, c.ratings])).toEqual([
        [b!.code, 7],
        [a!.code, 6],
      ]);
      first = a!.code;
      second = b!.code;
    });

    it('a code scores exactly as the scorer did when it was taken, whatever is rated afterwards', async () => {
      const probe = images.slice(8, 16);
      const vectors = await core.app.embeddings.embed(probe);
      const live = () =>
        core.app.taste.scorer.predict(
          userKeyOf(ANN),
          probe.map((id) => vectors.get(id)!),
        );
      await core.app.taste.predict(userKeyOf(ANN), probe); // brings the scorer to the ledger's version
      const atSnapshot = live();
      expectClose(await codes().predict(second, probe), atSnapshot);
      for (let i = 8; i < 12; i++) await rate(ANN, i, i % 2 ? 10 : 1);
      await core.app.taste.predict(userKeyOf(ANN), probe);
      const moved = live();
      expect(Math.max(...moved.map((m, i) => Math.abs(m - atSnapshot[i]!)))).toBeGreaterThan(0.01);
      expectClose(await codes().predict(second, probe), atSnapshot);
    });

    it('a run with taste:<code> is scored by the snapshot, however the code is typed', async () => {
      const typed = second.slice(3).replace('-', '').toLowerCase();
      const { runId } = await core.app.runs.start({ requester: ANN, prompt: 'a red boat', iterations: 1, candidates: 2, taste: typed });
      const row = await waitFor(async () => {
        const [r] = await core.app.database.db.select().from(runs).where(eq(runs.id, runId));
        return r && r.status === 'finished' ? r : null;
      }, 'the run to finish');
      expect((row.params as { taste?: string }).taste).toBe(second);
      const scored = await core.app.database.db.select().from(candidates).where(eq(candidates.runId, runId));
      expect(scored.length).toBeGreaterThanOrEqual(3);
      const ids = scored.map((c) => c.imageId!);
      const frozen = await codes().predict(second, ids);
      scored.forEach((c, i) => expect(c.score).toBeCloseTo(frozen[i]!, 9));
      // ...and not by her latest scorer, which moved on since. On images far from what she rated since,
      // it may have moved by only a few thousandths, still a million times the 1e-9 the run matched above.
      const latest = await core.app.taste.predict(userKeyOf(ANN), ids);
      expect(Math.max(...latest.map((m, i) => Math.abs(m - frozen[i]!)))).toBeGreaterThan(1e-6);
    });

    it("another person's code is refused until its owner shares; then it works on any server and platform", async () => {
      const bobKey = userKeyOf(BOB);
      const notShared = await refusal(codes().authorize(bobKey, first));
      const unknown = await refusal(codes().authorize(bobKey, 'tl-0000-0000'));
      expect(notShared).toBeInstanceOf(TasteCodeNotAvailableError);
      expect((unknown as Error).message).toBe((notShared as Error).message);
      expect(await refusal(codes().authorize(bobKey, 'not-a-taste-code'))).toBeInstanceOf(TasteCodeInputError);
      expect(await refusal(core.app.runs.start({ requester: BOB, prompt: 'a cat', taste: first }))).toBeInstanceOf(
        TasteCodeNotAvailableError,
      );
      expect(
        await refusal(core.app.runs.start({ requester: ANN, prompt: 'a cat', taste: first, members: [userKeyOf(ANN)] })),
      ).toBeInstanceOf(TasteCodeGroupError);
      // The owner uses her own code from anywhere; her other identity and Bob only once she shares.
      expect((await codes().authorize(userKeyOf(ANN), first)).note).toContain(`taste code ${first}: your taste`);
      expect(await refusal(codes().authorize(userKeyOf(ANN_ON_SLACK), first))).toBeInstanceOf(TasteCodeNotAvailableError);
      await core.app.services.privacy.setSharing(ANN, true, 'g1');
      expect((await codes().authorize(bobKey, first)).note).toContain('a shared taste');
      expect((await codes().authorize(userKeyOf(ANN_ON_SLACK), second)).code).toBe(second);
    });

    it('forget deletes her codes: each then answers "this taste code no longer exists", and nothing names her', async () => {
      await core.app.services.privacy.forget(ANN);
      for (const code of [first, second]) {
        const gone = await refusal(codes().authorize(userKeyOf(BOB), code));
        expect(gone).toBeInstanceOf(TasteCodeGoneError);
        expect((gone as Error).message).toMatch(/this taste code no longer exists/i);
        expect(await refusal(codes().predict(code, images.slice(0, 2)))).toBeInstanceOf(TasteCodeGoneError);
      }
      const db = core.app.database.db;
      expect(
        await db
          .select()
          .from(tasteCodes)
          .where(eq(tasteCodes.userKey, userKeyOf(ANN))),
      ).toHaveLength(0);
      expect(await db.select().from(retiredTasteCodes)).toHaveLength(2);
      const [hits] = await queryRows<{ n: number | string }>(
        db,
        sql`select count(*) as n from retired_taste_codes where strpos(code_hash, ${first.slice(3)}) > 0 or strpos(code_hash, ${userKeyOf(ANN)}) > 0`,
      );
      expect(Number(hits!.n)).toBe(0);
      // A code that never existed still gets the one refusal, not "no longer exists".
      expect(await refusal(codes().authorize(userKeyOf(BOB), 'tl-ZZZZ-ZZZZ'))).toBeInstanceOf(TasteCodeNotAvailableError);
    });
  });
}

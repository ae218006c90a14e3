/**
 * The real discord.js client against the fake Discord (tests/fakes/discord-server.ts) and the real
 * core (createApp on PGlite, offline backends; only the image provider is a holdable double): commands,
 * reactions → ratings, uncached messages and restarts, RESUME replays, /optimize into a thread,
 * 429s, cancel, private errors, no mentions, and the interaction token's 13-minute cutoff.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { desc, eq } from 'drizzle-orm';
import { runs } from '../src/db/schema';
import { ONBOARDING_PROMPTS } from '../src/core/gallery';
import { GatedGenerator, openTestCore, type TestCore } from './helpers/core';
import { createDiscordAdapter, WEBHOOK_CUTOFF_MS } from '../src/platforms/discord/adapter';
import { RATING_EMOJI } from '../src/platforms/emoji';
import { silentLogger } from '../src/log';
import { openDiscordHarness, type DiscordHarness } from './helpers/discord-harness';
import { waitFor } from './helpers/wait';

const KEY7 = RATING_EMOJI[6]!;
const KEY9 = RATING_EMOJI[8]!;

/** The REAL core (PGlite, offline backends) shared by this file's harnesses; its image generator can be held mid-run. */
const gen = new GatedGenerator();
let core: TestCore;
beforeAll(async () => {
  try { core = await openTestCore({ generator: gen }); } catch (err) { console.error("CORE FAIL", (err as Error).stack); throw err; }
});
afterAll(async () => {
  gen.release();
  await core?.close();
});

async function runOf(h: DiscordHarness, user: string) {
  const rows = await core.app.database.db.select().from(runs).where(eq(runs.userKey, h.userKey(user))).orderBy(desc(runs.createdAt)).limit(1);
  return rows[0];
}

describe('discord bot against the fake Discord', () => {
  let h: DiscordHarness;
  beforeAll(async () => {
    try { h = await openDiscordHarness({ core }); } catch (e) { console.log("HARNESS FAIL", String((e as Error).stack)); throw e; }
  });
  afterAll(async () => {
    await h?.close();
  });

  it('x',()=>{});
});

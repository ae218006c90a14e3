import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { appendFileSync } from 'node:fs';
import { openDiscordHarness, type DiscordHarness } from './helpers/discord-harness';
import { openTestCore, type TestCore } from './helpers/core';
const log = (s: string) => appendFileSync('/tmp/dbg.log', s + '\n');
log('module loaded');
describe('d', () => {
  let h: DiscordHarness;
  let core: TestCore;
  log('collect');
  beforeAll(async () => { log('ba'); try { core = await openTestCore(); log('core'); h = await openDiscordHarness({ core }); log('h'); } catch (e) { log('ERR ' + String((e as Error).stack)); throw e; } });
  afterAll(async () => { log('aa'); await h?.close(); await core?.close(); log('aa done'); });
  it('x', () => { log('x'); expect(1).toBe(1); });
});

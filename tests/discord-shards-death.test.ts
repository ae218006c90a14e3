/**
 * A gateway process dies (SIGKILL: no release) holding a shard: the process waiting for that shard
 * connects once the dead one's lease expires — never while it could still be alive. Real separate
 * processes on real PostgreSQL (PGlite cannot be shared between processes: skipped without
 * TEST_DATABASE_URL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// discord.js first (see tests/discord.test.ts: the module order matters under vitest).
import { openDiscordHarness, type DiscordHarness } from './helpers/discord-harness';
import { FakeDiscord } from './fakes/discord-server';
import { openDatabase, type Database } from '../src/db/connection';
import { liveLeases } from '../src/db/leases';
import { shardLeaseName } from '../src/platforms/discord/shard-leases';
import { createFreshPostgresDatabase, TEST_DATABASE_URL } from './helpers/db';
import { openTestCore, type TestCore } from './helpers/core';
import { captureLogger } from './helpers/log-capture';
import { waitFor } from './helpers/wait';

const exited = (c: ChildProcess) =>
  new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

if (!TEST_DATABASE_URL)
  describe('a gateway killed while holding a shard', () => {
    it.skip('SKIPPED: needs TEST_DATABASE_URL (separate processes cannot share PGlite), e.g. postgres://postgres@127.0.0.1:5432/test', () => {});
  });

describe.skipIf(!TEST_DATABASE_URL)('a gateway killed while holding a shard (real processes, real PostgreSQL)', () => {
  const fake = new FakeDiscord({ shards: 2 });
  let child: ChildProcess | undefined;
  let drop: (() => Promise<void>) | undefined;
  let database: Database | undefined;
  let core: TestCore | undefined;
  let waiting: DiscordHarness | undefined;
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (child) await exited(child);
    await waiting?.close();
    await core?.close();
    await database?.close();
    await drop?.();
    await fake.stop();
  }, 60_000);

  it('its shard is taken over once the lease expires, with never two sessions on it', { timeout: 240_000 }, async () => {
    await fake.start();
    const g1 = fake.addGuild({ shard: 1 });
    const fresh = await createFreshPostgresDatabase();
    drop = fresh.drop;
    const dir = mkdtempSync(path.join(tmpdir(), 'tl-discord-shard-'));
    const ttlMs = 3000;
    child = spawn(
      process.execPath,
      ['--import', 'tsx', 'tests/fixtures/discord-gateway-app.ts', fresh.url, dir, fake.apiUrlFor('dead'), '1', String(ttlMs)],
      { cwd: path.resolve(import.meta.dirname, '..'), stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } },
    );
    child.stderr?.on('data', (d: Buffer) => process.stderr.write(`[gateway 1] ${d.toString()}`));
    await waitFor(() => existsSync(path.join(dir, 'ready')), 'the first gateway process', 120_000);
    expect(fake.gateway.identifiedShards).toEqual([[1, 2]]);

    database = await openDatabase({ databaseUrl: fresh.url, maxConnections: 5 });
    core = await openTestCore({ database, seedGallery: false });
    const { logger, lines } = captureLogger('info');
    const opening = openDiscordHarness({
      core,
      fake,
      clientTag: 'next',
      log: logger,
      shardConfig: { DISCORD_SHARD_COUNT: 2, DISCORD_SHARD_IDS: [1] },
      shardLeaseTiming: { ttlMs, renewMs: 500, retryMs: 100 },
    }).then((h) => (waiting = h));
    await waitFor(
      () => lines().find((l) => l.msg.startsWith('waiting to connect Discord: shard 1 is held by')),
      'the second process to wait',
    );
    // The holder is alive and renewing: the waiting process stays off its shard across lease lifetimes.
    await new Promise((r) => setTimeout(r, 2 * ttlMs));
    expect(waiting).toBeUndefined();
    expect(fake.gateway.identifiedShards).toHaveLength(1);

    child.kill('SIGKILL');
    await exited(child);
    await opening;
    expect(fake.gateway.identifiedShards).toEqual([
      [1, 2],
      [1, 2],
    ]);
    expect(fake.gateway.overlaps).toEqual([]);
    const [lease] = await liveLeases(database.db, shardLeaseName(fake.applicationId, 1, 2));
    expect(lease!.holder).not.toMatch(new RegExp(`:${child.pid}:`));
    // The server on that shard is served again, by the new holder.
    const iid = fake.interact(waiting!.idOf('ann'), 'help', [], { channelId: g1.channelId });
    await waitFor(() => fake.requests.some((r) => r.path.startsWith(`/interactions/${iid}/`)), 'the ack');
    expect(new Set(fake.requests.filter((r) => r.path.startsWith(`/interactions/${iid}/`)).map((r) => r.client))).toEqual(
      new Set(['next']),
    );
  });
});

/**
 * A gateway told to stop while it still waits for a shard lease (a rolling update giving up on a new
 * pod whose shard the old pod still holds): `npm start` exits 0 through the bot's own shutdown — the
 * wait ends holding nothing, the holder keeps its lease, no Discord session is ever opened — instead of
 * dying on Node's default SIGTERM with its runs uncheckpointed. Black-box: the README's `npm start` on
 * real PostgreSQL (PGlite cannot be shared between processes: skipped without TEST_DATABASE_URL).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { FakeDiscord } from './fakes/discord-server';
import { openDatabase, type Database } from '../src/db/connection';
import { liveLeases, takeLease } from '../src/db/leases';
import { shardLeaseName, shardLeasePrefix } from '../src/platforms/discord/shard-leases';
import { createFreshPostgresDatabase, TEST_DATABASE_URL } from './helpers/db';
import { ProcessGroup, step, terminate } from './helpers/processes';

const S = 1000;
const OTHER_HOLDER = 'the old pod of a rolling update';

describe.skipIf(!TEST_DATABASE_URL)('SIGTERM while a gateway waits for a shard lease (npm start, real PostgreSQL)', () => {
  const fake = new FakeDiscord({ shards: 1 });
  const group = new ProcessGroup('tl-lease-wait-');
  let database: Database | undefined;
  let drop: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await group.closeAll();
    await database?.close();
    await drop?.();
    await fake.stop();
  }, 60_000);

  it('exits 0 through its own shutdown, holding nothing and opening no session', { timeout: 240_000 }, async () => {
    await fake.start();
    fake.addGuild({ shard: 0 });
    const fresh = await createFreshPostgresDatabase();
    drop = fresh.drop;
    database = await openDatabase({ databaseUrl: fresh.url, maxConnections: 2 });
    const lease = shardLeaseName(fake.applicationId, 0, 1);
    expect(await takeLease(database.db, { name: lease, holder: OTHER_HOLDER, ttlMs: 600_000 })).toBe(true);

    const gateway = await group.npmStart('gateway', {
      DATABASE_URL: fresh.url,
      PLAYGROUND: 'off',
      TASTELOOP_ROLES: 'gateway,worker',
      DISCORD_TOKEN: fake.token,
      DISCORD_APPLICATION_ID: fake.applicationId,
      DISCORD_API_URL: fake.apiUrl,
      DISCORD_SHARD_COUNT: '1',
    });
    await step(
      'the gateway saying it waits for shard 0',
      [gateway],
      () => gateway.hasLog(/^waiting to connect Discord: shard 0 is held by/),
      180 * S,
    );

    const exit = await terminate(gateway, 60 * S);
    expect(exit, gateway.tail()).toEqual({ code: 0, signal: null });
    expect(gateway.hasLog('stopped'), gateway.tail()).toBe(true);
    const held = await liveLeases(database.db, shardLeasePrefix(fake.applicationId));
    expect(held.map((l) => [l.name, l.holder])).toEqual([[lease, OTHER_HOLDER]]);
    expect(fake.identifies).toBe(0);
  });
});

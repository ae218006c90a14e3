/**
 * TASTELOOP_ROLES, black-box: the README's `npm start` in child processes with an environment built
 * from scratch (PATH, HOME and the variables an operator sets), on real PostgreSQL (a fresh database
 * from TEST_DATABASE_URL per suite), checked over the wire only — the fake Discord's recorded traffic,
 * HTTP (/healthz, /readyz, the playground port) and the JSON log lines. Nothing of the app is imported.
 *
 * - A worker-only process serves health, listens on no playground port and never talks to Discord,
 *   although the Discord settings are in its environment (one shared .env for every process).
 * - A gateway+web process and a worker process on one database and one DATA_DIR (the image files):
 *   `/optimize` typed in the fake Discord
 *   is executed by the worker (its log claims and finishes the run; the gateway's never does) and its
 *   header, grids and summary are posted in the thread by the gateway — the only process that
 *   ever connected to Discord.
 * - On PGlite (no PostgreSQL needed) a gateway,web process with PLAYGROUND=off and no platform starts no
 *   playground and says what to set, and that the roles it lacks need a shared PostgreSQL.
 *
 * Deadlines are guards against hangs on a slow machine, never speed assertions.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { FakeDiscord, type FakeMessage } from './fakes/discord-server';
import { createFreshPostgresDatabase, TEST_DATABASE_URL } from './helpers/db';
import { ProcessGroup, ready, step, terminate, type Proc } from './helpers/processes';

const S = 1000;
const T = { start: 240 * S, step: 90 * S, optimize: 300 * S, it: 480 * S };
const DISCORD_RATING = [...Array.from({ length: 9 }, (_, i) => `${i + 1}\uFE0F\u20E3`), '\u{1F51F}'];
const PROMPT = 'a lighthouse at dusk';

const group = new ProcessGroup('tl-start-roles-');
/** `npm start` as an operator runs it, in its own process group (so afterAll can kill what it left). */
const npmStart = (name: string, extra: Record<string, string>): Promise<Proc> => group.npmStart(name, extra);

afterAll(() => group.closeAll());

/** SIGTERM to npm: the process ends with code 0 (a generous guard, not a speed test). */
async function stop(p: Proc): Promise<void> {
  expect(await terminate(p, 30 * S), `${p.name} after SIGTERM\n${p.tail()}`).toEqual({ code: 0, signal: null });
}

function discordEnv(fake: FakeDiscord): Record<string, string> {
  return {
    DISCORD_TOKEN: fake.token,
    DISCORD_APPLICATION_ID: fake.applicationId,
    DISCORD_API_URL: fake.apiUrl,
    DISCORD_GUILD_ID: fake.guildId,
  };
}

describe.skipIf(!TEST_DATABASE_URL)('TASTELOOP_ROLES on one PostgreSQL (npm start, against the fake Discord)', () => {
  const dbs: { drop: () => Promise<void> }[] = [];
  const fakes: FakeDiscord[] = [];
  const freshDatabase = async () => {
    const db = await createFreshPostgresDatabase();
    dbs.push(db);
    return db.url;
  };
  const fakeDiscord = async () => {
    const fake = new FakeDiscord();
    await fake.start();
    fakes.push(fake);
    return fake;
  };
  afterAll(async () => {
    await group.closeAll();
    for (const f of fakes) await f.stop();
    for (const d of dbs) await d.drop().catch(() => {});
  });

  it(
    'worker only: serves /healthz and /readyz (database only), no playground port, no Discord connection',
    async () => {
      const fake = await fakeDiscord();
      // The whole configuration an operator would share between processes: Discord and the playground are on.
      const w = await npmStart('worker', { DATABASE_URL: await freshDatabase(), TASTELOOP_ROLES: 'worker', ...discordEnv(fake) });
      await step('/readyz 200 with only the database check', [w], () => ready(w, ['database']), T.start);
      expect((await fetch(`http://127.0.0.1:${w.ports.health}/healthz`)).status).toBe(200);
      // Logged once its surfaces are started (here: none), after anything that would connect.
      await step('the log line "platforms: none"', [w], () => w.hasLog('platforms: none'));
      expect(w.hasLog('roles: worker')).toBe(true);
      expect(w.hasLog(/^discord: configured, served by a process with the gateway role/)).toBe(true);
      expect(w.hasLog(/^playground: configured, served by a process with the web role/)).toBe(true);
      expect(w.hasLog(/^playground: open/)).toBe(false);
      await expect(fetch(`http://127.0.0.1:${w.ports.port}/`)).rejects.toThrow();
      expect(fake.identifies).toBe(0);
      expect(fake.requests).toEqual([]);
      await stop(w);
      expect(fake.identifies).toBe(0);
    },
    T.it,
  );

  it(
    'gateway+web and a worker: /optimize from Discord runs on the worker, its thread is posted by the gateway',
    async () => {
      const fake = await fakeDiscord();
      const url = await freshDatabase();
      // One deployment: one database and one DATA_DIR (images are files there; the README's shared volume).
      const env = { DATABASE_URL: url, DATA_DIR: group.tempDir(), ...discordEnv(fake) };
      // Both at once, as an orchestrator starts them: migrations on one database are serialized by the app.
      const [g, w] = await Promise.all([
        npmStart('gateway+web', { ...env, TASTELOOP_ROLES: 'gateway,web' }),
        npmStart('worker', { ...env, TASTELOOP_ROLES: 'worker' }),
      ]);
      await step(
        'the gateway ready (database, discord, playground)',
        [g, w],
        () => ready(g, ['database', 'discord', 'playground']),
        T.start,
      );
      await step('the worker ready (database)', [g, w], () => ready(w, ['database']), T.start);
      await step('the worker\'s log line "platforms: none"', [g, w], () => w.hasLog('platforms: none'));
      expect(g.hasLog('roles: gateway, web')).toBe(true);
      expect(w.hasLog('roles: worker')).toBe(true);
      expect(fake.identifies).toBe(1);

      const registered = () => (fake.commands.get(fake.guildId) ?? []) as { name: string; options?: { name: string; type: number }[] }[];
      const def = await step('/optimize registered', [g, w], () => registered().find((c) => c.name === 'optimize'));
      const option = (name: string, value: string | number) => ({ name, type: def.options!.find((o) => o.name === name)!.type, value });
      const before = new Set(fake.threads().map((t) => t.id));
      fake.interact('100000000000000101', 'optimize', [option('prompt', PROMPT), option('iterations', 1), option('candidates', 2)]);
      const thread = await step('the thread of /optimize', [g, w], () => fake.threads().find((t) => !before.has(t.id)));
      const msgs = () => fake.channelMessages(thread.id);
      await step('the header in the thread', [g, w], () => msgs()[0]?.content.includes(PROMPT));
      const isRateable = (m: FakeMessage) =>
        m.attachments.length > 0 && DISCORD_RATING.every((e) => m.reactions.get(e)?.has(fake.botUser.id));
      // The summary is posted first and its rating reactions are added one request each after it, so wait for all.
      await step(
        'the final summary in the thread, rateable',
        [g, w],
        () => msgs().some((m) => isRateable(m) && m.content.includes('Run finished')),
        T.optimize,
      );
      // One grid per iteration (its picture attached), a tile menu per candidate; the best image rateable with the summary.
      const grids = msgs().filter((m) => m.attachments.length > 0 && /^\*\*(Your prompt|Iteration \d+)\*\*/.test(m.content));
      expect(grids.map((m) => m.components.length)).toEqual([1, 2]);
      expect(msgs().filter((m) => isRateable(m) && m.content.includes('Run finished'))).toHaveLength(1);

      // Executed by the worker only; the gateway, the one process connected to Discord, posted it.
      const runIds = (p: Proc, msg: string) => p.logs.filter((l) => l.msg === msg).map((l) => l.runId);
      expect(runIds(w, 'run claimed')).toHaveLength(1);
      expect(runIds(w, 'run finished')).toEqual(runIds(w, 'run claimed'));
      expect(runIds(g, 'run claimed')).toEqual([]);
      expect(fake.identifies).toBe(1);
      expect(w.hasLog(/^discord connected/)).toBe(false);
      expect(g.hasLog('discord connected')).toBe(true);

      await Promise.all([stop(g), stop(w)]);
    },
    T.it,
  );
});

describe('npm start on the embedded database (PGlite) with a role subset', () => {
  it(
    'PLAYGROUND=off and no platform: no playground, a warning naming what to set, and one that other roles need PostgreSQL',
    async () => {
      const p = await npmStart('pglite gateway,web', { PLAYGROUND: 'off', TASTELOOP_ROLES: 'gateway,web' });
      await step('/readyz 200 with only the database check', [p], () => ready(p, ['database']), T.start);
      await step('the log line "platforms: none"', [p], () => p.hasLog('platforms: none'));
      expect(p.hasLog(/^no chat platform is configured and PLAYGROUND=off: .*DISCORD_TOKEN.*SLACK_BOT_TOKEN.*PLAYGROUND=on/)).toBe(true);
      expect(p.hasLog(/^roles worker do not run in this process.*other roles need a shared PostgreSQL \(set DATABASE_URL/)).toBe(true);
      expect(p.hasLog(/^playground: open/)).toBe(false);
      await expect(fetch(`http://127.0.0.1:${p.ports.port}/`)).rejects.toThrow();
      await stop(p);
    },
    T.it,
  );
});

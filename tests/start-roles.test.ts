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
 *   header, candidates and summary are posted in the thread by the gateway — the only process that
 *   ever connected to Discord.
 * - On PGlite (no PostgreSQL needed) a gateway,web process with PLAYGROUND=off and no platform starts no
 *   playground and says what to set, and that the roles it lacks need a shared PostgreSQL.
 *
 * Deadlines are guards against hangs on a slow machine, never speed assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeDiscord, type FakeMessage } from './fakes/discord-server';
import { createFreshPostgresDatabase, TEST_DATABASE_URL } from './helpers/db';
import { freePort } from './helpers/ports';

const ROOT = path.resolve(import.meta.dirname, '..');
const S = 1000;
const T = { start: 240 * S, step: 90 * S, optimize: 300 * S, it: 480 * S };
const DISCORD_RATING = [...Array.from({ length: 9 }, (_, i) => `${i + 1}\uFE0F\u20E3`), '\u{1F51F}'];
const PROMPT = 'a lighthouse at dusk';

interface LogLine {
  msg?: string;
  [k: string]: unknown;
}

interface Proc {
  name: string;
  child: ChildProcess;
  dataDir: string;
  ports: { port: number; health: number };
  logs: LogLine[];
  hasLog(msg: string | RegExp): boolean;
  tail(): string;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const procs: Proc[] = [];

/** `npm start` as an operator runs it, in its own process group (so afterAll can kill what it left). */
async function npmStart(name: string, extra: Record<string, string>): Promise<Proc> {
  const dataDir = extra.DATA_DIR ?? mkdtempSync(path.join(tmpdir(), 'tl-start-roles-'));
  const ports = { port: await freePort(), health: await freePort() };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATA_DIR: dataDir,
    PORT: String(ports.port),
    HEALTH_PORT: String(ports.health),
    IMAGE_SIZE: '128',
    GALLERY: 'off',
    LOG_LEVEL: 'info',
    ...extra,
  };
  const child = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  let partial = '';
  const logs: LogLine[] = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const l of parts) {
      if (!l.startsWith('{')) continue;
      try {
        logs.push(JSON.parse(l) as LogLine);
      } catch {
        /* not a log line */
      }
    }
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const p: Proc = {
    name,
    child,
    dataDir,
    ports,
    logs,
    hasLog: (msg) => logs.some((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg ?? '')))),
    tail: () =>
      `--- last lines of ${name} ---\n${out.split('\n').filter(Boolean).slice(-25).join('\n').slice(-6000)}\n--- stderr ---\n${err.slice(-2000)}`,
    exit: null,
    exited: new Promise((r) => child.once('exit', (code, signal) => r((p.exit = { code, signal })))),
  };
  procs.push(p);
  return p;
}

afterAll(() => {
  for (const p of procs) {
    try {
      process.kill(-p.child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
    rmSync(p.dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
});

/** Polls `fn` until truthy; fails naming what it waited for, with the processes' last log lines. */
async function step<V>(what: string, watch: Proc[], fn: () => V | Promise<V>, ms = T.step): Promise<NonNullable<V>> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    const ended = watch.find((p) => p.exit);
    if (ended) throw new Error(`${ended.name} ended (${JSON.stringify(ended.exit)}) while waiting for ${what}\n${ended.tail()}`);
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end)
      throw new Error(
        `waiting for ${what}${last ? ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})` : ''}\n${watch.map((p) => p.tail()).join('\n')}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** /readyz: 200, ready, and exactly these checks. */
async function ready(p: Proc, checks: string[]): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${p.ports.health}/readyz`);
  const body = (await res.json()) as { status: string; checks: Record<string, unknown> };
  return res.status === 200 && body.status === 'ready' && Object.keys(body.checks).sort().join() === [...checks].sort().join();
}

/** SIGTERM to npm: the process ends with code 0 (a generous guard, not a speed test). */
async function stop(p: Proc): Promise<void> {
  p.child.kill('SIGTERM');
  const exit = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 30 * S))]);
  expect(exit, `${p.name} after SIGTERM\n${p.tail()}`).toEqual({ code: 0, signal: null });
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
    for (const p of procs) if (!p.exit) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 5 * S))])));
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
      const env = { DATABASE_URL: url, DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tl-start-roles-')), ...discordEnv(fake) };
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
      await step('the final summary in the thread', [g, w], () => msgs().some((m) => m.content.includes('Run finished')), T.optimize);
      const isRateable = (m: FakeMessage) =>
        m.attachments.length > 0 && DISCORD_RATING.every((e) => m.reactions.get(e)?.has(fake.botUser.id));
      expect(msgs().filter((m) => isRateable(m) && /\/10/.test(m.content) && !m.content.includes('Run finished'))).toHaveLength(3);

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

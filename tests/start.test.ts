/**
 * `npm start` as an operator runs it: src/main.ts in a child process with the offline defaults.
 * It logs which backend each part uses, serves the playground, takes a rating over the playground's
 * HTTP API, exits with code 0 within 10 s of SIGTERM (the contract; a generous bound, not a
 * speed test), and keeps the rating across a restart on the same DATA_DIR. A bad configuration exits
 * with code 2 naming every bad variable. A preloaded guard records any connection or name lookup
 * beyond loopback: there must be none.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/runs';
import { PlaygroundClient } from './helpers/playground-client';
import { freePort } from './helpers/ports';

const ROOT = path.resolve(import.meta.dirname, '..');
const GUARD = path.join(ROOT, 'tests/fixtures/net-guard.cjs');

interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A clean environment: only what a shell gives, never this machine's tokens or database settings. */
function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
}

function startMain(env: NodeJS.ProcessEnv): Started {
  // `node --import tsx` is `npx tsx` without the wrapper process, so signals reach main.ts directly.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

describe('npm start (src/main.ts in a child process, offline defaults)', () => {
  const running: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  it('logs its backends, serves the playground, stops on SIGTERM with code 0, keeps ratings across a restart, and opens no non-loopback connection', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tl-start-'));
    const guardLog = path.join(dataDir, 'net-guard.log');
    const port = await freePort();
    const healthPort = await freePort();
    const env = baseEnv({
      DATA_DIR: dataDir,
      PORT: String(port),
      HEALTH_PORT: String(healthPort),
      LOG_LEVEL: 'info',
      IMAGE_SIZE: '128',
      NODE_OPTIONS: `--require ${GUARD}`,
      NET_GUARD_LOG: guardLog,
    });
    const base = `http://127.0.0.1:${port}`;

    const first = startMain(env);
    running.push(first.child);
    await waitFor(
      () => first.stdout().includes('playground: open') || first.child.exitCode !== null,
      'the playground to be served',
      120_000,
    );
    expect(first.child.exitCode).toBeNull();
    const lines = first
      .stdout()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg: string; part?: string; backend?: string });
    const parts = Object.fromEntries(lines.filter((l) => l.part).map((l) => [l.part, l.backend]));
    expect(parts.database).toMatch(/PGlite/);
    expect(parts.embedder).toBeTruthy();
    expect(parts.imagegen).toMatch(/sketch/i);
    expect(parts.llm).toMatch(/none/);
    expect(lines.some((l) => l.msg === 'platforms: playground')).toBe(true);
    expect((await fetch(base)).headers.get('content-type')).toMatch(/text\/html/);
    // Orchestrator probes on their own port: alive, and ready with the database and the playground up.
    expect((await fetch(`http://127.0.0.1:${healthPort}/healthz`)).status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
    const readyBody = (await ready.json()) as {
      status: string;
      checks: Record<string, { ok: boolean }>;
      info: { gallery: { state: string; ready: number; total: number } };
    };
    expect(ready.status).toBe(200);
    expect(readyBody.status).toBe('ready');
    expect(Object.keys(readyBody.checks).sort()).toEqual(['database', 'playground']);
    // The starter gallery is drawn in the background: reported, never a reason to be unready.
    expect(readyBody.info.gallery).toMatchObject({ total: 84 });
    expect(['pending', 'drawing', 'done']).toContain(readyBody.info.gallery.state);
    await waitFor(() => first.stdout().includes('starter gallery ready: 84/84'), 'the starter gallery to be drawn', 120_000);

    // Rate through the playground's HTTP API, as the page does: a browser session acting as tess.
    const tess = await PlaygroundClient.as(base, 'tess');
    expect((await tess.command('/rate count:1')).status).toBe(200);
    const img = (await tess.snapshot()).messages.find((m) => m.kind === 'rate' && m.imageId)!;
    expect(img).toBeDefined();
    expect((await tess.rate(img.id, 8)).status).toBe(200);
    // …and the operational counters saw both (Prometheus text on the health port).
    const scrape = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    expect(scrape).toContain('tasteloop_commands_total{platform="playground",command="rate",outcome="ok"} 1');
    expect(scrape).toContain('tasteloop_rating_changes_total{change="added"} 1');
    expect(scrape).toContain('tasteloop_platform_ready{platform="playground"} 1');

    const t0 = Date.now();
    first.child.kill('SIGTERM');
    const firstExit = await first.exit;
    const stopMs = Date.now() - t0;
    expect(firstExit).toEqual({ code: 0, signal: null });
    expect(stopMs).toBeLessThan(10_000); // the contract, as a generous upper bound

    // Restart on the same DATA_DIR: the rating and the conversation are still there.
    const second = startMain(env);
    running.push(second.child);
    await waitFor(
      () => second.stdout().includes('playground: open') || second.child.exitCode !== null,
      'the restarted playground',
      120_000,
    );
    expect(second.child.exitCode).toBeNull();
    // Sessions live in memory: the old cookie is no session any more; the page opens a new one.
    expect((await tess.get('/events')).status).toBe(401);
    const tessAgain = await PlaygroundClient.as(base, 'tess');
    const again = await tessAgain.snapshot();
    expect(again.messages.find((m) => m.id === img.id)?.ratings).toEqual({ tess: 8 });
    expect((await tessAgain.command('/profile')).status).toBe(200);
    const profile = await waitFor(
      async () =>
        (await tessAgain.snapshot()).messages.find(
          (m) => m.ephemeralFor === 'tess' && /profile/i.test(m.text) && !/Welcome to Tasteloop/.test(m.text),
        ),
      'the profile answer',
    );
    expect(profile.text).toMatch(/— 1 rating\b/);
    // Another person's session does not see tess's private answer.
    expect((await (await PlaygroundClient.as(base, 'uma')).snapshot()).messages.some((m) => m.id === profile.id)).toBe(false);
    // A reaction (button) on the image posted before the restart still rates.
    expect((await tessAgain.rate(img.id, 3)).status).toBe(200);
    second.child.kill('SIGTERM');
    expect(await second.exit).toEqual({ code: 0, signal: null });

    const attempts = existsSync(guardLog) ? readFileSync(guardLog, 'utf8').trim() : '';
    expect(attempts).toBe('');
    expect(first.stderr() + second.stderr()).not.toMatch(/Error/);
    console.log(`start test: SIGTERM → exit in ${stopMs} ms`);
  }, 300_000);

  it('a HEALTH_PORT that is taken exits with code 1 and says which variable to change', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const taken = (busy.address() as { port: number }).port;
    try {
      const child = startMain(
        baseEnv({
          HEALTH_PORT: String(taken),
          PORT: String(await freePort()),
          IMAGE_SIZE: '128',
          DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tl-health-')),
        }),
      );
      running.push(child.child);
      const { code } = await child.exit;
      expect(code).toBe(1);
      expect(child.stderr()).toMatch(new RegExp(`HEALTH_PORT ${taken} is not free.*Set HEALTH_PORT to a free port`));
    } finally {
      busy.close();
    }
  }, 120_000);

  it('the default HEALTH_PORT taken (say, by a dev server) does not stop npm start: the endpoints move and the log says where', async () => {
    // Take 3002 if it is free; if something else already holds it, it is taken all the same.
    const busy = createServer();
    await new Promise<void>((r) => {
      busy.once('error', () => r());
      busy.listen(3002, '127.0.0.1', () => r());
    });
    try {
      const port = await freePort();
      const child = startMain(
        baseEnv({
          PORT: String(port),
          IMAGE_SIZE: '128',
          LOG_LEVEL: 'info',
          DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tl-health-default-')),
        }),
      );
      running.push(child.child);
      await waitFor(
        () => child.stdout().includes('playground: open') || child.child.exitCode !== null,
        'the playground to be served',
        120_000,
      );
      expect(child.child.exitCode).toBeNull();
      const moved = child
        .stdout()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { msg: string; level: number; port?: number })
        .find((l) => l.msg.startsWith('port 3002 is taken'));
      expect(moved?.msg).toMatch(/\/healthz, \/readyz and \/metrics are on \d+ instead \(set HEALTH_PORT to choose one\)/);
      expect((await fetch(`http://127.0.0.1:${moved!.port}/healthz`)).status).toBe(200);
      child.child.kill('SIGTERM');
      expect(await child.exit).toEqual({ code: 0, signal: null });
    } finally {
      busy.close();
    }
  }, 120_000);

  it('the playground on a non-loopback HOST without PLAYGROUND_TOKEN does not start: exit 1 naming both', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tl-exposed-'));
    const exposed = startMain(
      baseEnv({
        HOST: '0.0.0.0',
        PORT: String(await freePort()),
        HEALTH_PORT: String(await freePort()),
        GALLERY: 'off',
        IMAGE_SIZE: '128',
        DATA_DIR: dataDir,
      }),
    );
    running.push(exposed.child);
    const { code } = await exposed.exit;
    expect(code).toBe(1);
    expect(exposed.stderr()).toMatch(/could not start:\n.*HOST=0\.0\.0\.0.*PLAYGROUND_TOKEN/);
    expect(exposed.stdout()).not.toContain('playground ready');
    // A token that is too short is a configuration error (exit 2) naming the variable, never its value.
    const weak = startMain(baseEnv({ HOST: '0.0.0.0', PLAYGROUND_TOKEN: 'hunter2', DATA_DIR: dataDir }));
    running.push(weak.child);
    expect((await weak.exit).code).toBe(2);
    expect(weak.stderr()).toMatch(/PLAYGROUND_TOKEN: expected at least 16 characters/);
    expect(weak.stderr()).not.toContain('hunter2');
  }, 120_000);

  it('a bad configuration exits with code 2 and names every bad variable', async () => {
    const bad = startMain(baseEnv({ PORT: 'abc', EMBEDDER: 'vgg', DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tl-bad-')) }));
    running.push(bad.child);
    const { code } = await bad.exit;
    expect(code).toBe(2);
    expect(bad.stderr()).toMatch(/PORT/);
    expect(bad.stderr()).toMatch(/EMBEDDER/);
  }, 60_000);

  it('an unreachable DATABASE_URL or a missing CLIP model exits with code 1 and says, in plain text, what to fix', async () => {
    const port = await freePort(); // nothing listens there
    const noDb = startMain(
      baseEnv({ DATABASE_URL: `postgres://tasteloop@127.0.0.1:${port}/tasteloop`, DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tl-nodb-')) }),
    );
    running.push(noDb.child);
    expect((await noDb.exit).code).toBe(1);
    expect(noDb.stderr()).toMatch(/could not start:\nCannot connect to PostgreSQL at 127\.0\.0\.1:\d+\/tasteloop: ECONNREFUSED/);
    expect(noDb.stderr()).toMatch(/Check DATABASE_URL/);

    const noModel = startMain(
      baseEnv({
        EMBEDDER: 'clip',
        CLIP_OFFLINE: '1',
        GALLERY: 'off',
        PORT: String(await freePort()),
        DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tl-noclip-')),
      }),
    );
    running.push(noModel.child);
    expect((await noModel.exit).code).toBe(1);
    expect(noModel.stderr()).toMatch(/CLIP model "Xenova\/clip-vit-base-patch32"[\s\S]*CLIP_MODEL_DIR[\s\S]*EMBEDDER=features/);
  }, 120_000);
});

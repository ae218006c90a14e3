/**
 * The compiled bot, black-box: `npm run build -- --outdir <tmp>/app/dist` compiles it, and `node
 * dist/main.js` runs it from a folder that holds only that output and a node_modules in which every
 * package of the repository is linked except tsx — so a compiled file that still needed tsx (a worker
 * bootstrap, an `--import tsx`, a .ts path) would fail to resolve it, and one that looked for a source
 * file (src/, migrations/) would not find it. NODE_OPTIONS is empty and the environment is built from
 * scratch (offline defaults: PGlite in a fresh DATA_DIR, the playground on a free port; once more on a fresh
 * PostgreSQL database when TEST_DATABASE_URL is set).
 *
 * Over the wire only: /readyz answers ready (migrations ran from the build's copy), the playground page is
 * served (a copied asset), a rating goes through the playground's API and /profile answers with its score
 * chart, drawn in the chart worker thread (started from its compiled bundle), and SIGTERM ends the
 * process with exit code 0. Deadlines guard against hangs on a busy machine; nothing is timed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFreshPostgresDatabase, TEST_DATABASE_URL } from './helpers/db';
import { PlaygroundClient, type PlaygroundSnapshotMessage } from './helpers/playground-client';
import { freePort } from './helpers/ports';
import { waitFor } from './helpers/wait';

const ROOT = path.resolve(import.meta.dirname, '..');
const S = 1000;
const run = promisify(execFile);
/** /rate while the starter gallery is still being drawn (first start): none yet, or fewer than asked. */
const STILL_DRAWING = /still being drawn|no images to rate right now/i;

/** A node_modules for `app` linking every package of the repository's except tsx (and its .bin shims). */
function nodeModulesWithoutTsx(app: string): void {
  const target = path.join(app, 'node_modules');
  mkdirSync(target, { recursive: true });
  for (const name of readdirSync(path.join(ROOT, 'node_modules'))) {
    if (name === 'tsx' || name.startsWith('.')) continue;
    symlinkSync(path.join(ROOT, 'node_modules', name), path.join(target, name));
  }
}

/** Whether `specifier` can be imported by a module in `dir` (run in a fresh node, without NODE_OPTIONS). */
async function resolvable(dir: string, specifier: string): Promise<boolean> {
  const probe = `import(${JSON.stringify(specifier)}).then(() => process.exit(0), (e) => process.exit(e.code === 'ERR_MODULE_NOT_FOUND' ? 3 : 4))`;
  return run(process.execPath, ['--input-type=module', '-e', probe], { cwd: dir, env: { PATH: process.env.PATH, NODE_OPTIONS: '' } }).then(
    () => true,
    (err: { code?: number; stderr?: string }) => {
      if (err.code === 3) return false;
      throw new Error(`probing ${specifier} from ${dir} failed: ${err.stderr ?? String(err.code)}`);
    },
  );
}

interface Bot {
  child: ChildProcess;
  out: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startCompiled(app: string, env: NodeJS.ProcessEnv): Bot {
  const child = spawn(process.execPath, ['--enable-source-maps', 'dist/main.js'], {
    cwd: app,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  return { child, out: () => out, exited };
}

/** The databases the compiled bot is run on: PGlite always, PostgreSQL when TEST_DATABASE_URL is set. */
const BACKENDS = ['pglite', ...(TEST_DATABASE_URL ? ['postgres'] : [])];

describe('the compiled bot (npm run build, node dist/main.js) without tsx', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'tasteloop-compiled-'));
  const app = path.join(work, 'app');

  beforeAll(async () => {
    await run('npm', ['run', '--silent', 'build', '--', '--outdir', path.join(app, 'dist')], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    nodeModulesWithoutTsx(app);
  }, 180 * S);

  afterAll(() => rmSync(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }));

  it('runs from a folder where tsx cannot be resolved and the sources are absent', async () => {
    expect(await resolvable(ROOT, 'tsx/esm/api'), 'the probe resolves tsx where it is installed').toBe(true);
    expect(await resolvable(path.join(app, 'dist'), 'tsx/esm/api')).toBe(false);
    expect(await resolvable(path.join(app, 'dist'), 'discord.js')).toBe(true);
    expect(existsSync(path.join(app, 'src'))).toBe(false);
    expect(existsSync(path.join(app, 'dist/main.js.map')), 'source maps').toBe(true);
  });

  describe.each(BACKENDS)('on %s', (backend) => {
    let bot: Bot | undefined;
    let dropDatabase: (() => Promise<void>) | undefined;
    let base = '';
    let healthBase = '';
    const tail = () => `\n--- the bot's last output ---\n${(bot?.out() ?? '').split('\n').slice(-25).join('\n')}`;

    beforeAll(async () => {
      const database = backend === 'postgres' ? await createFreshPostgresDatabase() : undefined;
      dropDatabase = database?.drop;
      const [port, healthPort] = [await freePort(), await freePort()];
      base = `http://127.0.0.1:${port}`;
      healthBase = `http://127.0.0.1:${healthPort}`;
      bot = startCompiled(app, {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_OPTIONS: '',
        DATA_DIR: path.join(work, `data-${backend}`),
        ...(database ? { DATABASE_URL: database.url } : {}),
        PORT: String(port),
        HEALTH_PORT: String(healthPort),
        IMAGE_SIZE: '128',
      });
    });

    afterAll(async () => {
      try {
        if (bot?.child.pid && bot.child.exitCode === null) process.kill(-bot.child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await bot?.exited;
      await dropDatabase?.();
    });

    it(
      'is ready on /readyz and serves the playground page',
      async () => {
        const ready = await waitFor(
          async () => {
            if (bot!.child.exitCode !== null) throw new Error(`the bot exited with ${bot!.child.exitCode}${tail()}`);
            const res = await fetch(`${healthBase}/readyz`).catch(() => null);
            return res?.status === 200
              ? ((await res.json()) as { status: string; checks: Record<string, { ok: boolean; detail?: string }> })
              : null;
          },
          'the compiled bot to answer 200 on /readyz',
          240 * S,
        ).catch((err: Error) => Promise.reject(new Error(`${err.message}${tail()}`)));
        expect(ready.status).toBe('ready');
        expect(ready.checks.database?.ok).toBe(true);
        expect(ready.checks.database?.detail).toMatch(backend === 'postgres' ? /postgres/i : /PGlite/);
        const page = await fetch(base);
        expect(page.status).toBe(200);
        expect(await page.text()).toContain('<title>Tasteloop Playground</title>');
      },
      300 * S,
    );

    it(
      'takes a rating and answers /profile with a chart drawn in the chart worker',
      async () => {
        const alice = await PlaygroundClient.as(base, 'alice');
        const mine = async () => (await alice.snapshot()).messages;
        let image: PlaygroundSnapshotMessage | undefined;
        await waitFor(
          async () => {
            const before = new Set((await mine()).map((m) => m.id));
            const res = await alice.command('/rate count:1');
            if (res.status !== 200) throw new Error(`/rate answered ${res.status}: ${JSON.stringify(res.body)}`);
            const since = (await mine()).filter((m) => !before.has(m.id));
            image = since.find((m) => m.kind === 'rate' && m.imageId && m.rateable);
            if (!image && !since.some((m) => STILL_DRAWING.test(m.text))) throw new Error(`/rate posted ${JSON.stringify(since)}`);
            if (!image) await new Promise((r) => setTimeout(r, S));
            return image;
          },
          'an image to rate',
          240 * S,
        );
        expect((await alice.rate(image!.id, 7)).status).toBe(200);

        const before = new Set((await mine()).map((m) => m.id));
        expect((await alice.command('/profile')).status).toBe(200);
        const profile = await waitFor(
          async () => (await mine()).find((m) => !before.has(m.id) && /taste profile/.test(m.text) && (m.files?.length ?? 0) > 0),
          'the /profile answer with its pictures',
          120 * S,
        );
        expect(profile.text).toMatch(/— 1 rating\b/);
        const file = profile.files!.find((f) => f.contentType === 'image/png')!;
        const png = await alice.get(`/files/${file.id}/${encodeURIComponent(file.name)}`);
        expect(png.status).toBe(200);
        expect(
          Buffer.from(await png.arrayBuffer())
            .subarray(1, 4)
            .toString(),
        ).toBe('PNG');
      },
      420 * S,
    );

    it(
      'logged no error, the community trainer worker included, and exits with code 0 on SIGTERM',
      async () => {
        const errors = bot!
          .out()
          .split('\n')
          .filter((l) => /^\{.*"level":(50|60)/.test(l));
        expect(errors).toEqual([]);
        bot!.child.kill('SIGTERM');
        const exit = await waitFor(() => bot!.exited, 'the bot to exit after SIGTERM', 30 * S);
        expect(exit).toEqual({ code: 0, signal: null });
        expect(bot!.out()).toContain('"msg":"stopped"');
      },
      60 * S,
    );
  });
});

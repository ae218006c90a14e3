/**
 * kill -9 between a run post and its record, for real: the bot is `node --import tsx src/main.ts` in
 * a child process (clean env, fresh DATA_DIR with PGlite, free ports), SIGKILLed at the exact moment a
 * post is out, then started again on the same DATA_DIR. Afterwards every event key / every iteration's
 * grid is in the thread exactly once, and the restarted process says it found the killed post rather
 * than posting it again (which proves the kill landed between the post and its record).
 *
 * - Slack: the fake Slack runs in this process and kills the child the moment it has taken the post,
 *   before its answer goes out (FakeSlack.beforeAnswer): an iteration's grid (file share), an iteration
 *   summary (chat.postMessage) and the closing notice in the channel — three kills, four processes.
 *   (Killing right after the answer is written races with the bot, which sometimes read it and
 *   recorded the post before the signal took effect: seen here under load.)
 * - Playground: the child is killed as soon as a grid message shows up in the /events stream. That races
 *   with the record, a local PGlite write a fraction of a millisecond later, which in practice wins.
 *   So, with the child dead, the test opens DATA_DIR's database and, if the record made it, takes it
 *   out again: the files are then exactly as a kill inside the window leaves them (the message in
 *   the playground's state, no platform_messages row). How many kills landed in the window by
 *   themselves is reported.
 *
 * Discord is covered without a child process: its posts carry a nonce with enforce_nonce (tests/discord.test.ts
 * "a crash after each post but before its record posts nothing twice", and the SIGKILL test in
 * tests/run-display-restart.test.ts on PostgreSQL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../src/db/connection';
import { queryRows } from '../src/db/util';
import { RATING_SLACK_NAMES } from '../src/platforms/emoji';
import { FakeSlack, type FakeSlackAnswer } from './fakes/slack-server';
import { PlaygroundClient, type PlaygroundSnapshotMessage } from './helpers/playground-client';
import { sign, SIGNING_SECRET, slackEventKey } from './helpers/slack-harness';
import { waitFor } from './helpers/wait';
import { freePort } from './helpers/ports';

const ROOT = path.resolve(import.meta.dirname, '..');
const K = 2; // iterations
const N = 2; // candidates per iteration
/** One grid message per iteration, titled like this. */
const LABELS = ['Your prompt', ...Array.from({ length: K }, (_, i) => `Iteration ${i + 1}`)].sort();
/** The candidates' lines in the grids' text ("2 · 7.4/10 — …"): 1 + K × N. */
const tileLines = (texts: string[]) => texts.flatMap((t) => t.split('\n').filter((l) => /^\d+ · /.test(l)));

interface Bot {
  child: ChildProcess;
  name: string;
  stdout: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** JSON log lines so far. */
  lines: () => { msg: string; key?: string; level?: number }[];
}

function startBot(name: string, env: NodeJS.ProcessEnv): Bot {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => process.stderr.write(`[${name}] ${d.toString()}`));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  const lines = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as { msg: string; key?: string };
        } catch {
          return { msg: '' };
        }
      });
  return { child, name, stdout: () => out, exit, lines };
}

/** A clean environment: only what a shell gives, never this machine's tokens or database settings. */
const baseEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME, ...extra });

const RECOVERED = /posted before a restart but never recorded/;
const recoveredKeys = (bot: Bot) =>
  bot
    .lines()
    .filter((l) => RECOVERED.test(l.msg))
    .map((l) => l.key);

describe('kill -9 between a post and its record: each run message once (child processes)', () => {
  const bots: Bot[] = [];
  const fake = new FakeSlack();
  const dirs: string[] = [];
  const dataDirFor = (prefix: string) => {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    for (const b of bots) if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
    await Promise.all(bots.map((b) => b.exit));
    await fake.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('Slack: killed after a file share, a thread post and the channel notice; each event key once in Slack', async () => {
    await fake.start();
    fake.shareDelayPolls = 1;
    const dataDir = dataDirFor('tl-crash-slack-');
    const slackPort = await freePort();
    const env = baseEnv({
      DATA_DIR: dataDir,
      PLAYGROUND: 'off',
      GALLERY: 'off',
      IMAGE_SIZE: '128',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      HEALTH_PORT: String(await freePort()),
      SLACK_PORT: String(slackPort),
      SLACK_BOT_TOKEN: fake.token,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: fake.apiUrl,
    });
    let bot: Bot | null = null;
    const start = async (name: string) => {
      bot = startBot(name, env);
      bots.push(bot);
      const b = bot;
      await waitFor(() => b.stdout().includes('slack app listening') || b.child.exitCode !== null, `${name} to listen`, 120_000);
      expect(b.child.exitCode).toBeNull();
      return b;
    };

    // The kill points, in order; the fake calls this once it stored the post, before answering.
    const plan: { what: string; at: (a: FakeSlackAnswer) => boolean }[] = [
      {
        what: 'a grid image',
        at: (a) => a.method === 'files.completeUploadExternal' && /^\*Iteration 1\*/.test(a.created[0]?.text ?? ''),
      },
      {
        what: 'an iteration summary',
        at: (a) => a.method === 'chat.postMessage' && /^📊 \*Iteration 2 done\*/.test(a.created[0]?.text ?? ''),
      },
      {
        what: 'the closing notice',
        at: (a) => a.method === 'chat.postMessage' && !a.created[0]?.threadTs && /^✅ Run finished/.test(a.created[0]?.text ?? ''),
      },
    ];
    const killed: { what: string; key: string; by: Bot }[] = [];
    fake.beforeAnswer = async (a) => {
      const next = plan[killed.length];
      if (!bot || !next || !a.created[0] || !next.at(a)) return;
      const victim = bot;
      victim.child.kill('SIGKILL');
      killed.push({ what: next.what, key: slackEventKey(a.created[0])!, by: victim });
      await victim.exit; // the answer goes nowhere: the bot is gone
    };

    let b = await start('slack 1');
    const form = new URLSearchParams({
      token: 'deprecated',
      team_id: fake.teamId,
      team_domain: 'fake',
      channel_id: fake.channelId,
      channel_name: 'general',
      user_id: 'UANN000001',
      user_name: 'ann',
      command: '/optimize',
      text: `prompt:"a lighthouse at dusk" iterations:${K} candidates:${N}`,
      api_app_id: 'A0FAKE',
      is_enterprise_install: 'false',
      response_url: fake.responseUrl('trig-crash'),
      trigger_id: 'trig-crash',
    }).toString();
    const ts = Math.floor(Date.now() / 1000);
    const ack = await fetch(`http://127.0.0.1:${slackPort}/slack/events`, {
      method: 'POST',
      body: form,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(ts),
        'x-slack-signature': sign(SIGNING_SECRET, ts, form),
      },
    });
    expect(ack.status).toBe(200);

    for (let i = 0; i < plan.length; i++) {
      const at = b;
      await waitFor(() => killed.length > i, `the kill at ${plan[i]!.what}`, 180_000);
      expect(await at.exit).toEqual({ code: null, signal: 'SIGKILL' });
      const { key } = killed[i]!;
      expect(key).toBeTruthy();
      // Slack holds the post exactly once; the process died before it could record it.
      expect(fake.messages.filter((m) => slackEventKey(m) === key)).toHaveLength(1);
      const callsBefore = fake.calls.length;
      b = await start(`slack ${i + 2}`);
      const now = b;
      // The restarted process found the post by its key: it was not recorded (the window was hit) and is not posted again.
      await waitFor(
        () => recoveredKeys(now).includes(key),
        `slack ${i + 2} to find ${plan[i]!.what} posted before the crash`,
        120_000,
      ).catch(async (err: Error) => {
        const calls = fake.calls
          .slice(callsBefore)
          .map(
            (c) =>
              `${c.method}${c.body.channel ? ` ${c.body.channel}` : ''}${c.body.ts ? ` ts=${c.body.ts}` : ''}${c.body.oldest ? ` oldest=${c.body.oldest}` : ''}`,
          );
        now.child.kill('SIGKILL');
        await now.exit;
        const database = await openDatabase({ pgliteDir: path.join(dataDir, 'pglite') });
        const rows = await queryRows(
          database.db,
          sql`select message_id, event_key, kind, created_at from platform_messages where event_key is not null order by created_at`,
        ).catch((e: unknown) => [String(e)]);
        const runRows = await queryRows(database.db, sql`select id, status, destination, updated_at from runs`).catch((e: unknown) => [
          String(e),
        ]);
        await database.close();
        console.error(`DIAG platform_messages: ${JSON.stringify(rows)}\nruns: ${JSON.stringify(runRows)}`);
        throw new Error(
          `${err.message} (${key})\nits calls: ${calls.join(', ')}\nits log:\n${now.stdout().slice(-6000)}\nthe killed one's log:\n${at.stdout().slice(-4000)}`,
        );
      });
    }
    fake.beforeAnswer = null;
    b.child.kill('SIGTERM');
    expect(await b.exit).toEqual({ code: 0, signal: null });

    // The thread: one parent (the title), and every run message once.
    const parents = fake.messages.filter(
      (m) => m.channel === fake.channelId && !m.threadTs && m.text.startsWith('🎨 a lighthouse at dusk'),
    );
    expect(parents).toHaveLength(1);
    const thread = fake.messages.filter((m) => m.threadTs === parents[0]!.ts && !m.ephemeralFor);
    const keys = thread.map(slackEventKey).filter((k): k is string => Boolean(k));
    expect(new Set(keys).size).toBe(keys.length);
    // The older progress messages were deleted: one is left, the thread's last.
    expect(keys).toHaveLength(1 /* header */ + 1 /* progress */ + (1 + K) /* grids */ + (K + 1) /* summaries */ + 1 /* final summary */);
    const labels = thread.map((m) => /^\*(Your prompt|Iteration \d+)\*/.exec(m.text)?.[1]).filter(Boolean);
    expect(labels.sort()).toEqual(LABELS);
    expect(tileLines(thread.filter((m) => /^\*(Your prompt|Iteration \d+)\*/.test(m.text)).map((m) => m.text))).toHaveLength(1 + K * N);
    expect(thread.at(-1)!.text).toMatch(/^✅ Done/);
    expect(thread.filter((m) => /^(⏳ Iteration|✅ Done)/.test(m.text))).toHaveLength(1);
    expect(thread.find((m) => /^(⏳ Iteration|✅ Done)/.test(m.text))!.text).toMatch(/^✅ Done/);
    // The summary's best image is rateable by reactions (grids are rated through their tile menus).
    for (const m of thread.filter((x) => x.files.length && x.text.includes('Run finished')))
      expect(RATING_SLACK_NAMES.every((n) => m.reactions.get(n)?.has(fake.botUserId))).toBe(true);
    const notices = fake.messages.filter((m) => m.channel === fake.channelId && !m.threadTs && m.text.startsWith('✅ Run finished'));
    expect(notices).toHaveLength(1);
    // Each killed post went to Slack once (one call made it), and was found by the next process.
    for (const k of killed) {
      const posts = fake.calls.filter(
        (c) =>
          (c.method === 'chat.postMessage' && c.body.metadata?.includes(`"${k.key}"`)) ||
          (c.method === 'files.completeUploadExternal' && c.body.blocks?.includes(`tasteloop_event:${k.key}"`)),
      );
      expect(posts, k.what).toHaveLength(1);
    }
    console.log(
      `slack crash test: killed at ${killed.map((k) => k.what).join(', ')}; ${bots.length} processes; ${thread.length} thread messages`,
    );
  }, 600_000);

  it("playground: killed as a grid appears in /events; after restarts each iteration's grid once", async () => {
    const dataDir = dataDirFor('tl-crash-pg-');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = baseEnv({
      DATA_DIR: dataDir,
      PORT: String(port),
      HEALTH_PORT: String(await freePort()),
      GALLERY: 'off',
      IMAGE_SIZE: '128',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
    });
    const start = async (name: string) => {
      const b = startBot(name, env);
      bots.push(b);
      await waitFor(() => b.stdout().includes('playground: open') || b.child.exitCode !== null, `${name} to serve the playground`, 120_000);
      expect(b.child.exitCode).toBeNull();
      return b;
    };
    /** Starts a run as `person`, watching /events first, and SIGKILLs `b` when its grid `label` is shown. */
    const runAndKill = async (b: Bot, person: string, prompt: string, label: RegExp) => {
      const client = await PlaygroundClient.as(base, person);
      const stream = await client.events();
      expect((await stream.next()).type).toBe('snapshot');
      expect((await client.command(`/optimize prompt:"${prompt}" iterations:${K} candidates:${N}`)).status).toBe(200);
      const deadline = Date.now() + 120_000;
      try {
        for (;;) {
          const left = deadline - Date.now();
          const ev = await Promise.race([
            stream.next(),
            new Promise<never>((_, reject) =>
              setTimeout(
                () => reject(new Error(`no ${label} within 120 s; bot log:\n${b.stdout().slice(-3000)}`)),
                Math.max(left, 0),
              ).unref(),
            ),
          ]);
          const m = ev.data as PlaygroundSnapshotMessage;
          if (ev.type !== 'message' || !label.test(m.text)) continue;
          b.child.kill('SIGKILL');
          return m;
        }
      } finally {
        stream.close();
      }
    };

    // Two runs, each killed as one of its grids appears; each restart shows the rest.
    // (Two people: one person has one run at a time, and the first is still running when the second starts.)
    const runs = [
      { person: 'amy', prompt: 'a red boat at sea', label: /^\*\*Iteration 1\*\*/ },
      { person: 'bo', prompt: 'a green hill at noon', label: /^\*\*Your prompt\*\*/ },
    ];
    /**
     * With the bot dead: was the message recorded before the kill? If so the row is taken out, which
     * leaves the data as a kill between the post and its record does.
     */
    const rewind = async (messageId: string): Promise<boolean> => {
      const database = await openDatabase({ pgliteDir: path.join(dataDir, 'pglite') });
      try {
        const where = sql`platform = 'playground' and message_id = ${messageId} and event_key is not null`;
        const [row] = await queryRows<{ n: number | string }>(database.db, sql`select count(*) as n from platform_messages where ${where}`);
        const recorded = Number(row?.n) > 0;
        if (recorded) await database.db.execute(sql`delete from platform_messages where ${where}`);
        return recorded;
      } finally {
        await database.close();
      }
    };
    const killedAt: { id: string; natural: boolean }[] = [];
    let b = await start('playground 1');
    let client!: PlaygroundClient;
    for (let i = 0; i < runs.length; i++) {
      const victim = await runAndKill(b, runs[i]!.person, runs[i]!.prompt, runs[i]!.label);
      expect(await b.exit).toEqual({ code: null, signal: 'SIGKILL' });
      const natural = !(await rewind(victim.id));
      b = await start(`playground ${i + 2}`);
      client = await PlaygroundClient.as(base, 'amy');
      // Shown before the kill, so the restart has it: the state file is written before anyone sees a message.
      const restored = (await client.snapshot<PlaygroundSnapshotMessage & { eventKey?: string }>()).messages.find(
        (m) => m.id === victim.id,
      );
      expect(restored?.text).toBe(victim.text);
      expect(restored?.eventKey).toBeTruthy();
      // The display catches up at start: it finds the unrecorded message in the state and records it.
      const now = b;
      await waitFor(() => recoveredKeys(now).includes(restored!.eventKey), 'the restarted bot to find the killed message', 30_000);
      killedAt.push({ id: victim.id, natural });
    }
    // Killed runs resume once their claim is stale (30 s): wait for both ends.
    await waitFor(
      async () => (await client.snapshot()).messages.filter((m) => m.text.startsWith('✅ Run finished:')).length === runs.length,
      'both runs to finish after the restarts',
      240_000,
    );
    await new Promise((r) => setTimeout(r, 1000)); // nothing more is coming: a late copy would show now
    const snap = await client.snapshot<PlaygroundSnapshotMessage & { eventKey?: string }>();
    b.child.kill('SIGTERM');
    expect(await b.exit).toEqual({ code: 0, signal: null });

    for (const run of runs) {
      const threadId = snap.threads.find((t) => t.title.includes(run.prompt))!.id;
      // Progress messages that were replaced by a newer one (posted last) are removed: the page hides them.
      const inThread = snap.messages.filter((m) => m.conversationId === threadId && !(m as { removed?: boolean }).removed);
      const labels = inThread.map((m) => /^\*\*(Your prompt|Iteration \d+)\*\*/.exec(m.text)?.[1]).filter(Boolean);
      expect(labels.sort(), run.prompt).toEqual(LABELS);
      expect(tileLines(inThread.filter((m) => /^\*\*(Your prompt|Iteration \d+)\*\*/.test(m.text)).map((m) => m.text))).toHaveLength(
        1 + K * N,
      );
      const keys = inThread.map((m) => m.eventKey).filter((k): k is string => Boolean(k));
      expect(new Set(keys).size).toBe(keys.length);
      expect(keys).toHaveLength(1 + 1 + (1 + K) + (K + 1) + 1);
    }
    expect(snap.messages.filter((m) => m.text.startsWith('✅ Run finished:'))).toHaveLength(runs.length);
    const natural = killedAt.filter((k) => k.natural).length;
    console.log(
      `playground crash test: ${natural}/${killedAt.length} kills landed between the post and its record by themselves (the others: record taken out)`,
    );
  }, 600_000);
});

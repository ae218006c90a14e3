/**
 * The README's `npm start`, black-box, once per platform: `npm start` in a child process (npm, its
 * `sh -c`, then src/main.ts) with an environment built from scratch — PATH, HOME and only that
 * platform's variables, a fresh DATA_DIR, free ports, IMAGE_SIZE=128 — driven and checked over the
 * wire only: the fake Discord's and the fake Slack's recorded traffic, HTTP (the playground's API,
 * the bot's Slack receiver, /readyz), and the JSON log lines on stdout. Nothing of the app is imported.
 *
 * Per platform: it connects, offers its commands, `/rate count:2` posts two rateable images (retried
 * while the starter gallery is still being drawn), a 7 on one becomes "1 rating" in `/profile`,
 * `/optimize` posts a header, its candidates and a final summary in a thread, and SIGTERM to the
 * process the operator started ends it — bot included — within 10 s with exit code 0.
 *
 * Each step has a generous deadline (a busy 2-core CI machine, a first start drawing the gallery) and
 * fails naming the step it was waiting for, with the process's last log lines. The only timed
 * assertion is the 10 s SIGTERM contract.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDiscord, PRIVILEGED_INTENTS, type FakeMessage } from './fakes/discord-server';
import { FakeSlack, type FakeSlackMessage } from './fakes/slack-server';
import { PlaygroundClient, type PlaygroundSnapshotMessage } from './helpers/playground-client';
import { freePort } from './helpers/ports';
import { describeError } from './helpers/wait';

const ROOT = path.resolve(import.meta.dirname, '..');
const S = 1000;
/** Deadlines: guards against hangs on a slow machine, not speed assertions. */
const T = { start: 240 * S, step: 90 * S, rate: 300 * S, optimize: 300 * S, it: 420 * S };
/** The contract: SIGTERM ends the process within this. */
const SIGTERM_MS = 10 * S;

/** The commands the README documents (its table). */
const README_COMMANDS = ['cancel', 'compare', 'help', 'optimize', 'privacy', 'profile', 'rate'];
/** Discord's rating reactions (keycaps with U+FE0F, then 🔟) and Slack's names for them, as the README shows them. */
const DISCORD_RATING = [...Array.from({ length: 9 }, (_, i) => `${i + 1}\uFE0F\u20E3`), '\u{1F51F}'];
const SLACK_RATING = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'keycap_ten'];
/** /rate while the starter gallery is still being drawn (first start): none yet, or fewer than asked. */
const STILL_DRAWING = /still being drawn|no images to rate right now/i;
const PROMPT = 'a lighthouse at dusk';
const ITERATIONS = 1;
const CANDIDATES = 2;

// ---------------------------------------------------------------- the process

interface LogLine {
  level?: number;
  msg?: string;
  [k: string]: unknown;
}

interface Started {
  name: string;
  dataDir: string;
  child: ChildProcess;
  /** JSON log lines on stdout so far (npm's own banner lines are skipped). */
  logs(): LogLine[];
  hasLog(msg: string | RegExp): boolean;
  /** The last lines of stdout and stderr, for failure messages. */
  tail(n?: number): string;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every stdio pipe closed: npm and everything it started that held them (the bot) are gone. */
  closed: Promise<void>;
  isClosed(): boolean;
}

const running: Started[] = [];

/** The README's command, as an operator runs it: `npm start` in the repository, in its own process group. */
function npmStart(name: string, env: NodeJS.ProcessEnv): Started {
  const dataDir = env.DATA_DIR!;
  // detached: its own process group, so afterAll can kill whatever it left behind (an orphaned bot).
  const child = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  const lines: LogLine[] = [];
  let partial = '';
  child.stdout.on('data', (d: Buffer) => {
    const s = d.toString();
    out += s;
    partial += s;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const l of parts) {
      if (!l.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(l) as LogLine);
      } catch {
        /* not a log line */
      }
    }
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  let closed = false;
  const started: Started = {
    name,
    dataDir,
    child,
    logs: () => lines,
    hasLog: (msg) => lines.some((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg ?? '')))),
    tail: (n = 25) => {
      const fmt = (l: string) => {
        if (!l.startsWith('{')) return l;
        try {
          const j = JSON.parse(l) as LogLine & { err?: { message?: string } };
          const lvl =
            ({ 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' } as Record<number, string>)[j.level ?? 30] ??
            j.level;
          return `${lvl}${j.platform ? ` [${typeof j.platform === 'string' ? j.platform : JSON.stringify(j.platform)}]` : ''} ${j.msg ?? ''}${j.err?.message ? ` — ${j.err.message}` : ''}`;
        } catch {
          return l;
        }
      };
      const o = out
        .split('\n')
        .filter(Boolean)
        .slice(-n)
        .map((l) => `  ${fmt(l).slice(0, 300)}`);
      const e = err
        .split('\n')
        .filter(Boolean)
        .slice(-10)
        .map((l) => `  ${l.slice(0, 300)}`);
      return `--- last stdout lines of ${name} ---\n${o.join('\n') || '  (none)'}${e.length ? `\n--- stderr ---\n${e.join('\n')}` : ''}`;
    },
    exit: null,
    exited: new Promise((r) => child.once('exit', (code, signal) => r((started.exit = { code, signal })))),
    closed: new Promise((r) => child.once('close', () => r(void (closed = true)))),
    isClosed: () => closed,
  };
  running.push(started);
  return started;
}

/** Kills whatever is left of a start (npm, its shell, an orphaned bot): the whole process group; then its DATA_DIR goes. */
function killGroup(p: Started | undefined): void {
  if (!p) return;
  try {
    process.kill(-p.child.pid!, 'SIGKILL');
  } catch {
    /* nothing left */
  }
  rmSync(p.dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}

afterAll(() => {
  for (const p of running) killGroup(p);
});

const HUNG = Symbol('hung');
/** Thrown by a step's check when what it waits for can no longer happen: fails the step at once. */
class StepFailed extends Error {}

/**
 * Polls `fn` until it returns a truthy value. Fails with "<platform>: waiting for <what> (<n> s)" and
 * the process's last log lines on timeout, or at once if the process ended meanwhile.
 */
async function step<T>(p: Started, what: string, fn: () => T | Promise<T>, ms = T.step, status?: () => string): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    if (p.exit) throw new Error(`${p.name}: the process ended (${JSON.stringify(p.exit)}) while waiting for ${what}\n${p.tail()}`);
    try {
      // A call that hangs (a request nobody answers) must not outlive the deadline either.
      const v = await Promise.race([
        Promise.resolve().then(fn),
        new Promise<typeof HUNG>((r) => setTimeout(() => r(HUNG), Math.max(0, end - Date.now())).unref()),
      ]);
      if (v === HUNG) last = new Error('the last check did not return');
      else if (v) return v;
    } catch (err) {
      if (err instanceof StepFailed) throw new Error(`${p.name}: ${err.message} (while waiting for ${what})\n${p.tail()}`, { cause: err });
      last = err;
    }
    if (Date.now() > end) {
      const seen = status?.();
      throw new Error(
        `${p.name}: waiting for ${what} (${Math.round(ms / S)} s)${seen ? `\nseen so far: ${seen}` : ''}${last ? `\nlast error: ${describeError(last)}` : ''}\n${p.tail()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One /rate: what its invoker saw since (texts without an image, and the rateable images). */
interface RateAttempt<M> {
  texts(): string[] | Promise<string[]>;
  images(): M[] | Promise<M[]>;
}

/**
 * `/rate count:2` until one invocation posts two rateable images. On a first start the starter
 * gallery is drawn in the background and /rate says so (none yet, or "Here is 1 image … more are
 * still being drawn"): then, once that invocation has posted what it announced, ask again.
 */
async function rateTwo<M>(p: Started, send: () => Promise<RateAttempt<M>>): Promise<M[]> {
  let attempt = await send();
  let tries = 1;
  let texts: string[] = [];
  let posted = 0;
  return step(
    p,
    'the two rateable images of /rate',
    async () => {
      const imgs = await attempt.images();
      posted = imgs.length;
      if (imgs.length >= 2) {
        if (tries > 1) console.log(`${p.name}: /rate posted two images at attempt ${tries} (the starter gallery was still being drawn)`);
        return imgs;
      }
      texts = await attempt.texts();
      const failed = texts.find((t) => /Something went wrong/.test(t));
      if (failed) throw new StepFailed(`/rate answered ${JSON.stringify(failed)} after posting ${imgs.length} image(s)`);
      const drawing = texts.find((t) => STILL_DRAWING.test(t));
      if (!drawing) return null;
      const announced = /Here (?:is (1) image|are (\d+) images)/.exec(drawing);
      if (announced && imgs.length < Number(announced[1] ?? announced[2])) return null;
      await new Promise((r) => setTimeout(r, 2 * S));
      attempt = await send();
      tries++;
      return null;
    },
    T.rate,
    () =>
      `${tries} /rate attempt(s); the last one posted ${posted} rateable image(s) and said ${JSON.stringify(texts.map((t) => t.slice(0, 160)))}`,
  );
}

interface Ports {
  port: number;
  health: number;
  slack: number;
}

/** Built from scratch like tests/start.test.ts: what a shell gives, never this machine's tokens or database settings. */
async function baseEnv(extra: Record<string, string>): Promise<{ env: NodeJS.ProcessEnv; ports: Ports; dataDir: string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tl-start-platforms-'));
  const ports = { port: await freePort(), health: await freePort(), slack: await freePort() };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATA_DIR: dataDir,
    PORT: String(ports.port),
    HEALTH_PORT: String(ports.health),
    IMAGE_SIZE: '128',
    LOG_LEVEL: 'info',
    ...extra,
  };
  return { env, ports, dataDir };
}

/** /readyz on the health port: 200 with every check ok, and exactly these checks. */
async function ready(ports: Ports, checks: string[]): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${ports.health}/readyz`);
  const body = (await res.json()) as { status: string; checks: Record<string, { ok: boolean }> };
  return (
    res.status === 200 && body.status === 'ready' && JSON.stringify(Object.keys(body.checks).sort()) === JSON.stringify([...checks].sort())
  );
}

/**
 * SIGTERM to the process the operator started (npm), as `kill <pid>` or a process manager does: it
 * must exit with code 0 within 10 s, and nothing it started may outlive it (its stdio pipes close,
 * which they do only once the bot, which holds them too, has exited).
 */
async function sigterm(p: Started): Promise<void> {
  const t0 = Date.now();
  p.child.kill('SIGTERM');
  const within = (pr: Promise<unknown>) =>
    Promise.race([pr.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), Math.max(0, t0 + SIGTERM_MS - Date.now())))]);
  const exited = await within(p.exited);
  const gone = exited && (await within(p.closed));
  const ms = Date.now() - t0;
  const botStopped = p.hasLog('stopped');
  if (!exited || !gone || p.exit?.code !== 0) {
    throw new Error(
      `${p.name}: SIGTERM to \`npm start\` (pid ${p.child.pid}) did not end it with exit code 0 within ${SIGTERM_MS / S} s: ` +
        `npm ${p.exit ? `exited with ${JSON.stringify(p.exit)}` : 'was still running'}; ` +
        `${p.isClosed() ? 'nothing it started is left' : 'something it started (the bot) still holds its output: it outlived npm'}; ` +
        `the bot ${botStopped ? 'logged "stopped"' : 'never logged "stopped" (it did not get the signal)'}.\n${p.tail()}`,
    );
  }
  expect(botStopped).toBe(true);
  expect(p.hasLog(/shutdown deadline reached/)).toBe(false);
  console.log(`${p.name}: SIGTERM → exit 0 in ${ms} ms`);
}

// ---------------------------------------------------------------- Discord

describe('npm start with DISCORD_TOKEN (against the fake Discord)', () => {
  const fake = new FakeDiscord();
  let p: Started;
  let ports: Ports;
  let t0 = 0;
  const alice = '100000000000000101';
  const rater = '100000000000000102';

  beforeAll(async () => {
    t0 = Date.now();
    await fake.start();
    const b = await baseEnv({
      DISCORD_TOKEN: fake.token,
      DISCORD_APPLICATION_ID: fake.applicationId,
      DISCORD_API_URL: fake.apiUrl,
      DISCORD_GUILD_ID: fake.guildId,
      PLAYGROUND: 'off',
    });
    ports = b.ports;
    p = npmStart('discord', b.env);
  });
  afterAll(async () => {
    killGroup(p);
    await fake.stop();
    console.log(`discord: ${((Date.now() - t0) / S).toFixed(1)} s in all`);
  });

  const registered = () => (fake.commands.get(fake.guildId) ?? []) as { name: string; options?: { name: string; type: number }[] }[];
  /** A slash command as Discord delivers it, typed by what the bot registered. */
  const interact = (user: string, name: string, opts: Record<string, string | number> = {}) => {
    const def = registered().find((c) => c.name === name);
    if (!def) throw new Error(`discord: /${name} is not registered`);
    const options = Object.entries(opts).map(([k, value]) => {
      const spec = def.options?.find((o) => o.name === k);
      if (!spec) throw new Error(`discord: /${name} has no option ${k}`);
      return { name: k, type: spec.type, value };
    });
    return fake.interact(user, name, options);
  };
  const isRateable = (m: FakeMessage) => m.attachments.length > 0 && DISCORD_RATING.every((e) => m.reactions.get(e)?.has(fake.botUser.id));
  const answersOf = (iid: string) => [...fake.messages.values()].filter((m) => m.interactionId === iid && !m.deleted);

  it(
    'connects: IDENTIFY without privileged intents, ready on /readyz, its slash commands registered',
    async () => {
      await step(p, 'an IDENTIFY at the fake gateway', () => fake.identifies >= 1, T.start);
      expect(fake.identifyIntents[0]! & PRIVILEGED_INTENTS).toBe(0);
      await step(p, 'the log line "discord connected"', () => p.hasLog('discord connected'));
      await step(p, 'the command registration (PUT …/guilds/:guild/commands)', () => registered().length > 0);
      expect(
        registered()
          .map((c) => c.name)
          .sort(),
      ).toEqual(expect.arrayContaining(README_COMMANDS));
      await step(p, '/readyz to answer 200 with database and discord ready', () => ready(ports, ['database', 'discord']));
      expect(p.hasLog('platforms: discord')).toBe(true);
    },
    T.it,
  );

  let images: FakeMessage[] = [];
  it(
    "/rate count:2 posts two rateable images (each with the bot's 10 rating reactions)",
    async () => {
      images = await rateTwo(p, async () => {
        const before = new Set(fake.messages.keys());
        const iid = interact(alice, 'rate', { count: 2 });
        return {
          // Its answers (public or private) come through the interaction; the images are channel messages.
          texts: () =>
            answersOf(iid)
              .filter((m) => !m.attachments.length)
              .map((m) => m.content),
          images: () => fake.channelMessages(fake.channelId).filter((m) => !before.has(m.id) && isRateable(m)),
        };
      });
      expect(images).toHaveLength(2);
      expect(images.every((m) => !(m.flags & 64))).toBe(true);
    },
    T.it,
  );

  it(
    'a 7️⃣ reaction on one image becomes "1 rating" in /profile',
    async () => {
      expect(images.length).toBe(2);
      fake.react(rater, images[0]!.id, DISCORD_RATING[6]!);
      let answer = '';
      await step(
        p,
        '/profile to say "1 rating" after the 7️⃣ reaction',
        async () => {
          const iid = interact(rater, 'profile');
          const m = await step(p, 'the answer to /profile', () =>
            answersOf(iid).find((x) => x.flags & 64 && /taste profile/.test(x.content)),
          );
          answer = m.content;
          if (/— 1 rating\b/.test(answer)) return true;
          await new Promise((r) => setTimeout(r, S));
          return false;
        },
        T.step,
        () => `last /profile answer: ${JSON.stringify(answer.slice(0, 200))}`,
      );
    },
    T.it,
  );

  it(
    '/optimize posts a header, the candidates and a final summary in a thread',
    async () => {
      const before = new Set(fake.threads().map((t) => t.id));
      interact(alice, 'optimize', { prompt: PROMPT, iterations: ITERATIONS, candidates: CANDIDATES });
      const thread = await step(p, 'the thread of /optimize', () => fake.threads().find((t) => !before.has(t.id)));
      const msgs = () => fake.channelMessages(thread.id);
      await step(p, 'the header in the thread', () => msgs()[0]?.content.includes(PROMPT));
      await step(
        p,
        'the final summary of /optimize in its thread',
        () => msgs().some((m) => m.content.includes('Run finished')),
        T.optimize,
        () => `${msgs().length} message(s) in the thread: ${JSON.stringify(msgs().map((m) => m.content.slice(0, 40)))}`,
      );
      // One grid message per iteration (the initial prompt, then each iteration), a tile line per candidate.
      const grids = msgs().filter((m) => /^\*{1,2}(Your prompt|Iteration \d+)\*{1,2}/.test(m.content));
      expect(grids).toHaveLength(1 + ITERATIONS);
      expect(grids.flatMap((g) => g.content.split('\n').filter((l) => /^\d+ · /.test(l)))).toHaveLength(1 + ITERATIONS * CANDIDATES);
      expect(grids.every((g) => g.attachments.length === 1)).toBe(true);
    },
    T.it,
  );

  it(
    'SIGTERM ends npm start within 10 s with exit code 0',
    async () => {
      await sigterm(p);
    },
    T.it,
  );
});

// ---------------------------------------------------------------- Slack (both modes)

const SIGNING_SECRET = 'start-platforms-signing-secret-0123456789';

interface SlackDriver {
  /** Sends a slash command as Slack does; returns the trigger id and the ack's text, if any. */
  slash(user: string, command: string, text: string): Promise<{ trigger: string; ack: string | null }>;
  /** Sends a reaction_added event as Slack does (the reaction is set on the fake's message first). */
  react(user: string, m: FakeSlackMessage, name: string): Promise<void>;
}

/** The manifest an operator pastes into Slack (README step 1), generated by the README's command. */
async function slackManifest(args: string[]): Promise<string> {
  const child = spawn('npm', ['run', '-s', 'slack:manifest', '--', ...args, '--stdout'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  if (code !== 0) throw new Error(`npm run slack:manifest exited with ${code}: ${err}`);
  return out;
}

function slackSuite(mode: 'http' | 'socket'): void {
  describe(`npm start with SLACK_BOT_TOKEN (${mode === 'http' ? 'HTTP receiver, signed requests' : 'Socket Mode'}, against the fake Slack)`, () => {
    const name = mode === 'http' ? 'slack-http' : 'slack-socket';
    const fake = new FakeSlack();
    let p: Started;
    let ports: Ports;
    let t0 = 0;
    const alice = 'U0ALICE01';
    const rater = 'U0RATER02';
    let seq = 0;

    const requestUrl = () => `http://127.0.0.1:${ports.slack}/slack/events`;
    const signed = async (url: string, body: string, contentType: string) => {
      const ts = Math.floor(Date.now() / 1000);
      const signature = `v0=${createHmac('sha256', SIGNING_SECRET).update(`v0:${ts}:${body}`).digest('hex')}`;
      return fetch(url, {
        method: 'POST',
        headers: { 'content-type': contentType, 'x-slack-request-timestamp': String(ts), 'x-slack-signature': signature },
        body,
      });
    };
    const commandPayload = (user: string, command: string, text: string, trigger: string) => ({
      token: 'deprecated-verification-token',
      team_id: fake.teamId,
      team_domain: 'fake',
      channel_id: fake.channelId,
      channel_name: 'general',
      user_id: user,
      user_name: user.toLowerCase(),
      command,
      text,
      api_app_id: 'A0FAKE',
      is_enterprise_install: 'false',
      response_url: fake.responseUrl(trigger),
      trigger_id: trigger,
    });
    const eventPayload = (user: string, m: FakeSlackMessage, reaction: string) => {
      const now = Date.now();
      return {
        token: 'deprecated',
        team_id: fake.teamId,
        api_app_id: 'A0FAKE',
        type: 'event_callback',
        event_id: `Ev${name}${++seq}${now}`,
        event_time: Math.floor(now / 1000),
        authorizations: [{ team_id: fake.teamId, user_id: fake.botUserId, is_bot: true }],
        event: {
          type: 'reaction_added',
          user,
          reaction,
          item: { type: 'message', channel: m.channel, ts: m.ts },
          item_user: fake.botUserId,
          event_ts: `${Math.floor(now / 1000)}.${String((now % 1000) * 1000).padStart(6, '0')}`,
        },
      };
    };

    const driver: SlackDriver =
      mode === 'http'
        ? {
            async slash(user, command, text) {
              const trigger = `trig-${++seq}.${Date.now()}`;
              const res = await signed(
                requestUrl(),
                new URLSearchParams(commandPayload(user, command, text, trigger)).toString(),
                'application/x-www-form-urlencoded',
              );
              const body = await res.text();
              if (res.status !== 200) throw new Error(`${name}: ${command} got HTTP ${res.status}: ${body}`);
              return { trigger, ack: body ? ((JSON.parse(body) as { text?: string }).text ?? null) : null };
            },
            async react(user, m, reaction) {
              fake.setReaction('add', user, m.channel, m.ts, reaction);
              const res = await signed(requestUrl(), JSON.stringify(eventPayload(user, m, reaction)), 'application/json');
              if (res.status !== 200) throw new Error(`${name}: the reaction event got HTTP ${res.status}`);
            },
          }
        : {
            async slash(user, command, text) {
              const trigger = `trig-${++seq}.${Date.now()}`;
              const envelope = `env-${name}-${seq}`;
              fake.sendEnvelope({
                envelope_id: envelope,
                type: 'slash_commands',
                payload: commandPayload(user, command, text, trigger),
                accepts_response_payload: true,
              });
              const acked = await step(p, `the ack of the ${command} envelope`, () =>
                fake.socketAcks.find((a) => a.envelope_id === envelope),
              );
              return { trigger, ack: (acked.payload as { text?: string } | undefined)?.text ?? null };
            },
            async react(user, m, reaction) {
              fake.setReaction('add', user, m.channel, m.ts, reaction);
              const envelope = `env-${name}-${++seq}`;
              fake.sendEnvelope({ envelope_id: envelope, type: 'events_api', payload: eventPayload(user, m, reaction) });
              await step(p, 'the ack of the reaction envelope', () => fake.socketAcks.some((a) => a.envelope_id === envelope));
            },
          };

    beforeAll(async () => {
      t0 = Date.now();
      await fake.start();
      const b = await baseEnv({
        SLACK_BOT_TOKEN: fake.token,
        SLACK_API_URL: fake.apiUrl,
        PLAYGROUND: 'off',
        ...(mode === 'http' ? { SLACK_SIGNING_SECRET: SIGNING_SECRET } : { SLACK_APP_TOKEN: fake.appToken }),
      });
      ports = b.ports;
      b.env.SLACK_PORT = String(ports.slack);
      p = npmStart(name, b.env);
    });
    afterAll(async () => {
      killGroup(p);
      await fake.stop();
      console.log(`${name}: ${((Date.now() - t0) / S).toFixed(1)} s in all`);
    });

    const isRateable = (m: FakeSlackMessage) =>
      m.files.length > 0 && !m.ephemeralFor && SLACK_RATING.every((n) => m.reactions.get(n)?.has(fake.botUserId));
    /** What `user` was told privately since message index `from` (chat.postEphemeral, or the response_url). */
    const privateSince = (user: string, from: number, trigger?: string) =>
      fake.messages.slice(from).filter((m) => m.ephemeralFor === user || (trigger !== undefined && m.ephemeralFor === trigger));

    it(
      'connects (auth.test, then its receiver or socket) and is ready on /readyz',
      async () => {
        await step(p, 'auth.test at the fake Slack', () => fake.callsOf('auth.test').length >= 1, T.start);
        if (mode === 'http') {
          await step(p, 'the log line "slack app listening (HTTP mode)"', () => p.hasLog('slack app listening (HTTP mode)'));
        } else {
          await step(
            p,
            'apps.connections.open and an open socket',
            () => fake.callsOf('apps.connections.open').length >= 1 && fake.socketClients >= 1,
          );
          await step(p, 'the log line "slack connected (Socket Mode)"', () => p.hasLog('slack connected (Socket Mode)'));
        }
        await step(p, '/readyz to answer 200 with database and slack ready', () => ready(ports, ['database', 'slack']));
        expect(p.hasLog('platforms: slack')).toBe(true);
      },
      T.it,
    );

    // Slack has no command-registration call: the app manifest declares the slash commands (and, in
    // HTTP mode, the URL Slack sends them to). "Registered" here means: every command the manifest
    // from `npm run slack:manifest` declares reaches this bot the way Slack would send it, and the
    // bot answers it as that command (with its usage) — none is unknown to it.
    it(
      'answers every slash command its app manifest declares',
      async () => {
        const manifest =
          mode === 'http' ? await slackManifest(['--url', `http://127.0.0.1:${ports.slack}`]) : await slackManifest(['--socket']);
        const declared = [...manifest.matchAll(/^\s*- command: "\/([a-z-]+)"/gm)].map((m) => m[1]!);
        expect(declared.sort()).toEqual(expect.arrayContaining(README_COMMANDS));
        expect(manifest).toMatch(/^\s*bot_events:\n\s*- reaction_added\n\s*- reaction_removed/m);
        expect(manifest).toContain(`socket_mode_enabled: ${mode === 'socket'}`);
        const urls = [...manifest.matchAll(/^\s*(?:url|request_url): "([^"]+)"/gm)].map((m) => m[1]!);
        if (mode === 'http') {
          expect(new Set(urls)).toEqual(new Set([requestUrl()]));
        } else {
          expect(urls).toEqual([]);
        }
        for (const cmd of declared) {
          // An unclosed quote: every command answers it privately with its own usage, and does nothing else.
          const { ack } = await driver.slash(alice, `/${cmd}`, '"');
          expect(ack, `/${cmd}`).toMatch(new RegExp(`Usage: /${cmd}\\b`));
          expect(ack, `/${cmd}`).not.toMatch(/I don't know/);
        }
      },
      T.it,
    );

    let images: FakeSlackMessage[] = [];
    it(
      "/rate count:2 posts two rateable images (each with the bot's 10 rating reactions)",
      async () => {
        images = await rateTwo(p, async () => {
          const from = fake.messages.length;
          const { trigger, ack } = await driver.slash(alice, '/rate', 'count:2');
          const since = () => fake.messages.slice(from);
          return {
            texts: () => [
              ...(ack ? [ack] : []),
              ...since()
                .filter((m) => m.channel === fake.channelId && !m.threadTs && !m.ephemeralFor && !m.files.length)
                .map((m) => m.text),
              ...privateSince(alice, from, trigger).map((m) => m.text),
            ],
            images: () => since().filter((m) => m.channel === fake.channelId && !m.threadTs && isRateable(m)),
          };
        });
        expect(images).toHaveLength(2);
      },
      T.it,
    );

    it(
      'a :seven: reaction on one image becomes "1 rating" in /profile',
      async () => {
        expect(images.length).toBe(2);
        await driver.react(rater, images[0]!, 'seven');
        let answer = '';
        await step(
          p,
          '/profile to say "1 rating" after the :seven: reaction',
          async () => {
            const from = fake.messages.length;
            const { trigger } = await driver.slash(rater, '/profile', '');
            const m = await step(p, 'the answer to /profile', () =>
              privateSince(rater, from, trigger).find((x) => /taste profile/.test(x.text)),
            );
            answer = m.text;
            if (/— 1 rating\b/.test(answer)) return true;
            await new Promise((r) => setTimeout(r, S));
            return false;
          },
          T.step,
          () => `last /profile answer: ${JSON.stringify(answer.slice(0, 200))}`,
        );
      },
      T.it,
    );

    it(
      '/optimize posts a header, the candidates and a final summary in a thread',
      async () => {
        const from = fake.messages.length;
        await driver.slash(alice, '/optimize', `prompt:"${PROMPT}" iterations:${ITERATIONS} candidates:${CANDIDATES}`);
        // A thread in Slack is a parent message and the replies carrying its ts as thread_ts.
        const replies = (parent: FakeSlackMessage) =>
          fake.messages.filter((m) => m.channel === parent.channel && m.threadTs === parent.ts && !m.ephemeralFor);
        const parent = await step(p, 'the thread of /optimize (a parent message with replies)', () =>
          fake.messages.slice(from).find((m) => !m.threadTs && !m.ephemeralFor && m.channel === fake.channelId && replies(m).length > 0),
        );
        const msgs = () => replies(parent);
        await step(p, 'the header in the thread', () => msgs()[0]?.text.includes(PROMPT));
        await step(
          p,
          'the final summary of /optimize in its thread',
          () => msgs().some((m) => m.text.includes('Run finished')),
          T.optimize,
          () => `${msgs().length} message(s) in the thread: ${JSON.stringify(msgs().map((m) => m.text.slice(0, 40)))}`,
        );
        // One grid message per iteration (the initial prompt, then each iteration), a tile line per candidate.
        const grids = msgs().filter((m) => /^\*{1,2}(Your prompt|Iteration \d+)\*{1,2}/.test(m.text));
        expect(grids).toHaveLength(1 + ITERATIONS);
        expect(grids.flatMap((g) => g.text.split('\n').filter((l) => /^\d+ · /.test(l)))).toHaveLength(1 + ITERATIONS * CANDIDATES);
      },
      T.it,
    );

    it(
      'SIGTERM ends npm start within 10 s with exit code 0',
      async () => {
        await sigterm(p);
      },
      T.it,
    );
  });
}

slackSuite('http');
slackSuite('socket');

// ---------------------------------------------------------------- Playground

describe('npm start with no platform settings (the playground)', () => {
  let p: Started;
  let ports: Ports;
  let base = '';
  let t0 = 0;
  /** Browser sessions (the page's cookie), one per person, as the page would have. */
  const sessions = new Map<string, PlaygroundClient>();

  beforeAll(async () => {
    t0 = Date.now();
    const b = await baseEnv({});
    ports = b.ports;
    base = `http://127.0.0.1:${ports.port}`;
    p = npmStart('playground', b.env);
  });
  afterAll(() => {
    killGroup(p);
    console.log(`playground: ${((Date.now() - t0) / S).toFixed(1)} s in all`);
  });

  const as = async (person: string) => {
    let c = sessions.get(person);
    if (!c) sessions.set(person, (c = await PlaygroundClient.as(base, person)));
    return c;
  };
  /** What `person` sees: the conversation from the first (snapshot) event of the page's SSE stream. */
  const seen = async (person: string) => (await as(person)).snapshot();
  /** Runs a command as `person`; returns the ids of what that person saw before, to find the answers after. */
  const command = async (person: string, text: string) => {
    const before = new Set((await seen(person)).messages.map((m) => m.id));
    const res = await (await as(person)).command(text);
    if (res.status !== 200) throw new Error(`playground: ${text} got HTTP ${res.status}: ${JSON.stringify(res.body)}`);
    return before;
  };
  const answersSince = async (person: string, before: Set<string>) =>
    (await seen(person)).messages.filter((m) => m.ephemeralFor && !before.has(m.id));

  it(
    'listens on PORT (the page, its command list) and is ready on /readyz',
    async () => {
      await step(p, `the log line "playground: open ${base}"`, () => p.hasLog(`playground: open ${base}`), T.start);
      const page = await fetch(base);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      const listed = (await (await (await as('alice')).get('/api/commands')).json()) as { name: string }[];
      expect(listed.map((c) => c.name).sort()).toEqual(expect.arrayContaining(README_COMMANDS));
      await step(p, '/readyz to answer 200 with database and playground ready', () => ready(ports, ['database', 'playground']));
      expect(p.hasLog('platforms: playground')).toBe(true);
    },
    T.it,
  );

  let images: PlaygroundSnapshotMessage[] = [];
  it(
    '/rate count:2 posts two rateable images',
    async () => {
      images = await rateTwo(p, async () => {
        const before = await command('alice', '/rate count:2');
        const since = async () =>
          (await seen('alice')).messages.filter((m) => !before.has(m.id) && m.conversationId === 'general' && m.author.bot);
        return {
          texts: async () => (await since()).filter((m) => !m.imageId).map((m) => m.text),
          images: async () => (await since()).filter((m) => m.kind === 'rate' && m.imageId && m.rateable),
        };
      });
      expect(images).toHaveLength(2);
      for (const img of images)
        expect((await (await as('alice')).get(`/images/${img.imageId}.png`)).headers.get('content-type')).toBe('image/png');
    },
    T.it,
  );

  it(
    'a click (score 7) becomes "1 rating" in /profile',
    async () => {
      expect(images.length).toBe(2);
      const res = await (await as('rater')).rate(images[0]!.id, 7);
      expect(res.status).toBe(200);
      let answer = '';
      await step(
        p,
        '/profile to say "1 rating" after the click',
        async () => {
          const before = await command('rater', '/profile');
          const m = await step(p, 'the answer to /profile', async () =>
            (await answersSince('rater', before)).find((x) => /taste profile/.test(x.text)),
          );
          answer = m.text;
          if (/— 1 rating\b/.test(answer)) return true;
          await new Promise((r) => setTimeout(r, S));
          return false;
        },
        T.step,
        () => `last /profile answer: ${JSON.stringify(answer.slice(0, 200))}`,
      );
    },
    T.it,
  );

  it(
    '/optimize posts a header, the candidates and a final summary in a thread',
    async () => {
      const before = new Set((await seen('alice')).threads.map((t) => t.id));
      await command('alice', `/optimize prompt:"${PROMPT}" iterations:${ITERATIONS} candidates:${CANDIDATES}`);
      const thread = await step(p, 'the thread of /optimize', async () => (await seen('alice')).threads.find((t) => !before.has(t.id)));
      const msgs = async () => (await seen('alice')).messages.filter((m) => m.conversationId === thread.id);
      await step(p, 'the header in the thread', async () => (await msgs())[0]?.text.includes(PROMPT));
      let inThread: PlaygroundSnapshotMessage[] = [];
      await step(
        p,
        'the final summary of /optimize in its thread',
        async () => (inThread = await msgs()).some((m) => m.text.includes('Run finished')),
        T.optimize,
        () => `${inThread.length} message(s) in the thread: ${JSON.stringify(inThread.map((m) => m.text.slice(0, 40)))}`,
      );
      // One grid message per iteration (the initial prompt, then each iteration), a tile line per candidate.
      const grids = (await msgs()).filter((m) => /^\*{1,2}(Your prompt|Iteration \d+)\*{1,2}/.test(m.text));
      expect(grids).toHaveLength(1 + ITERATIONS);
      expect(grids.flatMap((g) => g.text.split('\n').filter((l) => /^\d+ · /.test(l)))).toHaveLength(1 + ITERATIONS * CANDIDATES);
    },
    T.it,
  );

  it(
    'SIGTERM ends npm start within 10 s with exit code 0',
    async () => {
      await sigterm(p);
    },
    T.it,
  );
});

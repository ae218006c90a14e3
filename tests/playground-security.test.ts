/**
 * The playground is not a back door, and takes strict input (review findings 1 and 6), on the real
 * core over real HTTP:
 *  - only its own page may call it: a cross-origin or `text/plain` post, a foreign `Host` (DNS
 *    rebinding), a cross-site fetch are refused with zero effects on the database and the state file;
 *  - the acting person is a property of the browser session, never a field of a request; /events and
 *    private files (an export) reach only the session acting as their owner;
 *  - off loopback it needs PLAYGROUND_TOKEN (start() refuses without; with it, a login page first);
 *  - 413 for a body over the cap (no error logged), 400 for malformed JSON (nothing runs), whole
 *    scores 1–10 only, a refused command leaves no trace in playground.jsonl, one reference id per
 *    failed-run notice.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../src/db/util';
import type { GenerateOptions, GeneratedImage, ImageGenerator } from '../src/core/ports';
import { userKeyOf } from '../src/core/identity';
import { silentLogger } from '../src/log';
import { createPlaygroundAdapter, personFor, PlaygroundExposedError, type PlaygroundAdapter } from '../src/platforms/playground/adapter';
import { renderRunEvent } from '../src/platforms/render-run';
import { CHANNEL_ID } from '../src/platforms/playground/state';
import { SketchGenerator } from '../src/providers/imagegen/sketch/generator';
import { openTestCore, TEST_IMAGE_SIZE, type TestCore } from './helpers/core';
import { PlaygroundClient } from './helpers/playground-client';
import { waitFor } from './helpers/wait';

/** The offline sketch renderer, except that a prompt saying "explode" fails the way a broken provider does. */
class ExplodingGenerator implements ImageGenerator {
  readonly name = 'sketch';
  readonly concurrency = 1;
  private readonly inner = new SketchGenerator({ size: TEST_IMAGE_SIZE, concurrency: 1 });
  readonly model = this.inner.model;
  describe(): string {
    return `exploding ${this.inner.describe()}`;
  }
  async generate(prompt: string, opts?: GenerateOptions): Promise<GeneratedImage> {
    if (prompt.toLowerCase().includes('explode')) throw new Error('the renderer caught fire');
    return this.inner.generate(prompt, opts);
  }
}

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request with full control of its headers (fetch cannot set Host). */
function raw(
  base: string,
  o: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer; chunks?: Buffer[] } = {},
): Promise<RawAnswer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: o.method ?? 'GET', path: o.path ?? '/', headers: o.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (o.chunks) {
      for (const c of o.chunks) req.write(c);
      req.end();
    } else req.end(o.body);
  });
}

const ATTACKER = 'https://attacker.example';

describe('the playground over HTTP: origin, sessions, strict input (real core)', () => {
  let core: TestCore;
  let adapter: PlaygroundAdapter;
  let stateFile: string;
  const logLines: { level: number; msg: string }[] = [];
  let ann: PlaygroundClient;
  let bob: PlaygroundClient;
  let imageMessageId: string;
  let imageId: string;

  beforeAll(async () => {
    core = await openTestCore({ generator: new ExplodingGenerator() });
    stateFile = path.join(mkdtempSync(path.join(tmpdir(), 'tl-pg-sec-')), 'playground.jsonl');
    const log = pino(
      { level: 'debug' },
      { write: (line: string) => void logLines.push(JSON.parse(line) as { level: number; msg: string }) },
    );
    adapter = createPlaygroundAdapter({ services: core.app.services, log, port: 0, runFeedPollMs: 50, stateFile });
    await adapter.start();
    ann = await PlaygroundClient.as(adapter.url(), 'ann');
    bob = await PlaygroundClient.as(adapter.url(), 'bob');
    expect((await ann.command('/rate count:1')).status).toBe(200);
    const img = [...adapter.state.messages.values()].find((m) => m.kind === 'rate' && m.imageId)!;
    imageMessageId = img.id;
    imageId = img.imageId!;
  });
  afterAll(async () => {
    await adapter?.stop();
    await core?.close();
  });

  /** Everything a request could change: the database's people, sharing, ratings, runs — and the state file. */
  async function effects(): Promise<string> {
    const db = core.app.database.db;
    const tables = await Promise.all([
      queryRows(db, sql`select user_key, share_profile from users order by user_key`),
      queryRows(db, sql`select user_key, scope_id, last_seen_at from user_scopes order by user_key, scope_id`),
      queryRows(db, sql`select * from forgotten_users`),
      queryRows(db, sql`select user_key, image_id, score, present, event_time from rating_votes order by user_key, image_id, score`),
      queryRows(db, sql`select count(*)::int as n from rating_events`),
      queryRows(db, sql`select count(*)::int as n from runs`),
    ]);
    return JSON.stringify({ tables, state: readFileSync(stateFile, 'utf8'), messages: adapter.state.messages.size });
  }

  describe('finding 1: only the page itself may act, as its session’s person', () => {
    it('sets an HttpOnly, SameSite=Strict session cookie; without it nothing but the page answers', async () => {
      const page = await fetch(adapter.url());
      expect(page.status).toBe(200);
      const cookie = page.headers.getSetCookie().find((c) => c.startsWith(adapter.cookieName()))!;
      expect(cookie).toMatch(new RegExp(`^${adapter.cookieName()}=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=/$`));
      expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      const anonymous = new PlaygroundClient(adapter.url());
      for (const p of ['/events', '/api/commands', `/images/${imageId}.png`]) expect((await anonymous.get(p)).status).toBe(401);
      expect((await anonymous.command('/help')).status).toBe(401);
      expect((await anonymous.rate(imageMessageId, 5)).status).toBe(401);
      // A made-up session id is no session.
      const forged = new PlaygroundClient(adapter.url());
      forged.cookie = `${adapter.cookieName()}=${'A'.repeat(43)}`;
      expect((await forged.command('/help')).status).toBe(401);
    });

    it('a cross-origin text/plain POST (or any cross-site call) is refused with zero effects', async () => {
      const before = await effects();
      const victim = ann.cookie!; // even were the browser to attach the cookie
      const attempts: { path: string; headers: Record<string, string>; body: string; status: number; why: RegExp }[] = [
        {
          path: '/api/command',
          headers: { origin: ATTACKER, 'content-type': 'text/plain' },
          body: JSON.stringify({ text: '/privacy share:on' }),
          status: 403,
          why: /cross-origin/,
        },
        {
          path: '/api/command',
          headers: { origin: ATTACKER, 'content-type': 'text/plain' },
          body: JSON.stringify({ user: 'bob', text: '/privacy action:forget confirm:yes' }),
          status: 403,
          why: /cross-origin/,
        },
        {
          path: '/api/command',
          headers: { origin: ATTACKER, 'content-type': 'application/json' },
          body: JSON.stringify({ text: '/privacy share:on' }),
          status: 403,
          why: /cross-origin/,
        },
        {
          path: '/api/command',
          headers: { origin: 'null', 'content-type': 'application/json' },
          body: JSON.stringify({ text: '/privacy share:on' }),
          status: 403,
          why: /cross-origin/,
        },
        {
          path: '/api/command',
          headers: { 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
          body: JSON.stringify({ text: '/privacy share:on' }),
          status: 403,
          why: /cross-site/,
        },
        // Another server on this machine (another port) is same-site, not same-origin.
        {
          path: '/api/command',
          headers: { 'sec-fetch-site': 'same-site', origin: 'http://127.0.0.1:1', 'content-type': 'application/json' },
          body: JSON.stringify({ text: '/privacy share:on' }),
          status: 403,
          why: /cross-site/,
        },
        // Same origin, but a form or text/plain post: refused for its type.
        {
          path: '/api/command',
          headers: { origin: adapter.url(), 'content-type': 'text/plain' },
          body: JSON.stringify({ text: '/privacy share:on' }),
          status: 415,
          why: /application\/json/,
        },
        {
          path: '/api/command',
          headers: { origin: adapter.url(), 'content-type': 'application/x-www-form-urlencoded' },
          body: 'text=%2Fprivacy+share%3Aon',
          status: 415,
          why: /application\/json/,
        },
        {
          path: '/api/command',
          headers: { 'content-type': 'multipart/form-data; boundary=x' },
          body: '--x--',
          status: 415,
          why: /application\/json/,
        },
        {
          path: '/api/rate',
          headers: { origin: ATTACKER, 'content-type': 'text/plain' },
          body: JSON.stringify({ messageId: imageMessageId, score: 9 }),
          status: 403,
          why: /cross-origin/,
        },
        {
          path: '/api/session',
          headers: { origin: ATTACKER, 'content-type': 'text/plain' },
          body: JSON.stringify({ person: 'bob' }),
          status: 403,
          why: /cross-origin/,
        },
        { path: '/api/logout', headers: { origin: ATTACKER, 'content-type': 'text/plain' }, body: '{}', status: 403, why: /cross-origin/ },
      ];
      for (const a of attempts) {
        const r = await raw(adapter.url(), { method: 'POST', path: a.path, headers: { ...a.headers, cookie: victim }, body: a.body });
        expect(r.status, `${a.path} ${JSON.stringify(a.headers)}`).toBe(a.status);
        expect(r.headers['content-type']).toBe('application/json');
        expect((JSON.parse(r.body) as { error: string }).error).toMatch(a.why);
      }
      // A cross-site read of the event stream or a file is refused too.
      for (const p of ['/events', '/api/session', `/images/${imageId}.png`]) {
        expect((await raw(adapter.url(), { path: p, headers: { cookie: victim, 'sec-fetch-site': 'cross-site' } })).status).toBe(403);
        expect((await raw(adapter.url(), { path: p, headers: { cookie: victim, origin: ATTACKER } })).status).toBe(403);
      }
      expect(await effects()).toBe(before);
      expect(await core.app.services.privacy.isSharing(personFor('ann'))).toBe(false);
      // The session was not switched either: ann is still ann.
      expect((await ann.snapshot()).person).toBe('ann');
    });

    it('a foreign Host is refused (DNS rebinding); this server’s own names are served', async () => {
      const port = new URL(adapter.url()).port;
      const cookie = ann.cookie!;
      for (const host of [
        `rebind.evil.example:${port}`,
        'rebind.evil.example',
        `127.0.0.1:${Number(port) + 1}`,
        `localhost.evil.example:${port}`,
        `127.0.0.1.nip.io:${port}`,
      ]) {
        for (const p of ['/', '/events', '/api/session']) {
          const r = await raw(adapter.url(), { path: p, headers: { host, cookie } });
          expect(r.status, `${host} ${p}`).toBe(403);
          expect(r.body).not.toContain('"messages"');
        }
        const post = await raw(adapter.url(), {
          method: 'POST',
          path: '/api/command',
          headers: { host, cookie, 'content-type': 'application/json' },
          body: '{"text":"/help"}',
        });
        expect(post.status).toBe(403);
      }
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
        expect((await raw(adapter.url(), { path: '/api/session', headers: { host, cookie } })).status, host).toBe(200);
      }
    });

    it('commands and clicks act as the session’s person; a person named in the body is refused, not obeyed', async () => {
      const before = await effects();
      for (const body of [
        { user: 'bob', text: '/privacy share:on' },
        { person: 'bob', text: '/privacy share:on' },
        { asUser: 'bob', text: '/privacy share:on' },
      ]) {
        const r = await ann.post('/api/command', body);
        expect(r.status).toBe(400);
        expect((r.body as { error: string }).error).toMatch(/unknown field .*session/);
      }
      const click = await ann.post('/api/rate', { user: 'bob', messageId: imageMessageId, score: 4 });
      expect(click.status).toBe(400);
      expect(await effects()).toBe(before);

      expect((await bob.command('/privacy share:on')).status).toBe(200);
      const echo = [...adapter.state.messages.values()].filter((m) => !m.author.bot).at(-1)!;
      expect(echo.author.id).toBe('bob');
      expect(await core.app.services.privacy.isSharing(personFor('bob'))).toBe(true);
      expect(await core.app.services.privacy.isSharing(personFor('ann'))).toBe(false);
      expect((await bob.rate(imageMessageId, 6)).status).toBe(200);
      expect(await core.rating(userKeyOf(personFor('bob')), imageId)).toBe(6);
      expect(await core.rating(userKeyOf(personFor('ann')), imageId)).toBeNull();
    });

    it('/events carries only what the session’s person may see; a switch sends that person’s view', async () => {
      expect((await ann.command('/privacy action:status')).status).toBe(200);
      expect((await ann.command('/profile')).status).toBe(200);
      const annPrivate = [...adapter.state.messages.values()].filter((m) => m.ephemeralFor === 'ann');
      expect(annPrivate.length).toBeGreaterThanOrEqual(2);

      const eve = await PlaygroundClient.as(adapter.url(), 'eve');
      const seen = await eve.snapshot();
      expect(seen.person).toBe('eve');
      expect(seen.messages.length).toBeGreaterThan(0);
      // Nothing private of anyone else: only eve's own welcome is for her alone.
      expect(seen.messages.filter((m) => m.ephemeralFor !== undefined).map((m) => [m.ephemeralFor, m.kind])).toEqual([['eve', 'welcome']]);
      expect(seen.messages.some((m) => annPrivate.some((p) => p.id === m.id))).toBe(false);
      // Ann sees her own private replies.
      const annView = await ann.snapshot();
      expect(annPrivate.every((p) => annView.messages.some((m) => m.id === p.id))).toBe(true);

      // Live: a private reply to ann never reaches eve's stream; the public echo does.
      const stream = await eve.events();
      try {
        await stream.next(); // the snapshot
        expect((await ann.command('/privacy action:export')).status).toBe(200);
        expect((await ann.command('/help')).status).toBe(200);
        const got: { type: string; data: { id: string; ephemeralFor?: string; text: string; files?: unknown[] } }[] = [];
        // /help's echo is the last public message: read until it arrives.
        const helpEcho = [...adapter.state.messages.values()].filter((m) => m.text === '/help').at(-1)!;
        while (!got.some((e) => e.data.id === helpEcho.id)) got.push((await stream.next()) as (typeof got)[number]);
        expect(got.filter((e) => e.type === 'message' && e.data.ephemeralFor)).toEqual([]);
        expect(got.some((e) => e.data.files?.length)).toBe(false);
        expect(got.some((e) => e.data.text === '/privacy action:export')).toBe(true); // public echo
      } finally {
        stream.close();
      }

      // Switching people is the session's: the stream gets the new person's view, other sessions are untouched.
      const annStream = await ann.events();
      try {
        expect(((await annStream.next()).data as { person: string }).person).toBe('ann');
        await ann.actAs('carol');
        const next = (await annStream.next()) as { type: string; data: { person: string; messages: { ephemeralFor?: string }[] } };
        expect(next.type).toBe('snapshot');
        expect(next.data.person).toBe('carol');
        expect(next.data.messages.some((m) => m.ephemeralFor === 'ann')).toBe(false);
      } finally {
        annStream.close();
      }
      expect((await bob.snapshot()).person).toBe('bob');
      await ann.actAs('ann');
    });

    it('a private file (an export) is served only to its owner’s session: 404 for anyone else', async () => {
      const exportMsg = [...adapter.state.messages.values()]
        .filter((m) => m.ephemeralFor === 'ann' && m.files?.some((f) => f.contentType === 'application/json'))
        .at(-1)!;
      const file = exportMsg.files![0]!;
      const own = await ann.get(adapter.fileUrl(file));
      expect(own.status).toBe(200);
      expect(((await own.json()) as { userKey: string }).userKey).toBe(userKeyOf(personFor('ann')));
      expect(own.headers.get('cache-control')).toContain('no-store');
      const other = await bob.get(adapter.fileUrl(file));
      expect(other.status).toBe(404);
      expect(await other.text()).not.toContain('userKey');
      expect((await bob.get(`/files/${file.id}/anything.json`)).status).toBe(404);
      expect((await new PlaygroundClient(adapter.url()).get(adapter.fileUrl(file))).status).toBe(401);
      // A public message's file is everyone's.
      await adapter.channel.post({
        kind: 'info',
        text: 'a public chart',
        files: [{ name: 'public.txt', contentType: 'text/plain', data: Buffer.from('hello') }],
      });
      const pub = [...adapter.state.messages.values()].at(-1)!.files![0]!;
      expect((await bob.get(adapter.fileUrl(pub))).status).toBe(200);
    });
  });

  describe('finding 6: strict input', () => {
    it('a body over 64 KiB is 413 (read and dropped, not logged as an error), chunked or not', async () => {
      const before = await effects();
      const errorsBefore = logLines.filter((l) => l.level >= 50).length;
      const big = JSON.stringify({ text: `/optimize prompt:${'x'.repeat(70 * 1024)}` });
      const r = await ann.post('/api/command', JSON.parse(big));
      expect(r.status).toBe(413);
      expect((r.body as { error: string }).error).toMatch(/too large/);
      const chunked = await raw(adapter.url(), {
        method: 'POST',
        path: '/api/command',
        headers: { cookie: ann.cookie!, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        chunks: Array.from({ length: 20 }, () => Buffer.alloc(10 * 1024, 0x20)),
      });
      expect(chunked.status).toBe(413);
      // The connection is still good afterwards (the body was drained), and the server answers as before.
      expect((await ann.get('/api/session')).status).toBe(200);
      expect(logLines.filter((l) => l.level >= 50).length).toBe(errorsBefore);
      expect(await effects()).toBe(before);
    });

    it('malformed JSON is 400 and runs nothing (no empty command as “guest”)', async () => {
      const before = await effects();
      for (const body of ['{not json', '', 'null', '[]', '"text"', '{"text": 7}', '{"text": ""}']) {
        const r = await raw(adapter.url(), {
          method: 'POST',
          path: '/api/command',
          headers: { cookie: ann.cookie!, 'content-type': 'application/json' },
          body,
        });
        expect(r.status, body).toBe(400);
      }
      expect(await effects()).toBe(before);
      const guests = await queryRows(
        core.app.database.db,
        sql`select user_key from users where user_key = ${userKeyOf(personFor('guest'))}`,
      );
      expect(guests).toEqual([]);
    });

    it('scores are JSON integers 1–10 or null only', async () => {
      const before = await effects();
      for (const score of [true, [7], '0x9', ' 8 ', '8', 0, 11, 7.5, -1, {}, 'null']) {
        const r = await ann.post('/api/rate', { messageId: imageMessageId, score });
        expect(r.status, JSON.stringify(score)).toBe(400);
        expect((r.body as { error: string }).error).toMatch(/whole number from 1 to 10/);
      }
      expect((await ann.post('/api/rate', { messageId: imageMessageId })).status).toBe(400);
      for (const messageId of [7, null, '../m0001', 'x'.repeat(100)])
        expect((await ann.post('/api/rate', { messageId, score: 5 })).status).toBe(400);
      expect((await ann.post('/api/rate', { messageId: 'm9999', score: 5 })).status).toBe(404);
      expect(await effects()).toBe(before);
      expect(await core.rating(userKeyOf(personFor('ann')), imageId)).toBeNull();
      // The same click with a proper score counts.
      expect((await ann.rate(imageMessageId, 10)).status).toBe(200);
      expect(await core.rating(userKeyOf(personFor('ann')), imageId)).toBe(10);
    });

    it('a refused command writes nothing to playground.jsonl (nor the database); its reason is private and transient', async () => {
      const sizeBefore = statSync(stateFile).size;
      const before = await effects();
      const prompt = 'a lighthouse '.repeat(4700); // ~60 KB
      const refused = await ann.command(`/optimize prompt:${prompt}`);
      expect(refused.status).toBe(422);
      expect(refused.body.error).toMatch(/at most 4000 characters/);
      const tooLongPrompt = await ann.command(`/optimize prompt:${'a'.repeat(600)}`);
      expect(tooLongPrompt.status).toBe(422);
      expect(tooLongPrompt.body.error).toMatch(/prompt must be at most 500 characters/);
      expect((await ann.command('/rate count:50')).status).toBe(422);
      expect((await ann.command('/frobnicate now')).status).toBe(422);
      expect(statSync(stateFile).size).toBe(sizeBefore);
      expect(readFileSync(stateFile, 'utf8')).not.toContain('a lighthouse a lighthouse');
      // Nothing stored: no echo, no person touched — only the private answers, kept in memory.
      const after = JSON.parse(await effects()) as { tables: unknown; state: string; messages: number };
      const was = JSON.parse(before) as typeof after;
      expect(after.tables).toEqual(was.tables);
      expect(after.state).toBe(was.state);
      const answers = [...adapter.state.messages.values()].slice(-4);
      expect(answers.every((m) => m.transient && m.ephemeralFor === 'ann' && m.author.bot)).toBe(true);
      expect(answers.map((m) => m.text).join('\n')).not.toContain('a lighthouse a lighthouse');
      expect((await bob.snapshot()).messages.some((m) => answers.some((a) => a.id === m.id))).toBe(false);
    });

    it('a failed run’s notice carries one reference id (every platform: the shared renderer)', async () => {
      // The renderer alone, with a message that already names its reference (as the core writes it).
      const ops = renderRunEvent({
        type: 'run.failed',
        key: 'k',
        runId: 'r1',
        message: 'The run stopped because of an unexpected problem (reference 8cc67231).',
        referenceId: '8cc67231',
      });
      for (const op of ops) {
        const text = op.op === 'done' ? op.notice.text : op.message.text;
        expect(text.match(/8cc67231/g)?.length ?? 0).toBeLessThanOrEqual(1);
      }
      const plain = renderRunEvent({ type: 'run.failed', key: 'k', runId: 'r1', message: 'Something broke.', referenceId: 'abcd1234' });
      expect(
        plain.find((o) => o.op === 'done')!.op === 'done' &&
          (plain.find((o) => o.op === 'done') as { notice: { text: string } }).notice.text,
      ).toBe('⚠️ **Run failed**: Something broke. (reference abcd1234)');

      // End to end: a run whose renderer fails, in the playground.
      expect((await ann.command('/optimize prompt:explode the lighthouse iterations:1 candidates:1')).status).toBe(200);
      const notice = await waitFor(
        () => [...adapter.state.messages.values()].find((m) => m.conversationId === CHANNEL_ID && m.text.includes('Run failed')),
        'the failed-run notice',
        60_000,
      );
      const refs = [...notice.text.matchAll(/reference ([0-9a-f]{8})/g)].map((m) => m[1]);
      expect(refs).toHaveLength(1);
      const inThread = await waitFor(
        () => [...adapter.state.messages.values()].find((m) => m.conversationId !== CHANNEL_ID && m.text.includes('Run failed')),
        'the failure in the thread',
      );
      expect(inThread.text.match(/reference [0-9a-f]{8}/g)).toHaveLength(1);
    });
  });
});

describe('the playground off loopback', () => {
  let core: TestCore;
  const started: PlaygroundAdapter[] = [];
  beforeAll(async () => {
    core = await openTestCore({ seedGallery: false });
  });
  afterAll(async () => {
    for (const a of started) await a.stop();
    await core?.close();
  });

  it('refuses to start on a non-loopback HOST without PLAYGROUND_TOKEN, naming both', async () => {
    for (const host of ['0.0.0.0', '::']) {
      const a = createPlaygroundAdapter({ services: core.app.services, log: silentLogger, host, port: 0 });
      const err = await a.start().then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(PlaygroundExposedError);
      expect(err!.message).toContain('PLAYGROUND_TOKEN');
      expect(err!.message).toContain(`HOST=${host}`);
      expect(a.health().ok).toBe(false);
    }
  });

  it('with PLAYGROUND_TOKEN: a login page first; the right token logs the session in; then it works', async () => {
    const token = 'correct-horse-battery-staple-42';
    const a = createPlaygroundAdapter({ services: core.app.services, log: silentLogger, host: '0.0.0.0', port: 0, token });
    await a.start();
    started.push(a);
    const base = `http://127.0.0.1:${new URL(a.url()).port}`;
    const browser = new PlaygroundClient(base);
    const login = await browser.get('/');
    expect(login.status).toBe(200);
    const html = await login.text();
    expect(html).toContain('Access token');
    expect(html).not.toContain('command-input');
    expect(browser.cookie).toBeUndefined(); // no session before the token: nothing to flood, nothing to fix in advance
    // Not logged in: nothing else answers, and no session can be made without the token.
    for (const p of ['/events', '/api/session', '/api/commands']) expect((await browser.get(p)).status).toBe(401);
    expect((await browser.command('/help')).status).toBe(401);
    expect((await browser.post('/api/session', { person: 'ann' })).status).toBe(401);
    expect((await new PlaygroundClient(base).post('/api/session', { person: 'ann' })).status).toBe(401);
    // A wrong token (or a prefix of the right one) is refused.
    for (const wrong of ['nope', token.slice(0, -1), `${token}x`, '']) {
      const r = await browser.post('/api/login', { token: wrong });
      expect(r.status).toBe(401);
    }
    const ok = await browser.post('/api/login', { token });
    expect(ok.status).toBe(200);
    expect(browser.cookie).toMatch(/^tl_session_\d+=[A-Za-z0-9_-]{43}$/);
    const first = browser.cookie;
    const page = await browser.get('/');
    expect(await page.text()).toContain('command-input');
    await browser.actAs('zoe');
    expect((await browser.command('/help')).status).toBe(200);
    expect((await browser.snapshot()).person).toBe('zoe');
    // Logging in again gives a new session id; the old one is worth nothing.
    expect((await browser.post('/api/login', { token })).status).toBe(200);
    expect(browser.cookie).not.toBe(first);
    const stale = new PlaygroundClient(base);
    stale.cookie = first;
    expect((await stale.get('/events')).status).toBe(401);
    expect((await browser.snapshot()).person).toBe('zoe'); // the person carries over
    // Still same-origin only, and only this machine's names.
    expect((await raw(base, { path: '/api/session', headers: { cookie: browser.cookie!, host: 'rebind.evil.example' } })).status).toBe(403);
    expect(
      (
        await raw(base, {
          method: 'POST',
          path: '/api/command',
          headers: { cookie: browser.cookie!, origin: ATTACKER, 'content-type': 'text/plain' },
          body: '{"text":"/help"}',
        })
      ).status,
    ).toBe(403);
    // Logging out ends the session.
    expect((await browser.post('/api/logout', {})).status).toBe(200);
    expect((await browser.get('/api/session')).status).toBe(401);
  });
});

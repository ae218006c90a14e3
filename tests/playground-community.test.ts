/**
 * The community features in the playground, on the real core (PGlite, offline backends), driven
 * over HTTP as the page does: people rate, opt in with /privacy share:on, then /compare, /profile
 * (own and another's) and a group /optimize for:@ann @bob objective:min. Files the replies carry
 * (charts, grids, the heatmap, an export) are served over HTTP, kept out of the JSONL state file, and
 * still served after a restart. People who did not opt in are refused with the one generic message.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProfileNotAvailableError } from '../src/core/errors';
import { userKeyOf } from '../src/core/identity';
import { userScopes } from '../src/db/schema';
import { silentLogger } from '../src/log';
import { createPlaygroundAdapter, personFor, PLAYGROUND_SCOPE, type PlaygroundAdapter } from '../src/platforms/playground/adapter';
import { CHANNEL_ID, type PlaygroundFile, type PlaygroundMessage } from '../src/platforms/playground/state';
import { openTestCore, type TestCore } from './helpers/core';
import { PlaygroundClient } from './helpers/playground-client';
import { waitFor } from './helpers/wait';

/** The refusal, naming the people the asker named (the same words whatever the reason). */
const refusal = (...names: string[]) => `⚠️ ${ProfileNotAvailableError.naming(names)}`;
const PNG_SIGNATURE = '89504e470d0a1a0a';

// Scores for the same 10 images: bob agrees with ann, carol is her opposite, dave never opts in.
const TASTES: Record<string, number[]> = {
  ann: [9, 8, 8, 7, 6, 5, 4, 3, 2, 1],
  bob: [8, 9, 7, 7, 5, 6, 3, 3, 1, 2],
  carol: [1, 2, 3, 3, 5, 6, 7, 8, 9, 9],
  dave: [5, 6, 5, 6, 5, 6, 5, 6, 5, 6],
};

describe('playground community features (real core)', () => {
  let core: TestCore;
  let adapter: PlaygroundAdapter;
  let dataDir: string;
  let stateFile: string;
  // One browser session per person.
  let clients = new Map<string, PlaygroundClient>();
  async function as(user: string): Promise<PlaygroundClient> {
    if (!clients.has(user)) clients.set(user, await PlaygroundClient.as(adapter.url(), user));
    return clients.get(user)!;
  }

  beforeAll(async () => {
    core = await openTestCore();
    dataDir = mkdtempSync(path.join(tmpdir(), 'tl-pg-community-'));
    stateFile = path.join(dataDir, 'playground.jsonl');
    adapter = createPlaygroundAdapter({ services: core.app.services, log: silentLogger, port: 0, runFeedPollMs: 50, stateFile });
    await adapter.start();
  });
  afterAll(async () => {
    await adapter?.stop();
    await core?.close();
  });

  /** Runs a command through the page's HTTP API; returns the bot messages it produced in the channel. */
  async function command(user: string, text: string): Promise<PlaygroundMessage[]> {
    const before = new Set(adapter.state.messages.keys());
    const r = await (await as(user)).command(text);
    expect(r.status).toBe(200);
    return [...adapter.state.messages.values()].filter((m) => !before.has(m.id) && m.author.bot && m.conversationId === CHANNEL_ID);
  }
  /** Fetches a file as `user`'s session would (a private file only for its owner). */
  async function fetchFile(file: PlaygroundFile, user = 'ann'): Promise<Response> {
    return (await as(user)).get(adapter.fileUrl(file));
  }
  /** Fetches a PNG file over HTTP and checks it is a real, decodable PNG of the recorded size. */
  async function servedPng(file: PlaygroundFile, user?: string): Promise<{ width: number; height: number; bytes: Buffer }> {
    const res = await fetchFile(file, user);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.subarray(0, 8).toString('hex')).toBe(PNG_SIGNATURE);
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe('png');
    expect(bytes.length).toBe(file.size);
    expect({ width: meta.width, height: meta.height }).toEqual({ width: file.width, height: file.height });
    expect(meta.width).toBeGreaterThan(100);
    expect(meta.height).toBeGreaterThan(100);
    return { width: meta.width, height: meta.height, bytes };
  }

  it('everyone who acts is recorded in the playground scope; rating works for several people', async () => {
    const posted = await command('ann', '/rate count:10');
    expect(posted.filter((m) => m.kind === 'info')).toHaveLength(1);
    await waitFor(() => [...adapter.state.messages.values()].filter((m) => m.kind === 'rate').length === 10, 'ten images to rate');
    const rateMessages = [...adapter.state.messages.values()].filter((m) => m.kind === 'rate');
    for (const [user, scores] of Object.entries(TASTES)) {
      for (const [i, m] of rateMessages.entries()) {
        const r = await (await as(user)).rate(m.id, scores[i]!);
        expect(r.status).toBe(200);
      }
    }
    await core.app.taste.idle();
    for (const [user, scores] of Object.entries(TASTES)) {
      expect(await core.rating(userKeyOf(personFor(user)), rateMessages[0]!.imageId!)).toBe(scores[0]);
    }
    const rows = await core.app.database.db
      .select({ k: userScopes.userKey })
      .from(userScopes)
      .where(eq(userScopes.scopeId, PLAYGROUND_SCOPE));
    expect(rows.map((r) => r.k).sort()).toEqual(['ann', 'bob', 'carol', 'dave'].map((u) => userKeyOf(personFor(u))));
  }, 180_000); // 40 clicks, each a few ledger transactions: slow on a busy shared machine

  it('before opting in, nobody can be compared — the refusal is generic', async () => {
    const [reply] = await command('ann', '/compare users:@ann @bob');
    expect(reply?.text).toBe(refusal('Bob'));
    expect(reply?.ephemeralFor).toBe('ann');
  });

  it('after /privacy share:on, /compare users:@ann @bob gives a match percentage and explains it', async () => {
    for (const user of ['ann', 'bob', 'carol']) {
      const [ok] = await command(user, '/privacy share:on');
      expect(ok?.text).toContain('Your profile is shared');
      expect(ok?.ephemeralFor).toBe(user);
    }
    const replies = await command('ann', '/compare users:@ann @bob');
    const main = replies[0]!;
    expect(main.ephemeralFor).toBeUndefined();
    expect(main.text).toMatch(/\*\*Ann & Bob\*\*: \d{1,3}% — [a-z ]+ tastes\./);
    // The number is explained: what it is computed from and how.
    expect(main.text).toContain('rank correlation');
    expect(main.text).toContain('10 images both rated agree at');
    // The scale is explained once in the reply, not once per pair.
    expect(main.text.split('the percentage is 50 × (1 + correlation)')).toHaveLength(2);
    expect(main.files ?? []).toHaveLength(0); // a heatmap is for groups of 3+
    // The consensus image follows as its own message (and the divisive one when different).
    expect(replies[1]?.text).toContain('brings you together');
    expect(replies[1]?.imageId).toMatch(/^[0-9a-f]{16,64}$/);
  });

  it('for 3 people /compare adds a heatmap, served over HTTP as a valid PNG; closer tastes get a higher match', async () => {
    const [main] = await command('bob', '/compare users:@ann @bob @carol');
    expect(main?.text).toContain('Closest pair: **Ann & Bob**');
    const percent = (pair: string) => Number(new RegExp(`\\*\\*${pair}\\*\\*: (\\d+)%`).exec(main!.text)?.[1]);
    expect(percent('Ann & Bob')).toBeGreaterThan(percent('Ann & Carol'));
    const heat = main!.files?.find((f) => f.name === 'taste-match.png');
    expect(heat).toBeDefined();
    await servedPng(heat!);
  });

  it('/profile shows its chart files; another person’s profile only after they opted in', async () => {
    const [own] = await command('bob', '/profile');
    expect(own?.text).toContain('**Your taste profile** — 10 ratings');
    expect(own?.ephemeralFor).toBe('bob');
    const names = (own?.files ?? []).map((f) => f.name).sort();
    expect(names).toEqual(['ratings.png', 'taste-grid.png']);
    for (const f of own!.files!) await servedPng(f, 'bob');

    const [other] = await command('bob', '/profile user:@ann');
    expect(other?.text).toContain('**Ann’s taste profile** — 10 ratings');
    expect(other?.files?.map((f) => f.name)).toContain('ratings.png');

    // dave rated but never opted in; zed does not exist: the same refusal for both.
    const [dave] = await command('bob', '/profile user:@dave');
    const [zed] = await command('bob', '/profile user:@zed');
    expect(dave?.text).toBe(refusal('Dave'));
    expect(zed?.text).toBe(refusal('Zed'));
    expect(dave?.files).toBeUndefined();
  });

  it('a person who did not opt in cannot be compared or included in a group run (generic refusal)', async () => {
    const [cmp] = await command('ann', '/compare users:@ann @dave');
    const [cmpGhost] = await command('ann', '/compare users:@zed');
    const [run] = await command('ann', '/optimize prompt:a red fox for:@ann @dave objective:min');
    for (const [r, name] of [
      [cmp, 'Dave'],
      [cmpGhost, 'Zed'],
      [run, 'Dave'],
    ] as const) {
      expect(r?.text).toBe(refusal(name));
      expect(r?.ephemeralFor).toBe('ann');
    }
    expect(adapter.state.threads.size).toBe(0);
  });

  it('a group /optimize for:@ann @bob objective:min runs to its final summary, every candidate showing each member’s score', async () => {
    const replies = await command('ann', '/optimize prompt:a lighthouse at dusk iterations:2 candidates:2 for:@ann @bob objective:min');
    expect(replies.at(-1)?.text).toContain('Run started');
    const thread = [...adapter.state.threads.values()].at(-1)!;
    const inThread = () => [...adapter.state.messages.values()].filter((m) => m.conversationId === thread.id);
    const summary = await waitFor(() => inThread().find((m) => m.kind === 'summary'), 'the run’s final summary', 60_000);
    expect(summary.text).toContain('Run finished');
    // The best image with each member's score under it.
    expect(summary.text).toMatch(/Best prompt \(\d+\.\d\/10 \(ann: \d+\.\d\/10, bob: \d+\.\d\/10\)\)/);
    const header = inThread().find((m) => m.kind === 'header')!;
    expect(header.text).toContain('the taste models of 2 people: the lowest of the ratings they predict');
    // Each candidate is a tile line of its iteration's grid message.
    const candidates = inThread()
      .filter((m) => m.kind === 'grid')
      .flatMap((m) => m.text.split('\n').filter((l) => /^\d+ · /.test(l)))
      .map((text) => ({ text }));
    expect(candidates).toHaveLength(1 + 2 * 2);
    for (const c of candidates) expect(c.text).toMatch(/\d+\.\d\/10 \(ann: \d+\.\d\/10, bob: \d+\.\d\/10\)/);
    // The objective is the least-happy member: each candidate's score is the lower of the two.
    for (const c of candidates) {
      const [score, a, b] = [...c.text.matchAll(/(\d+\.\d)\/10/g)].map((x) => Number(x[1]));
      expect(score).toBeCloseTo(Math.min(a!, b!), 1);
    }
  });

  it('/privacy action:export is a JSON download; file bytes live on disk, not in the state file, and survive a restart', async () => {
    const [exp] = await command('carol', '/privacy action:export');
    const file = exp?.files?.[0];
    expect(file?.contentType).toBe('application/json');
    const res = await fetchFile(file!, 'carol');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="tasteloop-carol-\d{4}-\d\d-\d\d\.json"$/);
    const data = JSON.parse(await res.text()) as { userKey: string; ratings: unknown[] };
    expect(data.userKey).toBe(userKeyOf(personFor('carol')));
    expect(data.ratings).toHaveLength(10);

    // Every file shown so far is a file under DATA_DIR/playground-files/, byte for byte; the JSONL holds only metadata.
    const all = [...adapter.state.files.values()].map((e) => e.file);
    expect(all.length).toBeGreaterThanOrEqual(6);
    const dir = path.join(dataDir, 'playground-files');
    expect(readdirSync(dir).sort()).toEqual(all.map((f) => f.id).sort());
    for (const f of all) expect(readFileSync(path.join(dir, f.id)).length).toBe(f.size);
    const jsonl = readFileSync(stateFile, 'utf8');
    expect(jsonl).not.toContain('iVBORw0KGgo'); // base64 of a PNG header
    expect(jsonl).not.toContain('"type":"Buffer"');
    expect(jsonl.length).toBeLessThan(all.reduce((n, f) => n + f.size, 0));

    // Unknown ids are 404, and so are path tricks.
    for (const bad of ['/files/000000000000000000000000/x.png', '/files/..%2Fplayground.jsonl/x', '/files/']) {
      expect((await (await as('ann')).get(bad)).status).toBe(404);
    }

    // A restart on the same DATA_DIR still serves the files of old messages.
    const heat = all.find((f) => f.name === 'taste-match.png')!;
    await adapter.stop();
    adapter = createPlaygroundAdapter({ services: core.app.services, log: silentLogger, port: 0, runFeedPollMs: 50, stateFile });
    await adapter.start();
    clients = new Map(); // sessions do not outlive the process: each browser opens a new one
    expect(existsSync(stateFile)).toBe(true);
    expect(adapter.state.files.get(heat.id)?.file).toEqual(heat);
    await servedPng(heat);
  });
});

/**
 * Several bot processes share one Discord rate limit. The fake Discord keeps a real per-channel bucket
 * for message posts (5 per window, shared by the token, X-RateLimit-* headers on every answer); each
 * "process" is its own @discordjs/rest client built with the bot's REST options, as two replicas are.
 * Straight to Discord they collide and draw 429s; through `npm run discord:rest-proxy`
 * (one queue for all of them) they draw none and every message lands.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import path from 'node:path';
import { REST, Routes } from 'discord.js';
import { silentLogger } from '../src/log';
import { discordRestOptions } from '../src/platforms/discord/adapter';
import { startDiscordRestProxy, type DiscordRestProxy } from '../src/platforms/discord/rest-proxy';
import { FakeDiscord } from './fakes/discord-server';
import { waitFor } from './helpers/wait';

const PER_PROCESS = 12;
const WINDOW_MS = 250;
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

describe('discord: several bot processes, one rate limit', () => {
  let fake: FakeDiscord;
  let proxy: DiscordRestProxy | null = null;
  beforeAll(async () => {
    fake = new FakeDiscord();
    await fake.start();
    fake.limitRoute(
      'messages',
      (method, p) => (method === 'POST' ? (/^\/channels\/(\d+)\/messages$/.exec(p)?.[1] ?? null) : null),
      5,
      WINDOW_MS,
    );
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = null;
  });
  afterAll(async () => {
    await fake.stop();
  });

  /** Two processes post PER_PROCESS messages each into one channel at the same time (one with an image). */
  const twoProcessesPost = async (api: string, tag: string) => {
    const processes = [1, 2].map(() => new REST(discordRestOptions({ DISCORD_API_URL: api })).setToken(fake.token));
    await Promise.all(
      processes.map((rest, p) =>
        Promise.all(
          Array.from({ length: PER_PROCESS }, (_, i) =>
            rest.post(Routes.channelMessages(fake.channelId), {
              body: { content: `${tag} p${p} #${i}` },
              ...(i === 0 ? { files: [{ name: 'a.png', data: PNG, contentType: 'image/png' }] } : {}),
            }),
          ),
        ),
      ),
    );
    return fake.channelMessages(fake.channelId).filter((m) => m.content.startsWith(`${tag} `));
  };

  it('straight to Discord, two processes each spend the whole budget and draw 429s', async () => {
    const before = fake.served429.length;
    const posted = await twoProcessesPost(fake.apiUrl, 'direct');
    expect(posted).toHaveLength(2 * PER_PROCESS); // discord.js waits out each 429 and retries
    expect(fake.served429.length - before).toBeGreaterThan(0);
  });

  it('through the REST proxy: no 429 at all, every message (and image) lands, each with its own token', async () => {
    proxy = await startDiscordRestProxy({ port: 0, host: '127.0.0.1', upstreamApi: fake.apiUrl, log: silentLogger });
    await new Promise((r) => setTimeout(r, WINDOW_MS)); // a fresh window: the previous test spent this one
    const before = fake.served429.length;
    const requestsBefore = fake.requests.length;
    const posted = await twoProcessesPost(`${proxy.url}/api`, 'proxied');
    expect(posted).toHaveLength(2 * PER_PROCESS);
    expect(fake.served429.length - before).toBe(0);
    expect(proxy.stats.upstream429).toBe(0);
    expect(posted.filter((m) => m.attachments.length === 1)).toHaveLength(2);
    // The proxy forwards the bot's Authorization header; it holds no token of its own.
    expect(fake.requests.slice(requestsBefore).every((r) => r.auth === `Bot ${fake.token}`)).toBe(true);
    const health = await fetch(`${proxy.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', upstream429: 0 });
  });

  it('a window someone else already spent: one 429 teaches the proxy the bucket, it waits, and every post goes out again whole', async () => {
    proxy = await startDiscordRestProxy({ port: 0, host: '127.0.0.1', upstreamApi: fake.apiUrl, log: silentLogger });
    // The proxy has forwarded a post before, so it knows the route's bucket. A proxy that has not may
    // draw a second 429 here, depending on the machine's speed: @discordjs/rest queues a route's
    // requests under a provisional handler until Discord names the bucket, and a request arriving
    // after that goes to the bucket's own handler, which has not seen the first 429.
    await new REST(discordRestOptions({ DISCORD_API_URL: `${proxy.url}/api` }))
      .setToken(fake.token)
      .post(Routes.channelMessages(fake.channelId), { body: { content: 'warm-up' } });
    await new Promise((r) => setTimeout(r, WINDOW_MS)); // a fresh window for the outsider to spend
    // A process not behind the proxy spends the window just before.
    const outsider = new REST(discordRestOptions({ DISCORD_API_URL: fake.apiUrl })).setToken(fake.token);
    await Promise.all(
      Array.from({ length: 5 }, (_, i) => outsider.post(Routes.channelMessages(fake.channelId), { body: { content: `outsider #${i}` } })),
    );
    const before = fake.served429.length;
    const posted = await twoProcessesPost(`${proxy.url}/api`, 'after-outsider');
    expect(fake.served429.length - before).toBeLessThanOrEqual(1);
    // A re-sent request carries its body again: none of them went out empty, the images are intact.
    expect(posted).toHaveLength(2 * PER_PROCESS);
    expect(posted.filter((m) => m.attachments.length === 1 && m.attachments[0]!.bytes.equals(PNG))).toHaveLength(2);
  });

  it('a request Discord refuses is passed back as Discord said it (401 here), not retried into a block', async () => {
    proxy = await startDiscordRestProxy({ port: 0, host: '127.0.0.1', upstreamApi: fake.apiUrl, log: silentLogger });
    const rest = new REST({ ...discordRestOptions({ DISCORD_API_URL: `${proxy.url}/api` }), retries: 0 }).setToken('not-the-token');
    await expect(rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'x' } })).rejects.toMatchObject({ status: 401 });
  });

  it('a body over the cap is refused with a 413 and never reaches Discord', async () => {
    // A small cap, so the test holds a few KiB rather than the production cap's 110 MiB.
    const cap = 64 * 1024;
    proxy = await startDiscordRestProxy({ port: 0, host: '127.0.0.1', upstreamApi: fake.apiUrl, log: silentLogger, maxBodyBytes: cap });
    const rest = new REST({ ...discordRestOptions({ DISCORD_API_URL: `${proxy.url}/api` }), retries: 0 }).setToken(fake.token);
    const requestsBefore = fake.requests.length;
    // Sized: discord.js sends a Content-Length, here just over the cap (the file alone is the cap).
    await expect(
      rest.post(Routes.channelMessages(fake.channelId), {
        body: { content: 'big' },
        files: [{ name: 'big.png', data: Buffer.alloc(cap, 1), contentType: 'image/png' }],
      }),
    ).rejects.toMatchObject({ status: 413 });
    // Chunked: no Content-Length, so the proxy only learns the size by reading; one byte over the cap.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${proxy!.url}/api/v10/channels/${fake.channelId}/messages`,
        { method: 'POST', headers: { authorization: `Bot ${fake.token}`, 'content-type': 'application/octet-stream' } },
        (res) => {
          let body = '';
          res
            .setEncoding('utf8')
            .on('data', (d: string) => (body += d))
            .on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 16; i++) req.write(Buffer.alloc(4 * 1024, 1));
      req.end(Buffer.alloc(1, 1));
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toMatchObject({ code: 40005 });
    expect(fake.requests.length).toBe(requestsBefore);
    // A small post through the same proxy still goes out. Earlier tests may have spent this channel's
    // window: a 429 the proxy waits out and sends again is one more request at the fake, not a second post.
    const served429Before = fake.served429.length;
    await rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'small' } });
    expect(fake.requests.length - (fake.served429.length - served429Before)).toBe(requestsBefore + 1);
  });

  it('Discord out of reach: the bot gets a 502 it can retry, never an empty 200 that would pass for a sent post', async () => {
    const closed = new FakeDiscord();
    await closed.start();
    const deadApi = closed.apiUrl;
    await closed.stop(); // nothing listens there any more
    proxy = await startDiscordRestProxy({ port: 0, host: '127.0.0.1', upstreamApi: deadApi, log: silentLogger });
    const rest = new REST({ ...discordRestOptions({ DISCORD_API_URL: `${proxy.url}/api` }), retries: 0 }).setToken(fake.token);
    await expect(rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'lost?' } })).rejects.toMatchObject({ status: 502 });
  });

  it('npm run discord:rest-proxy: listens on DISCORD_REST_PROXY_PORT and says how to point the bots at it; a taken port is named', async () => {
    const root = path.resolve(import.meta.dirname, '..');
    const run = (env: Record<string, string>) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/platforms/discord/rest-proxy.ts'], {
        cwd: root,
        env: { ...process.env, LOG_LEVEL: 'info', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += String(d)));
      child.stderr.on('data', (d) => (out += String(d)));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      return { child, output: () => out, exited };
    };
    const a = run({ DISCORD_REST_PROXY_PORT: '0', DISCORD_API_URL: fake.apiUrl });
    let b: ReturnType<typeof run> | undefined;
    try {
      // Each process loads discord.js through tsx: seconds when idle, much longer on a busy machine.
      const line = await waitFor(() => /set DISCORD_API_URL=(http:\/\/[^ "]+\/api)/.exec(a.output()), 'the listening line', 150_000);
      const res = await fetch(`${line[1]!.replace(/\/api$/, '')}/healthz`);
      expect(res.status).toBe(200);
      const port = new URL(line[1]!).port;
      b = run({ DISCORD_REST_PROXY_PORT: port });
      expect(await b.exited).toBe(1);
      expect(b.output()).toContain(`DISCORD_REST_PROXY_PORT ${port} is not free. Set DISCORD_REST_PROXY_PORT to a free port.`);
      a.child.kill('SIGTERM');
      expect(await a.exited).toBe(0);
    } finally {
      // After a failure above: leave nothing running (a no-op for a process that has exited).
      a.child.kill('SIGKILL');
      b?.child.kill('SIGKILL');
    }
  }, 300_000);
});

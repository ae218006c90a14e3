/**
 * `npm run bench:discord-rest [-- --processes 2,4 --messages 20 --limit 5 --window 1000 --seeds 1-3]`
 *
 * Several bot processes post into one channel, whose message bucket Discord keeps per bot token
 * (5 posts per 5 s on Discord; `--window` scales it down so a run takes seconds). Each process is its
 * own @discordjs/rest client with the bot's REST options (src/platforms/discord/adapter.ts), as
 * replicas are. Measured straight to the API and through the shared proxy (rest-proxy.ts): how many
 * requests drew a 429 (each counts toward Discord's 10,000 invalid requests per 10 minutes) and how
 * long the posts took. The seed sets when each process starts and how long it waits between posts.
 *
 * The API here is a small bucketed server in this file (the X-RateLimit-* headers and 429 body of
 * Discord's docs), not the tests' fake, so a benchmark never depends on test code.
 *
 * Last stdout line: JSON {rows: [{processes, seed, direct_429, direct_requests, proxy_429,
 * proxy_requests, direct_s, proxy_s}], direct_429_share, proxy_429_share}.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { REST } from 'discord.js';
import { createRng } from '../../core/random';
import { silentLogger } from '../../log';
import { discordRestOptions } from '../../platforms/discord/adapter';
import { startDiscordRestProxy } from '../../platforms/discord/rest-proxy';
import { parseArgs, parseSeeds, runMain, UsageError } from '../cli';

const TOKEN = 'bench-token';

/** POST /api/v10/channels/:id/messages with one bucket per channel: `limit` posts per `windowMs`. */
async function bucketedApi(limit: number, windowMs: number) {
  const windows = new Map<string, { resetAt: number; used: number }>();
  const stats = { requests: 0, limited: 0, posted: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const m = /^\/api\/v\d+\/channels\/(\d+)\/messages$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m)
        return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"404: Not Found","code":0}');
      if (req.headers.authorization !== `Bot ${TOKEN}`)
        return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"401: Unauthorized","code":0}');
      stats.requests++;
      const now = Date.now();
      let w = windows.get(m[1]!);
      if (!w || now >= w.resetAt) windows.set(m[1]!, (w = { resetAt: now + windowMs, used: 0 }));
      const after = Math.max(0.001, (w.resetAt - now) / 1000);
      const headers = {
        'content-type': 'application/json',
        'x-ratelimit-bucket': `msg-${m[1]}`,
        'x-ratelimit-limit': String(limit),
        'x-ratelimit-reset': (w.resetAt / 1000).toFixed(3),
        'x-ratelimit-reset-after': after.toFixed(3),
      };
      if (w.used >= limit) {
        stats.limited++;
        res.writeHead(429, {
          ...headers,
          'x-ratelimit-remaining': '0',
          'x-ratelimit-scope': 'user',
          'retry-after': String(Math.ceil(after)),
        });
        return void res.end(JSON.stringify({ message: 'You are being rate limited.', retry_after: after, global: false }));
      }
      w.used++;
      stats.posted++;
      res.writeHead(200, { ...headers, 'x-ratelimit-remaining': String(limit - w.used) });
      res.end(JSON.stringify({ id: String(stats.posted), channel_id: m[1], content: '' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return { api: `http://127.0.0.1:${port}/api`, stats, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** `processes` clients post `messages` each into one channel; start offsets and pauses drawn from `seed`. */
async function run(api: string, processes: number, messages: number, seed: number): Promise<number> {
  const rng = createRng(seed);
  const plans = Array.from({ length: processes }, () => ({
    start: rng.int(200),
    pauses: Array.from({ length: messages }, () => rng.int(40)),
  }));
  const t0 = performance.now();
  await Promise.all(
    plans.map(async (plan, p) => {
      const rest = new REST(discordRestOptions({ DISCORD_API_URL: api })).setToken(TOKEN);
      await new Promise((r) => setTimeout(r, plan.start));
      const posts: Promise<unknown>[] = [];
      for (let i = 0; i < messages; i++) {
        posts.push(rest.post('/channels/100/messages', { body: { content: `p${p} #${i}` } }));
        await new Promise((r) => setTimeout(r, plan.pauses[i]));
      }
      await Promise.all(posts);
    }),
  );
  return (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), { processes: '2,4', messages: 20, limit: 5, window: 1000, seeds: '1-3' });
  const counts = String(args.processes).split(',').map(Number);
  if (counts.some((c) => !(Number.isInteger(c) && c >= 1 && c <= 16)))
    throw new UsageError(`--processes takes counts from 1 to 16 like 2,4 (got "${String(args.processes)}")`);
  const seeds = parseSeeds(String(args.seeds));
  const messages = Number(args.messages);
  const limit = Number(args.limit);
  const windowMs = Number(args.window);
  const rows: {
    processes: number;
    seed: number;
    direct_429: number;
    direct_requests: number;
    proxy_429: number;
    proxy_requests: number;
    direct_s: number;
    proxy_s: number;
  }[] = [];
  console.log(`## Several processes, one Discord message bucket (${limit} posts per ${windowMs} ms, ${messages} posts per process)`);
  console.log('');
  console.log('| processes | seed | straight: 429s / requests | through the proxy: 429s / requests | straight s | proxy s |');
  console.log('|---|---|---|---|---|---|');
  for (const k of counts) {
    for (const seed of seeds) {
      const direct = await bucketedApi(limit, windowMs);
      const directS = await run(direct.api, k, messages, seed);
      await direct.close();
      const upstream = await bucketedApi(limit, windowMs);
      const proxy = await startDiscordRestProxy({ port: 0, host: '127.0.0.1', upstreamApi: upstream.api, log: silentLogger });
      const proxyS = await run(`${proxy.url}/api`, k, messages, seed);
      await proxy.close();
      await upstream.close();
      const row = {
        processes: k,
        seed,
        direct_429: direct.stats.limited,
        direct_requests: direct.stats.requests,
        proxy_429: upstream.stats.limited,
        proxy_requests: upstream.stats.requests,
        direct_s: Number(directS.toFixed(2)),
        proxy_s: Number(proxyS.toFixed(2)),
      };
      rows.push(row);
      console.log(
        `| ${k} | ${seed} | ${row.direct_429} / ${row.direct_requests} (${((100 * row.direct_429) / row.direct_requests).toFixed(1)}%) | ${row.proxy_429} / ${row.proxy_requests} (${((100 * row.proxy_429) / row.proxy_requests).toFixed(1)}%) | ${row.direct_s} | ${row.proxy_s} |`,
      );
    }
  }
  const share = (a: number, b: number) => Number((a / b).toFixed(4));
  const sum = (f: (r: (typeof rows)[number]) => number) => rows.reduce((a, r) => a + f(r), 0);
  const summary = {
    rows,
    direct_429_share: share(
      sum((r) => r.direct_429),
      sum((r) => r.direct_requests),
    ),
    proxy_429_share: share(
      sum((r) => r.proxy_429),
      sum((r) => r.proxy_requests),
    ),
  };
  console.log('');
  console.log(
    `429 share: straight ${(summary.direct_429_share * 100).toFixed(1)}%, through the proxy ${(summary.proxy_429_share * 100).toFixed(1)}% (target < 1%, none global); each post lands either way (discord.js waits out a 429 and retries).`,
  );
  console.log(JSON.stringify(summary));
}

runMain(import.meta.url, main);

/**
 * `npm run discord:rest-proxy`: one process that owns the Discord REST rate limits for every bot
 * process of a deployment, so several replicas never overrun the one per-token budget between them.
 *
 * Why: Discord's limits are per bot token, not per process. discord.js learns a route's budget from the
 * X-RateLimit headers of its own responses, so two replicas each believe they have the whole budget and
 * together run into 429s (and every 429 counts toward the 10,000 invalid requests per 10 minutes after
 * which Discord blocks the IP for an hour). Pointing every replica's DISCORD_API_URL at this proxy
 * puts all their requests through one @discordjs/rest queue that waits out the buckets instead.
 *
 * The proxy holds no token: each request keeps the Authorization header its bot sent. It forwards to
 * DISCORD_API_URL (default: Discord), answers `GET /healthz` itself, and logs its rate-limit waits and
 * Discord's invalid-request count.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REST, type RequestMethod } from 'discord.js';
import type { Logger } from 'pino';
import type * as DiscordProxy from '@discordjs/proxy';
import { loadConfig, ConfigError } from '../../config';
import { createLogger } from '../../log';

// The CommonJS build of @discordjs/proxy, on purpose: its error helpers recognize Discord's answers by
// `instanceof`, so they must share @discordjs/rest with discord.js, which loads the CommonJS build (the
// ESM import would bring a second copy of every error class — and, under vitest's module runner, a
// second @vladfrangu/async_event_emitter whose bundled util.inspect fails at import).
const { populateErrorResponse, populateSuccessfulResponse } = createRequire(import.meta.url)('@discordjs/proxy') as typeof DiscordProxy;

export interface DiscordRestProxy {
  readonly url: string;
  /** Requests forwarded, and how many of Discord's answers were 429s (each one an invalid request). */
  readonly stats: { forwarded: number; upstream429: number; waits: number };
  close(): Promise<void>;
}

export interface DiscordRestProxyOptions {
  port: number;
  host: string;
  /** Where the requests go (Discord's API by default; a fake in tests). */
  upstreamApi?: string;
  log: Logger;
  /** Larger request bodies get a 413 without reaching Discord (default MAX_BODY_BYTES). */
  maxBodyBytes?: number;
}

export async function startDiscordRestProxy(opts: DiscordRestProxyOptions): Promise<DiscordRestProxy> {
  const { log } = opts;
  const maxBodyBytes = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  // rejectOnRateLimit stays off: the whole point is to wait for the bucket instead of failing.
  const rest = new REST({ ...(opts.upstreamApi ? { api: opts.upstreamApi } : {}), invalidRequestWarningInterval: 250 });
  const stats = { forwarded: 0, upstream429: 0, waits: 0 };
  rest.on('response', (_request, response) => {
    stats.forwarded++;
    if (response.status === 429) stats.upstream429++;
  });
  rest.on('rateLimited', (info) => {
    stats.waits++;
    log.debug(
      { route: info.route, bucket: info.hash, waitMs: info.timeToReset, global: info.global },
      'discord rate limit: waiting for the bucket',
    );
  });
  rest.on('invalidRequestWarning', ({ count, remainingTime }) => {
    log.warn(
      { count, resetInMs: remainingTime },
      `Discord has counted ${count} invalid requests (401/403/429) through this proxy in its current 10-minute window; at 10,000 it blocks the IP for an hour`,
    );
  });
  /**
   * The forwarding of @discordjs/proxy's proxyRequests, except for one case: a failure that is not an
   * answer from Discord (upstream unreachable, a reset connection) becomes a 502 the bot's REST retries.
   * proxyRequests ends such a response as an empty 200 — a bot would take a lost post for a sent one.
   */
  const forward = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const headers: Record<string, string> = {};
    for (const h of ['content-type', 'authorization', 'x-audit-log-reason'] as const) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    try {
      // Buffered, not streamed: after a 429 the request is sent again, and a consumed stream would go
      // out empty (an image post would turn into "Cannot send an empty message").
      const body = await readBody(req, maxBodyBytes);
      const answer = await rest.queueRequest({
        fullRoute: url.pathname.replace(/^\/api(\/v\d+)?/, '') as `/${string}`,
        method: (req.method ?? 'GET') as RequestMethod,
        body,
        passThroughBody: true,
        // The bot's own Authorization header goes through; the proxy has no token.
        auth: false,
        query: url.searchParams,
        headers,
      });
      await populateSuccessfulResponse(res, answer);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        log.warn(
          { method: req.method, path: url.pathname, limit: maxBodyBytes },
          'discord rest proxy: request body too large; not forwarded',
        );
        res.statusCode = 413;
        res.setHeader('content-type', 'application/json');
        res.write(
          JSON.stringify({
            message: `Request body over ${maxBodyBytes} bytes: not forwarded to Discord (it would refuse it too)`,
            code: 40005,
          }),
        );
      } else if (!populateErrorResponse(res, err)) {
        log.error({ err, method: req.method, path: url.pathname }, 'discord rest proxy: no answer from Discord');
        res.statusCode = 502;
        res.setHeader('content-type', 'application/json');
        res.write(JSON.stringify({ message: 'The Discord REST proxy could not reach Discord', code: 0 }));
      }
    } finally {
      res.end();
    }
  };
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', ...stats }));
      return;
    }
    void forward(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  return {
    url,
    stats,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * Bodies are held in memory (see `forward`), so they are capped: Discord takes up to 100 MiB of
 * attachments per message on a fully boosted server (25 MiB otherwise); the rest is room for the form.
 */
export const MAX_BODY_BYTES = 110 * 1024 * 1024;

class BodyTooLargeError extends Error {}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length']) > max) throw new BodyTooLargeError(`request body over ${max} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  // Read to the end even past the cap (kept bytes stop there): leaving the loop early would destroy the
  // socket, and the bot would see a reset connection instead of the 413.
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= max) chunks.push(chunk as Buffer);
  }
  if (size > max) throw new BodyTooLargeError(`request body over ${max} bytes`);
  return size ? Buffer.concat(chunks) : undefined;
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL);
  const port = config.DISCORD_REST_PROXY_PORT;
  let proxy: DiscordRestProxy;
  try {
    proxy = await startDiscordRestProxy({ port, host: config.HOST, upstreamApi: config.DISCORD_API_URL, log });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    log.error(
      code === 'EADDRINUSE'
        ? `DISCORD_REST_PROXY_PORT ${port} is not free. Set DISCORD_REST_PROXY_PORT to a free port.`
        : `the Discord REST proxy could not listen on port ${port}: ${String(err)}`,
    );
    process.exit(1);
  }
  log.info(
    { url: proxy.url, upstream: config.DISCORD_API_URL ?? 'https://discord.com/api' },
    `discord REST proxy listening: set DISCORD_API_URL=${proxy.url}/api in every bot process`,
  );
  const stop = () => {
    log.info(proxy.stats, 'discord REST proxy stopping');
    void proxy.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) void main();

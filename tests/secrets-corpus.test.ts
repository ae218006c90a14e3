/**
 * Secrets stay out of logs and out of HTTP: a corpus of fake secrets is pushed through every log path
 * and every served description, and none of them may appear — while the non-secret context (message,
 * status, URL path) still does.
 *
 *  - provider errors as the real SDKs build them, against a local server that echoes credentials
 *    back (the worst an upstream or a proxy can do): OpenAI APIError (through the project's own
 *    moderator → ProviderError), Replicate ApiError (through ReplicateImageGenerator, its `request`
 *    carrying the Authorization header), a failed fetch carrying request headers;
 *  - platform errors: discord.js DiscordAPIError (bot token, interaction-webhook URL), Slack WebAPI
 *    platform / HTTP / request errors whose `data` / `body` / `headers` echo the token, and an axios
 *    error as Bolt's old HTTP stack built it (config.headers.authorization, a real ClientRequest);
 *  - each logged through the real createLogger (log.error({ err }), log.error(err), non-`err` keys,
 *    child bindings, interpolation) into a captured stream;
 *  - startup: src/main.ts in a child process with the secrets in its environment (OPENAI_BASE_URL with
 *    `user:hunter2@` and `?api-key=`, OPENAI_API_KEY, a password-protected DATABASE_URL on a throwaway
 *    PostgreSQL when one can be started here — else PGlite), its stdout/stderr, GET /api/backends and
 *    /readyz, and a run whose LLM call fails.
 *
 * Secrets are generated at run time (random, so no secret-shaped literal sits in the repository).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REST, DiscordAPIError } from '@discordjs/rest';
import { Routes } from 'discord.js';
import { webApi } from '@slack/bolt';
import { createLogger, type Logger } from '../src/log';
import { createOpenAILlms } from '../src/providers/llm/openai';
import { ReplicateImageGenerator } from '../src/providers/imagegen/replicate';
import { ProviderError } from '../src/core/errors';
import { loadConfig } from '../src/config';
import { closeServer, listenOnLoopback } from './fakes/loopback';
import { waitFor } from './helpers/wait';

const ROOT = path.resolve(import.meta.dirname, '..');

// ------------------------------------------------------------------------------------------------
// The corpus
// ------------------------------------------------------------------------------------------------

const hex = (n: number) => randomBytes(n).toString('hex');
const b64url = (n: number) => randomBytes(n).toString('base64url');
/** A Discord bot token: base64 of the bot's user id (so it starts with M, N or O), a timestamp, an HMAC. */
const discordToken = (id: string) =>
  `${Buffer.from(id).toString('base64').replace(/=+$/, '')}.${b64url(6).slice(0, 6)}.${b64url(30).slice(0, 38)}`;

const C = {
  openaiKey: `sk-proj-${b64url(36)}`,
  openaiUrlPassword: `hunter2`,
  openaiUrlApiKey: `azk${hex(16)}`,
  dbPassword: `pgpw${hex(10)}`,
  replicateToken: `r8_${hex(18)}`,
  slackBot: `xoxb-${Date.now()}-${hex(6)}-${b64url(18).replace(/[-_]/g, 'x')}`,
  slackApp: `xapp-1-A0${hex(4).toUpperCase()}-${Date.now()}-${hex(32)}`,
  slackSigning: hex(16), // 32 hex chars, nothing else to recognise it by
  discordM: discordToken('123456789012345678'),
  discordN: discordToken('456789012345678901'),
  discordO: discordToken('812345678901234567'),
  interactionToken: `aW50ZXJhY3Rpb246${b64url(60)}`,
  bearerOpaque: `opq${hex(20)}`,
  xApiKey: `xak${hex(20)}`,
  cookie: `ck${hex(20)}`,
  basicPassword: `bpw${hex(8)}`,
  hfToken: `hf_${b64url(30).replace(/[-_]/g, 'q')}`,
  slackWebhook: `${b64url(18).replace(/[-_]/g, 'w')}`,
  hubPassword: `hub${hex(10)}`,
} as const;
const CORPUS = Object.entries(C) as [keyof typeof C, string][];

/** Every corpus secret found in `text`, by name: the assertion is that this is empty. */
function leaks(text: string): string[] {
  return CORPUS.filter(([, secret]) => text.includes(secret)).map(([name]) => name);
}

/** CORPUS_DUMP=<file> appends every captured line there, to read what an operator would see. */
function capture(level = 'trace'): { log: Logger; text: () => string; lines: () => Record<string, any>[] } {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      raw.push(String(chunk));
      if (process.env.CORPUS_DUMP) appendFileSync(process.env.CORPUS_DUMP, String(chunk));
      cb();
    },
  });
  // No environment-derived secrets here: these paths must hold by structure and shape alone.
  const log = createLogger(level, stream, { env: {} });
  return { log, text: () => raw.join(''), lines: () => raw.map((l) => JSON.parse(l)) };
}

/** Logs one error every way the code base does. */
function logEveryWay(log: Logger, err: unknown, context: string): void {
  log.error({ err }, context);
  log.error(err as Error);
  log.warn({ error: err, attempt: 2, nested: [{ reason: err }] }, `${context} (non-err key)`);
  log.child({ err, component: 'corpus' }).error(`${context} (child binding)`);
  log.info(`${context}: %s / %o`, String(err), err as object);
  log.fatal({ err }, `startup failed: ${(err as Error).message}`);
}

// ------------------------------------------------------------------------------------------------
// An upstream that echoes credentials back
// ------------------------------------------------------------------------------------------------

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let b = '';
    req.on('data', (d: Buffer) => (b += d.toString()));
    req.on('end', () => resolve(b));
  });
}

const echo = http.createServer((req, res) => {
  void readBody(req).then((body) => {
    const url = new URL(req.url ?? '/', 'http://echo');
    const auth = req.headers.authorization ?? '';
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', 'set-cookie': `__cf_bm=${C.cookie}; path=/; HttpOnly`, ...headers });
      res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
    };
    const p = url.pathname;
    if (p.startsWith('/openai/')) {
      return send(401, {
        error: {
          message: `Incorrect API key provided: ${auth.replace(/^Bearer /, '')}. You can find your API key at https://platform.openai.com/account/api-keys.`,
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      });
    }
    if (p.startsWith('/replicate/')) return send(401, { title: 'Unauthenticated', detail: `Invalid token: ${auth}`, status: 401 });
    if (p.startsWith('/discord/')) {
      if (p.includes('/webhooks/')) return send(404, { message: 'Unknown Webhook', code: 10015 });
      return send(401, { message: '401: Unauthorized', code: 0, echo: auth });
    }
    if (p === '/slack/api/auth.test') {
      // The incident: an invalid_auth answer that echoes the token it was given.
      return send(200, {
        ok: false,
        error: 'invalid_auth',
        token: auth.replace(/^Bearer /, ''),
        response_metadata: { messages: [`token=${auth.replace(/^Bearer /, '')}`] },
      });
    }
    if (p.startsWith('/slack/'))
      return send(500, `upstream proxy error; request had Authorization: ${auth}; body ${body}`, {
        'content-type': 'text/plain',
        'x-api-key': C.xApiKey,
      });
    if (p.startsWith('/axios/')) return send(401, { ok: false, error: 'invalid_auth', token: new URLSearchParams(body).get('token') });
    return send(404, { error: 'not found' });
  });
});
let echoBase = '';

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

beforeAll(async () => {
  echoBase = `http://127.0.0.1:${await listenOnLoopback(echo)}`;
});
afterAll(async () => {
  await closeServer(echo);
});

// ------------------------------------------------------------------------------------------------
// Provider and platform errors, through the real logger
// ------------------------------------------------------------------------------------------------

describe('provider errors are logged without their secrets', () => {
  it('OpenAI: the SDK APIError (401 echoing the key; set-cookie in its headers) wrapped as a ProviderError', async () => {
    const llms = createOpenAILlms({
      apiKey: C.openaiKey,
      baseURL: `${echoBase}/openai/v1`,
      model: 'gpt-4o-mini',
      maxRetries: 0,
      timeoutMs: 5_000,
    });
    const err = await llms.moderator.check(['a lighthouse']).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect(String((err as Error).message)).toContain(C.openaiKey); // the raw error does carry it
    const { log, text, lines } = capture();
    logEveryWay(log, err, 'moderation failed');
    expect(leaks(text())).toEqual([]);
    const first = lines()[0]!;
    expect(first.msg).toBe('moderation failed');
    expect(first.err.type).toBe('ProviderError');
    expect(first.err.message).toMatch(/^openai: HTTP 401: .*Incorrect API key provided: \[redacted\]/);
    expect(first.err.status).toBe(401);
    expect(first.err.cause.type).toBe('AuthenticationError');
    expect(first.err.cause.headers['set-cookie']).toBe('[redacted]');
    expect(first.err.cause.headers['content-type']).toBe('application/json');
  });

  it('OpenAI: a base URL with user:password@ and ?api-key= in a connection error', async () => {
    const port = await closedPort();
    const llms = createOpenAILlms({
      apiKey: C.openaiKey,
      baseURL: `http://llm:${C.openaiUrlPassword}@127.0.0.1:${port}/v1?api-key=${C.openaiUrlApiKey}`,
      model: 'gpt-4o-mini',
      maxRetries: 0,
      timeoutMs: 5_000,
    });
    const err = await llms.moderator.check(['a lighthouse']).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const { log, text, lines } = capture();
    logEveryWay(log, err, 'moderation failed');
    expect(leaks(text())).toEqual([]);
    expect(text()).not.toContain('hunter2');
    expect(lines()[0]!.err.message).toMatch(/connection failed/);
    expect(text()).toContain(`127.0.0.1:${port}/v1`);
  });

  it('Replicate: ApiError (its request carries Authorization: Bearer r8_…) through ReplicateImageGenerator', async () => {
    const gen = new ReplicateImageGenerator({
      auth: C.replicateToken,
      baseUrl: `${echoBase}/replicate/v1`,
      model: 'owner/model',
      maxRetries: 0,
      timeoutMs: 5_000,
    });
    const err = await gen.generate('a lighthouse').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderError);
    const cause = (err as { cause?: { request?: Request } }).cause;
    expect(cause?.request?.headers.get('authorization')).toBe(`Bearer ${C.replicateToken}`);
    const { log, text, lines } = capture();
    logEveryWay(log, err, 'image generation failed');
    expect(leaks(text())).toEqual([]);
    const first = lines()[0]!;
    expect(first.err.message).toMatch(/^replicate: Request to .*\/replicate\/v1\/models\/owner\/model\/predictions failed with status 401/);
    expect(first.err.cause.request.headers.authorization).toBe('[redacted]');
    expect(first.err.cause.request.url).toContain('/replicate/v1/models/owner/model/predictions');
    expect(first.err.cause.response.status).toBe(401);
  });

  it('a failed fetch carrying its request headers (Headers, Map and plain objects)', async () => {
    const port = await closedPort();
    const url = `http://svc:${C.basicPassword}@127.0.0.1:${port}/v1/things?access_token=${C.bearerOpaque}&page=2`;
    const err = await fetch(`http://127.0.0.1:${port}/v1/things`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TypeError);
    const headers = new Headers({
      authorization: `Bearer ${C.bearerOpaque}`,
      'x-api-key': C.xApiKey,
      cookie: `sid=${C.cookie}`,
      accept: 'application/json',
    });
    Object.assign(err as object, {
      request: { method: 'GET', url, headers },
      config: {
        headers: new Map([
          ['Proxy-Authorization', `Basic ${Buffer.from(`svc:${C.basicPassword}`).toString('base64')}`],
          ['Accept', 'image/png'],
        ]),
      },
      response: { status: 0, body: { refresh_token: C.bearerOpaque, client_secret: C.slackSigning, hf: C.hfToken } },
    });
    const { log, text, lines } = capture();
    logEveryWay(log, err, 'download failed');
    expect(leaks(text())).toEqual([]);
    const first = lines()[0]!;
    expect(first.err.message).toBe('fetch failed: connect ECONNREFUSED 127.0.0.1:' + port);
    expect(first.err.request.url).toBe(`http://[redacted]@127.0.0.1:${port}/v1/things?access_token=[redacted]&page=2`);
    expect(first.err.request.headers).toEqual({
      accept: 'application/json',
      authorization: '[redacted]',
      cookie: '[redacted]',
      'x-api-key': '[redacted]',
    });
    expect(first.err.config.headers).toEqual({ 'Proxy-Authorization': '[redacted]', Accept: 'image/png' });
    expect(first.err.cause.code).toBe('ECONNREFUSED');
  });
});

describe('platform errors are logged without their secrets', () => {
  it('discord.js: DiscordAPIError for a bad bot token and for an interaction webhook (token in the URL)', async () => {
    const rest = new REST({ version: '10', api: `${echoBase}/discord/api`, retries: 0, timeout: 5_000 }).setToken(C.discordO);
    const e401 = await rest.get(Routes.user('@me')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(e401).toBeInstanceOf(DiscordAPIError);
    const e404 = await rest
      .post(Routes.webhook('123456789012345678', C.interactionToken), { body: { content: 'hi', token: C.discordN }, auth: false })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(e404).toBeInstanceOf(DiscordAPIError);
    expect((e404 as DiscordAPIError).url).toContain(C.interactionToken);
    const { log, text, lines } = capture();
    logEveryWay(log, e401, 'discord client error');
    logEveryWay(log, e404, 'could not answer the interaction');
    log.error(`login failed for token ${C.discordM}`); // a token in a message, whatever its first letter
    log.error({ token: C.discordN, headers: { Authorization: `Bot ${C.discordO}` } }, 'discord');
    expect(leaks(text())).toEqual([]);
    const [a, ...rest6] = lines();
    expect(a!.err.type).toBe('DiscordAPIError');
    expect(a!.err.status).toBe(401);
    expect(a!.err.url).toMatch(/\/discord\/api\/v10\/users\/(@|%40)me$/);
    expect(a!.err.rawError).toEqual({ message: '401: Unauthorized', code: 0, echo: 'Bot [redacted]' });
    const b = rest6.find((l) => l.msg === 'could not answer the interaction')!;
    expect(b.err.url).toMatch(/\/discord\/api\/v10\/webhooks\/123456789012345678\/\[redacted\]$/);
    expect(b.err.requestBody.json).toEqual({ content: 'hi', token: '[redacted]' });
    expect(b.err.message).toBe('Unknown Webhook');
  });

  it('Slack WebClient: a platform error whose data echoes the token, an HTTP error, a request error', async () => {
    const client = new webApi.WebClient(C.slackBot, {
      slackApiUrl: `${echoBase}/slack/api/`,
      retryConfig: { retries: 0 },
      logLevel: webApi.LogLevel.ERROR,
    });
    const platformErr = await client.auth.test().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((platformErr as { code?: string }).code).toBe('slack_webapi_platform_error');
    expect(JSON.stringify((platformErr as { data: unknown }).data)).toContain(C.slackBot);
    const httpErr = await client.chat.postMessage({ channel: 'C1', text: 'hi' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((httpErr as { code?: string }).code).toBe('slack_webapi_http_error');
    const port = await closedPort();
    const offline = new webApi.WebClient(C.slackBot, {
      slackApiUrl: `http://127.0.0.1:${port}/api/`,
      retryConfig: { retries: 0 },
      logLevel: webApi.LogLevel.ERROR,
    });
    const requestErr = await offline.auth.test().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((requestErr as { code?: string }).code).toBe('slack_webapi_request_error');

    const { log, text, lines } = capture();
    logEveryWay(log, platformErr, 'slack app error');
    logEveryWay(log, httpErr, 'slack post failed');
    logEveryWay(log, requestErr, 'slack unreachable');
    // Socket Mode and HTTP-mode settings logged as a whole.
    log.info(
      { slack: { token: C.slackBot, appToken: C.slackApp, signingSecret: C.slackSigning, 'signing-secret': C.slackSigning } },
      'slack settings',
    );
    log.info(`verifying requests with SLACK_SIGNING_SECRET=${C.slackSigning}; app token ${C.slackApp}`);
    log.info(`posting to https://hooks.slack.com/services/T0001/B0001/${C.slackWebhook}`);
    expect(leaks(text())).toEqual([]);
    const first = lines()[0]!;
    expect(first.msg).toBe('slack app error');
    expect(first.err.message).toBe('An API error occurred: invalid_auth');
    expect(first.err.data.error).toBe('invalid_auth');
    expect(first.err.data.token).toBe('[redacted]');
    const http500 = lines().find((l) => l.msg === 'slack post failed')!;
    expect(http500.err.statusCode).toBe(500);
    expect(http500.err.headers['x-api-key']).toBe('[redacted]');
  });

  it('an axios error as Bolt built it: config.headers.authorization, a real ClientRequest, response.data echoing the token', async () => {
    // axios keeps headers in an AxiosHeaders instance (own properties plus toJSON) and puts Node's
    // ClientRequest — whose `_header` holds the raw request head, Authorization included — in `request`.
    class AxiosHeaders {
      constructor(h: Record<string, string>) {
        Object.assign(this, h);
      }
      toJSON(): Record<string, unknown> {
        return { ...(this as object) };
      }
    }
    const url = `${echoBase}/axios/api/chat.postMessage`;
    const body = `token=${C.slackBot}&channel=C1&text=hi`;
    const req = http.request(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${C.slackBot}`, 'content-type': 'application/x-www-form-urlencoded' },
    });
    req.end(body);
    const res = await new Promise<http.IncomingMessage>((r) => req.once('response', r));
    const data = JSON.parse(await readBody(res)) as Record<string, unknown>;
    expect(String((req as unknown as { _header: string })._header)).toContain(C.slackBot);
    const config = {
      url,
      method: 'post',
      data: body,
      timeout: 0,
      headers: new AxiosHeaders({
        Accept: 'application/json, text/plain, */*',
        'Content-Type': 'application/x-www-form-urlencoded',
        authorization: `Bearer ${C.slackBot}`,
        'User-Agent': '@slack:web-api/6.0.0 node/20',
      }),
      auth: { username: 'bolt', password: C.basicPassword },
    };
    const err = Object.assign(new Error('Request failed with status code 401'), {
      name: 'AxiosError',
      code: 'ERR_BAD_REQUEST',
      isAxiosError: true,
      config,
      request: req,
      response: {
        status: res.statusCode,
        statusText: res.statusMessage,
        headers: new AxiosHeaders(res.headers as Record<string, string>),
        config,
        request: req,
        data,
      },
    });
    const { log, text, lines } = capture();
    logEveryWay(log, err, 'slack api call failed');
    expect(leaks(text())).toEqual([]);
    const first = lines()[0]!;
    expect(first.err.code).toBe('ERR_BAD_REQUEST');
    expect(first.err.config.headers.authorization).toBe('[redacted]');
    expect(first.err.config.auth).toBe('[redacted]');
    expect(first.err.config.data).toBe('token=[redacted]&channel=C1&text=hi');
    expect(first.err.request).toMatchObject({
      type: 'ClientRequest',
      method: 'POST',
      path: '/axios/api/chat.postMessage',
      headers: { authorization: '[redacted]' },
    });
    expect(first.err.response.status).toBe(401);
    expect(first.err.response.data).toEqual({ ok: false, error: 'invalid_auth', token: '[redacted]' });
    expect(first.err.response.headers['set-cookie']).toBe('[redacted]');
  });

  it('the whole configuration, logged by mistake, shows no secret', () => {
    const config = loadConfig({
      OPENAI_API_KEY: C.openaiKey,
      OPENAI_BASE_URL: `http://llm:${C.openaiUrlPassword}@127.0.0.1:1/v1?api-key=${C.openaiUrlApiKey}`,
      DATABASE_URL: `postgres://tl:${C.dbPassword}@db.internal:5432/tasteloop`,
      REPLICATE_API_TOKEN: C.replicateToken,
      DISCORD_TOKEN: C.discordN,
      DISCORD_APPLICATION_ID: '123456789012345678',
      SLACK_BOT_TOKEN: C.slackBot,
      SLACK_SIGNING_SECRET: C.slackSigning,
      SLACK_APP_TOKEN: C.slackApp,
      HF_ENDPOINT: `https://mirror:${C.hfToken}@hf.example.com/`,
    });
    const { log, text, lines } = capture();
    log.info({ config }, 'configuration');
    log.info(config, 'configuration, flat');
    expect(leaks(text())).toEqual([]);
    const logged = lines()[0]!.config;
    expect(logged.DATABASE_URL).toBe('postgres://[redacted]@db.internal:5432/tasteloop');
    expect(logged.OPENAI_BASE_URL).toBe('http://[redacted]@127.0.0.1:1/v1?api-key=[redacted]');
    expect(logged.DISCORD_APPLICATION_ID).toBe('123456789012345678');
  });

  it('a configuration error (printed on stderr as is) echoes no secret from a malformed URL', () => {
    let message = '';
    try {
      loadConfig({
        OPENAI_BASE_URL: `http://llm:${C.openaiUrlPassword}@127.0.0.1:99999/v1?api-key=${C.openaiUrlApiKey}`,
        DATABASE_URL: `postgres//tl:${C.dbPassword}@db/app`,
        SLACK_API_URL: `slack.internal:${C.slackSigning}@x`,
        DISCORD_TOKEN: C.discordM,
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/OPENAI_BASE_URL: expected an absolute URL .*\(got "http:\/\/\[redacted\]@127\.0\.0\.1:99999\/v1/);
    expect(message).toMatch(/DATABASE_URL: .*\(value hidden\)/);
    expect(message).toMatch(/DISCORD_APPLICATION_ID: required/);
    expect(leaks(message)).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------
// Startup: src/main.ts in a child process
// ------------------------------------------------------------------------------------------------

/**
 * A throwaway PostgreSQL cluster with password (scram) authentication, when this machine has the
 * server binaries (run as the `postgres` user when the tests run as root). Undefined otherwise.
 */
async function startThrowawayPostgres(password: string): Promise<{ url: string; stop: () => void } | undefined> {
  const binDirs = ['/usr/lib/postgresql'].filter(existsSync).flatMap((d) => readdirSync(d).map((v) => path.join(d, v, 'bin')));
  const bin = binDirs.find((d) => existsSync(path.join(d, 'initdb')) && existsSync(path.join(d, 'pg_ctl')));
  if (!bin) return undefined;
  const asRoot = process.getuid?.() === 0;
  let uid: number | undefined;
  let gid: number | undefined;
  if (asRoot) {
    try {
      uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    } catch {
      return undefined;
    }
  }
  const run = (cmd: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args], { stdio: 'pipe', timeout: 60_000 })
      : execFileSync(path.join(bin, cmd), args, { stdio: 'pipe', timeout: 60_000 });
  const dir = mkdtempSync(path.join(tmpdir(), 'tl-secrets-pg-'));
  const data = path.join(dir, 'data');
  const pwfile = path.join(dir, 'pw');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (asRoot) {
    chownSync(dir, uid!, gid!);
    chownSync(pwfile, uid!, gid!);
  }
  const port = await closedPort();
  try {
    run('initdb', ['-D', data, '-U', 'tl', `--pwfile=${pwfile}`, '-A', 'scram-sha-256', '-E', 'UTF8', '--no-sync']);
    run('pg_ctl', [
      '-D',
      data,
      '-l',
      path.join(dir, 'log'),
      '-w',
      '-t',
      '30',
      '-o',
      `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c max_connections=40`,
      'start',
    ]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    console.warn(
      `no throwaway PostgreSQL (${String((err as { stderr?: Buffer }).stderr ?? err)
        .trim()
        .slice(0, 200)}); the start test uses PGlite`,
    );
    return undefined;
  }
  return {
    url: `postgres://tl:${password}@127.0.0.1:${port}/postgres`,
    stop: () => {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        /* already gone */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('npm start with secrets in its environment', () => {
  const children: ChildProcess[] = [];
  let pg: { url: string; stop: () => void } | undefined;
  const dirs: string[] = [];
  const tempDir = (prefix: string) => {
    const d = mkdtempSync(path.join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    pg?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('prints no secret at startup, in /api/backends, /readyz, or when the LLM call of a run fails', async () => {
    pg = await startThrowawayPostgres(C.dbPassword);
    const dataDir = tempDir('tl-secrets-start-');
    const port = await closedPort();
    const healthPort = await closedPort();
    const llmPort = await closedPort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dataDir,
      PORT: String(port),
      HEALTH_PORT: String(healthPort),
      LOG_LEVEL: 'debug',
      IMAGE_SIZE: '128',
      GALLERY: 'off',
      PLAYGROUND: 'on',
      OPENAI_API_KEY: C.openaiKey,
      OPENAI_BASE_URL: `http://llm:${C.openaiUrlPassword}@127.0.0.1:${llmPort}/v1?api-key=${C.openaiUrlApiKey}`,
      LLM_TIMEOUT_MS: '2000',
      PROVIDER_MAX_RETRIES: '0',
      REPLICATE_API_TOKEN: C.replicateToken,
      HF_TOKEN: C.hfToken,
      ...(pg ? { DATABASE_URL: pg.url } : {}),
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await waitFor(() => out.includes('playground: open') || child.exitCode !== null, 'the playground to be served', 120_000);
    expect(child.exitCode, out).toBeNull();

    const base = `http://127.0.0.1:${port}`;
    // The playground acts for a session's person when it has sessions (POST /api/session), else for `user`.
    const opened = await fetch(`${base}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ person: 'tess' }),
    });
    const cookie = opened.ok ? opened.headers.get('set-cookie')?.split(';')[0] : undefined;
    const session: Record<string, string> = cookie ? { cookie } : {};
    const backendsText = await (await fetch(`${base}/api/backends`, { headers: session })).text();
    const backends = JSON.parse(backendsText) as Record<string, string>;
    expect(Object.keys(backends), backendsText).toContain('llm');
    expect(backends.llm).toBe(`OpenAI-compatible gpt-4o-mini at http://[redacted]@127.0.0.1:${llmPort}/v1?api-key=[redacted]`);
    expect(backends.database).toMatch(pg ? new RegExp(`^PostgreSQL 127\\.0\\.0\\.1:\\d+/postgres$`) : /PGlite/);
    const readyText = await (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).text();

    // A run whose LLM calls (moderation, proposals) fail: the errors are logged with their causes.
    const ran = await fetch(`${base}/api/command`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...session },
      body: JSON.stringify({
        ...(cookie ? {} : { user: 'tess' }),
        text: '/optimize prompt:a lighthouse at dusk iterations:1 candidates:2 optimizer:llm',
      }),
    });
    expect(ran.ok, await ran.clone().text()).toBe(true);
    await waitFor(
      () => /"msg":"run (failed|finished|cancelled)|run\.(failed|finished)|"level":50/.test(out) || child.exitCode !== null,
      'the run to end',
      90_000,
    ).catch(() => undefined);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    const lines = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; part?: string; backend?: string; level: number });
    const llmLine = lines.find((l) => l.part === 'llm');
    expect(llmLine?.backend).toBe(backends.llm);
    expect(llmLine?.msg).toBe(`llm: ${backends.llm}`);
    // Something was logged at error level (the failed LLM call), and it names where it went.
    expect(lines.some((l) => l.level >= 40 && JSON.stringify(l).includes(`127.0.0.1:${llmPort}`))).toBe(true);

    const everything = [out, backendsText, readyText].join('\n');
    if (process.env.CORPUS_DUMP) appendFileSync(process.env.CORPUS_DUMP, everything);
    expect(leaks(everything)).toEqual([]);
    expect(everything).not.toContain('hunter2');
    console.log(`secrets corpus start test: ${lines.length} log lines, database ${backends.database}`);
  }, 300_000);

  it('a startup failure printed in plain text on stderr (CLIP from an HF_ENDPOINT with credentials) shows none', async () => {
    const hubPort = await closedPort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATA_DIR: tempDir('tl-secrets-clip-'),
        PORT: String(await closedPort()),
        HEALTH_PORT: String(await closedPort()),
        EMBEDDER: 'clip',
        GALLERY: 'off',
        HF_ENDPOINT: `http://hub:${C.hubPassword}@127.0.0.1:${hubPort}/`,
        OPENAI_API_KEY: C.openaiKey,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/Tasteloop could not start:\n.*CLIP model/);
    expect(stderr).toContain(`http://[redacted]@127.0.0.1:${hubPort}/`);
    expect(leaks(stdout + stderr)).toEqual([]);
  }, 300_000);
});

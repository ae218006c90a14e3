import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger } from '../src/log';
import { redactSecrets } from '../src/redact';
import { isSecretKey, maskValues, redactDeep, redactUrl, secretsFromEnv } from '../src/redact';

function headerPairs(h: Headers): [string, string][] {
  const out: [string, string][] = [];
  h.forEach((v, k) => out.push([k, v]));
  return out;
}

function capture(env: Record<string, string> = {}) {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, log: createLogger('debug', stream, { env }) };
}

// Assembled at run time so no token-shaped literal sits in the repository (secret scanners flag them).
const SECRETS = [
  ['sk', 'proj', 'abcdefghijklmnopqrstuvwxyz012345'].join('-'),
  ['xoxb', '1234567890', 'abcdefghijkl'].join('-'),
  ['xoxp', '1234567890', '1234567890', 'abcdefghijkl'].join('-'),
  ['xapp', '1', 'A0123456789', 'abcdefghijkl'].join('-'),
  'r8' + '_abcdefghijklmnopqrstuvwxyz',
  ['MTIzNDU2Nzg5MDEyMzQ1Njc4', 'Gabcde', 'abcdefghijklmnopqrstuvwxyz01234'].join('.'), // Discord, id starting 1–3
  ['NDU2Nzg5MDEyMzQ1Njc4OTAx', 'Gabcde', 'abcdefghijklmnopqrstuvwxyz01234'].join('.'), // id starting 4–7
  ['ODEyMzQ1Njc4OTAxMjM0NTY3', 'Gabcde', 'abcdefghijklmnopqrstuvwxyz01234'].join('.'), // id starting 8–9
  'hf' + '_abcdefghijklmnopqrstuvwxyzABCDEF',
  ['eyJhbGciOiJIUzI1NiJ9', 'eyJzdWIiOiIxMjM0NTY3ODkwIn0', 'abcdefghijklmnopqrstuv'].join('.'),
  'whsec' + '_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
];

describe('secret redaction', () => {
  it('masks token-shaped strings in messages, fields and errors', () => {
    const { lines, log } = capture();
    for (const s of SECRETS) {
      log.info(`connecting with ${s}`);
      log.info({ token: s, apiKey: s, nested: { authorization: `Bearer ${s}` } }, 'fields');
      log.error({ err: new Error(`bad token ${s}`) }, 'failed');
      log.error(new Error(`bad token ${s}`));
    }
    log.info('db postgres://tl:hunter2@db:5432/app');
    const all = lines.join('\n');
    for (const s of SECRETS) expect(all).not.toContain(s);
    expect(all).not.toContain('hunter2');
    expect(all).toContain('[redacted]');
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
  });

  it('leaves ordinary text alone', () => {
    for (const text of [
      'a sunset over the sea, skill-level 3',
      'Discord rejected the bot token (401 Unauthorized): nothing can be posted or read. Put the current token from the developer portal (Bot → Reset Token) in DISCORD_TOKEN and restart.',
      'Slack refused the bot token (invalid_auth): put the current xoxb- token in SLACK_BOT_TOKEN and restart',
      'run failed: 12 tokens used, max_tokens 400',
      'image 9f86d081884c7d659a2feaa0c55ad015 stored', // a 32-hex id is not a signing secret by itself
      'Basic settings are fine; the Bot started',
      'playground: open http://127.0.0.1:3000',
      'https://example.com/search?q=lighthouse&page=2',
    ]) {
      expect(redactSecrets(text)).toBe(text);
    }
  });
});

describe('isSecretKey: by name, any case, any separator', () => {
  it.each([
    'authorization',
    'Authorization',
    'AUTHORIZATION',
    'proxy-authorization',
    'token',
    'access_token',
    'refreshToken',
    'id-token',
    'api-key',
    'apiKey',
    'api_key',
    'API_KEY',
    'x-api-key',
    'X-Api-Key',
    'cookie',
    'set-cookie',
    'Set-Cookie',
    'secret',
    'client_secret',
    'clientSecret',
    'signing secret',
    'signingSecret',
    'SLACK_SIGNING_SECRET',
    'password',
    'DB_PASSWORD',
    'private_key',
    'privateKey',
    'DISCORD_TOKEN',
    'SLACK_BOT_TOKEN',
    'OPENAI_API_KEY',
    'REPLICATE_API_TOKEN',
    'auth',
    'x-slack-signature',
    'credentials',
  ])('%s is secret', (k) => expect(isSecretKey(k)).toBe(true));

  it.each([
    'tokens',
    'total_tokens',
    'maxTokens',
    'key',
    'userKey',
    'eventKey',
    'author',
    'authorId',
    'tokenizer',
    'passwordHint',
    'secretary',
    'message',
    'url',
    'status',
    'PWD',
    'OLDPWD',
  ])('%s is not', (k) => expect(isSecretKey(k)).toBe(false));
});

describe('redactUrl', () => {
  it('replaces credentials and key-like query or fragment parameters, keeping the rest', () => {
    expect(redactUrl('http://user:hunter2@127.0.0.1:8080/v1?api-key=abc&model=x')).toBe(
      'http://[redacted]@127.0.0.1:8080/v1?api-key=[redacted]&model=x',
    );
    expect(redactUrl('postgres://tl:p@ss@db:5432/app')).toBe('postgres://[redacted]@db:5432/app');
    expect(redactUrl('https://sk-abcdefghijklmnopqrstuv@api.example.com/')).toBe('https://[redacted]@api.example.com/');
    expect(redactUrl('user:hunter2@host/v1')).toBe('[redacted]@host/v1'); // no scheme
    expect(redactUrl('postgres://user@host:5432/db')).toBe('postgres://user@host:5432/db'); // a user name alone is no secret
    expect(redactUrl('https://0123456789abcdef0123@api.example.com/')).toBe('https://[redacted]@api.example.com/'); // …unless it is a key
    expect(redactUrl('http//llm:hunter2@host')).toBe('http//[redacted]@host'); // a typo in the scheme
    for (const p of [
      'api-key',
      'api_key',
      'apikey',
      'key',
      'token',
      'access_token',
      'sig',
      'signature',
      'secret',
      'password',
      'auth',
      'client_secret',
      'X-Amz-Signature',
    ]) {
      expect(redactUrl(`https://h/p?a=1&${p}=s3cr3tvalue&b=2`)).toBe(`https://h/p?a=1&${p}=[redacted]&b=2`);
    }
    expect(redactUrl('https://app.example/cb#access_token=abc&state=1')).toBe('https://app.example/cb#access_token=[redacted]&state=1');
    expect(redactUrl('https://discord.com/api/v10/webhooks/123456789012345678/aW50ZXJhY3Rpb246MTIzNDU2Nzg5/messages/@original')).toBe(
      'https://discord.com/api/v10/webhooks/123456789012345678/[redacted]/messages/@original',
    );
    expect(redactUrl('https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX')).toBe('https://hooks.slack.com/services/[redacted]');
  });

  it('leaves URLs without secrets (and non-URLs) as they are, and is idempotent', () => {
    for (const u of [
      'https://api.openai.com/v1',
      'api.openai.com',
      'http://127.0.0.1:3000/?page=2&q=a+b',
      'http://[::1]:8080/x',
      '',
      'not a url',
    ])
      expect(redactUrl(u)).toBe(u);
    const once = redactUrl('http://u:p@h/x?token=t&x=1');
    expect(redactUrl(once)).toBe(once);
  });
});

describe('redactSecrets: by shape and by context', () => {
  it('masks Bearer and Basic values, header lines, name=value pairs and URLs in free text', () => {
    expect(redactSecrets('Authorization: Bearer opaque.value-123')).toBe('Authorization: [redacted]');
    expect(redactSecrets('sent Bearer opaque.value-123 to the proxy')).toBe('sent Bearer [redacted] to the proxy');
    expect(redactSecrets(`proxy said Basic ${Buffer.from('svc:pw123').toString('base64')}`)).toBe('proxy said Basic [redacted]');
    expect(redactSecrets('SLACK_SIGNING_SECRET=0123456789abcdef0123456789abcdef and more')).toBe(
      'SLACK_SIGNING_SECRET=[redacted] and more',
    );
    expect(redactSecrets('{"signing_secret":"0123456789abcdef0123456789abcdef","ok":true}')).toBe(
      '{"signing_secret":"[redacted]","ok":true}',
    );
    expect(redactSecrets('password: hunter2, user: tl')).toBe('password: [redacted], user: tl');
    expect(redactSecrets('Cookie: sid=abc; theme=dark')).toBe('Cookie: [redacted]');
    expect(redactSecrets('could not reach postgresql://tl:hunter2@db/app (ECONNREFUSED)')).toBe(
      'could not reach postgresql://[redacted]@db/app (ECONNREFUSED)',
    );
    const pem = ['-----BEGIN PRIVATE KEY-----', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', '-----END PRIVATE KEY-----'].join('\n');
    expect(redactSecrets(`key ${pem} end`)).toBe('key [redacted] end');
  });

  it('is safe on a finished JSON line (never eats a quote or a backslash) and idempotent', () => {
    const line = JSON.stringify({
      msg: 'Authorization: Bearer abc\n"quoted" token=xyz',
      url: 'https://u:p@h/?key=1',
      nested: '{"token":"t0k3n"}',
    });
    const out = redactSecrets(line);
    expect(() => JSON.parse(out)).not.toThrow();
    expect(out).not.toMatch(/abc|xyz|t0k3n|u:p@/);
    expect(redactSecrets(out)).toBe(out);
  });
});

describe('redactDeep: by structure', () => {
  it('redacts secret-named keys at any depth, in Maps, Headers and raw header arrays, without touching the input', () => {
    const input = {
      a: { b: { c: { d: { e: { f: { g: { password: 'pw-1234567' } } } } } } },
      list: [{ 'X-Api-Key': 'k-123456' }, { ok: 1 }],
      headers: new Headers({ Authorization: 'Bearer zzz', accept: 'image/png' }),
      map: new Map<string, unknown>([
        ['Set-Cookie', ['a=1']],
        ['other', 'fine'],
      ]),
      rawHeaders: ['Host', 'h', 'Cookie', 'sid=1'],
      flag: { token: true, secret: null },
      when: new Date(0),
      bytes: Buffer.from('token=abc'),
    };
    const before = JSON.stringify({ ...input, headers: headerPairs(input.headers), map: [...input.map] });
    const out = redactDeep(input) as any;
    expect(out.a.b.c.d.e.f.g.password).toBe('[redacted]');
    expect(out.list).toEqual([{ 'X-Api-Key': '[redacted]' }, { ok: 1 }]);
    expect(out.headers).toEqual({ authorization: '[redacted]', accept: 'image/png' });
    expect(out.map).toEqual({ 'Set-Cookie': '[redacted]', other: 'fine' });
    expect(out.rawHeaders).toEqual(['Host', 'h', 'Cookie', '[redacted]']);
    expect(out.flag).toEqual({ token: true, secret: null });
    expect(out.when).toBe('1970-01-01T00:00:00.000Z');
    expect(out.bytes).toBe('[Buffer 9 bytes]');
    expect(JSON.stringify({ ...input, headers: headerPairs(input.headers), map: [...input.map] })).toBe(before);
  });

  it('walks Errors: own properties (request, response, config, headers, data, body), causes and aggregates', () => {
    const inner = Object.assign(new Error('socket hang up'), {
      code: 'ECONNRESET',
      config: { headers: { authorization: 'Bot abc.def.ghi' } },
    });
    const err = Object.assign(new Error('request failed', { cause: inner }), {
      status: 401,
      request: { url: 'https://u:pw@h/x?token=1', headers: { Authorization: 'Bearer q' } },
      response: { data: { ok: false, error: 'invalid_auth', access_token: 'at' }, body: 'client_secret=cs123' },
    });
    const agg = new AggregateError([err], 'all failed');
    const out = redactDeep({ err: agg }) as any;
    expect(out.err.type).toBe('AggregateError');
    const e = out.err.aggregateErrors[0];
    expect(e).toMatchObject({
      type: 'Error',
      message: 'request failed: socket hang up',
      status: 401,
      request: { url: 'https://[redacted]@h/x?token=[redacted]', headers: { Authorization: '[redacted]' } },
      response: { data: { ok: false, error: 'invalid_auth', access_token: '[redacted]' }, body: 'client_secret=[redacted]' },
      cause: { type: 'Error', message: 'socket hang up', code: 'ECONNRESET', config: { headers: { authorization: '[redacted]' } } },
    });
    expect(e.stack).toMatch(/^Error: request failed\n[\s\S]*caused by: Error: socket hang up/);
    // The caller's error is untouched.
    expect(err.request.headers.Authorization).toBe('Bearer q');
    expect(Object.keys(err)).toEqual(['status', 'request', 'response']);
  });

  it('guards cycles and depth', () => {
    const a: any = { name: 'a', token: 't' };
    a.self = a;
    a.list = [a];
    const e: any = new Error('loop');
    e.cause = e;
    e.again = e;
    const out = redactDeep({ a, e }) as any;
    expect(out.a).toEqual({ name: 'a', token: '[redacted]', self: '[Circular]', list: ['[Circular]'] });
    expect(out.e.again).toBe('[Circular]');
    let deep: any = { leaf: 'x' };
    for (let i = 0; i < 30; i++) deep = { next: deep };
    expect(JSON.stringify(redactDeep(deep, { maxDepth: 5 }))).toMatch(/"\[Object\]"/);
  });
});

describe('configured secret values', () => {
  it('are collected from the environment (names and URL passwords) and masked wherever they appear', () => {
    const env = {
      DISCORD_TOKEN: 'opaque-discord-token-value',
      OPENAI_API_KEY: 'ollama', // a placeholder: too short to mask by value
      OPENAI_BASE_URL: 'http://llm:s3cretpw@127.0.0.1:1/v1?api-key=azurekey123&model=x',
      DATABASE_URL: 'postgres://tl:hunter2@db/app',
      PORT: '3000',
      PWD: '/work/main', // the working directory, not a password
      HOME: '/root',
    };
    const known = secretsFromEnv(env);
    expect(known.sort()).toEqual(['azurekey123', 'hunter2', 'opaque-discord-token-value', 's3cretpw']);
    expect(maskValues('echoed opaque-discord-token-value back', known)).toBe('echoed [redacted] back');
    expect(maskValues(JSON.stringify({ m: 'pw "hunter2"' }), known)).toBe(JSON.stringify({ m: 'pw "[redacted]"' }));
  });

  it('the logger masks them even where neither a key name nor a pattern would (an opaque key echoed by an upstream)', () => {
    const { lines, log } = capture({ OPENAI_API_KEY: 'opaque-upstream-key-0042' });
    log.error({ err: new Error('upstream said: unknown key opaque-upstream-key-0042') }, 'llm failed');
    log.info('retrying with opaque-upstream-key-0042');
    const all = lines.join('\n');
    expect(all).not.toContain('opaque-upstream-key-0042');
    expect(all).toContain('upstream said: unknown key [redacted]');
  });
});

describe('logger paths', () => {
  it('log.error(err) gets the redacted message; child bindings and interpolation are redacted; output stays JSON', () => {
    const { lines, log } = capture();
    const err = Object.assign(new Error(`invalid_auth for ${SECRETS[1]}`), { data: { token: 'opaque-1' } });
    log.error(err);
    log.child({ err, apiKey: 'opaque-2' }).warn('child %s %o', `Bearer opaque-3`, { password: 'opaque-4' });
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed[0].msg).toBe('invalid_auth for [redacted]');
    expect(parsed[0].err.data.token).toBe('[redacted]');
    expect(parsed[1].apiKey).toBe('[redacted]');
    expect(parsed[1].err.data.token).toBe('[redacted]');
    expect(parsed[1].msg).toBe('child Bearer [redacted] {"password":"[redacted]"}');
    expect(lines.join('')).not.toMatch(/opaque-\d/);
  });
});

/**
 * What keeps the playground from being a back door (adapter.ts applies it to every request):
 *
 *  - Same origin only. `Host` must name this server (loopback names for a loopback bind, plus the
 *    bound address) — a DNS-rebinding page sends its own host name and is refused. `Origin`, when
 *    present, must be this server's own; `Sec-Fetch-Site`, when present, must be `same-origin` or
 *    `none`. State-changing requests must be `application/json`, which no form or `text/plain`
 *    post can be (and which a browser only sends cross-origin after a CORS preflight we never allow).
 *  - Sessions. Each browser gets a random session id in an HttpOnly, SameSite=Strict cookie; the
 *    person acting is a property of the session, never a field of a request.
 *  - A token off loopback: listening on any other address requires PLAYGROUND_TOKEN, entered once
 *    per browser on a small login page (compared in constant time).
 *  - Strict input: bodies over the cap are read and discarded (413), malformed JSON is 400, unknown
 *    fields are 400 (so an old client naming a person is told, not silently obeyed).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { hostname as osHostname, networkInterfaces } from 'node:os';

/** A request the playground refuses, with the status and the reason sent back as JSON. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Close the connection after answering (a body too large to drain). */
    readonly closeConnection = false,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Largest request body read (the page posts a command or a click: a few hundred bytes). */
export const MAX_BODY = 64 * 1024;
/** Bodies up to this size are read to the end and dropped before answering 413 (the client sees the answer); larger ones close the connection. */
const DRAIN_LIMIT = 1024 * 1024;

export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h) || /^::ffff:127(?:\.\d{1,3}){3}$/.test(h);
}

const isWildcard = (host: string) => ['0.0.0.0', '::', '[::]', ''].includes(host.trim());

/** Lower-case host names without brackets. */
function normalizeHostname(h: string): string {
  return h
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
}

/**
 * The `Host` header values this server answers to. A loopback bind: `localhost`, `127.0.0.1` and
 * `[::1]` on the bound port, plus the bound address. A specific address: that address and port. A
 * wildcard bind (0.0.0.0 / ::, with PLAYGROUND_TOKEN): loopback names, this machine's interface
 * addresses and host name, on any port (a container's published port may differ from its own).
 */
export function hostPolicy(bindHost: string, port: number): (hostHeader: string | undefined) => boolean {
  const names = new Set<string>([normalizeHostname(bindHost)]);
  const wildcard = isWildcard(bindHost);
  if (isLoopbackHost(bindHost) || wildcard) for (const n of ['localhost', '127.0.0.1', '::1']) names.add(n);
  if (wildcard) {
    names.add(normalizeHostname(osHostname()));
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.add(normalizeHostname(a.address));
  }
  return (hostHeader) => {
    if (!hostHeader) return false;
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(hostHeader.trim());
    if (!m) return false;
    const name = normalizeHostname(m[1]!);
    if (!names.has(name)) return false;
    if (wildcard) return true;
    return Number(m[2] ?? 80) === port;
  };
}

/**
 * Same-origin check of a request whose `Host` is already known good: `Origin` (when sent) must be
 * this very host, `Sec-Fetch-Site` (when sent) `same-origin` or `none` (typed, bookmarked).
 * Returns why it is refused, or null.
 */
export function crossOriginReason(req: IncomingMessage): string | null {
  const site = header(req, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return `cross-site request refused (Sec-Fetch-Site: ${site.slice(0, 40)}): only the playground's own page may call it`;
  }
  const origin = header(req, 'origin');
  if (origin !== undefined) {
    let host: string | null = null;
    try {
      const u = new URL(origin);
      if (u.protocol === 'http:' || u.protocol === 'https:') host = u.host.toLowerCase();
    } catch {
      host = null;
    }
    if (!host || host !== (header(req, 'host') ?? '').toLowerCase()) {
      return `cross-origin request refused (Origin: ${origin.slice(0, 80)}): only the playground's own page may call it`;
    }
  }
  return null;
}

/** State-changing requests must say they are JSON (a form or `text/plain` post cannot). */
export function requireJson(req: IncomingMessage): void {
  const type = (header(req, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(
      415,
      `Content-Type must be application/json (got ${type ? `"${type.slice(0, 60)}"` : 'none'}): forms and text/plain posts are refused`,
    );
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Reads the body: at most MAX_BODY bytes are kept. A larger body is read to the end and dropped (up
 * to DRAIN_LIMIT; beyond that the connection is closed after answering), then 413.
 */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = (close: boolean) => new HttpError(413, `request body too large (at most ${MAX_BODY} bytes)`, close);
    const declared = Number(header(req, 'content-length'));
    if (Number.isFinite(declared) && declared > DRAIN_LIMIT) {
      req.pause();
      reject(tooLarge(true));
      return;
    }
    let size = 0;
    let chunks: Buffer[] = [];
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
      else {
        chunks = [];
        if (size > DRAIN_LIMIT) {
          req.off('data', onData);
          req.pause();
          reject(tooLarge(true));
        }
      }
    };
    req.on('data', onData);
    req.once('end', () => (size > MAX_BODY ? reject(tooLarge(false)) : resolve(Buffer.concat(chunks))));
    req.once('error', reject);
  });
}

/** Parses a JSON object body with exactly the fields allowed (any other field is a 400 naming it). */
export async function readJsonObject(req: IncomingMessage, allowed: readonly string[], hint = ''): Promise<Record<string, unknown>> {
  const raw = await readBody(req);
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'malformed JSON body');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new HttpError(400, 'the body must be a JSON object');
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new HttpError(400, `unknown field "${key.slice(0, 40)}" (allowed: ${allowed.join(', ')})${hint}`);
  }
  return value as Record<string, unknown>;
}

// ---------- sessions ----------

export interface Session {
  id: string;
  /** The person this browser acts as now (a playground user id). */
  person: string;
  /** Entered the token (always true when none is required). */
  loggedIn: boolean;
  lastSeen: number;
}

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
const MAX_SESSIONS = 5000;

/** Sessions in memory (a restart starts new ones; the page then opens a new session by itself). */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly clock: () => number,
    private readonly defaultPerson: string,
  ) {}

  get(id: string | undefined): Session | undefined {
    if (!id || !SESSION_ID.test(id)) return undefined;
    const s = this.sessions.get(id);
    if (s) {
      s.lastSeen = this.clock();
      // Most recently used last: eviction below drops the oldest first.
      this.sessions.delete(id);
      this.sessions.set(id, s);
    }
    return s;
  }

  create(loggedIn: boolean, person = this.defaultPerson): Session {
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const s: Session = { id: randomBytes(32).toString('base64url'), person, loggedIn, lastSeen: this.clock() };
    this.sessions.set(s.id, s);
    return s;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }
}

export function parseCookie(req: IncomingMessage, name: string): string | undefined {
  const raw = header(req, 'cookie');
  if (!raw) return undefined;
  for (const part of raw.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export function sessionCookie(name: string, id: string): string {
  return `${name}=${id}; HttpOnly; SameSite=Strict; Path=/`;
}

export function clearedCookie(name: string): string {
  return `${name}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}

/** Constant-time comparison of a presented token with the configured one (hashes first: equal lengths). */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b) && presented.length === expected.length;
}

/** The Content-Security-Policy for a page whose only scripts are its inline ones (allowed by hash). */
export function pageCsp(html: string): string {
  const hashes = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
    (m) => `'sha256-${createHash('sha256').update(m[1]!, 'utf8').digest('base64')}'`,
  );
  return [
    "default-src 'none'",
    `script-src ${hashes.join(' ') || "'none'"}`,
    "style-src 'unsafe-inline'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function validPersonId(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const id = v.trim().toLowerCase();
  return /^[a-z0-9_-]{1,32}$/.test(id) ? id : null;
}

/**
 * The routes that open, switch and end a browser session — the only ones a request without a
 * logged-in session may reach: the page itself, the login, the logout and (on loopback) choosing who
 * the session acts as. The session cookie `tl_session_<port>` is random, HttpOnly, SameSite=Strict.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { personFor } from './context';
import type { EventStream } from './event-stream';
import { json, send } from './responses';
import {
  clearedCookie,
  HttpError,
  parseCookie,
  readJsonObject,
  sessionCookie,
  tokenMatches,
  validPersonId,
  type Session,
  type SessionStore,
} from './security';
import type { Welcome } from './welcome';

/** A wrong token is answered after this delay (guessing is slow; a person does not notice). */
const LOGIN_FAILURE_DELAY_MS = 300;

/** The page and the login page, with the Content-Security-Policy each is served with. */
export interface Pages {
  page: Buffer;
  pageCsp: string;
  login: Buffer;
  loginCsp: string;
}

/** What the session routes need of the adapter. */
export interface SessionContext {
  log: Logger;
  sessions: SessionStore;
  /** PLAYGROUND_TOKEN: every browser logs in with it once; undefined on loopback without one. */
  token: string | undefined;
  events: EventStream;
  pages: Pages;
  /** The session cookie's name (it carries the port: two playgrounds on one host keep their own). */
  cookieName(): string;
}

export type OpenRoute = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export function currentSession(ctx: SessionContext, req: IncomingMessage): Session | undefined {
  return ctx.sessions.get(parseCookie(req, ctx.cookieName()));
}

/** The session, logged in: what every request but the page and the login needs. */
export function authorized(ctx: SessionContext, req: IncomingMessage): Session {
  const s = currentSession(ctx, req);
  if (s?.loggedIn) return s;
  throw new HttpError(
    401,
    ctx.token
      ? 'log in first: open the playground page and enter PLAYGROUND_TOKEN'
      : 'no session: open the playground page (GET /) or POST /api/session first',
  );
}

/** On loopback every browser gets a session with the page (or its first switch); with a token, only a login makes one. */
function sessionOrNew(ctx: SessionContext, req: IncomingMessage, res: ServerResponse): Session | undefined {
  const s = currentSession(ctx, req);
  if (s || ctx.token) return s;
  const created = ctx.sessions.create(true);
  res.setHeader('set-cookie', sessionCookie(ctx.cookieName(), created.id));
  return created;
}

/** Route ("METHOD /path") → handler, for the routes that need no logged-in session. */
export function sessionRoutes(ctx: SessionContext, welcome: Welcome): Record<string, OpenRoute> {
  return {
    'GET /': (req, res) => {
      const s = sessionOrNew(ctx, req, res);
      const p = ctx.pages;
      const [body, csp] = s?.loggedIn ? [p.page, p.pageCsp] : [p.login, p.loginCsp];
      res.setHeader('content-security-policy', csp);
      send(res, 200, body, 'text/html; charset=utf-8');
    },
    'POST /api/login': async (req, res) => {
      const body = await readJsonObject(req, ['token']);
      if (typeof body.token !== 'string' || body.token.length > 1000) throw new HttpError(400, 'token must be a string');
      if (!ctx.token) return json(res, 200, { ok: true, loginRequired: false });
      if (!tokenMatches(body.token, ctx.token)) {
        await new Promise((r) => setTimeout(r, LOGIN_FAILURE_DELAY_MS));
        ctx.log.warn({ remote: req.socket.remoteAddress }, 'playground: wrong token');
        throw new HttpError(401, 'wrong token');
      }
      // Always a new session (and id) on login: an id known before logging in is worth nothing after.
      const old = currentSession(ctx, req);
      if (old) ctx.sessions.delete(old.id);
      const s = ctx.sessions.create(true, old?.person);
      res.setHeader('set-cookie', sessionCookie(ctx.cookieName(), s.id));
      json(res, 200, { ok: true, person: s.person });
    },
    'POST /api/logout': async (req, res) => {
      await readJsonObject(req, []);
      const s = currentSession(ctx, req);
      if (s) {
        ctx.sessions.delete(s.id);
        ctx.events.endSession(s);
      }
      res.setHeader('set-cookie', clearedCookie(ctx.cookieName()));
      json(res, 200, { ok: true });
    },
    'POST /api/session': async (req, res) => {
      const body = await readJsonObject(req, ['person']);
      const person = validPersonId(body.person);
      if (!person) throw new HttpError(400, 'person must be 1–32 letters, digits, "-" or "_"');
      const s = sessionOrNew(ctx, req, res);
      if (!s?.loggedIn) throw new HttpError(401, 'log in first: open the playground page and enter PLAYGROUND_TOKEN');
      // A person acted as for the first time is welcomed in the snapshot the switch sends.
      await welcome(person);
      ctx.events.switchPerson(s, person);
      json(res, 200, { person: s.person, name: personFor(s.person).displayName });
    },
  };
}

/**
 * The playground's HTTP contract (see security.ts for the rules every request passes first):
 *   GET  /                 the page; on loopback it opens a session: cookie `tl_session_<port>`
 *                          (random, HttpOnly, SameSite=Strict, Path=/). With PLAYGROUND_TOKEN and no
 *                          login yet: the login page (no session)
 *   POST /api/login        {token}          opens a logged-in session (a new id each time; 401 if wrong)
 *   POST /api/logout       {}               ends the session
 *   GET  /api/session                       {person, name, loginRequired}
 *   POST /api/session      {person}         who this session acts as (opens a session on loopback)
 *   GET  /events                            SSE: `snapshot` {person, name, messages, threads} (again
 *                                           after a switch), then `message` / `thread` — only what
 *                                           the session's person may see; a person's first visit
 *                                           adds their welcome message first (welcome.ts)
 *   POST /api/command      {text}           runs as the session's person: 200 ran, 422 refused
 *                                           before running (nothing stored), 400 malformed
 *   POST /api/rate         {messageId, score: 1–10 | null}   a click: a vote with its event time
 *   POST /api/tile         {messageId, imageId, choice: r1…r10 | more | big}   a run grid tile's button (tile-clicks.ts)
 *   POST /api/pick         {messageId, number}   a pick of one image of a /rate mode:pick message (pick-clicks.ts)
 *   GET  /api/commands, /api/backends, /images/:id.png, /files/:id/:name (private files: owner only)
 *   GET  /favicon.svg, /favicon.ico     the tab icon (no session needed)
 * POSTs need `Content-Type: application/json`; all but `GET /`, `POST /api/login` and (on
 * loopback) `POST /api/session` need the session cookie (session-routes.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { COMMANDS } from '../../../commands/index';
import { isUserError } from '../../core/errors';
import { describeFailure } from '../dispatch';
import type { CommandHandler } from './commands-handler';
import { personFor, type PlaygroundContext } from './context';
import { FAVICON_PATHS, FAVICON_SVG } from './favicon';
import { contentDisposition, FILE_ID } from './files';
import type { RateClick } from './rating-clicks';
import { json, send } from './responses';
import { crossOriginReason, HttpError, readJsonObject, requireJson, type Session } from './security';
import { authorized, sessionRoutes, type SessionContext } from './session-routes';
import { visibleTo } from './state';
import { tileRoute } from './tile-clicks';
import { pickRoute } from './pick-clicks';
import { createWelcome, type Welcome } from './welcome';

const IMAGE_ID = /^[0-9a-f]{16,64}$/;
const MESSAGE_ID = /^m[0-9a-z]{1,20}$/;
/** Told when a body names someone to act as: the session decides that. */
const PERSON_HINT = ' — the acting person is the session’s (POST /api/session to switch)';

/** Everything the routes reach: the adapter's shared context, its sessions and the two actions. */
export interface HttpContext extends PlaygroundContext, SessionContext {
  /** Whether a Host header names this server (its bound address and port). */
  allowedHost(host: string | undefined): boolean;
  command: CommandHandler;
  rate: RateClick;
}

type SessionRoute = (req: IncomingMessage, res: ServerResponse, session: Session) => Promise<void> | void;

/** Who may ask at all: this server's own host names, from its own page; only the methods it serves. */
function checkRequest(ctx: HttpContext, req: IncomingMessage): { method: string; url: URL; route: string } {
  if (!ctx.allowedHost(req.headers.host))
    throw new HttpError(403, `Host "${String(req.headers.host ?? '').slice(0, 80)}" is not this playground's address`);
  const crossOrigin = crossOriginReason(req);
  if (crossOrigin) throw new HttpError(403, crossOrigin);
  const url = new URL(req.url ?? '/', 'http://playground.local');
  const method = req.method ?? 'GET';
  if (method === 'POST') requireJson(req);
  else if (method !== 'GET' && !(method === 'HEAD' && url.pathname === '/'))
    throw new HttpError(405, `${method.slice(0, 10)} is not allowed`);
  return { method, url, route: `${method === 'HEAD' ? 'GET' : method} ${url.pathname}` };
}

/** Route ("METHOD /path") → handler, for the routes of a logged-in session. */
function apiRoutes(ctx: HttpContext, welcome: Welcome): Record<string, SessionRoute> {
  return {
    'GET /api/session': (_req, res, session) =>
      json(res, 200, { person: session.person, name: personFor(session.person).displayName, loginRequired: Boolean(ctx.token) }),
    'GET /events': async (req, res, session) => {
      // Before the snapshot, so a first visit opens on the welcome.
      await welcome(session.person);
      ctx.events.open(req, res, session);
    },
    'GET /api/commands': (_req, res) =>
      json(
        res,
        200,
        COMMANDS.map((c) => ({ name: c.name, description: c.description, usage: c.usage, options: c.options })),
      ),
    'GET /api/backends': (_req, res) => json(res, 200, ctx.services.backends),
    'POST /api/command': async (req, res, session) => {
      const body = await readJsonObject(req, ['text'], PERSON_HINT);
      if (typeof body.text !== 'string' || !body.text.trim())
        throw new HttpError(400, 'text must be a non-empty string (a command such as "/rate count:3")');
      const outcome = await ctx.command(session.person, body.text);
      return outcome.accepted ? json(res, 200, { ok: true }) : json(res, 422, { ok: false, error: outcome.error });
    },
    'POST /api/rate': (req, res, session) => rateRoute(ctx, req, res, session),
    'POST /api/tile': (req, res, session) => tileRoute(ctx, req, res, session),
    'POST /api/pick': (req, res, session) => pickRoute(ctx, req, res, session),
  };
}

async function rateRoute(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, session: Session): Promise<void> {
  const body = await readJsonObject(req, ['messageId', 'score'], PERSON_HINT);
  if (typeof body.messageId !== 'string' || !MESSAGE_ID.test(body.messageId))
    throw new HttpError(400, 'messageId must be a message id such as "m0001"');
  // JSON integers 1–10 only, as a reaction gives; null clears. Never coerced: "8", true, [8] are refused.
  const score = body.score;
  if (score !== null && !(typeof score === 'number' && Number.isInteger(score) && score >= 1 && score <= 10)) {
    throw new HttpError(400, 'score must be a whole number from 1 to 10, or null to clear');
  }
  try {
    const { at } = await ctx.rate(session.person, body.messageId, score);
    return json(res, 200, { ok: true, score, at });
  } catch (err) {
    if (err instanceof HttpError || !isUserError(err)) throw err;
    return json(res, 400, { error: describeFailure(err, ctx.log).text });
  }
}

/** GET /images/:id.png — an image of the image store. */
async function imageRoute(ctx: HttpContext, res: ServerResponse, pathname: string): Promise<void> {
  const id = pathname.slice('/images/'.length).replace(/\.png$/, '');
  if (!IMAGE_ID.test(id)) return json(res, 404, { error: 'no such image' });
  const bytes = await ctx.services.images.readBytes(id).catch(() => null);
  if (!bytes) return json(res, 404, { error: 'no such image' });
  res.setHeader('cache-control', 'private, max-age=31536000, immutable');
  send(res, 200, bytes, 'image/png');
}

/** GET /files/:id/:name — the name is only for the browser (download name); the id finds the file. */
async function fileRoute(ctx: HttpContext, res: ServerResponse, pathname: string, session: Session): Promise<void> {
  const id = pathname.split('/')[2] ?? '';
  const entry = FILE_ID.test(id) ? ctx.state.files.get(id) : undefined;
  const shownIn = entry ? ctx.state.messages.get(entry.messageId) : undefined;
  // A private file (an export, anything of an ephemeral reply) exists only for its owner: 404, not 403.
  if (!entry || !shownIn || !visibleTo(shownIn, session.person)) return json(res, 404, { error: 'no such file' });
  const bytes = await ctx.files.get(id);
  if (!bytes) return json(res, 404, { error: 'no such file' });
  const { file } = entry;
  // Only PNGs render inline; anything else (a JSON export) is a download, never rendered by the page's origin.
  const inline = file.contentType === 'image/png';
  res.setHeader('cache-control', shownIn.ephemeralFor ? 'private, no-store' : 'private, max-age=31536000, immutable');
  res.setHeader('content-disposition', contentDisposition(inline ? 'inline' : 'attachment', file.name));
  send(res, 200, bytes, inline ? 'image/png' : 'application/octet-stream');
}

/** GET /favicon.svg, /favicon.ico — the same SVG (browsers take an SVG from either address). */
function faviconRoute(res: ServerResponse): void {
  res.setHeader('cache-control', 'public, max-age=86400');
  send(res, 200, FAVICON_SVG, 'image/svg+xml');
}

/** The request handler the HTTP server calls: routes a request and answers whatever went wrong. */
export function createRouter(ctx: HttpContext): (req: IncomingMessage, res: ServerResponse) => void {
  const welcome = createWelcome(ctx);
  const open = new Map(Object.entries(sessionRoutes(ctx, welcome)));
  const api = new Map(Object.entries(apiRoutes(ctx, welcome)));
  const knownPaths = new Set([...open.keys(), ...api.keys()].map((r) => r.slice(r.indexOf(' ') + 1)));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { method, url, route } = checkRequest(ctx, req);
    const openRoute = open.get(route);
    if (openRoute) return openRoute(req, res);
    // The tab icon is the login page's too: served before any session.
    if (method === 'GET' && FAVICON_PATHS.has(url.pathname)) return faviconRoute(res);
    // Anything else, even a path that does not exist, is for a logged-in session only.
    const session = authorized(ctx, req);
    const apiRoute = api.get(route);
    if (apiRoute) return apiRoute(req, res, session);
    if (route.startsWith('GET /images/')) return imageRoute(ctx, res, url.pathname);
    if (route.startsWith('GET /files/')) return fileRoute(ctx, res, url.pathname, session);
    if (knownPaths.has(url.pathname)) throw new HttpError(405, `${method} is not allowed on ${url.pathname}`);
    json(res, 404, { error: 'not found' });
  }

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        ctx.log.debug({ status: err.status, reason: err.message, path: req.url }, 'playground request refused');
        if (res.headersSent) return void res.end();
        if (err.closeConnection) res.setHeader('connection', 'close');
        return json(res, err.status, { error: err.message });
      }
      ctx.log.error({ err }, 'playground request failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.end();
    });
  };
}

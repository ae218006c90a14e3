/**
 * The local playground: a ChatAdapter like Discord's, whose "chat platform" is a small web page.
 * Commands typed in the page go through the same shared commands (commands/) and the same core; the
 * 1–10 buttons stand in for reactions; updates stream over Server-Sent Events.
 *
 * The one channel is one "server" (scope PLAYGROUND_SCOPE) that every person acting here shares, so
 * the community features (/compare, others' /profile, group /optimize) work locally once people opt
 * in with /privacy share:on — the same rules as on Discord/Slack, with the scope fixed by the adapter.
 * Files a message carries (charts, grids, exports) are stored by files.ts and served at /files/:id/:name.
 *
 * HTTP contract (see security.ts for the rules every request passes first):
 *   GET  /                 the page; on loopback it opens a session: cookie `tl_session_<port>`
 *                          (random, HttpOnly, SameSite=Strict, Path=/). With PLAYGROUND_TOKEN and no
 *                          login yet: the login page (no session)
 *   POST /api/login        {token}          opens a logged-in session (a new id each time; 401 if wrong)
 *   POST /api/logout       {}               ends the session
 *   GET  /api/session                       {person, name, loginRequired}
 *   POST /api/session      {person}         who this session acts as (opens a session on loopback)
 *   GET  /events                            SSE: `snapshot` {person, name, messages, threads} (again
 *                                           after a switch), then `message` / `thread` — only what
 *                                           the session's person may see
 *   POST /api/command      {text}           runs as the session's person: 200 ran, 422 refused
 *                                           before running (nothing stored), 400 malformed
 *   POST /api/rate         {messageId, score: 1–10 | null}   a click: a vote with its event time
 *   GET  /api/commands, /api/backends, /images/:id.png, /files/:id/:name (private files: owner only)
 * POSTs need `Content-Type: application/json`; all but `GET /`, `POST /api/login` and (on
 * loopback) `POST /api/session` need the session cookie.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { COMMANDS, findCommand } from '../../../commands/index';
import { parseOptionText, validateOptions, type RawOptions } from '../../../commands/options';
import { CommandInputError, isUserError } from '../../core/errors';
import type { PersonRef } from '../../core/identity';
import type { Services } from '../../core/services';
import { commandsTotal } from '../../metrics';
import { describeFailure, dispatchCommand } from '../dispatch';
import { recordPosted } from '../record';
import { RunDisplay } from '../run-display';
import type { ChatAdapter, Conversation, OutFile, OutMessage, ReplyOptions } from '../types';
import { diskFileStore, FILE_ID, memoryFileStore, pngSize, safeFileName, type PlaygroundFileStore } from './files';
import { ignoreForgotten, isForgotten, registerPlaygroundForget } from './forget';
import {
  clearedCookie,
  crossOriginReason,
  hostPolicy,
  HttpError,
  isLoopbackHost,
  pageCsp,
  parseCookie,
  readJsonObject,
  requireJson,
  SessionStore,
  sessionCookie,
  tokenMatches,
  validPersonId,
  type Session,
} from './security';
import { CHANNEL_ID, PlaygroundState, visibleTo, type PlaygroundFile, type PlaygroundMessage, type StateChange } from './state';

const PLATFORM = 'playground';
const BOT = { id: 'tasteloop', name: 'Tasteloop', bot: true };
const PAGE_PATH = fileURLToPath(new URL('./page.html', import.meta.url));
const LOGIN_PATH = fileURLToPath(new URL('./login.html', import.meta.url));
const IMAGE_ID = /^[0-9a-f]{16,64}$/;
const MESSAGE_ID = /^m[0-9a-z]{1,20}$/;
/** Longest command text taken (Slack's limit for a message; the longest option, a prompt, is far shorter). */
export const MAX_COMMAND_CHARS = 4000;
/** Who a new session acts as until the page switches. */
const DEFAULT_PERSON = 'alice';
/** A wrong token is answered after this delay (guessing is slow; a person does not notice). */
const LOGIN_FAILURE_DELAY_MS = 300;
/** The shortest PLAYGROUND_TOKEN accepted. */
export const MIN_TOKEN_CHARS = 16;
const SCORES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as const;
/**
 * The playground's server/workspace id: everyone acting in the page is "in" it (people.touch records
 * it for each of them). Fixed by the adapter like a guild id from a verified event — never from text.
 * No Discord guild (numeric) or Slack team (T…) id can collide with it.
 */
export const PLAYGROUND_SCOPE = 'playground';

export interface PlaygroundOptions {
  services: Services;
  log: Logger;
  host?: string;
  /** 0 = any free port (tests). */
  port?: number;
  clock?: () => number;
  /** Keep the conversation across restarts in this file (npm start: DATA_DIR/playground.jsonl). */
  stateFile?: string;
  /** How often the run display reads the outbox feed (ms). */
  runFeedPollMs?: number;
  /**
   * Where file bytes (charts, grids, exports) are kept. Default: `playground-files/` next to
   * `stateFile` (npm start: DATA_DIR/playground-files), or memory when there is no state file.
   */
  filesDir?: string;
  /**
   * PLAYGROUND_TOKEN: when set, every browser logs in with it once. Required to listen on anything
   * but a loopback address (start() refuses otherwise).
   */
  token?: string;
}

/** What became of a command: `accepted` = it ran (its handler may still have answered with a refusal). */
export interface CommandOutcome {
  accepted: boolean;
  /** Why it was refused before running (also shown privately in the page). */
  error?: string;
}

export interface PlaygroundAdapter extends ChatAdapter {
  readonly state: PlaygroundState;
  readonly runDisplay: RunDisplay;
  /** #general, for posting bot messages from in-process code (tests). */
  readonly channel: Conversation;
  /** http://host:port once started. */
  url(): string;
  /** Runs a command as `userId` from text like "/rate count:3" (in-process; HTTP acts as the session's person). */
  command(userId: string, text: string): Promise<CommandOutcome>;
  /** Sets (score) or clears (null) `userId`'s rating on a message, as the page's buttons do; returns the click's event time. */
  rate(userId: string, messageId: string, score: number | null): Promise<{ at: number }>;
  /** Where the page fetches a file shown with a message (relative to url()). */
  fileUrl(file: PlaygroundFile): string;
  /** The session cookie's name (it carries the port: two playgrounds on one host keep their own). */
  cookieName(): string;
}

export function fileUrl(file: PlaygroundFile): string {
  return `/files/${file.id}/${encodeURIComponent(safeFileName(file.name))}`;
}

export function personFor(userId: string): PersonRef {
  const id =
    userId
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, '')
      .slice(0, 32) || 'guest';
  return { platform: 'playground', userId: id, displayName: id.charAt(0).toUpperCase() + id.slice(1) };
}

/** Thrown by start() when the playground would be open to the network without a token. */
export class PlaygroundExposedError extends Error {
  constructor(host: string) {
    super(
      `The playground would listen on HOST=${host}, which is not a loopback address, without PLAYGROUND_TOKEN: anyone who can reach it could act as anyone. ` +
        `Set PLAYGROUND_TOKEN to a long random secret (at least ${MIN_TOKEN_CHARS} characters, e.g. \`openssl rand -hex 24\`) to require a login, ` +
        'set HOST=127.0.0.1, or turn the playground off with PLAYGROUND=off.',
    );
    this.name = 'PlaygroundExposedError';
  }
}

export function createPlaygroundAdapter(opts: PlaygroundOptions): PlaygroundAdapter {
  const { services, log } = opts;
  const clock = opts.clock ?? Date.now;
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token?.trim() ? opts.token.trim() : undefined;
  const loginRequired = Boolean(token);
  const state = new PlaygroundState(clock, { file: opts.stateFile });
  const filesDir = opts.filesDir ?? (opts.stateFile ? path.join(path.dirname(opts.stateFile), 'playground-files') : undefined);
  const fileStore: PlaygroundFileStore = filesDir ? diskFileStore(filesDir) : memoryFileStore();
  const sessions = new SessionStore(clock, DEFAULT_PERSON);
  let server: Server | null = null;
  let boundPort = 0;
  let allowedHost: (h: string | undefined) => boolean = () => false;
  let pages: { page: Buffer; pageCsp: string; login: Buffer; loginCsp: string } | null = null;
  const sse = new Set<{ res: ServerResponse; session: Session }>();
  let invocations = 0;
  /** Unregisters the playground's part of forget (registered while started). */
  let unforget = () => {};
  // Click event times: strictly increasing, so two clicks never share a time (the ledger would take the second for a duplicate).
  let lastStamp = 0;
  const stamp = () => (lastStamp = Math.max(clock(), lastStamp + 1));
  /** person|image → event time of the click the page shows (the newest applied: the ledger's own rule). */
  const shownClick = new Map<string, number>();

  /** Bytes to the file store, metadata (small) to the message. */
  async function storeFiles(files: OutFile[] | undefined): Promise<{ files?: PlaygroundFile[] }> {
    if (!files?.length) return {};
    const out: PlaygroundFile[] = [];
    for (const f of files) {
      const id = await fileStore.put(f.data);
      out.push({
        id,
        name: safeFileName(f.name),
        contentType: f.contentType,
        size: f.data.length,
        ...(f.contentType === 'image/png' ? pngSize(f.data) : null),
      });
    }
    return { files: out };
  }

  const conversation = (id: string, label: string): Conversation => ({
    id,
    mention: label,
    async post(msg) {
      // The event key goes into the state file with the message (before it is shown): see findPosted.
      const m = state.addMessage({
        conversationId: id,
        author: BOT,
        text: msg.text,
        imageId: msg.image?.imageId,
        rateable: Boolean(msg.image?.rateable),
        kind: msg.kind,
        runId: msg.runId,
        ...(msg.idempotencyKey ? { eventKey: msg.idempotencyKey } : {}),
        ...(await storeFiles(msg.files)),
      });
      await recordPosted(services, PLATFORM, { messageId: m.id, channelId: id, scopeId: PLAYGROUND_SCOPE }, msg);
      return m.id;
    },
    // A crash between showing a run message and recording it: the message is in the state, found by its key.
    async findPosted(msg) {
      const key = msg.idempotencyKey;
      if (!key) return undefined;
      for (const m of state.messages.values()) {
        if (m.eventKey !== key || m.conversationId !== id) continue;
        await recordPosted(services, PLATFORM, { messageId: m.id, channelId: id, scopeId: PLAYGROUND_SCOPE }, msg);
        return m.id;
      }
      return undefined;
    },
    async edit(messageId, msg) {
      state.updateMessage(messageId, { text: msg.text });
    },
  });
  const channel = conversation(CHANNEL_ID, '#general');
  // Runs are shown from the outbox into their thread (found again by id after a restart).
  const runDisplay = new RunDisplay({
    platform: PLATFORM,
    services,
    log,
    pollMs: opts.runFeedPollMs,
    conversation: (id) => (id === CHANNEL_ID ? channel : conversation(id, `the thread “${state.threads.get(id)?.title ?? id}”`)),
  });

  /**
   * Parses and checks the command before anything is stored: a refused command (unknown, bad
   * options, too long) leaves no trace — no echo in the channel, nothing in the state file or the
   * database — and is answered privately with a transient message.
   */
  async function command(userId: string, text: string): Promise<CommandOutcome> {
    const person = personFor(userId);
    const trimmed = text.trim();
    const match = /^\/?([a-z]+)\s*([\s\S]*)$/i.exec(trimmed);
    const name = match?.[1]?.toLowerCase() ?? '';
    let raw: RawOptions;
    try {
      if (trimmed.length > MAX_COMMAND_CHARS)
        throw new CommandInputError(`A command is at most ${MAX_COMMAND_CHARS} characters (got ${trimmed.length}).`);
      const def = findCommand(name);
      if (!def)
        throw new CommandInputError(
          `I don't know “${(name || trimmed).slice(0, 40)}”. Commands: ${COMMANDS.map((c) => `/${c.name}`).join(', ')}.`,
        );
      raw = parseOptionText(def, match?.[2] ?? '', (v) => (v.trim() ? personFor(v.replace(/^@/, '')) : undefined));
      validateOptions(def, raw);
    } catch (err) {
      if (findCommand(name))
        commandsTotal.inc({ platform: PLATFORM, command: findCommand(name)!.name, outcome: isUserError(err) ? 'user_error' : 'error' });
      const msg = describeFailure(err, log, { platform: PLATFORM });
      state.addMessage(
        { conversationId: CHANNEL_ID, author: BOT, text: msg.text, rateable: false, kind: msg.kind, ephemeralFor: person.userId },
        { transient: true },
      );
      return { accepted: false, error: msg.text };
    }

    const invocationId = `pg${++invocations}-${clock().toString(36)}`;
    // A person who asked to be forgotten: their command and its answers are shown, never written (forget.ts).
    const echo = state.addMessage(
      { conversationId: CHANNEL_ID, author: { id: person.userId, name: person.displayName!, bot: false }, text: trimmed, rateable: false },
      { transient: await isForgotten(services, person) },
    );
    let deferredEphemeral = false;
    const reply = async (msg: OutMessage, ro?: ReplyOptions): Promise<void> => {
      const ephemeral = ro?.ephemeral ?? deferredEphemeral;
      state.addMessage(
        {
          conversationId: CHANNEL_ID,
          author: BOT,
          text: msg.text,
          imageId: msg.image?.imageId,
          rateable: Boolean(msg.image?.rateable),
          kind: msg.kind,
          runId: msg.runId,
          ephemeralFor: ephemeral ? person.userId : undefined,
          ...(msg.idempotencyKey && !ephemeral ? { eventKey: msg.idempotencyKey } : {}),
          ...(await storeFiles(msg.files)),
        },
        { transient: await isForgotten(services, person) },
      );
    };
    // Everyone who acts here is in the playground's one "server" (what /compare and group runs check).
    await services.people.touch(person, PLAYGROUND_SCOPE).catch(ignoreForgotten);
    await dispatchCommand(name, raw, {
      platform: 'playground' as const,
      person,
      scopeId: PLAYGROUND_SCOPE,
      channel,
      invocationId,
      services,
      log,
      reply,
      runDisplay,
      defer: async (o?: ReplyOptions) => {
        deferredEphemeral = Boolean(o?.ephemeral);
      },
      openThread: async (title: string) => {
        const t = state.addThread(echo.id, title);
        state.updateMessage(echo.id, { threadId: t.id }, false);
        return conversation(t.id, `the thread “${title}”`);
      },
    });
    return { accepted: true };
  }

  /**
   * A click is a vote with its event time, like a reaction, and the ledger decides (its rule: per
   * score the newest event stands; the rating is the newest vote standing). Setting score s at time t
   * = add vote s at t and take back, at t, the person's other votes standing on the image as read
   * from the ledger; clearing = take back all of them at t. Nothing is read from memory.
   *
   * One person's clicks are applied one after another in the order they arrived (their event times
   * are stamped in that order), as a chat platform delivers one person's reactions in order: each
   * click reads the votes its predecessors left, so concurrent clicks end as the latest one says.
   */
  async function rate(userId: string, messageId: string, score: number | null): Promise<{ at: number }> {
    if (score !== null && !(Number.isInteger(score) && score >= 1 && score <= 10))
      throw new HttpError(400, 'score must be a whole number from 1 to 10, or null to clear');
    const person = personFor(userId);
    const m = state.messages.get(messageId);
    if (m && !visibleTo(m, person.userId)) throw new HttpError(404, 'no such message');
    const at = stamp();
    return inTurn(person.userId, async () => {
      // By message id from the database: the image is found even if this process lost the message.
      const known = await services.messages.lookup(PLATFORM, messageId);
      if (!known) throw new HttpError(404, 'no such message');
      if (!known.imageId) throw new HttpError(400, 'That message has no image to rate.');
      const imageId = known.imageId;
      const ctx = { source: PLATFORM, scopeId: PLAYGROUND_SCOPE, channelId: known.channelId, messageId };
      const eventTime = new Date(at);
      // Everyone who acts is in the playground's scope (rating records it too; a clear alone must as well).
      if (score === null) await services.people.touch(person, PLAYGROUND_SCOPE);
      // Without a ledger read (a test double), every other score is taken back: the same outcome, more writes.
      const standing = services.ratings.standing ? await services.ratings.standing(person, imageId) : SCORES;
      if (score !== null) await services.ratings.rate(person, imageId, score, ctx, eventTime);
      for (const s of new Set(standing)) if (s !== score) await services.ratings.unrate(person, imageId, s, ctx, eventTime);
      showRating(person.userId, imageId, score, at);
      return { at };
    });
  }

  /** Runs `fn` after every earlier click of the same person has been applied. */
  const turns = new Map<string, Promise<unknown>>();
  function inTurn<T>(userId: string, fn: () => Promise<T>): Promise<T> {
    const prev = turns.get(userId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    turns.set(userId, tail);
    void tail.then(() => {
      if (turns.get(userId) === tail) turns.delete(userId);
    });
    return run;
  }

  /** The buttons show each person's latest click on every message of the image (what the ledger holds). */
  function showRating(userId: string, imageId: string, score: number | null, at: number): void {
    const key = `${userId}|${imageId}`;
    if ((shownClick.get(key) ?? -Infinity) >= at) return; // a newer click already shows
    shownClick.set(key, at);
    for (const m of state.messages.values()) {
      if (m.imageId !== imageId || !m.rateable || m.ratings[userId] === (score ?? undefined)) continue;
      const ratings = { ...m.ratings };
      if (score === null) delete ratings[userId];
      else ratings[userId] = score;
      state.updateMessage(m.id, { ratings }, false);
    }
  }

  // ---------- server-sent events: each session sees what its person may see ----------

  const snapshotFor = (s: Session) => ({ person: s.person, name: personFor(s.person).displayName, ...state.snapshot(s.person) });
  const sendSnapshot = (res: ServerResponse, s: Session) => res.write(`event: snapshot\ndata: ${JSON.stringify(snapshotFor(s))}\n\n`);
  const broadcast = (change: StateChange) => {
    const line = `event: ${change.type}\ndata: ${JSON.stringify(change.type === 'message' ? change.message : change.thread)}\n\n`;
    for (const c of sse) {
      if (change.type === 'message' && !visibleTo(change.message, c.session.person)) continue;
      c.res.write(line);
    }
  };
  state.on('change', broadcast);

  // ---------- HTTP ----------

  const cookieName = () => `tl_session_${boundPort}`;

  function currentSession(req: IncomingMessage): Session | undefined {
    return sessions.get(parseCookie(req, cookieName()));
  }

  /** The session, logged in: what every request but the page and the login needs. */
  function authorized(req: IncomingMessage): Session {
    const s = currentSession(req);
    if (s?.loggedIn) return s;
    throw new HttpError(
      401,
      loginRequired
        ? 'log in first: open the playground page and enter PLAYGROUND_TOKEN'
        : 'no session: open the playground page (GET /) or POST /api/session first',
    );
  }

  function switchPerson(s: Session, person: string): void {
    s.person = person;
    for (const c of sse) if (c.session === s) sendSnapshot(c.res, s);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Who may ask at all: this server's own host names, from its own page.
    if (!allowedHost(req.headers.host))
      throw new HttpError(403, `Host "${String(req.headers.host ?? '').slice(0, 80)}" is not this playground's address`);
    const crossOrigin = crossOriginReason(req);
    if (crossOrigin) throw new HttpError(403, crossOrigin);
    const url = new URL(req.url ?? '/', 'http://playground.local');
    const method = req.method ?? 'GET';
    if (method === 'POST') requireJson(req);
    else if (method !== 'GET' && !(method === 'HEAD' && url.pathname === '/'))
      throw new HttpError(405, `${method.slice(0, 10)} is not allowed`);
    const route = `${method === 'HEAD' ? 'GET' : method} ${url.pathname}`;

    if (route === 'GET /') {
      let s = currentSession(req);
      // On loopback every browser gets a session with the page; with a token, only a login makes one.
      if (!s && !loginRequired) {
        s = sessions.create(true);
        res.setHeader('set-cookie', sessionCookie(cookieName(), s.id));
      }
      const p = pages!;
      const [body, csp] = s?.loggedIn ? [p.page, p.pageCsp] : [p.login, p.loginCsp];
      res.setHeader('content-security-policy', csp);
      return send(res, 200, body, 'text/html; charset=utf-8');
    }
    if (route === 'POST /api/login') {
      const body = await readJsonObject(req, ['token']);
      if (typeof body.token !== 'string' || body.token.length > 1000) throw new HttpError(400, 'token must be a string');
      if (!loginRequired) return json(res, 200, { ok: true, loginRequired: false });
      if (!tokenMatches(body.token, token!)) {
        await new Promise((r) => setTimeout(r, LOGIN_FAILURE_DELAY_MS));
        log.warn({ remote: req.socket.remoteAddress }, 'playground: wrong token');
        throw new HttpError(401, 'wrong token');
      }
      // Always a new session (and id) on login: an id known before logging in is worth nothing after.
      const old = currentSession(req);
      if (old) sessions.delete(old.id);
      const s = sessions.create(true, old?.person);
      res.setHeader('set-cookie', sessionCookie(cookieName(), s.id));
      return json(res, 200, { ok: true, person: s.person });
    }
    if (route === 'POST /api/logout') {
      await readJsonObject(req, []);
      const s = currentSession(req);
      if (s) {
        sessions.delete(s.id);
        for (const c of sse) if (c.session === s) c.res.end();
      }
      res.setHeader('set-cookie', clearedCookie(cookieName()));
      return json(res, 200, { ok: true });
    }
    if (route === 'POST /api/session') {
      const body = await readJsonObject(req, ['person']);
      const person = validPersonId(body.person);
      if (!person) throw new HttpError(400, 'person must be 1–32 letters, digits, "-" or "_"');
      let s = currentSession(req);
      if (!s && !loginRequired) {
        s = sessions.create(true);
        res.setHeader('set-cookie', sessionCookie(cookieName(), s.id));
      }
      if (!s?.loggedIn) throw new HttpError(401, 'log in first: open the playground page and enter PLAYGROUND_TOKEN');
      switchPerson(s, person);
      return json(res, 200, { person: s.person, name: personFor(s.person).displayName });
    }

    const session = authorized(req);
    if (route === 'GET /api/session')
      return json(res, 200, { person: session.person, name: personFor(session.person).displayName, loginRequired });
    if (route === 'GET /events') {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-content-type-options': 'nosniff',
      });
      const client = { res, session };
      sendSnapshot(res, session);
      sse.add(client);
      const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
      req.on('close', () => {
        clearInterval(ping);
        sse.delete(client);
      });
      return;
    }
    if (route === 'GET /api/commands') {
      return json(
        res,
        200,
        COMMANDS.map((c) => ({ name: c.name, description: c.description, usage: c.usage, options: c.options })),
      );
    }
    if (route === 'GET /api/backends') return json(res, 200, services.backends);
    if (method !== 'POST' && url.pathname.startsWith('/images/')) {
      const id = url.pathname.slice('/images/'.length).replace(/\.png$/, '');
      if (!IMAGE_ID.test(id)) return json(res, 404, { error: 'no such image' });
      const bytes = await services.images.readBytes(id).catch(() => null);
      if (!bytes) return json(res, 404, { error: 'no such image' });
      res.setHeader('cache-control', 'private, max-age=31536000, immutable');
      return send(res, 200, bytes, 'image/png');
    }
    if (method !== 'POST' && url.pathname.startsWith('/files/')) {
      // /files/:id/:name — the name is only for the browser (download name); the id finds the file.
      const id = url.pathname.split('/')[2] ?? '';
      const entry = FILE_ID.test(id) ? state.files.get(id) : undefined;
      const shownIn = entry ? state.messages.get(entry.messageId) : undefined;
      // A private file (an export, anything of an ephemeral reply) exists only for its owner: 404, not 403.
      if (!entry || !shownIn || !visibleTo(shownIn, session.person)) return json(res, 404, { error: 'no such file' });
      const bytes = await fileStore.get(id);
      if (!bytes) return json(res, 404, { error: 'no such file' });
      const { file } = entry;
      // Only PNGs render inline; anything else (a JSON export) is a download, never rendered by the page's origin.
      const inline = file.contentType === 'image/png';
      res.setHeader('cache-control', shownIn.ephemeralFor ? 'private, no-store' : 'private, max-age=31536000, immutable');
      res.setHeader('content-disposition', `${inline ? 'inline' : 'attachment'}; filename="${safeFileName(file.name)}"`);
      return send(res, 200, bytes, inline ? 'image/png' : 'application/octet-stream');
    }
    const personHint = ' — the acting person is the session’s (POST /api/session to switch)';
    if (route === 'POST /api/command') {
      const body = await readJsonObject(req, ['text'], personHint);
      if (typeof body.text !== 'string' || !body.text.trim())
        throw new HttpError(400, 'text must be a non-empty string (a command such as "/rate count:3")');
      const outcome = await command(session.person, body.text);
      return outcome.accepted ? json(res, 200, { ok: true }) : json(res, 422, { ok: false, error: outcome.error });
    }
    if (route === 'POST /api/rate') {
      const body = await readJsonObject(req, ['messageId', 'score'], personHint);
      if (typeof body.messageId !== 'string' || !MESSAGE_ID.test(body.messageId))
        throw new HttpError(400, 'messageId must be a message id such as "m0001"');
      // JSON integers 1–10 only, as a reaction gives; null clears. Never coerced: "8", true, [8] are refused.
      const score = body.score;
      if (score !== null && !(typeof score === 'number' && Number.isInteger(score) && score >= 1 && score <= 10)) {
        throw new HttpError(400, 'score must be a whole number from 1 to 10, or null to clear');
      }
      try {
        const { at } = await rate(session.person, body.messageId, score);
        return json(res, 200, { ok: true, score, at });
      } catch (err) {
        if (err instanceof HttpError || !isUserError(err)) throw err;
        return json(res, 400, { error: describeFailure(err, log).text });
      }
    }
    const known = [
      '/',
      '/api/login',
      '/api/logout',
      '/api/session',
      '/events',
      '/api/commands',
      '/api/backends',
      '/api/command',
      '/api/rate',
    ];
    if (known.includes(url.pathname)) throw new HttpError(405, `${method} is not allowed on ${url.pathname}`);
    return json(res, 404, { error: 'not found' });
  }

  return {
    name: PLATFORM,
    state,
    runDisplay,
    channel,
    command,
    rate,
    fileUrl,
    cookieName,
    url() {
      const a = server?.address() as AddressInfo | null;
      if (!a) throw new Error('playground not started');
      return `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${a.port}`;
    },
    async start() {
      if (!token && !isLoopbackHost(host)) throw new PlaygroundExposedError(host);
      if (token && token.length < MIN_TOKEN_CHARS) throw new Error(`PLAYGROUND_TOKEN must be at least ${MIN_TOKEN_CHARS} characters.`);
      const page = readFileSync(PAGE_PATH);
      const login = readFileSync(LOGIN_PATH);
      pages = { page, pageCsp: pageCsp(page.toString('utf8')), login, loginCsp: pageCsp(login.toString('utf8')) };
      server = createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          if (err instanceof HttpError) {
            log.debug({ status: err.status, reason: err.message, path: req.url }, 'playground request refused');
            if (res.headersSent) return void res.end();
            if (err.closeConnection) res.setHeader('connection', 'close');
            return json(res, err.status, { error: err.message });
          }
          log.error({ err }, 'playground request failed');
          if (!res.headersSent) json(res, 500, { error: 'internal error' });
          else res.end();
        });
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(opts.port ?? 3000, host, () => resolve());
      });
      boundPort = (server.address() as AddressInfo).port;
      allowedHost = hostPolicy(host, boundPort);
      runDisplay.start();
      unforget = registerPlaygroundForget({ services, state, files: fileStore, runDisplay, log });
      log.info({ url: this.url(), login: loginRequired }, 'playground ready');
    },
    health() {
      return server?.listening ? { ok: true, detail: `listening on ${this.url()}` } : { ok: false, detail: 'not listening' };
    },
    async stop() {
      unforget();
      await runDisplay.stop();
      for (const c of sse) c.res.end();
      sse.clear();
      state.off('change', broadcast);
      if (server) {
        const s = server;
        server = null;
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
}

function send(res: ServerResponse, status: number, body: Buffer | string, type: string): void {
  if (!res.hasHeader('cache-control')) res.setHeader('cache-control', 'no-store');
  res.writeHead(status, {
    'content-type': type,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  });
  res.end(body);
}
function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, JSON.stringify(body), 'application/json');
}

export type { PlaygroundMessage };

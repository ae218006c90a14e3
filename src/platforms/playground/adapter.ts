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
 * This file wires the parts together and starts and stops the server: the bot's posts
 * (conversations.ts), typed commands (commands-handler.ts), rating clicks (rating-clicks.ts), the
 * HTTP contract (http-routes.ts, session-routes.ts) and the browsers' event streams (event-stream.ts).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Conversation } from '../../../commands/kit/types';
import type { Services } from '../../core/services';
import { RunDisplay } from '../run-display';
import type { ChatAdapter } from '../types';
import { createCommandHandler, type CommandOutcome } from './commands-handler';
import { PLATFORM, type PlaygroundContext } from './context';
import { runtimeAsset } from '../../runtime-files';
import { botConversations } from './conversations';
import { EventStream } from './event-stream';
import { diskFileStore, memoryFileStore, safeFileName } from './files';
import { registerPlaygroundForget } from './forget';
import { createRouter } from './http-routes';
import { createRatingClicks } from './rating-clicks';
import { hostPolicy, isLoopbackHost, pageCsp, SessionStore } from './security';
import type { Pages } from './session-routes';
import { CHANNEL_ID, PlaygroundState, type PlaygroundFile } from './state';

export type { CommandOutcome } from './commands-handler';
export { personFor, PLAYGROUND_SCOPE } from './context';

const PAGE_PATH = runtimeAsset('src/platforms/playground/page.html');
const LOGIN_PATH = runtimeAsset('src/platforms/playground/login.html');
/** Who a new session acts as until the page switches. */
const DEFAULT_PERSON = 'alice';
/** The shortest PLAYGROUND_TOKEN accepted. */
export const MIN_TOKEN_CHARS = 16;

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

/** The page and the login page, read when the server starts (each with the CSP allowing its own scripts). */
function loadPages(): Pages {
  const page = readFileSync(PAGE_PATH);
  const login = readFileSync(LOGIN_PATH);
  return { page, pageCsp: pageCsp(page.toString('utf8')), login, loginCsp: pageCsp(login.toString('utf8')) };
}

/** The parts every handler shares, built once. */
function buildContext(opts: PlaygroundOptions): PlaygroundContext {
  const { services, log } = opts;
  const clock = opts.clock ?? Date.now;
  const state = new PlaygroundState(clock, { file: opts.stateFile });
  const filesDir = opts.filesDir ?? (opts.stateFile ? path.join(path.dirname(opts.stateFile), 'playground-files') : undefined);
  const files = filesDir ? diskFileStore(filesDir) : memoryFileStore();
  const conversation = botConversations({ services, state, files });
  const channel = conversation(CHANNEL_ID, '#general');
  // Runs are shown from the outbox into their thread (found again by id after a restart).
  const runDisplay = new RunDisplay({
    platform: PLATFORM,
    services,
    log,
    pollMs: opts.runFeedPollMs,
    conversation: (id) => (id === CHANNEL_ID ? channel : conversation(id, `the thread “${state.threads.get(id)?.title ?? id}”`)),
    threads: {
      // A made-for-you run's thread hangs on its parent message: the one already there is found again.
      threadOn: ({ messageId, title }) => {
        const t = [...state.threads.values()].find((x) => x.parentId === messageId) ?? state.addThread(messageId, title);
        state.updateMessage(messageId, { threadId: t.id }, false);
        return Promise.resolve(t.id);
      },
    },
  });
  return { services, log, clock, state, files, runDisplay, channel, conversation };
}

export function createPlaygroundAdapter(opts: PlaygroundOptions): PlaygroundAdapter {
  const ctx = buildContext(opts);
  const { services, log, state, runDisplay } = ctx;
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token?.trim() ? opts.token.trim() : undefined;
  const sessions = new SessionStore(ctx.clock, DEFAULT_PERSON);
  const events = new EventStream(state);
  const command = createCommandHandler(ctx);
  const rate = createRatingClicks(ctx);
  let server: Server | null = null;
  let boundPort = 0;
  let allowedHost: (h: string | undefined) => boolean = () => false;
  /** Unregisters the playground's part of forget (registered while started). */
  let unforget = () => {};
  const cookieName = () => `tl_session_${boundPort}`;

  return {
    name: PLATFORM,
    state,
    runDisplay,
    channel: ctx.channel,
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
      const pages = loadPages();
      // Until the port is known no Host header is this server's: a request that early is refused.
      const allowed = (h: string | undefined) => allowedHost(h);
      server = createServer(createRouter({ ...ctx, sessions, token, events, pages, cookieName, allowedHost: allowed, command, rate }));
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(opts.port ?? 3000, host, () => resolve());
      });
      boundPort = (server.address() as AddressInfo).port;
      allowedHost = hostPolicy(host, boundPort);
      runDisplay.start();
      unforget = registerPlaygroundForget({ services, state, files: ctx.files, runDisplay, log });
      log.info({ url: this.url(), login: Boolean(token) }, 'playground ready');
    },
    health() {
      return server?.listening ? { ok: true, detail: `listening on ${this.url()}` } : { ok: false, detail: 'not listening' };
    },
    async stop() {
      unforget();
      await runDisplay.stop();
      events.close();
      if (server) {
        const s = server;
        server = null;
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
}

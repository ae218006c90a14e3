/**
 * The local playground: a ChatAdapter like Discord's, whose "chat platform" is a small web page
 * served on loopback. Commands typed in the page go through the same shared commands (commands/)
 * and the same core; the 1–10 buttons stand in for reactions; updates stream over Server-Sent Events.
 *
 * The one channel is one "server" (scope PLAYGROUND_SCOPE) that every person acting here shares, so
 * the community features (/compare, others' /profile, group /optimize) work locally once people opt
 * in with /privacy share:on — the same rules as on Discord/Slack, with the scope fixed by the adapter.
 * Files a message carries (charts, grids, exports) are stored by files.ts and served at /files/:id/:name.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { COMMANDS, findCommand } from '../../../commands/index';
import { parseOptionText, type RawOptions } from '../../../commands/options';
import { CommandInputError } from '../../core/errors';
import type { PersonRef } from '../../core/identity';
import type { Services } from '../../core/services';
import { describeFailure, dispatchCommand } from '../dispatch';
import { recordPosted } from '../record';
import { RunDisplay } from '../run-display';
import type { ChatAdapter, Conversation, OutFile, OutMessage, ReplyOptions } from '../types';
import { diskFileStore, FILE_ID, memoryFileStore, pngSize, safeFileName, type PlaygroundFileStore } from './files';
import { CHANNEL_ID, PlaygroundState, type PlaygroundFile, type StateChange } from './state';

const PLATFORM = 'playground';
const BOT = { id: 'tasteloop', name: 'Tasteloop', bot: true };
const PAGE_PATH = fileURLToPath(new URL('./page.html', import.meta.url));
const IMAGE_ID = /^[0-9a-f]{16,64}$/;
const MAX_BODY = 64 * 1024;
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
}

export interface PlaygroundAdapter extends ChatAdapter {
  readonly state: PlaygroundState;
  readonly runDisplay: RunDisplay;
  /** http://host:port once started. */
  url(): string;
  /** Runs a command as `userId` from text like "/rate count:3" (what the page posts). */
  command(userId: string, text: string): Promise<void>;
  /** Sets (score) or clears (null) `userId`'s rating on a message, as the page's buttons do. */
  rate(userId: string, messageId: string, score: number | null): Promise<void>;
  /** Where the page fetches a file shown with a message (relative to url()). */
  fileUrl(file: PlaygroundFile): string;
}

export function fileUrl(file: PlaygroundFile): string {
  return `/files/${file.id}/${encodeURIComponent(safeFileName(file.name))}`;
}

export function personFor(userId: string): PersonRef {
  const id = userId.trim().toLowerCase().replace(/[^a-z0-9_-]/g, '').slice(0, 32) || 'guest';
  return { platform: 'playground', userId: id, displayName: id.charAt(0).toUpperCase() + id.slice(1) };
}

export function createPlaygroundAdapter(opts: PlaygroundOptions): PlaygroundAdapter {
  const { services, log } = opts;
  const clock = opts.clock ?? Date.now;
  const state = new PlaygroundState(clock, { file: opts.stateFile });
  const filesDir = opts.filesDir ?? (opts.stateFile ? path.join(path.dirname(opts.stateFile), 'playground-files') : undefined);
  const fileStore: PlaygroundFileStore = filesDir ? diskFileStore(filesDir) : memoryFileStore();
  let server: Server | null = null;
  const sse = new Set<ServerResponse>();
  let invocations = 0;

  /** Bytes to the file store, metadata (small) to the message. */
  async function storeFiles(files: OutFile[] | undefined): Promise<{ files?: PlaygroundFile[] }> {
    if (!files?.length) return {};
    const out: PlaygroundFile[] = [];
    for (const f of files) {
      const id = await fileStore.put(f.data);
      out.push({ id, name: safeFileName(f.name), contentType: f.contentType, size: f.data.length, ...(f.contentType === 'image/png' ? pngSize(f.data) : null) });
    }
    return { files: out };
  }

  const conversation = (id: string, label: string): Conversation => ({
    id,
    mention: label,
    async post(msg) {
      const m = state.addMessage({
        conversationId: id, author: BOT, text: msg.text, imageId: msg.image?.imageId, rateable: Boolean(msg.image?.rateable),
        kind: msg.kind, runId: msg.runId, ...(await storeFiles(msg.files)),
      });
      await recordPosted(services, PLATFORM, { messageId: m.id, channelId: id, scopeId: PLAYGROUND_SCOPE }, msg);
      return m.id;
    },
    async edit(messageId, msg) {
      state.updateMessage(messageId, { text: msg.text });
    },
  });
  const channel = conversation(CHANNEL_ID, '#general');
  // Runs are shown from the outbox into their thread (found again by id after a restart).
  const runDisplay = new RunDisplay({
    platform: PLATFORM, services, log, pollMs: opts.runFeedPollMs,
    conversation: (id) => (id === CHANNEL_ID ? channel : conversation(id, `the thread “${state.threads.get(id)?.title ?? id}”`)),
  });

  async function command(userId: string, text: string): Promise<void> {
    const person = personFor(userId);
    const invocationId = `pg${++invocations}-${clock().toString(36)}`;
    const trimmed = text.trim();
    const echo = state.addMessage({ conversationId: CHANNEL_ID, author: { id: person.userId, name: person.displayName!, bot: false }, text: trimmed, rateable: false });
    let deferredEphemeral = false;
    const reply = async (msg: OutMessage, ro?: ReplyOptions): Promise<void> => {
      const ephemeral = ro?.ephemeral ?? deferredEphemeral;
      state.addMessage({
        conversationId: CHANNEL_ID, author: BOT, text: msg.text, imageId: msg.image?.imageId, rateable: Boolean(msg.image?.rateable),
        kind: msg.kind, runId: msg.runId, ephemeralFor: ephemeral ? person.userId : undefined, ...(await storeFiles(msg.files)),
      });
    };
    // Everyone who acts here is in the playground's one "server" (what /compare and group runs check).
    await services.people.touch(person, PLAYGROUND_SCOPE);
    const base = {
      platform: 'playground' as const, person, scopeId: PLAYGROUND_SCOPE, channel, invocationId, services, log, reply, runDisplay,
      defer: async (o?: ReplyOptions) => {
        deferredEphemeral = Boolean(o?.ephemeral);
      },
      openThread: async (title: string) => {
        const t = state.addThread(echo.id, title);
        state.updateMessage(echo.id, { threadId: t.id }, false);
        return conversation(t.id, `the thread “${title}”`);
      },
    };
    const match = /^\/?([a-z]+)\s*([\s\S]*)$/i.exec(trimmed);
    const name = match?.[1]?.toLowerCase() ?? '';
    let raw: RawOptions;
    try {
      const def = findCommand(name);
      if (!def) throw new CommandInputError(`I don't know “${name || trimmed}”. Commands: ${COMMANDS.map((c) => `/${c.name}`).join(', ')}.`);
      raw = parseOptionText(def, match?.[2] ?? '', (v) => (v.trim() ? personFor(v.replace(/^@/, '')) : undefined));
    } catch (err) {
      await reply(describeFailure(err, log), { ephemeral: true });
      return;
    }
    await dispatchCommand(name, raw, base);
  }

  async function rate(userId: string, messageId: string, score: number | null): Promise<void> {
    const person = personFor(userId);
    const m = state.messages.get(messageId);
    // By message id from the database: the image is found even if this process lost the message.
    const known = await services.messages.lookup(PLATFORM, messageId);
    if (!known?.imageId) throw new CommandInputError('That message has no image to rate.');
    if (score !== null && !(Number.isInteger(score) && score >= 1 && score <= 10)) throw new CommandInputError('Ratings go from 1 to 10.');
    const previous = m?.ratings[person.userId];
    const ctx = { source: PLATFORM, scopeId: PLAYGROUND_SCOPE, channelId: known.channelId, messageId };
    const at = new Date(clock());
    await services.people.touch(person, PLAYGROUND_SCOPE);
    // Like swapping one reaction for another: add the new vote, then take the old one back.
    if (score !== null) await services.ratings.rate(person, known.imageId, score, ctx, at);
    if (previous !== undefined && previous !== score) await services.ratings.unrate(person, known.imageId, previous, ctx, at);
    if (!m) return;
    const ratings = { ...m.ratings };
    if (score === null) delete ratings[person.userId];
    else ratings[person.userId] = score;
    state.updateMessage(messageId, { ratings }, false);
  }

  const broadcast = (change: StateChange) => {
    const line = `event: ${change.type}\ndata: ${JSON.stringify(change.type === 'message' ? change.message : change.thread)}\n\n`;
    for (const res of sse) res.write(line);
  };
  state.on('change', broadcast);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://playground.local');
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /') {
      const html = await readFile(PAGE_PATH);
      return send(res, 200, html, 'text/html; charset=utf-8');
    }
    if (route === 'GET /events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(`event: snapshot\ndata: ${JSON.stringify(state.snapshot())}\n\n`);
      sse.add(res);
      const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
      req.on('close', () => {
        clearInterval(ping);
        sse.delete(res);
      });
      return;
    }
    if (route === 'GET /api/commands') {
      return json(res, 200, COMMANDS.map((c) => ({ name: c.name, description: c.description, usage: c.usage, options: c.options })));
    }
    if (route === 'GET /api/backends') return json(res, 200, services.backends);
    if (req.method === 'GET' && url.pathname.startsWith('/images/')) {
      const id = url.pathname.slice('/images/'.length).replace(/\.png$/, '');
      if (!IMAGE_ID.test(id)) return json(res, 404, { error: 'no such image' });
      const bytes = await services.images.readBytes(id).catch(() => null);
      if (!bytes) return json(res, 404, { error: 'no such image' });
      res.setHeader('cache-control', 'public, max-age=31536000, immutable');
      return send(res, 200, bytes, 'image/png');
    }
    if (req.method === 'GET' && url.pathname.startsWith('/files/')) {
      // /files/:id/:name — the name is only for the browser (download name); the id finds the file.
      const id = url.pathname.split('/')[2] ?? '';
      const entry = FILE_ID.test(id) ? state.files.get(id) : undefined;
      const bytes = entry ? await fileStore.get(id) : null;
      if (!entry || !bytes) return json(res, 404, { error: 'no such file' });
      const { file } = entry;
      // Only PNGs render inline; anything else (a JSON export) is a download, never rendered by the page's origin.
      const inline = file.contentType === 'image/png';
      res.setHeader('cache-control', 'private, max-age=31536000, immutable');
      res.setHeader('content-disposition', `${inline ? 'inline' : 'attachment'}; filename="${safeFileName(file.name)}"`);
      return send(res, 200, bytes, inline ? 'image/png' : 'application/octet-stream');
    }
    if (route === 'POST /api/command') {
      const body = await readJson(req);
      const user = String(body.user ?? ''), text = String(body.text ?? '');
      await command(user, text);
      return json(res, 200, { ok: true });
    }
    if (route === 'POST /api/rate') {
      const body = await readJson(req);
      try {
        await rate(String(body.user ?? ''), String(body.messageId ?? ''), body.score === null ? null : Number(body.score));
        return json(res, 200, { ok: true });
      } catch (err) {
        const msg = describeFailure(err, log);
        return json(res, 400, { error: msg.text });
      }
    }
    return json(res, 404, { error: 'not found' });
  }

  return {
    name: PLATFORM,
    state,
    runDisplay,
    command,
    rate,
    fileUrl,
    url() {
      const a = server?.address() as AddressInfo | null;
      if (!a) throw new Error('playground not started');
      return `http://${opts.host ?? '127.0.0.1'}:${a.port}`;
    },
    async start() {
      server = createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          log.error({ err }, 'playground request failed');
          if (!res.headersSent) json(res, 500, { error: 'internal error' });
          else res.end();
        });
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(opts.port ?? 3000, opts.host ?? '127.0.0.1', () => resolve());
      });
      runDisplay.start();
      log.info({ url: this.url() }, 'playground ready');
    },
    health() {
      return server?.listening ? { ok: true, detail: `listening on ${this.url()}` } : { ok: false, detail: 'not listening' };
    },
    async stop() {
      await runDisplay.stop();
      for (const res of sse) res.end();
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
  res.writeHead(status, { 'content-type': type, 'x-content-type-options': 'nosniff' });
  res.end(body);
}
function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, JSON.stringify(body), 'application/json');
}
async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new CommandInputError('Request too large.');
    chunks.push(c as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

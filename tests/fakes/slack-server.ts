/**
 * A fake Slack Web API on 127.0.0.1 for the real @slack/web-api client (via slackApiUrl): auth.test,
 * chat.postMessage / update / postEphemeral, reactions.add / get, the files.uploadV2 trio
 * (files.getUploadURLExternal → POST to the upload URL → files.completeUploadExternal), files.info
 * (whose `shares` appear only after a poll or two, as on real Slack), conversations.replies /
 * .history (paged with limit + cursor; message `metadata` only with include_all_metadata=true, as on
 * Slack; `blocks` as posted, block_ids kept), users.info, and response_url endpoints. Every call is
 * recorded in order; 429s with Retry-After can be programmed per method; `beforeAnswer` sees each call
 * once Slack has done it and before the answer goes out (tests SIGKILL a bot process there: the post
 * is on Slack, the bot never learns it).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface FakeSlackMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  text: string;
  user: string;
  files: string[];
  edits: number;
  /** Ephemeral messages: who sees them (chat.postEphemeral / response_url). */
  ephemeralFor?: string;
  /** reaction name → user ids. */
  reactions: Map<string, Set<string>>;
  /** Message metadata as posted (chat.postMessage / chat.update `metadata`). */
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  /** Block Kit blocks as posted (chat.postMessage `blocks`, files.completeUploadExternal `blocks`). */
  blocks?: { type: string; block_id?: string; text?: { type: string; text: string } }[];
}

/** A Web API call done and about to be answered, as `beforeAnswer` sees it: the messages it created (a post, a file share). */
export interface FakeSlackAnswer {
  method: string;
  body: Record<string, string>;
  created: FakeSlackMessage[];
}

export interface FakeSlackCall {
  seq: number;
  method: string;
  body: Record<string, string>;
  status: number;
}

interface FakeFile {
  id: string;
  /** The file name the upload gave. */
  name: string;
  bytes: number;
  png: boolean;
  channel?: string;
  ts?: string;
  threadTs?: string;
  /** files.info calls left before its shares show (Slack shares uploads asynchronously). */
  hiddenFor: number;
}

export class FakeSlack {
  readonly token = ['xoxb', 'fake', '0000000000', 'tasteloop'].join('-'); // assembled: no token-shaped literal in the repo
  /** Socket Mode: the app-level token, and the envelopes the app acknowledged. */
  readonly appToken = 'xapp-fake-0000000000-tasteloop';
  readonly socketAcks: { envelope_id: string; payload?: unknown }[] = [];
  private wss: WebSocketServer | null = null;
  private readonly sockets = new Set<WebSocket>();
  readonly teamId = 'T0FAKE';
  readonly botUserId = 'UBOT0001';
  readonly botId = 'B0001';
  readonly channelId = 'C0GENERAL';
  readonly messages: FakeSlackMessage[] = [];
  readonly calls: FakeSlackCall[] = [];
  /** method → the error every call of it answers (e.g. missing_scope for an app installed without a scope). */
  readonly refusing = new Map<string, string>();
  /** Channels the app is no longer a member of: reactions.get answers not_in_channel. */
  readonly unreadableChannels = new Set<string>();
  /** After revokeToken(): every Web API call answers token_revoked, as after an uninstall or a token rotation. */
  private tokenRevoked = false;
  revokeToken(): void {
    this.tokenRevoked = true;
  }
  /** user ids users.info reports as bots. */
  readonly bots = new Set<string>();
  /** files.info polls before an upload's share becomes visible. */
  shareDelayPolls = 1;
  /**
   * Called when a Web API call has been carried out (a post is stored) and before its answer is
   * written; the answer waits for a returned promise. A test can act at the exact moment Slack has
   * taken a post and the app has not seen the answer: a SIGKILL there always lands between the post
   * and anything the app does after it (a kill after the answer races with the app, which may have
   * read the answer and recorded the post already).
   */
  beforeAnswer: ((answer: FakeSlackAnswer) => void | Promise<void>) | null = null;
  /** Messages created by the call being answered. */
  private created: FakeSlackMessage[] = [];
  private server: Server | null = null;
  private seq = 0;
  private tsSeq = 0;
  private fileSeq = 0;
  private readonly files = new Map<string, FakeFile>();
  private readonly limits: { method: string; times: number; retryAfter: number }[] = [];

  get baseUrl(): string {
    const a = this.server?.address() as AddressInfo | null;
    if (!a) throw new Error('fake Slack not started');
    return `http://127.0.0.1:${a.port}`;
  }
  /** What SLACK_API_URL is set to. */
  get apiUrl(): string {
    return `${this.baseUrl}/api/`;
  }
  responseUrl(id: string): string {
    return `${this.baseUrl}/response/${id}`;
  }

  /** The next `times` calls of `method` get HTTP 429 with `Retry-After: retryAfter`. */
  rateLimit(method: string, times: number, retryAfter: number): void {
    this.limits.push({ method, times, retryAfter });
  }

  callsOf(method: string): FakeSlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  find(channel: string, ts: string): FakeSlackMessage | undefined {
    return this.messages.find((m) => m.channel === channel && m.ts === ts && !m.ephemeralFor);
  }

  /**
   * A person's reaction changes the message's state (what reactions.get reads). Sending the matching
   * event is the harness's part: while the app is down, nobody sends it.
   */
  setReaction(kind: 'add' | 'remove', user: string, channel: string, ts: string, name: string): void {
    const m = this.find(channel, ts);
    if (!m) return;
    const users = m.reactions.get(name) ?? new Set<string>();
    if (kind === 'add') users.add(user);
    else users.delete(user);
    m.reactions.set(name, users);
  }

  /** A message deleted (by a person or an admin): the API no longer finds it. */
  deleteMessage(channel: string, ts: string): void {
    const i = this.messages.findIndex((m) => m.channel === channel && m.ts === ts && !m.ephemeralFor);
    if (i >= 0) this.messages.splice(i, 1);
  }

  /** The name a file was uploaded with. */
  fileName(id: string): string | undefined {
    return this.files.get(id)?.name;
  }

  /** Uploaded files with the bytes the client sent (to check real PNGs arrived). */
  uploaded(): { id: string; bytes: number; png: boolean }[] {
    return [...this.files.values()].map(({ id, bytes, png }) => ({ id, bytes, png }));
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: String(err) }));
      });
    });
    this.wss = new WebSocketServer({ server: this.server, path: '/socket' });
    this.wss.on('connection', (ws) => {
      if (this.socketsRefused) {
        ws.terminate();
        return;
      }
      this.sockets.add(ws);
      ws.on('close', () => this.sockets.delete(ws));
      ws.on('message', (data) => this.socketAcks.push(JSON.parse((data as Buffer).toString('utf8')) as { envelope_id: string }));
      ws.send(
        JSON.stringify({
          type: 'hello',
          num_connections: 1,
          debug_info: { host: 'fake', approximate_connection_time: 3600 },
          connection_info: { app_id: 'A0FAKE' },
        }),
      );
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
  }

  /** While true, Socket Mode connections are dropped as they open (a network outage on the way to Slack). */
  socketsRefused = false;

  /** Drops every Socket Mode connection without a goodbye, as a network failure does. */
  dropSockets(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  /** Socket Mode clients connected now. */
  get socketClients(): number {
    return this.sockets.size;
  }

  /** Sends a Socket Mode envelope (events_api / slash_commands) to every connected app. */
  sendEnvelope(envelope: {
    envelope_id: string;
    type: string;
    payload: unknown;
    retry_attempt?: number;
    retry_reason?: string;
    accepts_response_payload?: boolean;
  }): void {
    for (const ws of this.sockets) ws.send(JSON.stringify(envelope));
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    for (const ws of this.sockets) ws.terminate();
    this.wss?.close();
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private nextTs(): string {
    this.tsSeq++;
    return `${1_700_000_000 + this.tsSeq}.${String(this.tsSeq).padStart(6, '0')}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake.slack');
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
    };

    if (url.pathname.startsWith('/upload/')) {
      const file = this.files.get(url.pathname.slice('/upload/'.length));
      if (!file) return json(404, { ok: false });
      file.bytes = raw.length;
      file.png = raw.includes(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`OK - ${raw.length}`);
      return;
    }
    if (url.pathname.startsWith('/response/')) {
      const body = JSON.parse(raw.toString('utf8') || '{}') as { text?: string; response_type?: string };
      this.messages.push({
        channel: 'response_url',
        ts: this.nextTs(),
        text: body.text ?? '',
        user: this.botUserId,
        files: [],
        edits: 0,
        ephemeralFor: body.response_type === 'in_channel' ? undefined : url.pathname.slice('/response/'.length),
        reactions: new Map(),
      });
      return json(200, { ok: true });
    }
    if (!url.pathname.startsWith('/api/')) return json(404, { ok: false, error: 'unknown_path' });

    const method = url.pathname.slice('/api/'.length);
    const body = parseBody(req.headers['content-type'] ?? '', raw);
    const seq = ++this.seq;
    const limit = this.limits.find((l) => l.method === method && l.times > 0);
    if (limit) {
      limit.times--;
      this.calls.push({ seq, method, body, status: 429 });
      return json(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(limit.retryAfter) });
    }
    this.calls.push({ seq, method, body, status: 200 });
    if (this.tokenRevoked) return json(200, { ok: false, error: 'token_revoked' });
    if (method === 'apps.connections.open') {
      if (req.headers.authorization !== `Bearer ${this.appToken}`) return json(200, { ok: false, error: 'invalid_auth' });
      return json(200, { ok: true, url: `${this.baseUrl.replace('http:', 'ws:')}/socket` });
    }
    if (req.headers.authorization !== `Bearer ${this.token}` && body.token !== this.token)
      return json(200, { ok: false, error: 'invalid_auth' });
    this.created = [];
    const refused = this.refusing.get(method);
    const out = refused ? { ok: false, error: refused } : this.api(method, body);
    await this.beforeAnswer?.({ method, body, created: this.created });
    return json(200, out);
  }

  private api(method: string, b: Record<string, string>): Record<string, unknown> {
    const fail = (error: string) => ({ ok: false, error });
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://fake.slack.com/',
          team: 'Fake',
          user: 'tasteloop',
          team_id: this.teamId,
          user_id: this.botUserId,
          bot_id: this.botId,
        };
      case 'chat.postMessage': {
        if (!b.channel) return fail('channel_not_found');
        const blocks = parseJson<FakeSlackMessage['blocks']>(b.blocks);
        const metadata = parseJson<FakeSlackMessage['metadata']>(b.metadata);
        if (b.metadata !== undefined && !(metadata?.event_type && metadata.event_payload)) return fail('invalid_metadata_format');
        const m = this.post(b.channel, b.text ?? textOfBlocks(blocks), b.thread_ts, [], { blocks, metadata });
        return { ok: true, channel: m.channel, ts: m.ts, message: { text: m.text, ts: m.ts, user: m.user, bot_id: this.botId } };
      }
      case 'chat.update': {
        const m = this.find(b.channel ?? '', b.ts ?? '');
        if (!m) return fail('message_not_found');
        m.text = b.text ?? '';
        m.edits++;
        // Metadata left out of an update stays as it was.
        if (b.metadata !== undefined) m.metadata = parseJson<FakeSlackMessage['metadata']>(b.metadata);
        return { ok: true, channel: m.channel, ts: m.ts, text: m.text };
      }
      case 'chat.delete': {
        if (!this.find(b.channel ?? '', b.ts ?? '')) return fail('message_not_found');
        this.deleteMessage(b.channel ?? '', b.ts ?? '');
        return { ok: true, channel: b.channel, ts: b.ts };
      }
      case 'chat.postEphemeral': {
        if (!b.channel || !b.user) return fail('channel_not_found');
        const ts = this.nextTs();
        this.messages.push({
          channel: b.channel,
          ts,
          text: b.text ?? '',
          user: this.botUserId,
          files: [],
          edits: 0,
          ephemeralFor: b.user,
          reactions: new Map(),
        });
        return { ok: true, message_ts: ts };
      }
      case 'reactions.add': {
        const m = this.find(b.channel ?? '', b.timestamp ?? '');
        if (!m) return fail('message_not_found');
        const users = m.reactions.get(b.name ?? '') ?? new Set<string>();
        if (users.has(this.botUserId)) return fail('already_reacted');
        users.add(this.botUserId);
        m.reactions.set(b.name ?? '', users);
        return { ok: true };
      }
      case 'reactions.get': {
        if (this.unreadableChannels.has(b.channel ?? '')) return fail('not_in_channel');
        const m = this.find(b.channel ?? '', b.timestamp ?? '');
        if (!m) return fail('message_not_found');
        const reactions = [...m.reactions]
          .filter(([, users]) => users.size > 0)
          .map(([name, users]) => ({ name, users: [...users], count: users.size }));
        return {
          ok: true,
          type: 'message',
          channel: m.channel,
          message: { type: 'message', text: m.text, user: m.user, ts: m.ts, reactions },
        };
      }
      case 'files.getUploadURLExternal': {
        if (!b.filename || !b.length) return fail('invalid_arguments');
        const id = `F${String(++this.fileSeq).padStart(6, '0')}`;
        this.files.set(id, { id, name: b.filename, bytes: 0, png: false, hiddenFor: this.shareDelayPolls });
        return { ok: true, upload_url: `${this.baseUrl}/upload/${id}`, file_id: id };
      }
      case 'files.completeUploadExternal': {
        const list = JSON.parse(b.files ?? '[]') as { id: string; title?: string }[];
        const out = [];
        for (const f of list) {
          const file = this.files.get(f.id);
          if (!file || file.bytes === 0) return fail('file_not_found');
          if (b.channel_id) {
            // Like Slack: with initial_comment, blocks are ignored. A share never carries metadata.
            const blocks = b.initial_comment === undefined ? parseJson<FakeSlackMessage['blocks']>(b.blocks) : undefined;
            const m = this.post(b.channel_id, b.initial_comment ?? textOfBlocks(blocks), b.thread_ts, [f.id], { blocks });
            Object.assign(file, { channel: m.channel, ts: m.ts, threadTs: m.threadTs });
          }
          // Like Slack: shares are filled in asynchronously, so the completion reports none yet.
          out.push({ id: f.id, title: f.title ?? '', shares: {} });
        }
        return { ok: true, files: out };
      }
      case 'files.info': {
        const file = this.files.get(b.file ?? '');
        if (!file) return fail('file_not_found');
        const visible = file.hiddenFor-- <= 0 && file.channel && file.ts;
        const shares = visible
          ? { public: { [file.channel!]: [{ ts: file.ts!, ...(file.threadTs ? { thread_ts: file.threadTs } : {}) }] } }
          : {};
        return { ok: true, file: { id: file.id, shares } };
      }
      case 'conversations.replies': {
        if (!b.channel || !b.ts) return fail('invalid_arguments');
        // The parent first, then its replies, oldest first.
        const msgs = this.messages.filter((m) => !m.ephemeralFor && m.channel === b.channel && (m.ts === b.ts || m.threadTs === b.ts));
        if (!msgs.some((m) => m.ts === b.ts)) return fail('thread_not_found');
        return this.page(
          msgs.sort((x, y) => Number(x.ts) - Number(y.ts)),
          b,
        );
      }
      case 'conversations.history': {
        if (!b.channel) return fail('channel_not_found');
        // Top-level messages (thread parents included, replies not), newest first, within oldest…latest.
        const inclusive = b.inclusive === 'true' || b.inclusive === '1';
        const oldest = b.oldest ? Number(b.oldest) : -Infinity;
        const latest = b.latest ? Number(b.latest) : Infinity;
        const msgs = this.messages.filter((m) => {
          if (m.ephemeralFor || m.channel !== b.channel || (m.threadTs && m.threadTs !== m.ts)) return false;
          const t = Number(m.ts);
          return inclusive ? t >= oldest && t <= latest : t > oldest && t < latest;
        });
        return this.page(
          msgs.sort((x, y) => Number(y.ts) - Number(x.ts)),
          b,
        );
      }
      case 'conversations.open':
        if (!b.users) return fail('invalid_arguments');
        return { ok: true, channel: { id: `D${b.users}` } };
      case 'users.info':
        return { ok: true, user: { id: b.user, is_bot: this.bots.has(b.user ?? ''), name: b.user } };
      default:
        return fail('unknown_method');
    }
  }

  private post(
    channel: string,
    text: string,
    threadTs?: string,
    files: string[] = [],
    extra: Pick<FakeSlackMessage, 'blocks' | 'metadata'> = {},
  ): FakeSlackMessage {
    const m: FakeSlackMessage = {
      channel,
      ts: this.nextTs(),
      threadTs: threadTs || undefined,
      text,
      user: this.botUserId,
      files,
      edits: 0,
      reactions: new Map(),
      ...(extra.blocks ? { blocks: extra.blocks } : {}),
      ...(extra.metadata ? { metadata: extra.metadata } : {}),
    };
    this.messages.push(m);
    this.created.push(m);
    return m;
  }

  /** One page of a history answer: `limit` (default 100, at most 1000) from `cursor` on; metadata only when asked for. */
  private page(msgs: FakeSlackMessage[], b: Record<string, string>): Record<string, unknown> {
    const limit = Math.min(Math.max(Number(b.limit) || 100, 1), 1000);
    const from = b.cursor
      ? Number(
          Buffer.from(b.cursor, 'base64')
            .toString('utf8')
            .replace(/^next:/, ''),
        )
      : 0;
    if (!Number.isInteger(from) || from < 0) return { ok: false, error: 'invalid_cursor' };
    const slice = msgs.slice(from, from + limit);
    const more = from + limit < msgs.length;
    const withMetadata = b.include_all_metadata === 'true' || b.include_all_metadata === '1';
    const replyCount = (m: FakeSlackMessage) =>
      this.messages.filter((r) => !r.ephemeralFor && r.channel === m.channel && r.threadTs === m.ts && r.ts !== m.ts).length;
    return {
      ok: true,
      messages: slice.map((m) => ({
        type: 'message',
        ts: m.ts,
        user: m.user,
        ...(m.user === this.botUserId ? { bot_id: this.botId } : {}),
        text: m.text,
        ...(m.threadTs ? { thread_ts: m.threadTs } : replyCount(m) ? { thread_ts: m.ts, reply_count: replyCount(m) } : {}),
        ...(m.files.length ? { files: m.files.map((id) => ({ id })) } : {}),
        ...(m.blocks ? { blocks: m.blocks } : {}),
        ...(withMetadata && m.metadata ? { metadata: m.metadata } : {}),
      })),
      has_more: more,
      response_metadata: { next_cursor: more ? Buffer.from(`next:${from + limit}`).toString('base64') : '' },
    };
  }
}

function parseJson<T>(v: string | undefined): T | undefined {
  if (v === undefined || v === '') return undefined;
  try {
    return JSON.parse(v) as T;
  } catch {
    return undefined;
  }
}

/** What a message made of blocks reads as (the text of its sections), like Slack's fallback. */
function textOfBlocks(blocks: FakeSlackMessage['blocks']): string {
  return (blocks ?? [])
    .map((b) => b.text?.text ?? '')
    .filter(Boolean)
    .join('\n');
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function parseBody(contentType: string, raw: Buffer): Record<string, string> {
  const text = raw.toString('utf8');
  if (contentType.includes('application/json')) {
    const v = JSON.parse(text || '{}') as Record<string, unknown>;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typeof x === 'string' ? x : JSON.stringify(x)]));
  }
  return Object.fromEntries(new URLSearchParams(text));
}

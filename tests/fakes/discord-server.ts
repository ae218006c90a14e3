/**
 * A fake Discord on 127.0.0.1 for driving the real discord.js client: REST under /api/v10 and a
 * gateway WebSocket (tests/fakes/discord-gateway.ts). It keeps guilds, channels, threads and messages,
 * records every REST request and every gateway dispatch for assertions, can inject a 429 on a route, and
 * can drop the socket so the client RESUMEs and gets events replayed.
 *
 * Sharded like Discord: `shards` is what GET /gateway/bot recommends, each IDENTIFY names its shard,
 * and a guild's events reach only the sessions of the guild's shard (addGuild places a guild on one).
 *
 * Known details of the real thing it reproduces: a 204 carries no JSON content type; paths arrive
 * URL-encoded (reaction emoji); INTERACTION_CREATE needs `authorizing_integration_owners`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { FakeGateway, shardOf, type Dispatch } from './discord-gateway';

export { PRIVILEGED_INTENTS, shardOf } from './discord-gateway';

const EPOCH = 1420070400000n;

export interface RecordedRequest {
  seq: number;
  method: string;
  /** Decoded path below /api/v10, e.g. /channels/1/messages/2/reactions/7️⃣/@me */
  path: string;
  rawPath: string;
  auth: string | null;
  /**
   * Which client sent it, when its API base carries a tag (`http://…/<tag>/api`): lets a test tell
   * several bot processes apart on one fake (see apiUrlFor).
   */
  client: string | null;
  body: any;
  files: { name: string; size: number; type: string; bytes: Buffer }[];
}

export interface FakeMessage {
  id: string;
  channel_id: string;
  content: string;
  flags: number;
  attachments: { id: string; filename: string; size: number; content_type: string; url: string; bytes: Buffer }[];
  allowed_mentions: unknown;
  author_id: string;
  /** Created through the interaction webhook rather than the bot token. */
  viaWebhook: boolean;
  interactionId?: string;
  edits: number;
  deleted: boolean;
  nonce?: string;
  /** Message components as posted (action rows of selects and buttons). */
  components: any[];
  /** emoji (decoded) → user ids */
  reactions: Map<string, Set<string>>;
}

export interface FakeChannel {
  id: string;
  type: number;
  name: string;
  guild_id: string;
  parent_id?: string;
}

export interface FakeDiscordOptions {
  token?: string;
  applicationId?: string;
  /**
   * Privileged gateway intents the application's owner turned on in the developer portal (bits of
   * GUILD_MEMBERS 1<<1, GUILD_PRESENCES 1<<8, MESSAGE_CONTENT 1<<15). None by default, as for a new
   * application: asking for one closes the gateway with 4014, as Discord does.
   */
  privilegedIntents?: number;
  /** The shard count GET /gateway/bot recommends (1 by default). */
  shards?: number;
}

export const MESSAGE_CONTENT_INTENT = 1 << 15;

export class FakeDiscord {
  readonly token: string;
  readonly applicationId: string;
  readonly botUser = {
    id: '900000000000000001',
    username: 'Tasteloop',
    discriminator: '0',
    global_name: 'Tasteloop',
    avatar: null,
    bot: true,
  };
  readonly guildId = '800000000000000001';
  /** Privileged intents allowed for this application (see FakeDiscordOptions). */
  privilegedIntents: number;
  /** The shard count GET /gateway/bot recommends. */
  readonly shardCount: number;
  /** Guilds the bot is in (id → name); the first is `guildId`. */
  readonly guilds = new Map<string, string>();
  readonly channelId = '810000000000000001';
  readonly requests: RecordedRequest[] = [];
  readonly messages = new Map<string, FakeMessage>();
  readonly channels = new Map<string, FakeChannel>();
  readonly commands = new Map<string, unknown[]>();
  /** Every bulk overwrite of the commands (PUT …/commands), by scope: guild id or 'global'. */
  readonly commandPuts: string[] = [];
  /** After revokeToken(): the bot token is refused with 401, as after a reset in the developer portal. */
  private tokenRevoked = false;
  /** Channels the bot may no longer read (its View Channel / Read Message History was taken away). */
  readonly unreadableChannels = new Set<string>();
  /** Users created as bots by react(…, { bot: true }): reaction user lists mark them so. */
  readonly botUsers = new Set<string>();
  /** The gateway: sessions per shard, what they were sent, overlapping sessions. */
  readonly gateway: FakeGateway;

  private server: Server | null = null;
  private wss: WebSocketServer | null = null;
  private idSeq = 0n;
  private rateLimits: { match: (method: string, path: string) => boolean; retryAfter: number; remaining: number; global: boolean }[] = [];
  /** Per-route buckets (see limitRoute): requests counted per window, shared by every client of this token. */
  private buckets: {
    name: string;
    match: (method: string, path: string) => string | null;
    limit: number;
    windowMs: number;
    windows: Map<string, { resetAt: number; used: number }>;
  }[] = [];
  /** Every 429 this server answered, with its scope. */
  readonly served429: { path: string; scope: 'user' | 'global' | 'shared' }[] = [];
  private interactionTokens = new Map<string, string>();
  /** interaction id → the channel it was sent in (where its answers are posted). */
  private interactionChannels = new Map<string, string>();
  /** channel|nonce → message id, for enforce_nonce. */
  private nonces = new Map<string, string>();
  constructor(opts: FakeDiscordOptions = {}) {
    this.token = opts.token ?? 'fake-bot-token';
    this.applicationId = opts.applicationId ?? '700000000000000001';
    this.privilegedIntents = opts.privilegedIntents ?? 0;
    this.shardCount = opts.shards ?? 1;
    this.guilds.set(this.guildId, 'Fake Guild');
    this.channels.set(this.channelId, { id: this.channelId, type: 0, name: 'general', guild_id: this.guildId });
    // Read when a session identifies: tests change privilegedIntents after construction.
    this.gateway = new FakeGateway({
      token: () => this.token,
      privilegedIntents: () => this.privilegedIntents,
      gatewayUrl: () => this.gatewayUrl,
      ready: () => ({ v: 10, user: this.botUser, application: { id: this.applicationId, flags: 0 } }),
      guildsOn: (shard, count) => [...this.guilds.keys()].filter((g) => shardOf(g, count) === shard).map((g) => this.guildPayload(g)),
    });
  }

  /** Every IDENTIFY so far (all shards). */
  get identifies(): number {
    return this.gateway.identifies;
  }
  get resumes(): number {
    return this.gateway.resumes;
  }
  /** The intents of every IDENTIFY, in order. */
  get identifyIntents(): number[] {
    return this.gateway.identifyIntents;
  }
  /** Every dispatch sent (including replays), for assertions. */
  get dispatched(): Dispatch[] {
    return this.gateway.dispatched;
  }

  /**
   * A guild on `shard` (of the fake's shard count) with one text channel: its events reach only the
   * sessions of that shard.
   */
  addGuild(opts: { shard?: number; name?: string } = {}): { guildId: string; channelId: string } {
    const shard = opts.shard ?? 0;
    if (shard >= this.shardCount) throw new Error(`the fake has ${this.shardCount} shard(s): no shard ${shard}`);
    // The shard is the snowflake's timestamp modulo the count: step back to the nearest fitting millisecond.
    const count = BigInt(this.shardCount);
    const ms = BigInt(Date.now()) - EPOCH;
    const fitting = ms - ((((ms - BigInt(shard)) % count) + count) % count);
    const guildId = ((fitting << 22n) + (this.idSeq++ % 4096n)).toString();
    this.guilds.set(guildId, opts.name ?? `Guild ${this.guilds.size + 1}`);
    const channelId = this.snowflake();
    this.channels.set(channelId, { id: channelId, type: 0, name: 'general', guild_id: guildId });
    return { guildId, channelId };
  }

  /** The guild a channel (or thread) belongs to. */
  guildOf(channelId: string): string {
    return this.channels.get(channelId)?.guild_id ?? this.guildId;
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }
  /** The REST base for one of several bot processes: its requests are recorded with `client: tag`. */
  apiUrlFor(tag: string): string {
    return `http://127.0.0.1:${this.port}/${tag}/api`;
  }
  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}/gateway`;
  }
  get connected(): boolean {
    return this.gateway.connected;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: String(err), code: 0 }));
      });
    });
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, sock, head) => {
      if (!req.url?.startsWith('/gateway')) return sock.destroy();
      this.wss!.handleUpgrade(req, sock, head, (ws) => this.gateway.onSocket(ws));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
  }

  async stop(): Promise<void> {
    this.gateway.closeAll();
    for (const c of this.wss?.clients ?? []) c.terminate();
    this.wss?.close();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  snowflake(): string {
    const ms = BigInt(Date.now()) - EPOCH;
    return ((ms << 22n) + (this.idSeq++ % 4096n)).toString();
  }

  // ---------- test controls ----------

  /** The next `times` requests matching get a 429 with retry_after seconds. */
  injectRateLimit(match: (method: string, path: string) => boolean, retryAfter = 0.2, times = 1, global = false): void {
    this.rateLimits.push({ match, retryAfter, remaining: times, global });
  }

  /**
   * A rate-limit bucket as Discord keeps it: `limit` requests per `windowMs` for each value of the
   * route's major parameter (what `match` returns, e.g. the channel id; null = not this bucket). Every
   * answer carries the X-RateLimit-* headers; a request over the budget gets a 429 (scope user) with
   * retry_after until the window resets. The budget belongs to the token, so two clients share it.
   */
  limitRoute(name: string, match: (method: string, path: string) => string | null, limit: number, windowMs: number): void {
    this.buckets.push({ name, match, limit, windowMs, windows: new Map() });
  }

  /** Closes the gateway sockets with a resumable code; events dispatched meanwhile are queued. */
  dropConnection(opts: { replayDelivered?: number } = {}): Promise<void> {
    return this.gateway.dropConnection(opts);
  }

  /**
   * Closes the gateway socket and forgets the session, as when a bot stays away past the resume
   * window: its RESUME gets INVALID_SESSION (not resumable), it identifies anew, and the events
   * dispatched meanwhile are never delivered.
   */
  expireSession(): void {
    this.gateway.expireSession();
  }

  /** The token is reset in the developer portal: every REST call with the old one gets 401 from now on. */
  revokeToken(): void {
    this.tokenRevoked = true;
  }

  user(id: string, name = `user${id.slice(-3)}`, bot = false) {
    return { id, username: name, discriminator: '0', global_name: name, avatar: null, bot };
  }

  /**
   * A person clicks a component of message `messageId` (a button, or a string select with `values`):
   * INTERACTION_CREATE of type 3 (MESSAGE_COMPONENT) carrying the message, as Discord sends it.
   * Returns the interaction id (its answers are posted in the message's channel).
   */
  clickComponent(userId: string, messageId: string, customId: string, values?: string[]): string {
    const msg = this.messages.get(messageId);
    if (!msg) throw new Error(`fake discord: no message ${messageId}`);
    const id = this.snowflake();
    const token = `itoken-${id}`;
    this.interactionTokens.set(token, id);
    const ch = this.channels.get(msg.channel_id)!;
    this.interactionChannels.set(id, ch.id);
    const component = msg.components
      .flatMap((row: { components: { custom_id: string; type: number }[] }) => row.components)
      .find((c: { custom_id: string }) => c.custom_id === customId);
    if (!component) throw new Error(`fake discord: message ${messageId} has no component ${customId}`);
    this.gateway.dispatch(ch.guild_id, 'INTERACTION_CREATE', {
      id,
      application_id: this.applicationId,
      type: 3,
      token,
      version: 1,
      data: { custom_id: customId, component_type: component.type, ...(values ? { values } : {}) },
      message: this.messagePayload(msg),
      guild_id: ch.guild_id,
      channel_id: ch.id,
      channel: { ...this.channelPayload(ch) },
      member: {
        user: this.user(userId),
        roles: [],
        permissions: '2248473465835073',
        joined_at: new Date().toISOString(),
        deaf: false,
        mute: false,
        flags: 0,
      },
      app_permissions: '2248473465835073',
      locale: 'en-US',
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': ch.guild_id },
      context: 0,
    });
    return id;
  }

  /** Sends a slash command as `userId`; returns the interaction id. */
  interact(
    userId: string,
    name: string,
    options: { name: string; type: number; value: unknown }[] = [],
    opts: { channelId?: string; users?: Record<string, ReturnType<FakeDiscord['user']>> } = {},
  ): string {
    const id = this.snowflake();
    const token = `itoken-${id}`;
    this.interactionTokens.set(token, id);
    const channelId = opts.channelId ?? this.channelId;
    const ch = this.channels.get(channelId)!;
    const guildId = ch.guild_id;
    this.interactionChannels.set(id, channelId);
    this.gateway.dispatch(guildId, 'INTERACTION_CREATE', {
      id,
      application_id: this.applicationId,
      type: 2,
      token,
      version: 1,
      data: { id: `cmd-${name}`, name, type: 1, options, ...(opts.users ? { resolved: { users: opts.users } } : {}) },
      guild_id: guildId,
      channel_id: channelId,
      channel: { ...ch },
      member: {
        user: this.user(userId),
        roles: [],
        permissions: '2248473465835073',
        joined_at: new Date().toISOString(),
        deaf: false,
        mute: false,
        flags: 0,
      },
      app_permissions: '2248473465835073',
      locale: 'en-US',
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': guildId },
      context: 0,
    });
    return id;
  }

  /**
   * A person reacts: the message's state changes (what GET …/reactions reads) and MESSAGE_REACTION_ADD
   * is dispatched — or, while no gateway session is connected, queued for a RESUME and lost to a new
   * session, as on Discord.
   */
  react(
    userId: string,
    messageId: string,
    emoji: string | { id: string; name: string },
    opts: { bot?: boolean; burst?: boolean } = {},
  ): void {
    const m = this.messages.get(messageId);
    const channelId = m?.channel_id ?? this.channelId;
    const e = typeof emoji === 'string' ? { id: null, name: emoji } : emoji;
    if (m) {
      const key = e.id ? `${e.name}:${e.id}` : e.name;
      const set = m.reactions.get(key) ?? new Set<string>();
      set.add(userId);
      m.reactions.set(key, set);
      if (opts.bot) this.botUsers.add(userId);
    }
    this.gateway.dispatch(this.guildOf(channelId), 'MESSAGE_REACTION_ADD', {
      user_id: userId,
      channel_id: channelId,
      message_id: messageId,
      guild_id: this.guildOf(channelId),
      emoji: e,
      burst: opts.burst ?? false,
      type: opts.burst ? 1 : 0,
      member: {
        user: this.user(userId, undefined, opts.bot),
        roles: [],
        joined_at: new Date().toISOString(),
        deaf: false,
        mute: false,
        flags: 0,
      },
      message_author_id: m?.author_id,
    });
  }

  unreact(userId: string, messageId: string, emoji: string): void {
    const m = this.messages.get(messageId);
    m?.reactions.get(emoji)?.delete(userId);
    const channelId = m?.channel_id ?? this.channelId;
    this.gateway.dispatch(this.guildOf(channelId), 'MESSAGE_REACTION_REMOVE', {
      user_id: userId,
      channel_id: channelId,
      message_id: messageId,
      guild_id: this.guildOf(channelId),
      emoji: { id: null, name: emoji },
      burst: false,
      type: 0,
    });
  }

  /** A message a person posted, with an image attachment (for the attachment-ingest path). */
  postAsUser(userId: string, png: Buffer, channelId = this.channelId): FakeMessage {
    const msg = this.createMessage(channelId, { content: '' }, [{ name: 'photo.png', size: png.length, type: 'image/png', bytes: png }], {
      viaWebhook: false,
    });
    msg.author_id = userId;
    return msg;
  }

  /** Bot-authored messages in a channel/thread, oldest first (ephemeral ones included). */
  channelMessages(channelId: string): FakeMessage[] {
    return [...this.messages.values()].filter((m) => m.channel_id === channelId && !m.deleted);
  }

  threads(): FakeChannel[] {
    return [...this.channels.values()].filter((c) => c.type === 11);
  }

  // ---------- gateway payloads ----------

  private guildPayload(guildId: string) {
    const own = [...this.channels.values()].filter((c) => c.guild_id === guildId);
    const channels = own.filter((c) => c.type !== 11);
    const threads = own.filter((c) => c.type === 11).map((c) => this.channelPayload(c));
    return {
      id: guildId,
      name: this.guilds.get(guildId) ?? 'Fake Guild',
      icon: null,
      owner_id: '1',
      unavailable: false,
      member_count: 3,
      large: false,
      joined_at: new Date().toISOString(),
      features: [],
      emojis: [],
      stickers: [],
      members: [],
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
      roles: [
        {
          id: guildId,
          name: '@everyone',
          permissions: '2248473465835073',
          position: 0,
          color: 0,
          hoist: false,
          managed: false,
          mentionable: false,
          flags: 0,
        },
      ],
      channels: channels.map((c) => this.channelPayload(c)),
      threads,
      premium_tier: 0,
      preferred_locale: 'en-US',
      system_channel_flags: 0,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      mfa_level: 0,
      nsfw_level: 0,
      afk_timeout: 300,
    };
  }

  private channelPayload(c: FakeChannel) {
    const base = { id: c.id, type: c.type, name: c.name, guild_id: c.guild_id, permission_overwrites: [], position: 0, nsfw: false };
    return c.type === 11
      ? {
          ...base,
          parent_id: c.parent_id,
          owner_id: this.botUser.id,
          thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: false },
          message_count: 0,
          member_count: 1,
        }
      : base;
  }

  // ---------- REST ----------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const tagged = /^(?:\/([\w-]+))?\/api\/v\d+/.exec(url.pathname);
    const rawPath = url.pathname.slice(tagged?.[0].length ?? 0);
    const path = decodeURIComponent(rawPath);
    const method = req.method ?? 'GET';
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const buf = Buffer.concat(chunks);
    const ct = String(req.headers['content-type'] ?? '');
    let body: any = null;
    const files: RecordedRequest['files'] = [];
    if (ct.startsWith('multipart/form-data')) {
      const form = await new Response(buf, { headers: { 'content-type': ct } }).formData();
      const entries: [string, FormDataEntryValue][] = [];
      form.forEach((v, k) => entries.push([k, v]));
      for (const [k, v] of entries) {
        if (k === 'payload_json') body = JSON.parse(typeof v === 'string' ? v : await v.text());
        else if (typeof v !== 'string') files.push({ name: v.name, size: v.size, type: v.type, bytes: Buffer.from(await v.arrayBuffer()) });
      }
    } else if (buf.length) {
      body = JSON.parse(buf.toString('utf8'));
    }
    const auth = req.headers.authorization ?? null;
    const rec: RecordedRequest = { seq: this.requests.length + 1, method, path, rawPath, auth, client: tagged?.[1] ?? null, body, files };
    this.requests.push(rec);

    const limit = this.rateLimits.find((l) => l.remaining > 0 && l.match(method, path));
    if (limit) {
      limit.remaining--;
      this.served429.push({ path, scope: limit.global ? 'global' : 'user' });
      res.writeHead(429, {
        'content-type': 'application/json',
        'retry-after': String(Math.ceil(limit.retryAfter)),
        'x-ratelimit-scope': limit.global ? 'global' : 'user',
        ...(limit.global ? { 'x-ratelimit-global': 'true' } : {}),
        'x-ratelimit-bucket': 'fakebucket',
        'x-ratelimit-limit': '1',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset-after': String(limit.retryAfter),
      });
      res.end(JSON.stringify({ message: 'You are being rate limited.', retry_after: limit.retryAfter, global: limit.global }));
      return;
    }

    for (const b of this.buckets) {
      const major = b.match(method, path);
      if (major === null) continue;
      const now = Date.now();
      let w = b.windows.get(major);
      if (!w || now >= w.resetAt) b.windows.set(major, (w = { resetAt: now + b.windowMs, used: 0 }));
      const resetAfter = Math.max(0.001, (w.resetAt - now) / 1000);
      const common = {
        'x-ratelimit-bucket': `${b.name}-${major}`,
        'x-ratelimit-limit': String(b.limit),
        'x-ratelimit-reset': (w.resetAt / 1000).toFixed(3),
        'x-ratelimit-reset-after': resetAfter.toFixed(3),
      };
      if (w.used >= b.limit) {
        this.served429.push({ path, scope: 'user' });
        res.writeHead(429, {
          'content-type': 'application/json',
          'retry-after': String(Math.ceil(resetAfter)),
          'x-ratelimit-scope': 'user',
          'x-ratelimit-remaining': '0',
          ...common,
        });
        res.end(JSON.stringify({ message: 'You are being rate limited.', retry_after: resetAfter, global: false }));
        return;
      }
      w.used++;
      for (const [k, v] of Object.entries({ ...common, 'x-ratelimit-remaining': String(b.limit - w.used) })) res.setHeader(k, v);
    }

    const isBot = !this.tokenRevoked && auth === `Bot ${this.token}`;
    // Webhook routes authenticate by their token; attachments stand in for the (public) CDN.
    const webhookRoute = path.startsWith('/webhooks/') || path.startsWith('/interactions/') || path.startsWith('/attachments/');
    if (!webhookRoute && !isBot) return this.json(res, 401, { message: '401: Unauthorized', code: 0 });

    const route = `${method} ${path}`;
    let m: RegExpExecArray | null;
    if (route === 'GET /gateway/bot') {
      return this.json(res, 200, {
        url: this.gatewayUrl,
        shards: this.shardCount,
        // Room for every shard of a process to IDENTIFY at once (discord.js spaces them 5 s apart per bucket).
        session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 16 },
      });
    }
    if (route === 'GET /users/@me') return this.json(res, 200, this.botUser);
    if ((m = /^PUT \/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/.exec(route))) {
      const list = (body as any[]).map((c) => ({
        ...c,
        id: this.snowflake(),
        application_id: this.applicationId,
        version: '1',
        ...(m![2] ? { guild_id: m![2] } : {}),
      }));
      this.commands.set(m[2] ?? 'global', list);
      this.commandPuts.push(m[2] ?? 'global');
      return this.json(res, 200, list);
    }
    if ((m = /^POST \/interactions\/(\d+)\/([^/]+)\/callback$/.exec(route))) {
      const [, iid, token] = m;
      if (this.interactionTokens.get(token!) !== iid) return this.json(res, 404, { message: 'Unknown interaction', code: 10062 });
      const type = body.type as number;
      const data = body.data ?? {};
      const msg = this.createMessage(this.interactionChannel(iid!), data, files, {
        viaWebhook: true,
        interactionId: iid,
        placeholder: type === 5,
      });
      this.messages.delete(msg.id);
      msg.id = `orig-${token}`;
      this.messages.set(msg.id, msg);
      if (url.searchParams.get('with_response') === 'true') {
        return this.json(res, 200, {
          interaction: {
            id: iid,
            type: 2,
            activity_instance_id: null,
            response_message_id: msg.id,
            response_message_loading: type === 5,
            response_message_ephemeral: Boolean(msg.flags & 64),
          },
          resource: { type, message: this.messagePayload(msg) },
        });
      }
      return this.noContent(res);
    }
    if ((m = /^(PATCH|DELETE|GET) \/webhooks\/(\d+)\/([^/]+)\/messages\/([^/]+)$/.exec(route))) {
      const [, verb, , token, which] = m;
      const id = which === '@original' ? `orig-${token}` : which!;
      const msg = this.messages.get(id);
      if (!msg || msg.deleted) return this.json(res, 404, { message: 'Unknown Message', code: 10008 });
      if (verb === 'DELETE') {
        msg.deleted = true;
        return this.noContent(res);
      }
      if (verb === 'PATCH') this.editMessage(msg, body, files);
      return this.json(res, 200, this.messagePayload(msg));
    }
    if ((m = /^POST \/webhooks\/(\d+)\/([^/]+)$/.exec(route))) {
      const iid = this.interactionTokens.get(m[2]!);
      if (!iid) return this.json(res, 404, { message: 'Unknown Webhook', code: 10015 });
      const msg = this.createMessage(this.interactionChannel(iid), body ?? {}, files, { viaWebhook: true, interactionId: iid });
      return this.json(res, 200, this.messagePayload(msg));
    }
    if ((m = /^POST \/channels\/(\d+)\/messages$/.exec(route))) {
      if (!this.channels.has(m[1]!)) return this.json(res, 404, { message: 'Unknown Channel', code: 10003 });
      // enforce_nonce: a repeated nonce from the same author returns the first message (as on Discord).
      const nonceKey = body?.enforce_nonce && body?.nonce !== undefined ? `${m[1]}|${String(body.nonce)}` : null;
      const earlier = nonceKey ? this.nonces.get(nonceKey) : undefined;
      if (earlier) return this.json(res, 200, this.messagePayload(this.messages.get(earlier)!));
      const msg = this.createMessage(m[1]!, body ?? {}, files, { viaWebhook: false });
      if (nonceKey) this.nonces.set(nonceKey, msg.id);
      return this.json(res, 200, this.messagePayload(msg));
    }
    if ((m = /^GET \/channels\/(\d+)\/messages\//.exec(route)) && this.unreadableChannels.has(m[1]!)) {
      return this.json(res, 403, { message: 'Missing Access', code: 50001 });
    }
    if ((m = /^(PATCH|GET|DELETE) \/channels\/(\d+)\/messages\/(\d+)$/.exec(route))) {
      const msg = this.messages.get(m[3]!);
      if (!msg || msg.deleted) return this.json(res, 404, { message: 'Unknown Message', code: 10008 });
      if (m[1] === 'DELETE') {
        msg.deleted = true;
        return this.noContent(res);
      }
      if (m[1] === 'PATCH') this.editMessage(msg, body, files);
      return this.json(res, 200, this.messagePayload(msg));
    }
    if ((m = /^(PUT|DELETE) \/channels\/(\d+)\/messages\/(\d+)\/reactions\/(.+)\/@me$/.exec(route))) {
      const msg = this.messages.get(m[3]!);
      if (!msg) return this.json(res, 404, { message: 'Unknown Message', code: 10008 });
      const set = msg.reactions.get(m[4]!) ?? new Set<string>();
      msg.reactions.set(m[4]!, set);
      if (m[1] === 'PUT') set.add(this.botUser.id);
      else set.delete(this.botUser.id);
      return this.noContent(res);
    }
    if ((m = /^GET \/channels\/(\d+)\/messages\/(\d+)\/reactions\/([^/]+)$/.exec(route))) {
      const msg = this.messages.get(m[2]!);
      if (!msg || msg.deleted) return this.json(res, 404, { message: 'Unknown Message', code: 10008 });
      // Burst ("super") reactions are not modelled: type=1 lists nobody.
      if (url.searchParams.get('type') === '1') return this.json(res, 200, []);
      const limit = Math.min(100, Number(url.searchParams.get('limit') ?? 25));
      const after = BigInt(url.searchParams.get('after') ?? '0');
      const ids = [...(msg.reactions.get(m[3]!) ?? [])]
        .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))
        .filter((id) => BigInt(id) > after)
        .slice(0, limit);
      return this.json(
        res,
        200,
        ids.map((id) => (id === this.botUser.id ? this.botUser : this.user(id, undefined, this.botUsers.has(id)))),
      );
    }
    if ((m = /^POST \/channels\/(\d+)\/messages\/(\d+)\/threads$/.exec(route))) {
      // A thread started from a message has the message's id; Discord refuses a second one.
      const parent = this.channels.get(m[1]!);
      const msg = this.messages.get(m[2]!);
      if (!parent) return this.json(res, 404, { message: 'Unknown Channel', code: 10003 });
      if (!msg || msg.deleted || msg.channel_id !== parent.id) return this.json(res, 404, { message: 'Unknown Message', code: 10008 });
      if (this.channels.has(msg.id))
        return this.json(res, 400, { message: 'A thread has already been created for this message', code: 160004 });
      const thread: FakeChannel = { id: msg.id, type: 11, name: body.name, guild_id: parent.guild_id, parent_id: parent.id };
      this.channels.set(thread.id, thread);
      this.gateway.dispatch(parent.guild_id, 'THREAD_CREATE', { ...this.channelPayload(thread), newly_created: true });
      return this.json(res, 201, this.channelPayload(thread));
    }
    if ((m = /^POST \/channels\/(\d+)\/threads$/.exec(route))) {
      const parent = this.channels.get(m[1]!);
      if (!parent) return this.json(res, 404, { message: 'Unknown Channel', code: 10003 });
      const thread: FakeChannel = {
        id: this.snowflake(),
        type: body.type ?? 11,
        name: body.name,
        guild_id: parent.guild_id,
        parent_id: parent.id,
      };
      this.channels.set(thread.id, thread);
      this.gateway.dispatch(parent.guild_id, 'THREAD_CREATE', { ...this.channelPayload(thread), newly_created: true });
      return this.json(res, 201, this.channelPayload(thread));
    }
    if ((m = /^GET \/channels\/(\d+)$/.exec(route))) {
      const c = this.channels.get(m[1]!);
      return c ? this.json(res, 200, this.channelPayload(c)) : this.json(res, 404, { message: 'Unknown Channel', code: 10003 });
    }
    if ((m = /^GET \/attachments\/(\w+)$/.exec(route))) {
      const att = [...this.messages.values()].flatMap((x) => x.attachments).find((a) => a.id === m![1]);
      if (!att) return this.json(res, 404, { message: 'not found' });
      res.writeHead(200, { 'content-type': att.content_type });
      res.end(att.bytes);
      return;
    }
    return this.json(res, 404, { message: `fake discord: no route ${route}`, code: 0 });
  }

  private interactionChannel(iid: string): string {
    return this.interactionChannels.get(iid) ?? this.channelId;
  }

  private createMessage(
    channelId: string,
    body: any,
    files: RecordedRequest['files'],
    o: { viaWebhook: boolean; interactionId?: string; placeholder?: boolean },
  ): FakeMessage {
    const msg: FakeMessage = {
      id: this.snowflake(),
      channel_id: channelId,
      content: o.placeholder ? '' : (body.content ?? ''),
      flags: body.flags ?? 0,
      attachments: [],
      allowed_mentions: body.allowed_mentions,
      author_id: this.botUser.id,
      viaWebhook: o.viaWebhook,
      interactionId: o.interactionId,
      edits: 0,
      deleted: false,
      reactions: new Map(),
      components: Array.isArray(body.components) ? body.components : [],
      ...(body.nonce !== undefined ? { nonce: String(body.nonce) } : {}),
    };
    this.attach(msg, files);
    this.messages.set(msg.id, msg);
    return msg;
  }

  private editMessage(msg: FakeMessage, body: any, files: RecordedRequest['files']): void {
    if (body?.content !== undefined) msg.content = body.content;
    if (body?.allowed_mentions !== undefined) msg.allowed_mentions = body.allowed_mentions;
    if (Array.isArray(body?.components)) msg.components = body.components;
    if (files.length) this.attach(msg, files);
    msg.edits++;
  }

  private attach(msg: FakeMessage, files: RecordedRequest['files']): void {
    for (const f of files) {
      const id = this.snowflake();
      msg.attachments.push({
        id,
        filename: f.name,
        size: f.size,
        content_type: f.type || 'image/png',
        url: `http://127.0.0.1:${this.port}/api/v10/attachments/${id}`,
        bytes: f.bytes,
      });
    }
  }

  messagePayload(msg: FakeMessage) {
    return {
      id: msg.id,
      channel_id: msg.channel_id,
      guild_id: this.guildOf(msg.channel_id),
      type: 0,
      content: msg.content,
      flags: msg.flags,
      author: msg.author_id === this.botUser.id ? this.botUser : this.user(msg.author_id),
      timestamp: new Date().toISOString(),
      edited_timestamp: msg.edits ? new Date().toISOString() : null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      embeds: [],
      pinned: false,
      components: msg.components,
      attachments: msg.attachments.map(({ bytes: _b, ...a }) => ({ ...a, proxy_url: a.url })),
      reactions: this.reactionsPayload(msg),
      ...(msg.viaWebhook ? { webhook_id: this.applicationId, application_id: this.applicationId } : {}),
    };
  }

  /** As on Discord: one entry per emoji with anyone on it, `me` = the bot reacted too. */
  private reactionsPayload(msg: FakeMessage) {
    return [...msg.reactions]
      .filter(([, users]) => users.size > 0)
      .map(([key, users]) => {
        const [name, id] = key.includes(':') ? key.split(':') : [key, null];
        return {
          emoji: { id, name },
          count: users.size,
          count_details: { burst: 0, normal: users.size },
          me: users.has(this.botUser.id),
          me_burst: false,
          burst_colors: [],
        };
      });
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  /** 204: no body and, as on Discord, no JSON content type (discord.js would try to parse it). */
  private noContent(res: ServerResponse): void {
    res.writeHead(204);
    res.end();
  }
}

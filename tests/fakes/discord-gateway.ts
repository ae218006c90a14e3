/**
 * The gateway half of the fake Discord (tests/fakes/discord-server.ts): WebSocket sessions, one per
 * IDENTIFY, each on the shard it names (`shard: [id, count]`, [0, 1] when absent). A guild's events go
 * only to the sessions of its shard — `(guild_id >> 22) % count`, direct messages on shard 0 — as on
 * Discord. Also as on Discord, a second IDENTIFY on a shard whose session is still connected is
 * accepted and both sessions then receive its events: `overlaps` records each such moment, so a test can
 * assert that the bot's shard leases never let it happen.
 *
 * A dropped socket leaves its session resumable (events meanwhile are kept and replayed on RESUME); an
 * expired session is forgotten, and what is dispatched while a shard has no session is lost.
 */
import type { WebSocket } from 'ws';

export interface Dispatch {
  s: number;
  t: string;
  d: unknown;
}

interface Session {
  shard: number;
  count: number;
  sessionId: string;
  socket: WebSocket | null;
  seq: number;
  /** Dispatches of this session, for replay on RESUME. */
  history: Dispatch[];
  /** Forgotten by Discord (expired, or replaced by a new IDENTIFY on its shard): cannot be resumed. */
  dead: boolean;
}

export interface GatewayHost {
  token(): string;
  privilegedIntents(): number;
  gatewayUrl(): string;
  /** READY's payload minus the per-session fields. */
  ready(): Record<string, unknown>;
  /** GUILD_CREATE payloads of the guilds on a shard. */
  guildsOn(shard: number, count: number): { id: string }[];
}

/** GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT. */
export const PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15);

/** The shard Discord delivers a guild's events on (direct messages: 0). */
export const shardOf = (guildId: string | undefined, count: number): number =>
  !guildId || count <= 1 ? 0 : Number((BigInt(guildId) >> 22n) % BigInt(count));

export class FakeGateway {
  /** The intents of every IDENTIFY, in order. */
  readonly identifyIntents: number[] = [];
  /** `[id, count]` of every accepted IDENTIFY, in order. */
  readonly identifiedShards: [number, number][] = [];
  /** Every dispatch sent to a socket (including replays), for assertions. */
  readonly dispatched: (Dispatch & { shard: number })[] = [];
  /** Each IDENTIFY that opened a second live session on a shard: never expected of the bot. */
  readonly overlaps: { shard: number; count: number }[] = [];
  identifies = 0;
  resumes = 0;
  private sessions: Session[] = [];
  /** Replays this many already-delivered events on the next RESUME (at-least-once delivery). */
  private replayOnResume = 0;
  private resumedWaiters: { left: number; resolve: () => void }[] = [];

  constructor(private readonly host: GatewayHost) {}

  get connected(): boolean {
    return this.sessions.some((s) => s.socket);
  }

  /** Shards with a connected session (one entry per session). */
  connectedShards(): number[] {
    return this.sessions.filter((s) => s.socket).map((s) => s.shard);
  }

  /** Dispatches a guild's event to the sessions of its shard (no guild: shard 0). */
  dispatch(guildId: string | undefined, t: string, d: unknown): void {
    for (const s of this.sessions) if (!s.dead && shardOf(guildId, s.count) === s.shard) this.dispatchTo(s, t, d);
  }

  /** Closes every socket with a resumable code; events dispatched meanwhile are queued for RESUME. */
  dropConnection(opts: { replayDelivered?: number } = {}): Promise<void> {
    this.replayOnResume = opts.replayDelivered ?? 0;
    const open = this.sessions.filter((s) => s.socket);
    const resumed = new Promise<void>((resolve) => this.resumedWaiters.push({ left: open.length, resolve }));
    for (const s of open) {
      s.socket!.close(4000, 'fake: dropped');
      s.socket = null;
    }
    return resumed;
  }

  /** Closes every socket and forgets the sessions (past the resume window): events meanwhile are lost. */
  expireSession(): void {
    for (const s of this.sessions) {
      s.dead = true;
      s.socket?.close(4000, 'fake: dropped');
      s.socket = null;
    }
  }

  closeAll(): void {
    for (const s of this.sessions) s.socket?.terminate();
  }

  onSocket(ws: WebSocket): void {
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: 41_250 } }));
    ws.on('message', (raw) => {
      const msg = JSON.parse((raw as Buffer).toString('utf8')) as { op: number; d: any };
      if (msg.op === 1) ws.send(JSON.stringify({ op: 11 }));
      else if (msg.op === 2) this.onIdentify(ws, msg.d);
      else if (msg.op === 6) this.onResume(ws, msg.d);
    });
    ws.on('close', () => {
      for (const s of this.sessions) if (s.socket === ws) s.socket = null;
    });
  }

  private dispatchTo(s: Session, t: string, d: unknown): void {
    const ev: Dispatch = { s: ++s.seq, t, d };
    s.history.push(ev);
    if (s.socket) this.send(s, ev);
  }

  private send(s: Session, ev: Dispatch): void {
    this.dispatched.push({ ...ev, shard: s.shard });
    s.socket?.send(JSON.stringify({ op: 0, s: ev.s, t: ev.t, d: ev.d }));
  }

  private onIdentify(ws: WebSocket, d: { token: string; intents?: number; shard?: [number, number] }): void {
    if (d.token.replace(/^Bot /, '') !== this.host.token()) return ws.close(4004, 'Authentication failed');
    this.identifyIntents.push(d.intents ?? 0);
    if ((d.intents ?? 0) & PRIVILEGED_INTENTS & ~this.host.privilegedIntents()) return ws.close(4014, 'Disallowed intent(s).');
    const [shard, count] = d.shard ?? [0, 1];
    if (!(count >= 1 && shard >= 0 && shard < count)) return ws.close(4010, 'Invalid shard.');
    this.identifies++;
    this.identifiedShards.push([shard, count]);
    const sameShard = this.sessions.filter((s) => !s.dead && s.shard === shard && s.count === count);
    if (sameShard.some((s) => s.socket)) this.overlaps.push({ shard, count });
    // A new session replaces the shard's unconnected ones (they can no longer be resumed).
    for (const s of sameShard) if (!s.socket) s.dead = true;
    const session: Session = {
      shard,
      count,
      sessionId: `fake-session-${this.identifies}`,
      socket: ws,
      seq: 0,
      history: [],
      dead: false,
    };
    this.sessions.push(session);
    const guilds = this.host.guildsOn(shard, count);
    this.dispatchTo(session, 'READY', {
      ...this.host.ready(),
      guilds: guilds.map((g) => ({ id: g.id, unavailable: true })),
      session_id: session.sessionId,
      resume_gateway_url: this.host.gatewayUrl(),
      shard: [shard, count],
    });
    for (const g of guilds) this.dispatchTo(session, 'GUILD_CREATE', g);
  }

  private onResume(ws: WebSocket, d: { token: string; session_id: string; seq: number }): void {
    const s = this.sessions.find((x) => x.sessionId === d.session_id && !x.dead);
    if (!s) {
      ws.send(JSON.stringify({ op: 9, d: false }));
      return;
    }
    this.resumes++;
    s.socket = ws;
    const fromSeq = Math.max(0, d.seq - this.replayOnResume);
    this.replayOnResume = 0;
    for (const e of s.history.filter((x) => x.s > fromSeq && x.t !== 'READY')) this.send(s, e);
    this.dispatchTo(s, 'RESUMED', {});
    for (const w of this.resumedWaiters) if (--w.left <= 0) w.resolve();
    this.resumedWaiters = this.resumedWaiters.filter((w) => w.left > 0);
  }
}

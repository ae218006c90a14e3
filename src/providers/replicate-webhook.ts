/**
 * Replicate webhooks (REPLICATE_WEBHOOK_URL mode): predictions are created with a `webhook` and
 * `webhook_events_filter: ['completed']`, and this receiver resolves the waiting generate() call when
 * the completion arrives, instead of polling. Polling stays the default, and the fallback when no
 * webhook arrives in time (see imagegen/replicate.ts).
 *
 * Verification (Standard Webhooks scheme, as Replicate documents it):
 *   signed content = `${webhook-id}.${webhook-timestamp}.${raw body}`
 *   key            = base64-decode(secret without its "whsec_" prefix)
 *   signature      = base64(HMAC-SHA256(key, signed content)); the `webhook-signature` header holds
 *                    space-separated "v1,<signature>" entries (several during secret rotation).
 * A timestamp outside ±5 minutes is rejected (stale), signatures are compared with timingSafeEqual,
 * and a webhook-id seen before within the window is rejected (replay). The signing secret comes from
 * REPLICATE_WEBHOOK_SECRET or, once, from GET /v1/webhooks/default/secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

export interface WebhookHeaders {
  'webhook-id'?: string | null;
  'webhook-timestamp'?: string | null;
  'webhook-signature'?: string | null;
}

export type WebhookVerdict =
  { ok: true } | { ok: false; reason: 'missing-headers' | 'bad-secret' | 'bad-timestamp' | 'stale' | 'bad-signature' };

/** Reads the three headers from a Headers object or a Node-style header record. */
export function webhookHeaders(h: Headers | Record<string, string | string[] | undefined>): WebhookHeaders {
  const get = (k: string) => {
    if (h instanceof Headers) return h.get(k);
    const v = h[k] ?? h[k.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  };
  return { 'webhook-id': get('webhook-id'), 'webhook-timestamp': get('webhook-timestamp'), 'webhook-signature': get('webhook-signature') };
}

export function signReplicateWebhook(secret: string, id: string, timestamp: string, body: string | Buffer): string {
  const key = secretKey(secret);
  if (!key) throw new Error('invalid webhook secret');
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
}

export function verifyReplicateWebhook(
  headers: WebhookHeaders,
  rawBody: string | Buffer,
  secret: string,
  nowMs: number = Date.now(),
  toleranceSeconds: number = WEBHOOK_TOLERANCE_SECONDS,
): WebhookVerdict {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sigHeader = headers['webhook-signature'];
  if (!id || !ts || !sigHeader) return { ok: false, reason: 'missing-headers' };
  const key = secretKey(secret);
  if (!key) return { ok: false, reason: 'bad-secret' };
  if (!/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'bad-timestamp' };
  const ageSeconds = nowMs / 1000 - Number(ts);
  if (Math.abs(ageSeconds) > toleranceSeconds) return { ok: false, reason: 'stale' };

  const expected = createHmac('sha256', key).update(`${id}.${ts}.`).update(rawBody).digest();
  for (const entry of sigHeader.split(' ')) {
    const [version, sig] = entry.split(',', 2);
    if (version !== 'v1' || !sig) continue;
    const given = Buffer.from(sig, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true };
  }
  return { ok: false, reason: 'bad-signature' };
}

function secretKey(secret: string): Buffer | undefined {
  const b64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  if (!b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined;
  const key = Buffer.from(b64, 'base64');
  return key.length >= 16 ? key : undefined;
}

// ---------------------------------------------------------------- the receiver

/** A prediction as Replicate posts it on completion (only the fields we use are typed). */
export interface CompletedPrediction {
  id: string;
  status: 'succeeded' | 'failed' | 'canceled';
  output?: unknown;
  error?: unknown;
  [k: string]: unknown;
}

export type WebhookRejection = Exclude<WebhookVerdict, { ok: true }>['reason'] | 'replayed' | 'bad-body' | 'too-large' | 'no-secret';

/** What the image generator needs from a receiver. */
export interface PredictionWaiter {
  /** Resolves when the completion of `predictionId` arrives (also if it arrived just before). Call dispose() when done waiting. */
  waitFor(predictionId: string): { promise: Promise<CompletedPrediction>; dispose(): void };
}

interface WarnLog {
  warn(obj: object, msg: string): void;
}

export interface ReplicateWebhookReceiverOptions {
  /** "whsec_…", or a function that fetches it (GET /v1/webhooks/default/secret), called until it succeeds once. */
  secret: string | (() => Promise<string>);
  /** The path webhooks are posted to (the path of REPLICATE_WEBHOOK_URL). */
  path: string;
  toleranceSeconds?: number;
  /** Largest accepted body (default 2 MB; a prediction with its logs is far smaller). */
  maxBodyBytes?: number;
  now?: () => number;
  log?: WarnLog;
}

const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);
/** Completions kept for a waiter that registers after its webhook arrived (bounded, short-lived). */
const EARLY_MAX = 1000;
const EARLY_TTL_MS = 10 * 60_000;
/** Webhook ids remembered (bounded); an id stays at least until its timestamp leaves the window. */
const SEEN_MAX = 100_000;

/**
 * Receives Replicate's completion webhooks on its own small HTTP server (it must be reachable from
 * the internet, unlike /healthz and /metrics), verifies them and hands each completion to the
 * generate() call waiting for it. Answers: 200 accepted (also for predictions nobody waits for, so
 * Replicate does not retry them), 401 failed verification or stale, 409 replayed webhook-id,
 * 400 unreadable body, 413 too large, 503 signing secret not available yet (Replicate retries).
 */
export class ReplicateWebhookReceiver implements PredictionWaiter {
  readonly path: string;
  readonly stats = { accepted: 0, rejected: [] as WebhookRejection[] };
  private readonly waiters = new Map<string, Set<(p: CompletedPrediction) => void>>();
  private readonly early = new Map<string, { p: CompletedPrediction; at: number }>();
  private readonly seen = new Map<string, number>();
  private secret: string | undefined;
  private fetchingSecret: Promise<string> | undefined;
  private server: Server | null = null;
  private readonly now: () => number;
  private readonly toleranceSeconds: number;

  constructor(private readonly opts: ReplicateWebhookReceiverOptions) {
    this.path = opts.path || '/';
    this.now = opts.now ?? Date.now;
    this.toleranceSeconds = opts.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS;
    if (typeof opts.secret === 'string') this.secret = opts.secret;
  }

  waitFor(predictionId: string): { promise: Promise<CompletedPrediction>; dispose(): void } {
    const arrived = this.early.get(predictionId);
    if (arrived) {
      this.early.delete(predictionId);
      return { promise: Promise.resolve(arrived.p), dispose: () => undefined };
    }
    let resolve!: (p: CompletedPrediction) => void;
    const promise = new Promise<CompletedPrediction>((r) => (resolve = r));
    const set = this.waiters.get(predictionId) ?? new Set();
    set.add(resolve);
    this.waiters.set(predictionId, set);
    return {
      promise,
      dispose: () => {
        set.delete(resolve);
        if (set.size === 0 && this.waiters.get(predictionId) === set) this.waiters.delete(predictionId);
      },
    };
  }

  /** The request handler (usable on any Node HTTP server). */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    void this.receive(req, res).catch((err: unknown) => {
      this.opts.log?.warn({ err }, 'replicate webhook: handler failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    });
  };

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    const server = createServer(this.handle);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private async receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== this.path) return send(res, 404, { error: 'not found' });
    if (req.method !== 'POST') return send(res, 405, { error: 'use POST' });
    const max = this.opts.maxBodyBytes ?? 2 * 1024 * 1024;
    if (Number(req.headers['content-length'] ?? 0) > max) return this.reject(res, 413, 'too-large');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > max) return this.reject(res, 413, 'too-large');
      chunks.push(c as Buffer);
    }
    const raw = Buffer.concat(chunks);
    const secret = await this.signingSecret().catch((err: unknown) => {
      this.opts.log?.warn({ err }, 'replicate webhook: the signing secret could not be fetched');
      return undefined;
    });
    if (!secret) return this.reject(res, 503, 'no-secret');

    const headers = webhookHeaders(req.headers);
    const now = this.now();
    const verdict = verifyReplicateWebhook(headers, raw, secret, now, this.toleranceSeconds);
    if (!verdict.ok) return this.reject(res, 401, verdict.reason);
    // Only verified ids are remembered, so nobody without the secret can fill or poison this memory.
    this.prune(now);
    const id = headers['webhook-id'] as string;
    if (this.seen.has(id)) return this.reject(res, 409, 'replayed');
    this.seen.set(id, Math.max(now, Number(headers['webhook-timestamp']) * 1000) + this.toleranceSeconds * 1000);

    let p: CompletedPrediction;
    try {
      p = JSON.parse(raw.toString('utf8')) as CompletedPrediction;
    } catch {
      return this.reject(res, 400, 'bad-body');
    }
    if (!p || typeof p !== 'object' || typeof p.id !== 'string') return this.reject(res, 400, 'bad-body');
    this.stats.accepted += 1;
    send(res, 200, { ok: true });
    if (!TERMINAL.has(String(p.status))) return; // only completions are asked for; anything else is ignored
    const waiting = this.waiters.get(p.id);
    if (waiting?.size) {
      this.waiters.delete(p.id);
      for (const resolve of waiting) resolve(p);
    } else {
      if (this.early.size >= EARLY_MAX) this.early.delete(this.early.keys().next().value as string);
      this.early.set(p.id, { p, at: now });
    }
  }

  private reject(res: ServerResponse, status: number, reason: WebhookRejection): void {
    this.stats.rejected.push(reason);
    if (this.stats.rejected.length > 1000) this.stats.rejected.splice(0, 500);
    send(res, status, { error: reason });
  }

  private signingSecret(): Promise<string> {
    if (this.secret) return Promise.resolve(this.secret);
    const get = this.opts.secret as () => Promise<string>;
    this.fetchingSecret ??= get().then(
      (s) => {
        this.secret = s;
        return s;
      },
      (err: unknown) => {
        this.fetchingSecret = undefined; // try again with the next webhook
        throw err;
      },
    );
    return this.fetchingSecret;
  }

  private prune(now: number): void {
    for (const [id, until] of this.seen) {
      if (until > now && this.seen.size <= SEEN_MAX) break; // insertion order ≈ expiry order
      this.seen.delete(id);
    }
    for (const [id, e] of this.early) {
      if (now - e.at <= EARLY_TTL_MS) break;
      this.early.delete(id);
    }
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** GET /v1/webhooks/default/secret → "whsec_…" (the account's default webhook signing secret). */
export async function fetchReplicateWebhookSecret(o: {
  auth: string;
  baseUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}): Promise<string> {
  const base = (o.baseUrl ?? 'https://api.replicate.com/v1').replace(/\/+$/, '');
  const res = await (o.fetch ?? fetch)(`${base}/webhooks/default/secret`, {
    headers: { authorization: `Bearer ${o.auth}` },
    signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
  });
  if (!res.ok) throw new Error(`GET /webhooks/default/secret answered HTTP ${res.status}`);
  const key = ((await res.json()) as { key?: unknown }).key;
  if (typeof key !== 'string' || !secretKey(key)) throw new Error('GET /webhooks/default/secret returned no usable key');
  return key;
}

/** The receiver for REPLICATE_WEBHOOK_URL: its path, and the secret from the setting or the API. */
export function createReplicateWebhookReceiver(o: {
  url: string;
  secret?: string;
  auth: string;
  baseUrl?: string;
  log?: WarnLog;
}): ReplicateWebhookReceiver {
  return new ReplicateWebhookReceiver({
    path: new URL(o.url).pathname,
    secret: o.secret ?? (() => fetchReplicateWebhookSecret({ auth: o.auth, baseUrl: o.baseUrl })),
    log: o.log,
  });
}

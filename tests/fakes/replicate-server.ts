/**
 * A fake Replicate API on 127.0.0.1:0 for the real `replicate` client (baseUrl = server.baseUrl).
 *   POST /v1/models/{owner}/{name}/predictions  → 201 prediction (status "starting")
 *   GET  /v1/predictions/{id}                    → starting → processing → succeeded after `pollsToSucceed` polls
 *   POST /v1/predictions/{id}/cancel             → status "canceled" (recorded)
 *   GET  /files/{id}.png                         → the image; 404 once `urlExpiryMs` has passed (URL expiry)
 *   GET  /v1/webhooks/default/secret             → { key: "whsec_…" } (the signing secret of the webhooks below)
 * A prediction created with `webhook` (+ `webhook_events_filter` containing "completed") finishes on
 * its own after `webhookDelayMs` and its completion is POSTed to the webhook URL, signed the Standard
 * Webhooks way (signed here independently of src/providers/replicate-webhook.ts). Every delivery is
 * recorded (so tests can replay it); `webhookDelivery: 'drop'` finishes without delivering (polling
 * fallback), and `deliver(id)` sends one by hand.
 * Output is `[url]` (plain http URL, which replicate.run() does not wrap) or `[data:…]` (wrapped in a
 * FileOutput), or a bare string with outputShape 'string'.
 * Faults, consumed in order per matching request: '429' (+Retry-After), '500', 'hang' (never answer),
 * and `stuck` predictions that never leave "processing".
 */
import { closeServer, listenOnLoopback } from './loopback';
import http from 'node:http';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { fakePng } from './openai-server';

export type ReplicateFault = { kind: '429'; retryAfter?: number | string } | { kind: '500' } | { kind: 'hang' };

export interface FakePrediction {
  id: string;
  model: string;
  input: Record<string, unknown>;
  status: 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';
  polls: number;
  createdAt: number;
  output: unknown;
  error: string | null;
  stuck: boolean;
  webhook?: string;
  webhookEvents?: string[];
}

export interface WebhookDelivery {
  url: string;
  predictionId: string;
  headers: { 'webhook-id': string; 'webhook-timestamp': string; 'webhook-signature': string };
  body: string;
  /** The receiver's answer (0 when it could not be reached). */
  status: number;
}

/** Standard Webhooks signature, as Replicate sends it: "v1,<base64 HMAC-SHA256(key, id.ts.body)>". */
export function signStandardWebhook(secret: string, id: string, timestamp: string, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

export interface RecordedReplicateRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  at: number;
  fault?: ReplicateFault['kind'];
}

export interface FakeReplicateOptions {
  pollsToSucceed?: number;
  output?: 'http-url' | 'data-url';
  outputShape?: 'array' | 'string';
  /** Image URLs 404 after this many ms. */
  urlExpiryMs?: number;
  /** Next predictions never finish. */
  stuck?: boolean;
  /** Fail predictions with this error. */
  failWith?: string;
  /** 'send' (default) posts completions to the prediction's webhook; 'drop' never does. */
  webhookDelivery?: 'send' | 'drop';
  /** How soon a prediction with a webhook finishes on its own (default 20 ms). */
  webhookDelayMs?: number;
}

export class FakeReplicateServer {
  readonly requests: RecordedReplicateRequest[] = [];
  readonly predictions = new Map<string, FakePrediction>();
  readonly cancelled: string[] = [];
  readonly downloads: { path: string; status: number; at: number }[] = [];
  pollsToSucceed: number;
  output: 'http-url' | 'data-url';
  outputShape: 'array' | 'string';
  urlExpiryMs: number;
  stuck: boolean;
  failWith: string | undefined;
  webhookDelivery: 'send' | 'drop';
  webhookDelayMs: number;
  readonly webhookSecret = `whsec_${randomBytes(32).toString('base64')}`;
  readonly deliveries: WebhookDelivery[] = [];
  private timers = new Set<NodeJS.Timeout>();
  port = 0;
  private faults: { fault: ReplicateFault; match?: RegExp }[] = [];
  private files = new Map<string, { bytes: Buffer; createdAt: number }>();
  private hung = new Set<http.ServerResponse>();
  private server: http.Server;

  constructor(opts: FakeReplicateOptions = {}) {
    this.pollsToSucceed = opts.pollsToSucceed ?? 3;
    this.output = opts.output ?? 'http-url';
    this.outputShape = opts.outputShape ?? 'array';
    this.urlExpiryMs = opts.urlExpiryMs ?? 3_600_000;
    this.stuck = opts.stuck ?? false;
    this.failWith = opts.failWith;
    this.webhookDelivery = opts.webhookDelivery ?? 'send';
    this.webhookDelayMs = opts.webhookDelayMs ?? 20;
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.json(res, 500, { detail: String(err) });
      });
    });
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  async start(): Promise<this> {
    this.port = await listenOnLoopback(this.server);
    return this;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    await closeServer(this.server, this.hung);
  }

  /** POSTs the prediction's current state to its webhook, signed (or as `sign` says), and records it. */
  async deliver(
    predictionId: string,
    opts: { timestamp?: number; id?: string; secret?: string; body?: string; url?: string } = {},
  ): Promise<WebhookDelivery> {
    const p = this.predictions.get(predictionId);
    const url = opts.url ?? p?.webhook;
    if (!url) throw new Error(`prediction ${predictionId} has no webhook`);
    const body = opts.body ?? JSON.stringify(p ? this.view(p) : { id: predictionId });
    const id = opts.id ?? `msg_${randomUUID().replace(/-/g, '')}`;
    const ts = String(Math.floor((opts.timestamp ?? Date.now()) / 1000));
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': ts,
      'webhook-signature': signStandardWebhook(opts.secret ?? this.webhookSecret, id, ts, body),
    };
    const d: WebhookDelivery = { url, predictionId, headers, body, status: 0 };
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      d.status = res.status;
      await res.body?.cancel();
    } catch {
      d.status = 0;
    }
    this.deliveries.push(d);
    return d;
  }

  /** Queue a fault for the next `times` requests whose "METHOD path" matches `match` (default: any API request). */
  fault(fault: ReplicateFault, opts: { times?: number; match?: RegExp } = {}): this {
    for (let i = 0; i < (opts.times ?? 1); i++) this.faults.push({ fault, match: opts.match });
    return this;
  }

  reset(): void {
    this.requests.length = 0;
    this.cancelled.length = 0;
    this.downloads.length = 0;
    this.faults = [];
    this.stuck = false;
    this.failWith = undefined;
    this.deliveries.length = 0;
    this.webhookDelivery = 'send';
    this.webhookDelayMs = 20;
  }

  requestsMatching(re: RegExp): RecordedReplicateRequest[] {
    return this.requests.filter((r) => re.test(`${r.method} ${r.path}`));
  }

  private json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  private view(p: FakePrediction) {
    return {
      id: p.id,
      model: p.model,
      version: 'fakeversion',
      input: p.input,
      status: p.status,
      output: p.output,
      error: p.error,
      logs: '',
      created_at: new Date(p.createdAt).toISOString(),
      urls: {
        get: `${this.baseUrl}/predictions/${p.id}`,
        cancel: `${this.baseUrl}/predictions/${p.id}/cancel`,
      },
    };
  }

  private async finish(p: FakePrediction): Promise<void> {
    if (this.failWithFor(p)) return;
    const prompt = p.input.prompt ?? '';
    const png = await fakePng(typeof prompt === 'string' ? prompt : JSON.stringify(prompt), Number(p.input.seed ?? 0));
    let url: string;
    if (this.output === 'data-url') url = `data:image/png;base64,${png.toString('base64')}`;
    else {
      const name = `${p.id}.png`;
      this.files.set(name, { bytes: png, createdAt: Date.now() });
      url = `http://127.0.0.1:${this.port}/files/${name}`;
    }
    p.output = this.outputShape === 'array' ? [url] : url;
    p.status = 'succeeded';
  }

  private failWithFor(p: FakePrediction): boolean {
    if (!this.failWith) return false;
    p.status = 'failed';
    p.error = this.failWith;
    return true;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';

    if (method === 'GET' && path.startsWith('/files/')) {
      const file = this.files.get(path.slice('/files/'.length));
      const expired = !file || Date.now() - file.createdAt > this.urlExpiryMs;
      this.downloads.push({ path, status: expired ? 404 : 200, at: Date.now() });
      if (expired || !file) return this.json(res, 404, { detail: 'Not found (expired)' });
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(file.bytes.length) });
      res.end(file.bytes);
      return;
    }

    let body: any;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const rec: RecordedReplicateRequest = { method, path, headers: req.headers, body, at: Date.now() };
    this.requests.push(rec);

    const i = this.faults.findIndex((f) => !f.match || f.match.test(`${method} ${path}`));
    if (i >= 0) {
      const fault = this.faults.splice(i, 1)[0]!.fault;
      rec.fault = fault.kind;
      if (fault.kind === '429') {
        const headers: Record<string, string> = fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
        return this.json(res, 429, { title: 'Too Many Requests', detail: 'Request was throttled.', status: 429 }, headers);
      }
      if (fault.kind === '500') return this.json(res, 500, { detail: 'Internal server error' });
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
      return;
    }

    if (req.headers.authorization !== 'Bearer r8_fake_token_for_tests_only') {
      return this.json(res, 401, { title: 'Unauthenticated', detail: 'You did not pass a valid authentication token', status: 401 });
    }

    if (method === 'GET' && path === '/v1/webhooks/default/secret') return this.json(res, 200, { key: this.webhookSecret });

    let m = /^\/v1\/models\/([^/]+)\/([^/]+)\/predictions$/.exec(path);
    if (m && method === 'POST') {
      const p: FakePrediction = {
        id: randomUUID().replace(/-/g, '').slice(0, 26),
        model: `${m[1]}/${m[2]}`,
        input: (body?.input ?? {}) as Record<string, unknown>,
        status: 'starting',
        polls: 0,
        createdAt: Date.now(),
        output: null,
        error: null,
        stuck: this.stuck,
        webhook: typeof body?.webhook === 'string' ? body.webhook : undefined,
        webhookEvents: Array.isArray(body?.webhook_events_filter) ? body.webhook_events_filter : undefined,
      };
      this.predictions.set(p.id, p);
      if (p.webhook) {
        // With a webhook nobody polls: the prediction finishes on its own, then its completion is posted.
        const t = setTimeout(() => {
          this.timers.delete(t);
          void (async () => {
            if (p.stuck || (p.status !== 'starting' && p.status !== 'processing')) return;
            await this.finish(p);
            const wanted = !p.webhookEvents || p.webhookEvents.includes('completed');
            if (wanted && this.webhookDelivery === 'send') await this.deliver(p.id);
          })();
        }, this.webhookDelayMs);
        this.timers.add(t);
      }
      return this.json(res, 201, this.view(p));
    }
    m = /^\/v1\/predictions\/([^/]+)$/.exec(path);
    if (m && method === 'GET') {
      const p = this.predictions.get(m[1]!);
      if (!p) return this.json(res, 404, { detail: 'Not found.' });
      if (p.status === 'starting' || p.status === 'processing') {
        p.polls += 1;
        if (!p.stuck && p.polls >= this.pollsToSucceed) await this.finish(p);
        else if (p.polls >= 1) p.status = 'processing';
      }
      return this.json(res, 200, this.view(p));
    }
    m = /^\/v1\/predictions\/([^/]+)\/cancel$/.exec(path);
    if (m && method === 'POST') {
      const p = this.predictions.get(m[1]!);
      if (!p) return this.json(res, 404, { detail: 'Not found.' });
      this.cancelled.push(p.id);
      if (p.status === 'starting' || p.status === 'processing') p.status = 'canceled';
      return this.json(res, 200, this.view(p));
    }
    this.json(res, 404, { detail: `no route ${method} ${path}` });
  }
}

export async function startFakeReplicate(opts: FakeReplicateOptions = {}): Promise<FakeReplicateServer> {
  return new FakeReplicateServer(opts).start();
}

export const FAKE_REPLICATE_TOKEN = 'r8_fake_token_for_tests_only';

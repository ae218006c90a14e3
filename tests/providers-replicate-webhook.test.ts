/**
 * REPLICATE_WEBHOOK_URL mode: the real `replicate` client creates predictions with a completion
 * webhook against the fake Replicate API (tests/fakes/replicate-server.ts), which posts signed
 * completions to the receiver (src/providers/replicate-webhook.ts). Valid, forged, replayed, stale
 * and malformed calls; the signing secret fetched from GET /v1/webhooks/default/secret; the polling
 * fallback when no webhook comes; deadline → cancel; and the wiring through createApp.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { ReplicateImageGenerator, type ReplicateOptions } from '../src/providers/imagegen/replicate';
import { ReplicateWebhookReceiver, fetchReplicateWebhookSecret } from '../src/providers/replicate-webhook';
import { ProviderError, ProviderTimeoutError } from '../src/core/errors';
import type { UsageRecord } from '../src/providers/usage';
import { createApp } from '../src/app';
import { testConfig } from '../src/config';
import { openDatabase } from '../src/db/connection';
import { candidates } from '../src/db/schema';
import { silentLogger } from '../src/log';
import type { RunEvent } from '../src/core/optimizer/events';
import { FAKE_REPLICATE_TOKEN, FakeReplicateServer, signStandardWebhook } from './fakes/replicate-server';
import { fakePng } from './fakes/openai-server';
import { waitFor } from './helpers/runs';
import { freePort } from './helpers/ports';

let server: FakeReplicateServer;
let receiver: ReplicateWebhookReceiver;
let hookUrl: string;
let usage: UsageRecord[];
let secretFetches: number;

/** The secret as production gets it without REPLICATE_WEBHOOK_SECRET: from the API, counted. */
const fetchSecret = () => {
  secretFetches++;
  return fetchReplicateWebhookSecret({ auth: FAKE_REPLICATE_TOKEN, baseUrl: server.baseUrl });
};

const gen = (extra: Partial<ReplicateOptions> = {}, waitMs = 5000) =>
  new ReplicateImageGenerator({
    auth: FAKE_REPLICATE_TOKEN,
    baseUrl: server.baseUrl,
    pollIntervalMs: 10,
    timeoutMs: 5000,
    backoffBaseMs: 20,
    onUsage: (r) => {
      usage.push(r);
    },
    webhook: { url: hookUrl, receiver, waitMs },
    ...extra,
  });

const polls = () => server.requestsMatching(/^GET \/v1\/predictions\//);

/** POSTs a webhook by hand (what an attacker or a replaying proxy could send). */
async function post(headers: Record<string, string>, body: string, url = hookUrl) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, body: (await res.json()) as { ok?: boolean; error?: string } };
}

beforeAll(async () => {
  server = await new FakeReplicateServer().start();
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  server.reset();
  server.predictions.clear();
  server.pollsToSucceed = 3;
  usage = [];
  secretFetches = 0;
  receiver = new ReplicateWebhookReceiver({ path: '/hooks/replicate', secret: fetchSecret });
  const port = await receiver.listen(0);
  hookUrl = `http://127.0.0.1:${port}/hooks/replicate`;
});
afterEach(async () => {
  await receiver.close();
});

describe('Replicate webhook mode', () => {
  it('a valid completion webhook resolves the prediction: no polling, the secret fetched once', async () => {
    const a = await gen().generate('a heron in fog', { seed: 42, runId: 'r1' });
    const b = await gen().generate('a crane at dawn', { seed: 7 });
    expect(a.bytes).toEqual(await fakePng('a heron in fog', 42));
    expect(b.bytes).toEqual(await fakePng('a crane at dawn', 7));
    const creates = server.requestsMatching(/^POST \/v1\/models\/black-forest-labs\/flux-schnell\/predictions$/);
    expect(creates.map((r) => r.body)).toEqual([
      { input: { prompt: 'a heron in fog', seed: 42 }, webhook: hookUrl, webhook_events_filter: ['completed'] },
      { input: { prompt: 'a crane at dawn', seed: 7 }, webhook: hookUrl, webhook_events_filter: ['completed'] },
    ]);
    expect(polls()).toHaveLength(0);
    expect(server.deliveries.map((d) => d.status)).toEqual([200, 200]);
    expect(receiver.stats).toEqual({ accepted: 2, rejected: [] });
    expect(secretFetches).toBe(1);
    expect(server.requestsMatching(/^GET \/v1\/webhooks\/default\/secret$/)).toHaveLength(1);
    expect(usage[0]).toMatchObject({ provider: 'replicate', kind: 'image', images: 1, ok: true, runId: 'r1' });
    expect(gen().describe()).toMatch(/completion webhooks at http:\/\/127\.0\.0\.1:\d+\/hooks\/replicate with polling fallback/);
  });

  it('a replayed webhook (same webhook-id, even re-signed in the window) is rejected with 409', async () => {
    await gen().generate('a heron in fog');
    const [d] = server.deliveries;
    expect(d?.status).toBe(200);
    const again = await post(d!.headers, d!.body);
    expect(again).toEqual({ status: 409, body: { error: 'replayed' } });
    // A fresh timestamp does not make an old id new.
    const ts = String(Math.floor(Date.now() / 1000));
    const resigned = {
      ...d!.headers,
      'webhook-timestamp': ts,
      'webhook-signature': signStandardWebhook(server.webhookSecret, d!.headers['webhook-id'], ts, d!.body),
    };
    expect((await post(resigned, d!.body)).status).toBe(409);
    expect(receiver.stats.rejected).toEqual(['replayed', 'replayed']);
  });

  it('forged webhooks are rejected (401) and never resolve the waiting prediction', async () => {
    server.webhookDelivery = 'drop'; // the genuine completion is sent by hand below
    const pending = gen({}, 4000).generate('a heron in fog', { seed: 1 });
    await waitFor(() => [...server.predictions.values()].find((p) => p.status === 'succeeded'), 'the prediction to finish', 5000);
    const p = [...server.predictions.values()].at(-1)!;
    const evil = JSON.stringify({ id: p.id, status: 'succeeded', output: ['http://127.0.0.1:9/evil.png'] });
    const ts = String(Math.floor(Date.now() / 1000));
    const other = `whsec_${randomBytes(32).toString('base64')}`;
    // Signed with another secret; a genuine signature over another body; no signature at all.
    expect(
      await post(
        { 'webhook-id': 'msg_forged1', 'webhook-timestamp': ts, 'webhook-signature': signStandardWebhook(other, 'msg_forged1', ts, evil) },
        evil,
      ),
    ).toEqual({
      status: 401,
      body: { error: 'bad-signature' },
    });
    const genuineBody = JSON.stringify({ id: p.id, status: 'succeeded', output: p.output });
    const sig = signStandardWebhook(server.webhookSecret, 'msg_forged2', ts, genuineBody);
    expect((await post({ 'webhook-id': 'msg_forged2', 'webhook-timestamp': ts, 'webhook-signature': sig }, evil)).status).toBe(401);
    expect((await post({}, evil)).body).toEqual({ error: 'missing-headers' });
    // Wrong path and method.
    expect((await post({}, evil, hookUrl.replace('/hooks/replicate', '/other'))).status).toBe(404);
    expect((await fetch(hookUrl)).status).toBe(405);

    // The genuine completion still resolves it, with the genuine image.
    const d = await server.deliver(p.id);
    expect(d.status).toBe(200);
    const img = await pending;
    expect(img.bytes).toEqual(await fakePng('a heron in fog', 1));
    expect(receiver.stats.rejected).toEqual(['bad-signature', 'bad-signature', 'missing-headers']);
    expect(polls()).toHaveLength(0);
  });

  it('a stale (or far-future) webhook is rejected even when correctly signed', async () => {
    server.webhookDelivery = 'drop';
    const pending = gen({}, 4000).generate('a heron in fog', { seed: 2 });
    await waitFor(() => [...server.predictions.values()].find((p) => p.status === 'succeeded'), 'the prediction to finish', 5000);
    const p = [...server.predictions.values()].at(-1)!;
    expect((await server.deliver(p.id, { timestamp: Date.now() - 10 * 60_000 })).status).toBe(401);
    expect((await server.deliver(p.id, { timestamp: Date.now() + 10 * 60_000 })).status).toBe(401);
    expect(receiver.stats.rejected).toEqual(['stale', 'stale']);
    expect((await server.deliver(p.id)).status).toBe(200);
    expect((await pending).bytes).toEqual(await fakePng('a heron in fog', 2));
  });

  it('a completion that arrives before the waiter registers is kept for it', async () => {
    const r = new ReplicateWebhookReceiver({ path: '/h', secret: server.webhookSecret });
    const port = await r.listen(0);
    try {
      const body = JSON.stringify({ id: 'p-early', status: 'succeeded', output: ['x'] });
      const ts = String(Math.floor(Date.now() / 1000));
      const res = await post(
        {
          'webhook-id': 'msg_e',
          'webhook-timestamp': ts,
          'webhook-signature': signStandardWebhook(server.webhookSecret, 'msg_e', ts, body),
        },
        body,
        `http://127.0.0.1:${port}/h`,
      );
      expect(res.status).toBe(200);
      expect(await r.waitFor('p-early').promise).toMatchObject({ id: 'p-early', status: 'succeeded' });
    } finally {
      await r.close();
    }
  });

  it('no webhook in time → falls back to polling', async () => {
    server.webhookDelivery = 'drop';
    server.pollsToSucceed = 1;
    const img = await gen({}, 150).generate('a heron in fog', { seed: 3 });
    expect(img.bytes).toEqual(await fakePng('a heron in fog', 3));
    expect(polls().length).toBeGreaterThanOrEqual(1);
    expect(server.deliveries).toHaveLength(0);
  });

  it('a failed prediction reported by webhook is a ProviderError', async () => {
    server.failWith = 'NSFW content detected';
    const err = await gen()
      .generate('a kite')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as Error).message).toMatch(/prediction failed: NSFW content detected/);
    expect(polls()).toHaveLength(0);
  });

  it('the deadline still holds: a prediction that never completes times out and is cancelled', async () => {
    server.stuck = true;
    const err = await gen({ timeoutMs: 400 }, 100)
      .generate('a kite')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderTimeoutError);
    expect(server.cancelled).toHaveLength(1);
  });

  it('the signing secret unavailable → 503 (Replicate retries), fetched again on the next webhook', async () => {
    let fail = true;
    const r = new ReplicateWebhookReceiver({
      path: '/h',
      secret: async () => {
        if (fail) throw new Error('HTTP 500');
        return server.webhookSecret;
      },
    });
    const port = await r.listen(0);
    try {
      const body = JSON.stringify({ id: 'p1', status: 'succeeded' });
      const ts = String(Math.floor(Date.now() / 1000));
      const h = {
        'webhook-id': 'msg_s',
        'webhook-timestamp': ts,
        'webhook-signature': signStandardWebhook(server.webhookSecret, 'msg_s', ts, body),
      };
      expect((await post(h, body, `http://127.0.0.1:${port}/h`)).status).toBe(503);
      fail = false;
      expect((await post(h, body, `http://127.0.0.1:${port}/h`)).status).toBe(200);
    } finally {
      await r.close();
    }
  });
});

describe('REPLICATE_WEBHOOK_URL through createApp', () => {
  it('a run renders its images through webhooks, with the secret from the API', async () => {
    const port = await freePort();
    const config = testConfig({
      DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tl-hook-')),
      IMAGEGEN: 'replicate',
      REPLICATE_API_TOKEN: FAKE_REPLICATE_TOKEN,
      REPLICATE_BASE_URL: server.baseUrl,
      REPLICATE_WEBHOOK_URL: `http://127.0.0.1:${port}/replicate/webhook`,
      REPLICATE_WEBHOOK_PORT: String(port),
      IMAGEGEN_TIMEOUT_MS: '20000',
    });
    const database = await openDatabase({});
    const app = await createApp(config, { log: silentLogger, database, seedGallery: false, runOptions: { outboxPollMs: 50 } });
    try {
      expect(app.backends.imagegen).toMatch(/completion webhooks at http:\/\/127\.0\.0\.1:\d+\/replicate\/webhook/);
      await app.start();
      const events: RunEvent[] = [];
      const off = app.services.runs.subscribe((e) => events.push(e));
      const { runId } = await app.services.runs.start({
        requester: { platform: 'playground', userId: 'hook' },
        prompt: 'a harbor at dusk',
        iterations: 1,
        candidates: 2,
        seed: 4,
      });
      const end = await waitFor(
        () => events.find((e) => e.runId === runId && (e.type === 'run.finished' || e.type === 'run.failed')),
        'the run',
        60_000,
      );
      off();
      expect(end.type).toBe('run.finished');
      const cands = await database.db.select().from(candidates).where(eq(candidates.runId, runId));
      expect(cands.every((c) => c.imageId)).toBe(true);
      expect(server.deliveries.length).toBe(cands.length);
      expect(server.deliveries.every((d) => d.status === 200)).toBe(true);
      expect(polls()).toHaveLength(0);
    } finally {
      await app.close();
      await database.close();
    }
    // Closed with the app.
    await expect(fetch(`http://127.0.0.1:${port}/replicate/webhook`, { method: 'POST' })).rejects.toThrow();
  }, 120_000);
});

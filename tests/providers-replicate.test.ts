/**
 * The real `replicate` client against a fake Replicate API on 127.0.0.1
 * (tests/fakes/replicate-server.ts): create + poll + download, both output shapes (plain http URL
 * string, data: URL wrapped in FileOutput), URL expiry, 429 + Retry-After, hang → cancel,
 * abort → cancel, usage records; and webhook signature verification.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { randomBytes } from 'node:crypto';
import { validateWebhook } from 'replicate';
import { ReplicateImageGenerator, firstOutput, type ReplicateOptions } from '../src/providers/imagegen/replicate';
import { signReplicateWebhook, verifyReplicateWebhook, webhookHeaders } from '../src/providers/replicate-webhook';
import type { UsageRecord } from '../src/providers/usage';
import { CancelledError, ProviderError, ProviderTimeoutError } from '../src/core/errors';
import { FAKE_REPLICATE_TOKEN, FakeReplicateServer } from './fakes/replicate-server';
import { fakePng } from './fakes/openai-server';

let server: FakeReplicateServer;
let usage: UsageRecord[];

const gen = (extra: Partial<ReplicateOptions> = {}) =>
  new ReplicateImageGenerator({
    auth: FAKE_REPLICATE_TOKEN,
    baseUrl: server.baseUrl,
    pollIntervalMs: 10,
    // The whole call's deadline; a test of it sets its own. A normal call must never run into it.
    timeoutMs: 30_000,
    backoffBaseMs: 20,
    onUsage: (r) => {
      usage.push(r);
    },
    ...extra,
  });

beforeAll(async () => {
  server = await new FakeReplicateServer().start();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.reset();
  server.output = 'http-url';
  server.outputShape = 'array';
  server.pollsToSucceed = 3;
  server.urlExpiryMs = 3_600_000;
  usage = [];
});

describe('ReplicateImageGenerator', () => {
  it('runs end to end: create, poll until succeeded, download the bytes (plain http URL string)', async () => {
    const img = await gen({ input: { num_inference_steps: 4, prompt: 'overridden' } }).generate('a heron in fog', {
      seed: 42,
      runId: 'r1',
      userKey: 'discord:-:7',
    });
    expect(await fakePng('a heron in fog', 42)).toEqual(img.bytes);
    expect((await sharp(img.bytes).metadata()).format).toBe('png');
    expect(img).toMatchObject({ generator: 'replicate', model: 'black-forest-labs/flux-schnell', seed: 42, costUsd: 0.003 });
    const [create] = server.requestsMatching(/^POST \/v1\/models\/black-forest-labs\/flux-schnell\/predictions$/);
    expect(create?.body.input).toEqual({ num_inference_steps: 4, prompt: 'a heron in fog', seed: 42 });
    expect(server.requestsMatching(/^GET \/v1\/predictions\//).length).toBeGreaterThanOrEqual(3);
    expect(server.downloads).toEqual([expect.objectContaining({ status: 200 })]);
    expect(usage).toEqual([
      expect.objectContaining({
        provider: 'replicate',
        kind: 'image',
        images: 1,
        attempts: 1,
        costUsd: 0.003,
        runId: 'r1',
        userKey: 'discord:-:7',
        ok: true,
      }),
    ]);
  });

  it('handles data: URL outputs, which replicate.run() wraps in FileOutput', async () => {
    server.output = 'data-url';
    server.outputShape = 'string';
    const img = await gen().generate('a kite', { seed: 1 });
    expect(img.bytes).toEqual(await fakePng('a kite', 1));
  });

  it('firstOutput accepts strings, arrays, objects and FileOutput-like values', () => {
    expect(firstOutput(['http://x/a.png', 'http://x/b.png'])).toBe('http://x/a.png');
    expect(firstOutput({ image: 'data:image/png;base64,AA==' })).toBe('data:image/png;base64,AA==');
    const fo = { blob: async () => new Blob(), url: () => new URL('https://x/y.png') };
    expect(firstOutput([fo])).toBe(fo);
    expect(firstOutput(null)).toBeUndefined();
  });

  it('stores bytes on arrival: the URL expires soon after, and no download fails', async () => {
    const img = await gen().generate('a fox');
    expect(img.bytes.length).toBeGreaterThan(0);
    const url = `http://127.0.0.1:${server.port}${server.downloads[0]!.path}`;
    server.urlExpiryMs = -1; // the URL's time is up (however long the call took)
    expect((await fetch(url)).status).toBe(404); // expired now, but we already have the bytes
    expect(server.downloads.map((d) => d.status)).toEqual([200, 404]);
  });

  it('an expired URL (downloaded too late) is a clear ProviderError', async () => {
    server.urlExpiryMs = -1;
    const err = await gen()
      .generate('a fox')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as Error).message).toMatch(/expired/);
  });

  it('honors Retry-After on 429 with one retry layer; attempts counted', async () => {
    server.fault({ kind: '429', retryAfter: 1 }, { match: /^POST .*\/predictions$/ });
    const img = await gen().generate('a kite');
    expect(img.bytes.length).toBeGreaterThan(0);
    const creates = server.requestsMatching(/^POST .*\/predictions$/);
    expect(creates.map((r) => r.fault ?? 'ok')).toEqual(['429', 'ok']);
    expect(creates[1]!.at - creates[0]!.at).toBeGreaterThanOrEqual(950);
    expect(usage[0]).toMatchObject({ attempts: 2, ok: true });
  });

  it('gives up after bounded retries, without the client stacking its own 5 retries', async () => {
    server.fault({ kind: '429' }, { times: 20, match: /^POST .*\/predictions$/ });
    const err = await gen({ maxRetries: 2 })
      .generate('a kite')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).message).toMatch(/rate limited \(429\) after 3 attempts/);
    expect(server.requestsMatching(/^POST .*\/predictions$/)).toHaveLength(3);
    expect(usage[0]).toMatchObject({ attempts: 3, ok: false, costUsd: 0 });
  });

  it('retries a 5xx on polling (idempotent GET)', async () => {
    server.fault({ kind: '500' }, { match: /^GET \/v1\/predictions\// });
    const img = await gen().generate('a kite');
    expect(img.bytes.length).toBeGreaterThan(0);
    expect(server.requestsMatching(/^GET \/v1\/predictions\//).filter((r) => r.fault === '500')).toHaveLength(1);
  });

  it('a prediction that never finishes hits the deadline: cancel endpoint called, ProviderTimeoutError', async () => {
    server.stuck = true;
    // Long enough for the create and a first poll (what makes it billable) before the deadline.
    const err = await gen({ timeoutMs: 2_000 })
      .generate('a kite')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderTimeoutError);
    expect(server.cancelled).toHaveLength(1);
    const id = server.cancelled[0]!;
    expect(server.predictions.get(id)?.status).toBe('canceled');
    expect(usage[0]).toMatchObject({ ok: false, images: 0, costUsd: 0.003 }); // it ran: may be billed
  });

  it('a hung HTTP request (poll never answered) also times out and cancels', async () => {
    server.fault({ kind: 'hang' }, { match: /^GET \/v1\/predictions\// });
    // Long enough for the create to be answered: only a known prediction can be cancelled.
    const err = await gen({ timeoutMs: 2_000 })
      .generate('a kite')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderTimeoutError);
    expect(server.cancelled).toHaveLength(1);
  });

  it('abort by signal cancels the prediction → CancelledError', async () => {
    server.stuck = true;
    const ac = new AbortController();
    const p = gen({ timeoutMs: 60_000 }).generate('a kite', { signal: ac.signal });
    await waitFor(() => server.requestsMatching(/^GET \/v1\/predictions\//).length >= 2);
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    expect(server.cancelled).toHaveLength(1);
  });

  it('a failed prediction is a ProviderError with the model error', async () => {
    server.failWith = 'NSFW content detected';
    const err = await gen()
      .generate('a kite')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as Error).message).toMatch(/prediction failed: NSFW content detected/);
  });

  it('a bad token is a ProviderError (401), not retried', async () => {
    const err = await gen({ auth: 'r8_wrong' })
      .generate('a kite')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(401);
    expect(server.requests).toHaveLength(1);
  });
});

describe('Replicate webhook verification', () => {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const body = JSON.stringify({ id: 'p1', status: 'succeeded', output: ['https://x/y.png'] });
  const now = Date.UTC(2025, 0, 1, 12, 0, 0);
  const ts = String(Math.floor(now / 1000));
  const headersFor = (id: string, t: string, sig: string) => ({ 'webhook-id': id, 'webhook-timestamp': t, 'webhook-signature': sig });

  it('accepts a genuine webhook (and agrees with the replicate client’s own validator)', async () => {
    const sig = signReplicateWebhook(secret, 'msg_1', ts, body);
    expect(verifyReplicateWebhook(headersFor('msg_1', ts, `v1,${sig}`), body, secret, now)).toEqual({ ok: true });
    expect(await validateWebhook({ id: 'msg_1', timestamp: ts, body, secret, signature: `v1,${sig}` })).toBe(true);
    // Several signatures (secret rotation): any valid one passes.
    expect(verifyReplicateWebhook(headersFor('msg_1', ts, `v1,AAAA v1,${sig}`), Buffer.from(body), secret, now).ok).toBe(true);
  });

  it('rejects a replay after 10 minutes', () => {
    const sig = signReplicateWebhook(secret, 'msg_1', ts, body);
    expect(verifyReplicateWebhook(headersFor('msg_1', ts, `v1,${sig}`), body, secret, now + 10 * 60_000)).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(verifyReplicateWebhook(headersFor('msg_1', ts, `v1,${sig}`), body, secret, now - 10 * 60_000)).toEqual({
      ok: false,
      reason: 'stale',
    });
  });

  it('rejects forgeries: other secret, altered body, altered id or timestamp, missing headers', () => {
    const other = `whsec_${randomBytes(24).toString('base64')}`;
    const forged = signReplicateWebhook(other, 'msg_1', ts, body);
    expect(verifyReplicateWebhook(headersFor('msg_1', ts, `v1,${forged}`), body, secret, now)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    const sig = signReplicateWebhook(secret, 'msg_1', ts, body);
    expect(verifyReplicateWebhook(headersFor('msg_1', ts, `v1,${sig}`), body.replace('succeeded', 'failed'), secret, now).ok).toBe(false);
    expect(verifyReplicateWebhook(headersFor('msg_2', ts, `v1,${sig}`), body, secret, now).ok).toBe(false);
    expect(verifyReplicateWebhook(headersFor('msg_1', String(Number(ts) + 1), `v1,${sig}`), body, secret, now).ok).toBe(false);
    expect(verifyReplicateWebhook(headersFor('msg_1', ts, `v2,${sig}`), body, secret, now).ok).toBe(false);
    expect(verifyReplicateWebhook(headersFor('msg_1', ts, 'v1,'), body, secret, now).ok).toBe(false);
    expect(verifyReplicateWebhook({ 'webhook-id': 'msg_1' }, body, secret, now)).toEqual({ ok: false, reason: 'missing-headers' });
    expect(verifyReplicateWebhook(headersFor('msg_1', 'yesterday', `v1,${sig}`), body, secret, now)).toEqual({
      ok: false,
      reason: 'bad-timestamp',
    });
  });

  it('reads headers from a fetch Headers object or a Node header record', () => {
    const sig = signReplicateWebhook(secret, 'msg_1', ts, body);
    const h = new Headers(headersFor('msg_1', ts, `v1,${sig}`));
    expect(verifyReplicateWebhook(webhookHeaders(h), body, secret, now).ok).toBe(true);
    expect(verifyReplicateWebhook(webhookHeaders({ ...headersFor('msg_1', ts, `v1,${sig}`) }), body, secret, now).ok).toBe(true);
  });
});

/** Polls until `cond` holds (the deadline only bounds a hang). */
async function waitFor(cond: () => boolean, maxMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > maxMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

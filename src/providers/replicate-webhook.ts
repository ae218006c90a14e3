/**
 * Replicate webhook verification (Standard Webhooks scheme, as Replicate documents it):
 *   signed content = `${webhook-id}.${webhook-timestamp}.${raw body}`
 *   key            = base64-decode(secret without its "whsec_" prefix)
 *   signature      = base64(HMAC-SHA256(key, signed content)); the `webhook-signature` header holds
 *                    space-separated "v1,<signature>" entries (several during secret rotation).
 * A timestamp outside ±5 minutes is rejected (replays), and signatures are compared with
 * timingSafeEqual. Pure: the caller passes the raw body exactly as received and the current time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

export interface WebhookHeaders {
  'webhook-id'?: string | null;
  'webhook-timestamp'?: string | null;
  'webhook-signature'?: string | null;
}

export type WebhookVerdict = { ok: true } | { ok: false; reason: 'missing-headers' | 'bad-secret' | 'bad-timestamp' | 'stale' | 'bad-signature' };

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

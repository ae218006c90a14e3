/**
 * How the playground answers over HTTP: every response carries the same protective headers (no
 * sniffing, no framing, no referrer) and is not cached unless the route said otherwise.
 */
import type { ServerResponse } from 'node:http';

export function send(res: ServerResponse, status: number, body: Buffer | string, type: string): void {
  if (!res.hasHeader('cache-control')) res.setHeader('cache-control', 'no-store');
  res.writeHead(status, {
    'content-type': type,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  });
  res.end(body);
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, JSON.stringify(body), 'application/json');
}

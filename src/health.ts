/**
 * Liveness and readiness over HTTP, for container orchestrators and uptime checks — on its own port
 * (HEALTH_PORT), because a Discord-only deployment serves no other HTTP at all.
 *
 *   GET /healthz  200 while the process serves requests at all (liveness: restart me if this fails).
 *   GET /readyz   200 when every check passes — the database answers, every chat platform is
 *                 connected — and the bot is not shutting down; otherwise 503. The JSON body names
 *                 each check with ok / detail, so "why is it not ready" is one request away, and
 *                 may carry `info` that never affects readiness (the starter gallery's progress).
 *   GET /metrics  operational counters and process metrics in the Prometheus text format (src/prometheus-metrics.ts).
 *
 * A check that hangs counts as failed after `timeoutMs`: a stuck database must turn readiness red,
 * not hang the probe. Bodies carry no secrets or personal data.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { metrics as defaultMetrics } from './prometheus-metrics';
import { redactSecrets } from './redact';

export interface CheckResult {
  ok: boolean;
  detail?: string;
}

export interface HealthCheck {
  name: string;
  check(): Promise<CheckResult> | CheckResult;
}

export interface Readiness {
  ready: boolean;
  stopping: boolean;
  checks: Record<string, CheckResult & { ms: number }>;
}

export const DEFAULT_CHECK_TIMEOUT_MS = 2000;

/** Runs every check concurrently, each bounded by `timeoutMs`. Never throws. */
export async function evaluateReadiness(
  checks: readonly HealthCheck[],
  opts: { stopping?: boolean; timeoutMs?: number } = {},
): Promise<Readiness> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const results = await Promise.all(
    checks.map(async (c) => {
      const t0 = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<CheckResult>((resolve) => {
        timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
      });
      let r: CheckResult;
      try {
        r = await Promise.race([Promise.resolve().then(() => c.check()), timeout]);
      } catch (err) {
        // A failing check's message can quote a connection string: never serve its credentials.
        r = { ok: false, detail: redactSecrets((err as Error).message || String(err)) };
      } finally {
        clearTimeout(timer);
      }
      return [c.name, { ...r, ms: Math.round(performance.now() - t0) }] as const;
    }),
  );
  const stopping = Boolean(opts.stopping);
  const out = Object.fromEntries(results);
  return { ready: !stopping && results.every(([, r]) => r.ok), stopping, checks: out };
}

export interface HealthServerOptions {
  host: string;
  /** 0 picks a free port (tests); the chosen one is logged and returned by start(). */
  port: number;
  /** Read at every /readyz: the platforms join once they are started. */
  checks: () => readonly HealthCheck[];
  /**
   * Informational facts shown with /readyz (e.g. how far the starter gallery is drawn). Never part of
   * readiness: the bot serves while they are incomplete.
   */
  info?: () => Record<string, unknown>;
  isStopping: () => boolean;
  timeoutMs?: number;
  log: Logger;
  /** What /metrics shows (default: the process-wide registry). */
  metrics?: Registry;
}

export interface HealthServer {
  /** Listens on the configured port (or `port`, e.g. 0 for any free one); resolves to the port. */
  start(port?: number): Promise<number>;
  stop(): Promise<void>;
}

export function createHealthServer(o: HealthServerOptions): HealthServer {
  const startedAt = Date.now();
  let server: Server | null = null;
  // A broken info source must not break the probe: it is left out.
  const readInfo = (): { info?: Record<string, unknown> } => {
    try {
      return o.info ? { info: o.info() } : {};
    } catch (err) {
      o.log.warn({ err }, 'readiness info failed');
      return {};
    }
  };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  return {
    async start(port = o.port) {
      server = createServer((req, res) => {
        const path = (req.url ?? '/').split('?')[0];
        if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'use GET' });
        if (path === '/healthz') return send(res, 200, { status: 'ok', uptime_s: Math.round((Date.now() - startedAt) / 1000) });
        if (path === '/readyz') {
          void evaluateReadiness(o.checks(), { stopping: o.isStopping(), timeoutMs: o.timeoutMs }).then((r) => {
            if (!r.ready) o.log.debug({ readiness: r }, 'not ready');
            send(res, r.ready ? 200 : 503, {
              status: r.ready ? 'ready' : r.stopping ? 'stopping' : 'not ready',
              checks: r.checks,
              ...readInfo(),
            });
          });
          return;
        }
        if (path === '/metrics') {
          const registry = o.metrics ?? defaultMetrics;
          void registry.metrics().then(
            (text) => {
              res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
              res.end(text);
            },
            (err: unknown) => {
              o.log.warn({ err }, 'collecting metrics failed');
              send(res, 500, { error: 'collecting metrics failed' });
            },
          );
          return;
        }
        send(res, 404, { error: 'not found: try /healthz, /readyz or /metrics' });
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, o.host, () => resolve());
      });
      const bound = (server.address() as AddressInfo).port;
      o.log.info({ port: bound }, `health: http://${o.host}:${bound}/healthz, /readyz and /metrics`);
      return bound;
    },
    async stop() {
      const s = server;
      server = null;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    },
  };
}

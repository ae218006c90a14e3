/**
 * /healthz and /readyz (src/health.ts): the readiness rules, and the HTTP server a probe talks to.
 * The wiring into `npm start` is checked in tests/start.test.ts; each chat adapter's own health()
 * in the platform contract.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHealthServer, evaluateReadiness, type HealthCheck } from '../src/health';
import { silentLogger } from '../src/log';
import { commandsTotal, valueOf } from '../src/prometheus-metrics';

const ok = (name: string): HealthCheck => ({ name, check: () => ({ ok: true, detail: 'fine' }) });

describe('evaluateReadiness', () => {
  it('is ready only when every check passes and the bot is not stopping', async () => {
    expect((await evaluateReadiness([ok('database'), ok('discord')])).ready).toBe(true);
    const down = await evaluateReadiness([ok('database'), { name: 'discord', check: () => ({ ok: false, detail: 'gateway Resuming' }) }]);
    expect(down.ready).toBe(false);
    expect(down.checks.discord).toMatchObject({ ok: false, detail: 'gateway Resuming' });
    expect(down.checks.database).toMatchObject({ ok: true });
    const stopping = await evaluateReadiness([ok('database')], { stopping: true });
    expect(stopping).toMatchObject({ ready: false, stopping: true });
  });

  it('a check that throws or hangs fails with a reason instead of breaking or hanging the probe', async () => {
    const r = await evaluateReadiness(
      [
        { name: 'database', check: async () => Promise.reject(new Error('connection refused')) },
        { name: 'slack', check: () => new Promise(() => {}) },
      ],
      { timeoutMs: 50 },
    );
    expect(r.ready).toBe(false);
    expect(r.checks.database).toMatchObject({ ok: false, detail: 'connection refused' });
    expect(r.checks.slack).toMatchObject({ ok: false, detail: 'no answer within 50 ms' });
  });
});

describe('health server', () => {
  let discordOk = true;
  let stopping = false;
  const server = createHealthServer({
    host: '127.0.0.1',
    port: 0,
    log: silentLogger,
    isStopping: () => stopping,
    checks: () => [
      ok('database'),
      { name: 'discord', check: () => ({ ok: discordOk, detail: discordOk ? 'gateway ready' : 'gateway Reconnecting' }) },
    ],
  });
  let base = '';
  beforeAll(async () => {
    base = `http://127.0.0.1:${await server.start()}`;
  });
  afterAll(async () => {
    await server.stop();
  });

  it('/healthz answers 200 while the process serves; /readyz follows the checks with 200 or 503 and says why', async () => {
    const live = await fetch(`${base}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toMatchObject({ status: 'ok' });

    let ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.headers.get('cache-control')).toBe('no-store');
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { database: { ok: true }, discord: { ok: true } } });

    discordOk = false;
    ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not ready', checks: { discord: { ok: false, detail: 'gateway Reconnecting' } } });

    discordOk = true;
    stopping = true;
    ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'stopping' });
    expect((await fetch(`${base}/healthz`)).status).toBe(200); // stopping is not dead
  });

  it('anything else is a 404 or 405 that points at the right paths', async () => {
    const nf = await fetch(`${base}/stats`);
    expect(nf.status).toBe(404);
    expect(await nf.text()).toMatch(/\/healthz/);
    expect((await fetch(`${base}/healthz`, { method: 'POST' })).status).toBe(405);
  });
});

describe('metrics', () => {
  it('/readyz shows informational facts (the starter gallery) without them affecting readiness, and survives a broken source', async () => {
    let gallery = { state: 'drawing', ready: 12, total: 84 };
    let broken = false;
    const server = createHealthServer({
      host: '127.0.0.1',
      port: 0,
      log: silentLogger,
      isStopping: () => false,
      checks: () => [ok('database')],
      info: () => {
        if (broken) throw new Error('no status');
        return { gallery };
      },
    });
    const port = await server.start();
    try {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready', info: { gallery: { state: 'drawing', ready: 12, total: 84 } } });
      gallery = { state: 'failed', ready: 30, total: 84 };
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      broken = true;
      const again = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(again.status).toBe(200);
      expect(await again.json()).not.toHaveProperty('info');
    } finally {
      await server.stop();
    }
  });

  it('/metrics serves the bot series and the process metrics in the Prometheus text format', async () => {
    commandsTotal.inc({ platform: 'discord', command: 'rate', outcome: 'ok' });
    commandsTotal.inc({ platform: 'discord', command: 'rate', outcome: 'ok' }, 2);
    expect(await valueOf(commandsTotal, { platform: 'discord', command: 'rate', outcome: 'ok' })).toBe(3);
    expect(await valueOf(commandsTotal, { platform: 'slack', command: 'rate', outcome: 'ok' })).toBe(0);
    const server = createHealthServer({ host: '127.0.0.1', port: 0, log: silentLogger, isStopping: () => false, checks: () => [] });
    const port = await server.start();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      expect(text).toContain('tasteloop_commands_total{platform="discord",command="rate",outcome="ok"} 3');
      for (const name of [
        'tasteloop_commands_total',
        'tasteloop_rating_changes_total',
        'tasteloop_runs_ended_total',
        'tasteloop_reactions_reconciled_total',
        'tasteloop_process_resident_memory_bytes',
        'tasteloop_nodejs_eventloop_lag_p99_seconds',
      ]) {
        expect(text).toContain(`# TYPE ${name} `);
      }
      expect(Number(/^tasteloop_process_resident_memory_bytes (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(1e6);
    } finally {
      await server.stop();
    }
  });
});

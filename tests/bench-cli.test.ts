/**
 * The benchmark entry points run and end with their JSON line (figures are for `npm run bench`, never
 * asserted as timings here): bench:discord-rest on tiny settings, bench:startup with one run,
 * bench:ingest --quick (on PGlite, and on a fresh PostgreSQL database when TEST_DATABASE_URL is set), and
 * `npm run bench` refusing flags it would otherwise hand to benchmarks that do not know them.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createFreshPostgresDatabase, TEST_DATABASE_URL } from './helpers/db';

const tsx = (file: string, args: string[], timeout = 120_000, env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { encoding: 'utf8', timeout, env });

/** bench:ingest --quick against DATABASE_URL (or PGlite without it); its JSON line. */
function ingestQuick(databaseUrl?: string): Record<string, unknown> {
  const { DATABASE_URL: _ignored, ...env } = process.env;
  const run = tsx('src/eval/bench/ingest.ts', ['--quick'], 240_000, databaseUrl ? { ...env, DATABASE_URL: databaseUrl } : env);
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

function expectIngestFigures(out: Record<string, unknown>, backend: 'pglite' | 'postgres'): void {
  expect(out).toMatchObject({ backend, people: 60, ratings: 300, concurrency: 8, errors: 0, scorers_match: true, retrain: 'on' });
  for (const field of ['ratings_per_s', 'rate_p50_ms', 'rate_p99_ms', 'refit_lag_p99_ms']) {
    expect(typeof out[field], field).toBe('number');
    expect(out[field] as number, field).toBeGreaterThan(0);
  }
  expect(out.rate_p99_ms as number).toBeGreaterThanOrEqual(out.rate_p50_ms as number);
  expect(typeof out.retrains).toBe('number');
}

describe('benchmark CLIs', () => {
  it('bench:discord-rest runs straight and through the proxy and ends with its JSON line', () => {
    const run = tsx('src/eval/bench/discord-rest.ts', ['--processes', '2', '--seeds', '1', '--messages', '6', '--window', '200']);
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as {
      rows: Record<string, number>[];
      direct_429_share: number;
      proxy_429_share: number;
    };
    expect(out.rows).toHaveLength(1);
    expect(out.rows[0]).toMatchObject({ processes: 2, seed: 1, proxy_requests: 12 }); // through the proxy: every post once
    expect(out.rows[0]!.direct_requests).toBeGreaterThanOrEqual(12);
    expect(out.proxy_429_share).toBe(0);
  }, 150_000);

  it('bench:startup starts src/main.ts on an empty and a warm DATA_DIR and ends with its JSON line', () => {
    const run = tsx('src/eval/bench/startup.ts', ['--runs', '1', '--image-size', '128'], 590_000);
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(out.runs).toBe(1);
    for (const field of ['empty_ready_s', 'warm_ready_s', 'gallery_done_s']) {
      expect(typeof out[field], field).toBe('number');
      expect(out[field] as number, field).toBeGreaterThan(0);
    }
    expect(run.stderr).toMatch(/run 1\/1: empty DATA_DIR ready in [\d.]+ s \(gallery drawn at [\d.]+ s\), warm ready in [\d.]+ s/);
  }, 600_000);

  it('bench:ingest --quick rates through the real write path on PGlite and ends with its JSON line', () => {
    const out = ingestQuick();
    expectIngestFigures(out, 'pglite');
    // PostgreSQL's own counters do not exist on PGlite.
    expect(out).toMatchObject({ wal_bytes_per_rating: null, tx_per_rating: null });
  }, 300_000);

  it.skipIf(!TEST_DATABASE_URL)(
    'bench:ingest --quick on PostgreSQL also reports WAL and transactions per rating',
    async () => {
      const { url, drop } = await createFreshPostgresDatabase();
      try {
        const out = ingestQuick(url);
        expectIngestFigures(out, 'postgres');
        // At least the rating's own commit; WAL for its rows.
        expect(out.tx_per_rating as number).toBeGreaterThanOrEqual(1);
        expect(out.wal_bytes_per_rating as number).toBeGreaterThan(0);
      } finally {
        await drop();
      }
    },
    300_000,
  );

  it('npm run bench takes no flags and says where they go', () => {
    const run = tsx('src/eval/bench/all.ts', ['--seed', '2']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('npm run bench takes no flags; give them to one benchmark, e.g. npm run bench:reconcile -- --seed 2');
  });
});

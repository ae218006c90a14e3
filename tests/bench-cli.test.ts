/**
 * The benchmark entry points run and end with their JSON line (figures are for `npm run bench`, never
 * asserted as timings here): bench:discord-rest on tiny settings, bench:startup with one run, and
 * `npm run bench` refusing flags it would otherwise hand to benchmarks that do not know them.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const tsx = (file: string, args: string[], timeout = 120_000) =>
  spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { encoding: 'utf8', timeout });

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

  it('npm run bench takes no flags and says where they go', () => {
    const run = tsx('src/eval/bench/all.ts', ['--seed', '2']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('npm run bench takes no flags; give them to one benchmark, e.g. npm run bench:reconcile -- --seed 2');
  });
});

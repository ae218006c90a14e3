/**
 * The benchmark entry points run and end with their JSON line (figures are for `npm run bench`, never
 * asserted as timings here): bench:discord-rest on tiny settings, and `npm run bench` refusing flags it
 * would otherwise hand to benchmarks that do not know them.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const tsx = (file: string, args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { encoding: 'utf8', timeout: 120_000 });

describe('benchmark CLIs', () => {
  it('bench:discord-rest runs straight and through the proxy and ends with its JSON line', () => {
    const run = tsx('src/eval/bench/discord-rest.ts', ['--processes', '2', '--seeds', '1', '--messages', '6', '--window', '200']);
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { rows: Record<string, number>[]; direct_429_share: number; proxy_429_share: number };
    expect(out.rows).toHaveLength(1);
    expect(out.rows[0]).toMatchObject({ processes: 2, seed: 1, proxy_requests: 12 }); // through the proxy: every post once
    expect(out.rows[0]!.direct_requests).toBeGreaterThanOrEqual(12);
    expect(out.proxy_429_share).toBe(0);
  }, 150_000);

  it('npm run bench takes no flags and says where they go', () => {
    const run = tsx('src/eval/bench/all.ts', ['--seed', '2']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('npm run bench takes no flags; give them to one benchmark, e.g. npm run bench:reconcile -- --seed 2');
  });
});

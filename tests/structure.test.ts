/**
 * The structure a newcomer can rely on, checked on the code as it is: the import rules of
 * .dependency-cruiser.cjs (no cycles, the core depends on nothing above it and on no chat SDK, chart
 * library or provider client, the database layer not on the domain, commands not on platforms) and the
 * size limits of tests/helpers/code-size.ts. `npm run lint` checks the same rules; this test makes a
 * violation one named failure in `npm test` as well.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { sizeViolations, sourceFiles } from './helpers/code-size';

const root = path.resolve(import.meta.dirname, '..');
const run = promisify(execFile);

interface CruiseResult {
  summary: { violations: { rule: { name: string }; from: string; to: string; cycle?: { name: string }[] }[] };
}

describe('structure', () => {
  it('keeps the import rules: no cycles, no upward imports, no SDK or provider in the core', { timeout: 180_000 }, async () => {
    const { stdout } = await run(
      process.execPath,
      [
        path.join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'),
        'src',
        'commands',
        '--config',
        '.dependency-cruiser.cjs',
        '--output-type',
        'json',
      ],
      { cwd: root, maxBuffer: 64 * 1024 * 1024 },
    ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    const result = JSON.parse(stdout) as CruiseResult;
    const violations = result.summary.violations.map((v) =>
      v.cycle ? `${v.rule.name}: ${[v.from, ...v.cycle.map((c) => c.name)].join(' → ')}` : `${v.rule.name}: ${v.from} → ${v.to}`,
    );
    expect(violations).toEqual([]);
  });

  it('keeps files under 500 lines and functions under 120 lines', () => {
    const over = sourceFiles(root).flatMap((f) =>
      sizeViolations(f).map((v) => `${path.relative(root, v.file)}: ${v.what} has ${v.lines} lines`),
    );
    expect(over).toEqual([]);
  });

  it('the size check sees a long function, including one inside a factory closure', () => {
    const body = Array.from({ length: 125 }, (_, i) => `    const x${i} = ${i};`).join('\n');
    const text = `export function createAdapter() {\n  const handle = () => {\n${body}\n  };\n  return handle;\n}\n`;
    const found = sizeViolations('example.ts', text).map((v) => v.what);
    expect(found).toEqual(['function createAdapter (line 1)', 'function handle (line 2)']);
  });
});

/** The test setup's watchdog ends a process whose event loop is stuck, naming it, and leaves a turning one alone. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const run = (body: string) =>
  spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', `await import('./tests/setup/event-loop-watchdog.ts');\n${body}`],
    {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, TEST_EVENT_LOOP_LIMIT_S: '2', VITEST_WATCHDOG_FILE: 'tests/stuck.test.ts' },
    },
  );

describe('event-loop watchdog', () => {
  it('kills a process stuck in a microtask loop and names the file', () => {
    const stuck = run('const spin = async () => { for (;;) await Promise.resolve(); };\nawait spin();');
    expect(stuck.signal).toBe('SIGKILL');
    expect(stuck.stderr).toMatch(/event-loop watchdog: the event loop of tests\/stuck\.test\.ts has not turned for \d+ s \(limit 2 s/);
  });

  it('lets a process that keeps turning finish normally, and does not keep it alive', () => {
    const fine = run("await new Promise((r) => setTimeout(r, 4000));\nconsole.log('done');");
    expect(fine.signal).toBeNull();
    expect(fine.status).toBe(0);
    expect(fine.stdout.trim()).toBe('done');
  });
});

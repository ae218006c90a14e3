import { defineConfig } from 'vitest/config';

// PGlite costs ~1 GB RSS per instance: keep workers few and share one instance per file.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // A stuck event loop fails its file instead of hanging the run (timeouts are timers and never fire).
    setupFiles: ['tests/setup/event-loop-watchdog.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
  },
});

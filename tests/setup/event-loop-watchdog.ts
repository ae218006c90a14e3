/**
 * Fails a test file whose event loop stops turning, instead of hanging the whole run.
 *
 * Vitest's test and hook timeouts are timers: a test stuck in a synchronous or microtask-only loop never
 * lets them fire, so one such bug would hold a worker until CI's own limit and report nothing. A worker
 * thread watches a heartbeat the main thread writes from a timer; when it stops for longer than the limit,
 * the thread names the file and kills the process, which vitest reports as that file failing.
 *
 * The limit is far above anything legitimate: a test may block the loop on purpose for minutes
 * (spawnSync of a benchmark bounded by its own timeout), and a busy machine stretches everything.
 */
import { Worker } from 'node:worker_threads';

const LIMIT_S = Number(process.env.TEST_EVENT_LOOP_LIMIT_S ?? 900);

const WATCHER = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const beat = new Int32Array(workerData.buffer);
setInterval(() => {
  const silentFor = Math.floor(Date.now() / 1000) - Atomics.load(beat, 0);
  if (silentFor > workerData.limit) {
    // Written straight to fd 2: a worker's process.stderr goes through the stuck main thread.
    writeSync(2, 'event-loop watchdog: the event loop of ' + workerData.file + ' has not turned for ' + silentFor +
      ' s (limit ' + workerData.limit + ' s, TEST_EVENT_LOOP_LIMIT_S); failing this file instead of hanging the run\\n');
    process.kill(process.pid, 'SIGKILL');
  }
}, 1000);
`;

const started = globalThis as { __tasteloopWatchdog?: boolean };
if (!started.__tasteloopWatchdog && LIMIT_S > 0) {
  started.__tasteloopWatchdog = true;
  const buffer = new SharedArrayBuffer(4);
  const beat = new Int32Array(buffer);
  const write = () => Atomics.store(beat, 0, Math.floor(Date.now() / 1000));
  write();
  setInterval(write, 1000).unref();
  // Vitest's worker state names the file it runs (no public API gives it to a setup file).
  const worker = (globalThis as { __vitest_worker__?: { filepath?: string } }).__vitest_worker__;
  const file = process.env.VITEST_WATCHDOG_FILE ?? worker?.filepath ?? process.argv.slice(1).join(' ');
  new Worker(WATCHER, { eval: true, execArgv: [], workerData: { buffer, limit: LIMIT_S, file } }).unref();
}

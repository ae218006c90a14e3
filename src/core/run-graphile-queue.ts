/**
 * The run queue on graphile-worker (PostgreSQL): one keyed job per run. Loaded lazily so PGlite
 * deployments, which run in process, never load graphile-worker. Its logs go to our logger (its own
 * console output would bypass redaction).
 */
import type { Logger as GraphileLogger, Runner, WorkerUtils } from 'graphile-worker';
import type { Logger } from '../log';

const TASK = 'tasteloop_run';

export class GraphileRunQueue {
  private runner?: Runner;
  private utils?: WorkerUtils;

  private readonly connectionString: string;
  private readonly concurrency: number;

  constructor(
    opts: { connectionString: string; concurrency?: number },
    private readonly log: Logger,
  ) {
    this.connectionString = opts.connectionString;
    this.concurrency = opts.concurrency ?? 4;
  }

  /** Consumes run jobs here, handing each run id to `execute`. */
  async startRunner(execute: (runId: string) => Promise<unknown>): Promise<void> {
    const { run } = await import('graphile-worker');
    this.runner = await run({
      connectionString: this.connectionString,
      concurrency: this.concurrency,
      noHandleSignals: true,
      pollInterval: 1000,
      logger: await graphileLogger(this.log),
      taskList: {
        [TASK]: async (payload) => {
          const runId = (payload as { runId?: unknown } | null)?.runId;
          if (typeof runId === 'string') await execute(runId);
        },
      },
    });
  }

  async add(runId: string): Promise<void> {
    if (!this.utils) {
      const { makeWorkerUtils } = await import('graphile-worker');
      this.utils = await makeWorkerUtils({ connectionString: this.connectionString, logger: await graphileLogger(this.log) });
    }
    // Same key: a duplicate enqueue updates the waiting job; if the keyed job is locked (maybe by a
    // dead worker), graphile creates a new one — exactly what resuming after a crash needs.
    await this.utils.addJob(TASK, { runId }, { jobKey: `run:${runId}`, maxAttempts: 3 });
  }

  async stopRunner(): Promise<void> {
    await this.runner?.stop().catch((err) => this.log.warn({ err }, 'graphile stop failed'));
  }

  /** Releases the enqueueing connection; the next start or enqueue opens what it needs again. */
  async close(): Promise<void> {
    await Promise.resolve(this.utils?.release()).catch(() => {});
    this.runner = undefined;
    this.utils = undefined;
  }
}

async function graphileLogger(log: Logger): Promise<GraphileLogger> {
  const { Logger: GLogger } = await import('graphile-worker');
  return new GLogger(() => (level, message, meta) => {
    const m = `graphile: ${message}`;
    // LogLevel is a const enum of these strings (not importable under isolatedModules).
    const lv: string = level;
    if (lv === 'error') log.error({ meta }, m);
    else if (lv === 'warning') log.warn({ meta }, m);
    else if (lv === 'info') log.debug({ meta }, m);
    else log.trace({ meta }, m);
  });
}

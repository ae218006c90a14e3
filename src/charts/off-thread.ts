/**
 * The bot's ChartRenderer: charts are drawn in one long-lived worker thread, started on the first
 * request. The chart stack (vega-lite) rewrites built-in prototypes when it loads, which breaks
 * discord.js if both share a realm (see render.ts); a worker has a realm of its own, so no chat SDK
 * depends on what the chart stack does to globals, and a slow chart never blocks the event loop that
 * acknowledges interactions.
 *
 * The worker does not keep the process alive while idle, and a worker that dies (a crash, or
 * `close()`) fails only the requests it held: the next request starts a new one.
 */
import { Worker } from 'node:worker_threads';
import type { ChartRenderer } from '../core/ports';
import { workerUrl } from '../runtime-files';
import type { ChartRequest } from '../core/records';
import type { ChartJob, ChartReply } from './worker';

export interface OffThreadChartRenderer extends ChartRenderer {
  /** Ends the worker; pending requests fail. Safe to call more than once. */
  close(): Promise<void>;
}

interface Pending {
  resolve: (png: Buffer) => void;
  reject: (err: Error) => void;
}

interface ChartThread {
  worker: Worker;
  /** Requests this worker holds: a dead worker fails only these. */
  pending: Map<number, Pending>;
}

export function createOffThreadChartRenderer(): OffThreadChartRenderer {
  let current: ChartThread | null = null;
  let nextId = 1;

  const start = (): ChartThread => {
    const thread: ChartThread = { worker: new Worker(workerUrl('chart')), pending: new Map() };
    const { worker, pending } = thread;
    const fail = (err: Error) => {
      if (current === thread) current = null;
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    };
    worker.on('message', (reply: ChartReply) => {
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      if (reply.ok) p.resolve(Buffer.from(reply.png.buffer, reply.png.byteOffset, reply.png.byteLength));
      else p.reject(Object.assign(new Error(`chart rendering failed: ${reply.message}`), { stack: reply.stack }));
      if (pending.size === 0) worker.unref();
    });
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the chart worker stopped (exit code ${code}) before it answered`)));
    worker.unref();
    return thread;
  };

  return {
    render(request: ChartRequest): Promise<Buffer> {
      const thread = (current ??= start());
      const id = nextId++;
      return new Promise<Buffer>((resolve, reject) => {
        thread.pending.set(id, { resolve, reject });
        // Held while a chart is being drawn, so a caller awaiting it is not cut off by an empty event loop.
        thread.worker.ref();
        thread.worker.postMessage({ id, request } satisfies ChartJob);
      });
    },
    async close() {
      const thread = current;
      current = null;
      if (thread) await thread.worker.terminate();
    },
  };
}

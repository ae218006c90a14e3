/**
 * The chart worker thread: the only place in the bot's process where vega-lite is loaded (see
 * render.ts for why). Requests are numbered so several can be in flight; each reply carries the PNG
 * or the error's message.
 */
import { parentPort } from 'node:worker_threads';
import type { ChartRequest } from '../core/records';
import { renderChart } from './render';

export interface ChartJob {
  id: number;
  request: ChartRequest;
}
export type ChartReply = { id: number; ok: true; png: Uint8Array } | { id: number; ok: false; message: string; stack?: string };

parentPort?.on('message', (job: ChartJob) => {
  renderChart(job.request).then(
    (png) => {
      // A fresh copy whose buffer can be handed over without copying again.
      const bytes = new Uint8Array(png);
      parentPort!.postMessage({ id: job.id, ok: true, png: bytes } satisfies ChartReply, [bytes.buffer]);
    },
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      parentPort!.postMessage({ id: job.id, ok: false, message: e.message, stack: e.stack } satisfies ChartReply);
    },
  );
});

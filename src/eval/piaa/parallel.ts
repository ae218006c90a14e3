/**
 * The protocol with its two folds in two worker threads (worker.ts, started through the worker.mjs
 * bootstrap): the folds share nothing but the read-only data, so this halves the wall time on two
 * cores and changes no figure.
 */
import { Worker } from 'node:worker_threads';
import { planFolds, summarize, type FoldPlan, type FoldResult, type PiaaSummary } from './protocol';
import type { PiaaData } from './data';
import type { PiaaConfig } from './config';

export async function runPiaaProtocolParallel(data: PiaaData, cfg: PiaaConfig): Promise<PiaaSummary> {
  const { onProgress, ...cloneable } = cfg;
  const folds = await Promise.all(planFolds(data, cfg).map((plan) => runFoldInWorker(data, cloneable, plan, onProgress)));
  return summarize(
    folds.flatMap((r) => r.results),
    data,
    cfg,
    folds.map((r) => r.schedule),
  );
}

export type PiaaWorkerMessage = { progress: string } | { result: FoldResult } | { error: string; stack?: string };

function runFoldInWorker(
  data: PiaaData,
  cfg: Omit<PiaaConfig, 'onProgress'>,
  plan: FoldPlan,
  onProgress?: (msg: string) => void,
): Promise<FoldResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.mjs', import.meta.url), { workerData: { data, cfg, plan } });
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      fn();
      void worker.terminate();
    };
    worker.on('message', (m: PiaaWorkerMessage) => {
      if ('progress' in m) onProgress?.(m.progress);
      else if ('result' in m) finish(() => resolve(m.result));
      else
        finish(() =>
          reject(Object.assign(new Error(`eval:piaa fold ${plan.fold + 1} failed in its worker: ${m.error}`), { stack: m.stack })),
        );
    });
    worker.once('error', (err) => finish(() => reject(err)));
    worker.once('exit', (code) =>
      finish(() => reject(new Error(`eval:piaa fold ${plan.fold + 1} worker exited (code ${code}) before replying`))),
    );
  });
}

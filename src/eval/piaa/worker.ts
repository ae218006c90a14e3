/** Worker-thread entry of runPiaaProtocolParallel (parallel.ts): run one fold, report progress, reply, exit. */
import { parentPort, workerData } from 'node:worker_threads';
import { runFold, type FoldPlan } from './protocol';
import type { PiaaWorkerMessage } from './parallel';
import type { PiaaData } from './data';
import type { PiaaConfig } from './config';

const { data, cfg, plan } = workerData as { data: PiaaData; cfg: Omit<PiaaConfig, 'onProgress'>; plan: FoldPlan };
const post = (m: PiaaWorkerMessage) => parentPort?.postMessage(m);
try {
  post({ result: runFold(data, { ...cfg, onProgress: (progress) => post({ progress }) }, plan) });
} catch (err) {
  post({ error: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined });
}

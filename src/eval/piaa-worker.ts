/** Worker-thread entry of runPiaaProtocolParallel (piaa.ts): run one fold, report progress, reply, exit. */
import { parentPort, workerData } from 'node:worker_threads';
import { runFold, type FoldPlan, type PiaaConfig, type PiaaData, type PiaaWorkerMessage } from './piaa';

const { data, cfg, plan } = workerData as { data: PiaaData; cfg: Omit<PiaaConfig, 'onProgress'>; plan: FoldPlan };
const post = (m: PiaaWorkerMessage) => parentPort?.postMessage(m);
try {
  post({ result: runFold(data, { ...cfg, onProgress: (progress) => post({ progress }) }, plan) });
} catch (err) {
  post({ error: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined });
}

/**
 * The MobileNet embedder's worker thread: loads the model on the first job and answers each job with the
 * pooled activations of its images. Jobs are numbered so the embedder can match replies; the model runs
 * one job at a time (wasm is single-threaded here), in the order they arrive.
 */
import { parentPort } from 'node:worker_threads';
import { loadMobileNet, type MobileNetFeatures } from './mobilenet-model';

export interface MobileNetJob {
  id: number;
  /** `count × 224 × 224 × 3` RGB bytes; `count` 0 only loads the model. */
  pixels: Uint8Array;
  count: number;
}
export type MobileNetReply =
  { id: number; ok: true; pooled: Float32Array; loadMs: number } | { id: number; ok: false; message: string; stack?: string };

let model: Promise<MobileNetFeatures> | null = null;
let loadMs = 0;
let queue: Promise<unknown> = Promise.resolve();

function loaded(): Promise<MobileNetFeatures> {
  if (!model) {
    const start = performance.now();
    model = loadMobileNet().then((m) => {
      loadMs = performance.now() - start;
      return m;
    });
    // A failed load is tried again by the next job.
    model.catch(() => (model = null));
  }
  return model;
}

async function run(job: MobileNetJob): Promise<void> {
  try {
    const m = await loaded();
    const pooled = job.count > 0 ? await m.pooled(job.pixels, job.count) : new Float32Array(0);
    const copy = new Float32Array(pooled);
    parentPort!.postMessage({ id: job.id, ok: true, pooled: copy, loadMs } satisfies MobileNetReply, [copy.buffer]);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    parentPort!.postMessage({ id: job.id, ok: false, message: e.message, stack: e.stack } satisfies MobileNetReply);
  }
}

parentPort?.on('message', (job: MobileNetJob) => {
  queue = queue.then(() => run(job));
});

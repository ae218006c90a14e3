/**
 * Training the community models — the global prior, and when due the meta-learned init and finetune's
 * λ schedule (calibrate.ts) — off the main thread. Training is seconds of pure arithmetic (an O(N·d²)
 * Gram matrix and d×d eigendecompositions: ~3 s for 5,000 ratings at d = 512 in bench:scorer, ~9 s for
 * 20,000 on this machine). Run inline it would freeze the event loop, and with it every platform
 * acknowledgement (Discord and Slack allow 3 s). So each retrain runs in a short-lived worker thread:
 * the ratings are copied once into exact-size buffers and transferred, the models come back by
 * structured clone, and a crash or an abort costs only that retrain.
 */
import { Worker } from 'node:worker_threads';
import type { PackedRatings } from './data';
import { trainGlobal, type GlobalModel } from './global';
import { trainMeta, type MetaParams } from './maml';
import { calibrateLambdaSchedule } from './calibrate';

export interface CommunityJob {
  /** Also (re)train the meta-learned init. */
  meta: boolean;
  /** Also (re)calibrate finetune's λ schedule (calibrate.ts); otherwise the global carries none. */
  calibrate: boolean;
  seed: number;
}

export interface CommunityModels {
  global: GlobalModel;
  meta: MetaParams | null;
}

/** The training itself: pure, the same code on either thread. */
export function trainCommunityModels(users: readonly PackedRatings[], job: CommunityJob): CommunityModels {
  const global = trainGlobal(users);
  const lambdaSchedule = job.calibrate ? calibrateLambdaSchedule(users) : undefined;
  return { global: lambdaSchedule ? { ...global, lambdaSchedule } : global, meta: job.meta ? trainMeta(users, {}, job.seed) : null };
}

/** A trainer: inline (`trainCommunityModels` wrapped in a promise) or off-thread (the default). */
export type CommunityTrainer = (
  users: readonly PackedRatings[],
  job: CommunityJob,
  signal?: AbortSignal,
) => Promise<CommunityModels & { threadId: number }>;

/** Runs on the calling thread — for callers that are not serving anyone (evaluations, scripts). */
export const trainInline: CommunityTrainer = (users, job) =>
  // Trains synchronously; a training error still comes back as a rejection.
  new Promise((resolve) => resolve({ ...trainCommunityModels(users, job), threadId: 0 }));

/** Message the worker receives: each person's ratings as exact-size typed arrays. */
export interface CommunityWorkerRequest {
  users: { n: number; dim: number; X: Float32Array; y: Float64Array }[];
  job: CommunityJob;
}
export type CommunityWorkerReply = { ok: true; models: CommunityModels; threadId: number } | { ok: false; message: string; stack?: string };

export const trainOffThread: CommunityTrainer = (users, job, signal) => {
  if (signal?.aborted) return Promise.reject(abortError());
  // Exact-size copies: the caller's arrays may be views into bigger buffers, and transferring detaches.
  const payload: CommunityWorkerRequest = {
    users: users.map((u) => ({ n: u.n, dim: u.dim, X: Float32Array.from(u.X.subarray(0, u.n * u.dim)), y: u.y.slice(0, u.n) })),
    job,
  };
  const transfer = payload.users.flatMap((u) => [u.X.buffer as ArrayBuffer, u.y.buffer as ArrayBuffer]);
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./community-worker.mjs', import.meta.url));
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
      void worker.terminate();
    };
    const onAbort = () => finish(() => reject(abortError()));
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (reply: CommunityWorkerReply) => {
      if (reply.ok) finish(() => resolve({ ...reply.models, threadId: reply.threadId }));
      else
        finish(() => reject(Object.assign(new Error(`community training failed in its worker: ${reply.message}`), { stack: reply.stack })));
    });
    worker.once('error', (err) => finish(() => reject(err)));
    worker.once('exit', (code) => finish(() => reject(new Error(`community training worker exited (code ${code}) before replying`))));
    worker.postMessage(payload, transfer);
  });
};

function abortError(): Error {
  return Object.assign(new Error('community training aborted'), { name: 'AbortError' });
}

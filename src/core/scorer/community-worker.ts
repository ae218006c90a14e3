/**
 * Worker-thread side of CommunityThread (community-thread.ts): holds the community's ratings and the
 * global prior's moments for the thread's whole life, applies each message in order, answers requests.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { trainCommunityFromStats } from './community';
import { CommunityStats } from './community-stats';
import type { FromCommunityThread, ToCommunityThread } from './community-thread';

/**
 * How far below the process's other threads a fit runs (Linux nice, 0–19). A fit is seconds of
 * arithmetic on one core; at the same priority it takes half of a two-core machine from the ratings,
 * the refits and PostgreSQL while it runs. Niced, it takes only what they leave when they compete (about
 * a tenth, so it still finishes on a busy machine) and all of an idle core otherwise.
 */
const TRAINER_NICENESS = 10;

/**
 * Lowers this thread's CPU priority only (on Linux setpriority on a thread id applies to that thread).
 * Best effort: where /proc/thread-self or setpriority is missing the trainer runs at normal priority.
 */
function yieldToOtherThreads(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    if (Number.isInteger(tid) && tid > 0 && tid !== process.pid) setPriority(tid, TRAINER_NICENESS);
  } catch {
    // Not Linux, or not allowed: the policy's maxBusyShare still spaces the fits out.
  }
}

yieldToOtherThreads();

const stats = new CommunityStats((workerData as { dim: number }).dim);
/** An update that failed part-way: the moments no longer match the ratings, so every later request fails. */
let broken: Error | null = null;

function handle(msg: ToCommunityThread): FromCommunityThread | null {
  switch (msg.kind) {
    case 'images':
      msg.ids.forEach((id, i) => stats.setImage(id, msg.vectors.subarray(i * stats.dim, (i + 1) * stats.dim)));
      return null;
    case 'people':
      for (const p of msg.people) stats.setPerson(p);
      return null;
    case 'status':
    case 'fit': {
      if (broken) throw broken;
      const models = msg.kind === 'fit' ? trainCommunityFromStats(stats, msg.job) : undefined;
      return { id: msg.id, ok: true, status: { drift: stats.drift(), users: stats.users, ratings: stats.ratings }, models };
    }
  }
}

parentPort?.on('message', (msg: ToCommunityThread) => {
  try {
    const reply = handle(msg);
    if (reply) parentPort?.postMessage(reply);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    if (msg.kind === 'status' || msg.kind === 'fit') parentPort?.postMessage({ id: msg.id, ok: false, message: e.message, stack: e.stack });
    else broken ??= e;
  }
});

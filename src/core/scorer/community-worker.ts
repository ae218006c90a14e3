/** Worker-thread entry of `trainOffThread` (community.ts): train once, reply, exit. */
import { parentPort, threadId } from 'node:worker_threads';
import { trainCommunityModels, type CommunityWorkerReply, type CommunityWorkerRequest } from './community';

parentPort?.once('message', (req: CommunityWorkerRequest) => {
  let reply: CommunityWorkerReply;
  try {
    reply = { ok: true, models: trainCommunityModels(req.users, req.job), threadId };
  } catch (err) {
    reply = { ok: false, message: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined };
  }
  parentPort?.postMessage(reply);
});

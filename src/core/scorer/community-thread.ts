/**
 * The community trainer on one long-lived worker thread (community-worker.ts). The thread holds every
 * rating once (each image's embedding sent once, then people's (image, score) lists) and the global
 * prior's moments, updated as changes arrive; a fit is a request answered with the models. Training is
 * seconds of arithmetic (a d×d eigendecomposition and, when due, the meta-init and the λ schedule) that
 * would freeze the event loop and with it every platform acknowledgement (Discord and Slack allow 3 s).
 *
 * Messages are ordered, so a status or fit request answers for every change posted before it. If the
 * thread dies, every pending and later request rejects; the owner starts a new trainer and refills it.
 */
import { Worker } from 'node:worker_threads';
import { workerUrl } from '../../runtime-files';
import type {
  CommunityJob,
  CommunityModels,
  CommunityTrainer,
  FittedCommunity,
  IncrementalTrainer,
  TrainerStatus,
  TrainerUsage,
} from './community';
import type { PersonRatings } from './community-stats';

/** What the thread is sent. Requests (status, fit) carry an id their reply repeats. */
export type ToCommunityThread =
  | { kind: 'images'; ids: string[]; vectors: Float32Array }
  | { kind: 'people'; people: readonly PersonRatings[] }
  | { kind: 'status'; id: number }
  | { kind: 'fit'; id: number; job: CommunityJob };

export type FromCommunityThread =
  { id: number; ok: true; status: TrainerStatus; models?: CommunityModels } | { id: number; ok: false; message: string; stack?: string };

type Answer = Extract<FromCommunityThread, { ok: true }>;

export class CommunityThread implements IncrementalTrainer {
  readonly threadId: number;
  private readonly worker: Worker;
  private readonly sent = new Set<string>();
  private readonly waiting = new Map<number, { resolve: (a: Answer) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private ended: Error | null = null;

  constructor(readonly dim: number) {
    this.worker = new Worker(workerUrl('community'), { workerData: { dim } });
    this.threadId = this.worker.threadId;
    // An idle trainer never keeps the process alive; a pending request does (see request).
    this.worker.unref();
    this.worker.on('message', (reply: FromCommunityThread) => this.settle(reply));
    this.worker.on('error', (err) => this.end(err));
    this.worker.on('exit', (code) => this.end(new Error(`the community trainer thread exited (code ${code})`)));
  }

  hasImage(imageId: string): boolean {
    return this.sent.has(imageId);
  }

  addImages(vectors: ReadonlyMap<string, ArrayLike<number>>): void {
    const ids = [...vectors.keys()].filter((id) => !this.sent.has(id));
    if (ids.length === 0) return;
    const packed = new Float32Array(ids.length * this.dim);
    ids.forEach((id, i) => {
      const v = vectors.get(id)!;
      if (v.length !== this.dim) throw new RangeError(`image ${id} has ${v.length} dimensions, the community ${this.dim}`);
      packed.set(v, i * this.dim);
    });
    this.post({ kind: 'images', ids, vectors: packed }, [packed.buffer]);
    for (const id of ids) this.sent.add(id);
  }

  setPeople(people: readonly PersonRatings[]): void {
    if (people.length > 0) this.post({ kind: 'people', people });
  }

  async status(): Promise<TrainerStatus> {
    return (await this.request((id) => ({ kind: 'status', id }))).status;
  }

  async fit(job: CommunityJob): Promise<FittedCommunity> {
    const answer = await this.request((id) => ({ kind: 'fit', id, job }));
    if (!answer.models) throw new Error('the community trainer thread answered a fit without models');
    return { ...answer.models, threadId: this.threadId };
  }

  /** The thread's busy time (its event loop's active time: updates and fits) since it started. */
  usage(): TrainerUsage {
    const elu = this.worker.performance.eventLoopUtilization();
    return { activeMs: elu.active, elapsedMs: elu.active + elu.idle, share: elu.utilization };
  }

  async close(): Promise<void> {
    this.end(new Error('the community trainer was closed'));
    await this.worker.terminate();
  }

  private post(msg: ToCommunityThread, transfer: ArrayBuffer[] = []): void {
    if (this.ended) throw this.ended;
    this.worker.postMessage(msg, transfer);
  }

  private request(make: (id: number) => ToCommunityThread): Promise<Answer> {
    if (this.ended) return Promise.reject(this.ended);
    const id = this.nextId++;
    return new Promise<Answer>((resolve, reject) => {
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(id, { resolve, reject });
      this.post(make(id));
    });
  }

  private settle(reply: FromCommunityThread): void {
    const waiter = this.waiting.get(reply.id);
    if (!waiter) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker.unref();
    if (reply.ok) waiter.resolve(reply);
    else waiter.reject(Object.assign(new Error(`community training failed in its worker: ${reply.message}`), { stack: reply.stack }));
  }

  private end(reason: Error): void {
    this.ended ??= reason;
    for (const waiter of this.waiting.values()) waiter.reject(this.ended);
    this.waiting.clear();
  }
}

/**
 * A full retrain on a thread of its own, closed afterwards: packed ratings become one image per row
 * (identical rows are still one image to the fit). For benchmarks that compare with `trainInline`.
 */
export const trainOffThread: CommunityTrainer = async (users, job) => {
  const dim = users[0]?.dim ?? 0;
  const thread = new CommunityThread(dim);
  try {
    users.forEach((u, person) => {
      const vectors = new Map<string, ArrayLike<number>>();
      const ratings: PersonRatings['ratings'] = [];
      for (let i = 0; i < u.n; i++) {
        const imageId = `${person}:${i}`;
        vectors.set(imageId, u.X.subarray(i * dim, (i + 1) * dim));
        ratings.push([imageId, u.y[i] as number]);
      }
      thread.addImages(vectors);
      thread.setPeople([{ person: String(person), ratings }]);
    });
    return await thread.fit(job);
  } finally {
    await thread.close();
  }
};

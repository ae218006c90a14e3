import { threadId } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createRng } from '../src/core/random';
import { RatingStore, type PackedRatings } from '../src/core/scorer/data';
import { trainCommunityModels, trainInline, trainOffThread } from '../src/core/scorer/community';

function community(seed: number, users = 12, perUser = 40, d = 24): PackedRatings[] {
  const rng = createRng(seed);
  const taste = Float64Array.from({ length: d }, () => rng.normal());
  return Array.from({ length: users }, () => {
    const s = new RatingStore(d, 64); // capacity > n: rows are a view into a bigger buffer
    for (let i = 0; i < perUser; i++) {
      const x = Float32Array.from({ length: d }, () => rng.normal() / Math.sqrt(d));
      let v = 5;
      for (let j = 0; j < d; j++) v += taste[j]! * x[j]!;
      s.add(x, Math.min(10, Math.max(1, Math.round(v + 0.5 * rng.normal()))));
    }
    return s;
  });
}

describe('community models train off the main thread', () => {
  it('a worker thread returns exactly the models inline training gives, and leaves the callers data intact', async () => {
    const users = community(1);
    const before = users.map((u) => Float32Array.from(u.X.subarray(0, u.n * u.dim)));
    const off = await trainOffThread(users, { meta: true, calibrate: true, seed: 7 });
    const inline = trainCommunityModels(users, { meta: true, calibrate: true, seed: 7 });
    expect(off.threadId).not.toBe(threadId);
    expect(off.threadId).toBeGreaterThan(0);
    expect(Array.from(off.global.w)).toEqual(Array.from(inline.global.w));
    expect(off.global.lambda).toBe(inline.global.lambda);
    expect(off.global.bias).toBe(inline.global.bias);
    expect(Array.from(off.meta!.w0)).toEqual(Array.from(inline.meta!.w0));
    users.forEach((u, i) => expect(Array.from(u.X.subarray(0, u.n * u.dim))).toEqual(Array.from(before[i]!)));
  });

  it('keeps the event loop turning while it trains (inline training does not)', async () => {
    const users = community(2, 30, 60, 64);
    const ticksDuring = async (train: typeof trainInline) => {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 0);
      try {
        await train(users, { meta: false, calibrate: false, seed: 1 });
        return ticks;
      } finally {
        clearInterval(timer);
      }
    };
    expect(await ticksDuring(trainInline)).toBe(0);
    expect(await ticksDuring(trainOffThread)).toBeGreaterThan(0);
  });

  it('an abort ends the worker and rejects with an AbortError; a failure inside it is reported, not swallowed', async () => {
    const ac = new AbortController();
    const pending = trainOffThread(community(3), { meta: true, calibrate: true, seed: 1 }, ac.signal);
    ac.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    const mixed = [...community(4, 2, 10, 8), ...community(5, 2, 10, 9)];
    await expect(trainOffThread(mixed, { meta: false, calibrate: false, seed: 1 })).rejects.toThrow(
      /community training failed in its worker: .*different dimensions/,
    );
  });
});

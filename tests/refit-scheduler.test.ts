/**
 * A burst of 100 ratings by one person → refits are coalesced (at most one running plus one pending per
 * person), the last refit starts after the last rating, other people are not held up, and a failing
 * refit neither reaches the rater nor stops later refits. Refits are gated by hand-released promises, so
 * nothing here depends on timing.
 */
import { describe, expect, it } from 'vitest';
import { RefitScheduler } from '../src/core/refit-scheduler';

/** A refit function whose calls stay open until the test releases them. */
function gatedRefit() {
  const calls: { userKey: string; release: (err?: Error) => void; seen: number; open: boolean }[] = [];
  let ratingsSoFar = 0;
  let live = 0;
  let maxLive = 0;
  const refit = (userKey: string) =>
    new Promise<void>((resolve, reject) => {
      live++;
      maxLive = Math.max(maxLive, live);
      const call = {
        userKey,
        seen: ratingsSoFar,
        open: true,
        release: (err?: Error) => {
          if (!call.open) return;
          call.open = false;
          live--;
          if (err) reject(err);
          else resolve();
        },
      };
      calls.push(call);
    });
  return {
    refit,
    calls,
    rate: () => ++ratingsSoFar,
    releaseOpen: () => calls.filter((c) => c.open).forEach((c) => c.release()),
    get maxLive() {
      return maxLive;
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('RefitScheduler', () => {
  it('coalesces 100 rapid requests into at most one running and one pending refit, and the last one sees every rating', async () => {
    const g = gatedRefit();
    const s = new RefitScheduler({ refit: g.refit });
    let maxOutstanding = 0;
    for (let i = 0; i < 100; i++) {
      g.rate();
      s.request('u1');
      const st = s.stats();
      maxOutstanding = Math.max(maxOutstanding, st.running + st.queued);
      // Every 10 ratings, the running refit finishes (a burst of 100 over "10 s").
      if (i % 10 === 9) {
        await tick();
        g.releaseOpen();
        await tick();
      }
    }
    // Release whatever is still running until the scheduler drains.
    for (let guard = 0; guard < 10 && s.stats().running > 0; guard++) {
      await tick();
      g.releaseOpen();
      await tick();
    }
    await s.idle();
    expect(maxOutstanding).toBeLessThanOrEqual(2);
    expect(g.maxLive).toBe(1);
    expect(g.calls.length).toBeGreaterThanOrEqual(2);
    expect(g.calls.length).toBeLessThanOrEqual(12); // 100 requests → ≈ one refit per released batch, not 100
    expect(g.calls.at(-1)!.seen).toBe(100); // the final refit started after the last rating
    const st = s.stats();
    expect(st).toMatchObject({ requested: 100, running: 0, queued: 0, failed: 0, completed: g.calls.length });
    expect(st.coalesced).toBeGreaterThan(80);
  });

  it('a request during a running refit causes exactly one more refit after it', async () => {
    const g = gatedRefit();
    const s = new RefitScheduler({ refit: g.refit });
    s.request('u1');
    await tick();
    expect(g.calls.length).toBe(1);
    for (let i = 0; i < 5; i++) s.request('u1');
    expect(s.stats()).toMatchObject({ running: 1, queued: 1 });
    g.calls[0]!.release();
    await tick();
    await tick();
    expect(g.calls.length).toBe(2);
    expect(s.stats()).toMatchObject({ running: 1, queued: 0 });
    g.calls[1]!.release();
    await s.idle();
    expect(g.calls.length).toBe(2);
    expect(s.stats()).toMatchObject({ requested: 6, completed: 2, running: 0 });
  });

  it("different people don't block each other", async () => {
    const g = gatedRefit();
    const s = new RefitScheduler({ refit: g.refit });
    s.request('a');
    s.request('b');
    s.request('c');
    await tick();
    // All three run at once although none finished.
    expect(g.calls.map((c) => c.userKey).sort()).toEqual(['a', 'b', 'c']);
    expect(s.stats().running).toBe(3);
    g.calls.find((c) => c.userKey === 'b')!.release();
    await tick();
    expect(s.stats().running).toBe(2);
    for (const c of g.calls) if (c.userKey !== 'b') c.release();
    await s.idle();
    expect(s.stats()).toMatchObject({ completed: 3, running: 0 });
  });

  it('refit errors (async and synchronous) are logged, not thrown, and later refits still run', async () => {
    const logged: unknown[] = [];
    const log = { error: (obj: unknown) => logged.push(obj) } as never;
    let n = 0;
    const s = new RefitScheduler({
      log,
      refit: (userKey) => {
        n++;
        if (n === 1) throw new Error('sync failure'); // not even a promise
        if (n === 2) return Promise.reject(new Error('async failure'));
        return Promise.resolve(void userKey);
      },
    });
    expect(() => s.request('u1')).not.toThrow();
    await s.idle();
    s.request('u1');
    await s.idle();
    s.request('u1');
    await s.idle();
    expect(n).toBe(3);
    expect(s.stats()).toMatchObject({ failed: 2, completed: 1, running: 0 });
    expect(logged.length).toBe(2);
  });

  it('idle() resolves at once when nothing is scheduled and waits for pending reruns otherwise', async () => {
    const g = gatedRefit();
    const s = new RefitScheduler({ refit: g.refit });
    await s.idle();
    s.request('u1');
    await tick();
    s.request('u1');
    let idle = false;
    const p = s.idle().then(() => (idle = true));
    g.calls[0]!.release();
    await tick();
    await tick();
    expect(idle).toBe(false); // the rerun is still open
    g.calls[1]!.release();
    await p;
    expect(idle).toBe(true);
  });

  it("settled(user) waits for that person's running and pending refits only", async () => {
    const g = gatedRefit();
    const s = new RefitScheduler({ refit: g.refit });
    await s.settled('ann'); // nothing scheduled: at once
    s.request('ann');
    s.request('bob');
    await tick();
    s.request('ann'); // a rating while Ann's refit runs → one rerun
    let annSettled = false;
    const p = s.settled('ann').then(() => (annSettled = true));
    const bobDone = s.settled('bob');
    g.calls.find((c) => c.userKey === 'bob')!.release();
    await bobDone; // Bob settles although Ann is still busy
    g.calls.find((c) => c.userKey === 'ann' && c.open)!.release();
    await tick();
    await tick();
    expect(annSettled).toBe(false); // the rerun that sees the last rating is still open
    g.calls.filter((c) => c.userKey === 'ann' && c.open).forEach((c) => c.release());
    await p;
    expect(annSettled).toBe(true);
  });
});

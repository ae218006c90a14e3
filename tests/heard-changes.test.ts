/**
 * The window that gathers people other processes changed. A check may hear someone again while it runs
 * (a person this process is still writing is put back for the next window); that must never start a second
 * timer, overlap two windows or leave the window "being checked" forever — which would stop this process
 * from hearing anyone again and make idle() (shutdown, tests) spin without end.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeardChanges } from '../src/core/heard-changes';
import type { UserKey } from '../src/core/identity';
import { silentLogger } from '../src/log';

const key = (name: string): UserKey => `test:${name}`;

describe('heard changes', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a person heard again during a check is checked in the next window, and later people still are', async () => {
    const checked: string[][] = [];
    let running = 0;
    let overlapped = false;
    let putBack = true;
    const heard: HeardChanges = new HeardChanges(
      10,
      async (people) => {
        running++;
        if (running > 1) overlapped = true;
        checked.push([...people]);
        // The first time, the person is still being written here: put back, synchronously, as the taste service does.
        if (putBack) {
          putBack = false;
          for (const p of people) heard.add(p);
        }
        await Promise.resolve();
        running--;
      },
      silentLogger,
    );
    heard.add(key('a'));
    await vi.advanceTimersByTimeAsync(10);
    await vi.advanceTimersByTimeAsync(10);
    await vi.advanceTimersByTimeAsync(10);
    expect(checked).toEqual([[key('a')], [key('a')]]);
    heard.add(key('b'));
    await vi.advanceTimersByTimeAsync(10);
    expect(checked).toEqual([[key('a')], [key('a')], [key('b')]]);
    expect(overlapped).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    heard.add(key('c'));
    await heard.idle();
    expect(checked.at(-1)).toEqual([key('c')]);
  });

  it('a check that throws at once still ends its window', async () => {
    const checked: string[][] = [];
    let fail = true;
    const heard = new HeardChanges(
      10,
      (people) => {
        checked.push([...people]);
        if (fail) {
          fail = false;
          throw new Error('database went away');
        }
        return Promise.resolve();
      },
      silentLogger,
    );
    heard.add(key('a'));
    await vi.advanceTimersByTimeAsync(10);
    heard.add(key('b'));
    await vi.advanceTimersByTimeAsync(10);
    expect(checked).toEqual([[key('a')], [key('b')]]);
    await heard.idle();
  });
});

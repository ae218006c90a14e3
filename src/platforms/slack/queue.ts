/**
 * Outgoing Slack calls, one ordered queue per channel, so a channel's posts appear in the order they
 * were made. Posts in a channel are paced to about one per second (Slack's chat.postMessage guidance);
 * a 429 pauses that channel for the Retry-After the server asked for, then the same call is tried
 * again, so no post is lost.
 *
 * This is the ONLY layer that retries: the WebClient is built with `rejectRateLimitedCalls: true`
 * and `retries: 0` (see adapter.ts), because a blind retry of a post after a timeout can post twice,
 * while a 429 is Slack's promise that the call was not processed.
 */
import type { Logger } from 'pino';

export type CallKind = 'post' | 'call';

export interface ChannelQueueOptions {
  /** Minimum gap between two posts in one channel (ms). */
  postIntervalMs?: number;
  /** How many 429s in a row one call may meet before it fails. */
  maxRateLimitRetries?: number;
  log?: Logger;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export class ChannelQueue {
  private readonly tails = new Map<string, Promise<unknown>>();
  private readonly nextPostAt = new Map<string, number>();
  private readonly interval: number;
  private readonly maxRetries: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  /** 429s seen (for logs and tests). */
  rateLimited = 0;

  constructor(private readonly opts: ChannelQueueOptions = {}) {
    this.interval = opts.postIntervalMs ?? 1000;
    this.maxRetries = opts.maxRateLimitRetries ?? 5;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = opts.now ?? Date.now;
  }

  /** Runs `fn` after every earlier call queued for `channel`. */
  run<T>(channel: string, kind: CallKind, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(channel) ?? Promise.resolve();
    const result = prev.then(() => this.execute(channel, kind, fn));
    const tail = result.catch(() => undefined);
    this.tails.set(channel, tail);
    void tail.then(() => {
      if (this.tails.get(channel) === tail) this.tails.delete(channel);
    });
    return result;
  }

  /** Resolves when every queued call has settled. */
  async drain(): Promise<void> {
    while (this.tails.size) await Promise.allSettled([...this.tails.values()]);
  }

  private async execute<T>(channel: string, kind: CallKind, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (kind === 'post') {
        const wait = (this.nextPostAt.get(channel) ?? 0) - this.now();
        if (wait > 0) await this.sleep(wait);
      }
      try {
        const out = await fn();
        if (kind === 'post') this.nextPostAt.set(channel, this.now() + this.interval);
        return out;
      } catch (err) {
        const retryAfter = rateLimitDelaySeconds(err);
        if (retryAfter === null || attempt >= this.maxRetries) throw err;
        this.rateLimited++;
        this.opts.log?.warn({ channel, retryAfter, attempt }, 'slack rate limit: pausing this channel as asked');
        // Honor Retry-After exactly (at least a second), for this channel's whole queue.
        await this.sleep(Math.max(1, retryAfter) * 1000);
      }
    }
  }
}

/** Seconds Slack asked us to wait, when `err` is the WebClient's rate-limited error; else null. */
export function rateLimitDelaySeconds(err: unknown): number | null {
  const e = err as { code?: string; retryAfter?: unknown } | null;
  if (e && e.code === 'slack_webapi_rate_limited_error' && typeof e.retryAfter === 'number') return e.retryAfter;
  return null;
}

/**
 * Reaction events are acknowledged before they are applied (gateway events and acked Slack events are
 * never resent), so a passing failure while storing a rating is retried here. The rating ledger is
 * idempotent by event time, so a repeat is harmless; a person's mistake (UserError) is not retried.
 */
import type { Logger } from 'pino';
import { isUserError } from '../core/errors';

export async function withRetries<T>(fn: () => Promise<T>, opts: { attempts?: number; baseDelayMs?: number; log?: Logger; what?: string } = {}): Promise<T> {
  const attempts = opts.attempts ?? 3;
  const base = opts.baseDelayMs ?? 100;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || isUserError(err)) throw err;
      opts.log?.warn({ err, attempt: i }, `${opts.what ?? 'operation'} failed; retrying`);
      await new Promise((r) => setTimeout(r, base * 2 ** (i - 1)));
    }
  }
}

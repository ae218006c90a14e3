/**
 * Reaction events are acknowledged before they are applied (gateway events and acked Slack events are
 * never resent), so a passing failure while storing a rating is retried here. The rating ledger is
 * idempotent by event time, so a repeat is harmless; a person's mistake (UserError) is not retried.
 */
import type { Logger } from 'pino';
import { isForgottenError, isUserError } from '../core/errors';
import type { PersonRef } from '../core/identity';
import type { RatingContext } from '../core/ports';
import type { Services } from '../core/services';

export async function withRetries<T>(
  fn: () => Promise<T>,
  opts: { attempts?: number; baseDelayMs?: number; log?: Logger; what?: string } = {},
): Promise<T> {
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

/**
 * Applies one rating reaction (added or removed) for a person, with the retries above: every chat
 * platform stores a reaction the same way once it knows who, which image and which score.
 *
 * A reaction of a person who asked to be forgotten stores nothing (the core refuses with
 * ForgottenError) and is not answered — a reaction has no private reply on Discord or Slack, and a
 * DM per reaction to someone who asked to be left alone would be worse: it gets one log line without
 * any id, and 'forgotten' tells the platform (e.g. Slack gives its dedupe claim back).
 */
export async function storeReactionRating(
  services: Services,
  r: { kind: 'add' | 'remove'; person: PersonRef; imageId: string; rating: number; ctx: RatingContext; eventTime?: Date },
  opts: { log?: Logger; what: string },
): Promise<'stored' | 'forgotten'> {
  try {
    await withRetries(async () => {
      await services.people.touch(r.person, r.ctx.scopeId);
      if (r.kind === 'add') await services.ratings.rate(r.person, r.imageId, r.rating, r.ctx, r.eventTime);
      else await services.ratings.unrate(r.person, r.imageId, r.rating, r.ctx, r.eventTime);
    }, opts);
    return 'stored';
  } catch (err) {
    if (!isForgottenError(err)) throw err;
    opts.log?.info({ platform: r.person.platform }, `${opts.what} ignored: the person asked to be forgotten`);
    return 'forgotten';
  }
}

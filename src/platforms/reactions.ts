/**
 * The one path from a person's rating gesture to the ledger, for every platform: "person P put (or
 * took back) emoji E on message M at time T" becomes a vote, a run cancel, or nothing.
 *
 *   decode the emoji → look the message up → (platform hook) → cancel a run, or store the vote
 *
 * Platforms differ only at a few points, given as hooks: Discord adopts an unknown message that
 * carries an image attachment (`adoptUnknown`), Slack asks users.info whether the reacting user is a
 * bot (`admit`, only once the message is known: most reactions are on other messages and need no
 * call) and claims the event against Slack's redeliveries (`once`). The playground's buttons send an
 * already-decoded score (`rating`) and set it outright (`kind: 'set'`).
 *
 * Reaction events are acknowledged before they are applied (gateway events and acked Slack events are
 * never resent), so a passing failure while storing is retried here. The ledger is idempotent by
 * event time, so a repeat is harmless; a person's mistake (UserError) is not retried.
 */
import type { Logger } from 'pino';
import { isForgottenError, isUserError } from '../core/errors';
import { userKeyOf, type PersonRef } from '../core/identity';
import type { RatingContext } from '../core/records';
import type { Services } from '../core/services';
import { emojiToRating, isCancelEmoji, type EmojiInput } from './emoji';

/** A message the bot knows, as `services.messages.lookup` answers. */
export type KnownMessage = NonNullable<Awaited<ReturnType<Services['messages']['lookup']>>>;

export interface RatingGesture {
  /** add / remove: a reaction put on or taken off. set: this score is now the person's only vote on the image (null clears). */
  kind: 'add' | 'remove' | 'set';
  person: PersonRef;
  /** Platform the message lives on ("discord", "slack", "playground"): the lookup key and the rating's source. */
  platform: string;
  messageId: string;
  /** Where the gesture happened; defaults to the channel the message was recorded in. */
  channelId?: string;
  /** Guild / Slack team / playground scope. */
  scopeId?: string;
  /** The reaction as the platform sent it (Unicode or Slack short name); decoded here. */
  emoji?: string | EmojiInput;
  /** An already-decoded score 1..10, used when there is no `emoji` (for 'set', null clears). */
  rating?: number | null;
  /** When the person acted (the ledger orders votes by it). */
  eventTime?: Date;
}

export interface GestureHooks {
  /** The message is not recorded and the gesture is a rating: may record it and say what it is (Discord attachments). */
  adoptUnknown?(): Promise<KnownMessage | undefined>;
  /** The message is known: false ignores the gesture (Slack: the reacting user is another app's bot). */
  admit?(known: KnownMessage): Promise<boolean>;
  /**
   * Exactly-once guard around the effect (Slack's event dedupe): `claim` false = already applied;
   * `release` gives the claim back when the effect failed or stored nothing that may be kept (a
   * forgotten person leaves no dedupe row naming them).
   */
  once?: { claim(): Promise<boolean>; release(): Promise<void> };
}

export interface GestureOptions {
  log?: Logger;
  /** For log lines, e.g. "rating from a Discord reaction". */
  what: string;
  /** Tries to store a vote (default 3; 1 = no retry). */
  attempts?: number;
  baseDelayMs?: number;
  hooks?: GestureHooks;
}

/**
 * What became of a gesture, so the platform can react (count a duplicate, answer a button click):
 * - not-a-rating: the emoji is neither a rating nor the cancel emoji (on add)
 * - unknown-message: the bot did not record the message (nor could adopt it)
 * - ignored: a hook refused it (e.g. a bot user)
 * - duplicate: the exactly-once claim was taken already
 * - cancelled: the cancel emoji on a run header; the run's cancel was asked for
 * - not-cancellable: the cancel emoji on a message that is not a run header
 * - no-image: a rating on a message that carries no image
 * - stored: the vote is in the ledger
 * - forgotten: the person asked to be forgotten; nothing stored
 */
export type GestureOutcome =
  'not-a-rating' | 'unknown-message' | 'ignored' | 'duplicate' | 'cancelled' | 'not-cancellable' | 'no-image' | 'stored' | 'forgotten';

/** Applies one rating gesture: see the module comment for the steps and GestureHooks for the platform's part. */
export async function applyRatingGesture(services: Services, g: RatingGesture, opts: GestureOptions): Promise<GestureOutcome> {
  const rating = g.emoji !== undefined ? emojiToRating(g.emoji) : (g.rating ?? null);
  const cancel = g.kind === 'add' && g.emoji !== undefined && isCancelEmoji(g.emoji);
  if (rating === null && !cancel && g.kind !== 'set') return 'not-a-rating';
  const hooks = opts.hooks ?? {};
  // By message id from the database, not a client cache: works for old messages and after restarts.
  let known = await services.messages.lookup(g.platform, g.messageId);
  if (!known && rating !== null && hooks.adoptUnknown) known = await hooks.adoptUnknown();
  if (!known) return 'unknown-message';
  if (hooks.admit && !(await hooks.admit(known))) return 'ignored';
  const once = hooks.once;
  if (once && !(await once.claim())) return 'duplicate';
  try {
    const outcome = await applyToKnown(services, g, known, rating, cancel, opts);
    if (outcome === 'forgotten') await once?.release().catch(() => {});
    return outcome;
  } catch (err) {
    // Give the claim back: a redelivery (or a later reconcile) can still apply it.
    await once?.release().catch(() => {});
    throw err;
  }
}

async function applyToKnown(
  services: Services,
  g: RatingGesture,
  known: KnownMessage,
  rating: number | null,
  cancel: boolean,
  opts: GestureOptions,
): Promise<GestureOutcome> {
  if (cancel) {
    if (known.kind !== 'header' || !known.runId) return 'not-cancellable';
    await services.runs.cancel(userKeyOf(g.person), known.runId);
    return 'cancelled';
  }
  if (!known.imageId) return 'no-image';
  const ctx: RatingContext = { source: g.platform, scopeId: g.scopeId, channelId: g.channelId ?? known.channelId, messageId: g.messageId };
  const kind = g.kind;
  if (kind === 'set')
    return storeVote(services, { kind, person: g.person, imageId: known.imageId, rating, ctx, eventTime: g.eventTime }, opts);
  if (rating === null) return 'not-a-rating';
  return storeReactionRating(services, { kind, person: g.person, imageId: known.imageId, rating, ctx, eventTime: g.eventTime }, opts);
}

/** Runs `fn`, trying again with a doubling delay after a failure that is not the person's mistake. */
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
 * Stores one rating reaction (added or removed) for a person, with retries: the last step of
 * applyRatingGesture, once it knows who, which image and which score.
 *
 * A reaction of a person who asked to be forgotten stores nothing (the core refuses with
 * ForgottenError) and is not answered — a reaction has no private reply on Discord or Slack, and a
 * DM per reaction to someone who asked to be left alone would be worse: it gets one log line without
 * any id, and 'forgotten' tells the platform (e.g. Slack gives its dedupe claim back).
 */
export async function storeReactionRating(
  services: Services,
  r: { kind: 'add' | 'remove'; person: PersonRef; imageId: string; rating: number; ctx: RatingContext; eventTime?: Date },
  opts: { log?: Logger; what: string; attempts?: number; baseDelayMs?: number },
): Promise<'stored' | 'forgotten'> {
  return storeVote(services, r, opts);
}

export type Vote =
  | { kind: 'add' | 'remove'; person: PersonRef; imageId: string; rating: number; ctx: RatingContext; eventTime?: Date }
  | { kind: 'set'; person: PersonRef; imageId: string; rating: number | null; ctx: RatingContext; eventTime?: Date };

export async function storeVote(
  services: Services,
  v: Vote,
  opts: { log?: Logger; what: string; attempts?: number; baseDelayMs?: number },
): Promise<'stored' | 'forgotten'> {
  try {
    await withRetries(async () => {
      if (v.kind === 'set') await setVote(services, v);
      else if (v.kind === 'add') await services.ratings.rate(v.person, v.imageId, v.rating, v.ctx, v.eventTime);
      else await services.ratings.unrate(v.person, v.imageId, v.rating, v.ctx, v.eventTime);
    }, opts);
    return 'stored';
  } catch (err) {
    if (!isForgottenError(err)) throw err;
    opts.log?.info({ platform: v.person.platform }, `${opts.what} ignored: the person asked to be forgotten`);
    return 'forgotten';
  }
}

/**
 * Setting score s at time t = add vote s at t and take back, at t, the person's other votes standing
 * on the image as read from the ledger; clearing = take back all of them at t.
 */
async function setVote(services: Services, v: Extract<Vote, { kind: 'set' }>): Promise<void> {
  const standing = await services.ratings.standing(v.person, v.imageId);
  if (v.rating !== null) await services.ratings.rate(v.person, v.imageId, v.rating, v.ctx, v.eventTime);
  for (const s of new Set(standing)) if (s !== v.rating) await services.ratings.unrate(v.person, v.imageId, s, v.ctx, v.eventTime);
}

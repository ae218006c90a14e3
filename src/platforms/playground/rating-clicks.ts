/**
 * The page's 1–10 buttons: a click is a rating gesture like a Discord or Slack reaction, applied by
 * the one shared path (../reactions.ts) — the message is looked up, the vote stored with retries, a
 * forgotten person's click stores nothing. What is the playground's own: a click *sets* the rating
 * (kind 'set': the person's other standing votes on the image are taken back, as the ledger holds
 * them; null clears them all), its event time is stamped here, one person's clicks are applied in the
 * order they arrived, and the buttons of every message of the image then show the click.
 */
import { ForgottenError } from '../../core/errors';
import { applyRatingGesture } from '../reactions';
import { PLATFORM, PLAYGROUND_SCOPE, personFor, type PlaygroundContext } from './context';
import { HttpError } from './security';
import { visibleTo } from './state';

/** Sets (score) or clears (null) a person's rating on a message; resolves to the click's event time. */
export type RateClick = (userId: string, messageId: string, score: number | null) => Promise<{ at: number }>;

export function createRatingClicks(ctx: Pick<PlaygroundContext, 'services' | 'log' | 'clock' | 'state'>): RateClick {
  const { services, log, clock, state } = ctx;
  // Click event times: strictly increasing, so two clicks never share a time (the ledger would take the second for a duplicate).
  let lastStamp = 0;
  const stamp = () => (lastStamp = Math.max(clock(), lastStamp + 1));
  /** person|image → event time of the click the page shows (the newest applied: the ledger's own rule). */
  const shownClick = new Map<string, number>();
  /** person → the tail of their clicks being applied. */
  const turns = new Map<string, Promise<unknown>>();

  /** Runs `fn` after every earlier click of the same person has been applied. */
  function inTurn<T>(userId: string, fn: () => Promise<T>): Promise<T> {
    const prev = turns.get(userId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    turns.set(userId, tail);
    void tail.then(() => {
      if (turns.get(userId) === tail) turns.delete(userId);
    });
    return run;
  }

  /** The buttons show each person's latest click on every message of the image (what the ledger holds). */
  function showRating(userId: string, imageId: string, score: number | null, at: number): void {
    const key = `${userId}|${imageId}`;
    if ((shownClick.get(key) ?? -Infinity) >= at) return; // a newer click already shows
    shownClick.set(key, at);
    for (const m of state.messages.values()) {
      if (m.imageId !== imageId || !m.rateable || m.ratings[userId] === (score ?? undefined)) continue;
      const ratings = { ...m.ratings };
      if (score === null) delete ratings[userId];
      else ratings[userId] = score;
      state.updateMessage(m.id, { ratings }, false);
    }
  }

  /**
   * One person's clicks are applied one after another in the order they arrived (their event times
   * are stamped in that order), as a chat platform delivers one person's reactions in order: each
   * click reads the votes its predecessors left, so concurrent clicks end as the latest one says.
   */
  return async (userId, messageId, score) => {
    const person = personFor(userId);
    const m = state.messages.get(messageId);
    if (m && !visibleTo(m, person.userId)) throw new HttpError(404, 'no such message');
    const at = stamp();
    return inTurn(person.userId, async () => {
      // The image as the database recorded it: found even if this process lost the message.
      let imageId: string | undefined;
      const outcome = await applyRatingGesture(
        services,
        { kind: 'set', person, platform: PLATFORM, messageId, scopeId: PLAYGROUND_SCOPE, rating: score, eventTime: new Date(at) },
        {
          log,
          what: 'rating click in the playground',
          // Every click is admitted; this is where the shared path says which image the message shows.
          hooks: {
            admit: (known) => {
              imageId = known.imageId ?? undefined;
              return Promise.resolve(true);
            },
          },
        },
      );
      if (outcome === 'unknown-message') throw new HttpError(404, 'no such message');
      if (outcome === 'no-image') throw new HttpError(400, 'That message has no image to rate.');
      // The page answers a click (unlike a reaction): the person is told why nothing was stored.
      if (outcome === 'forgotten') throw new ForgottenError();
      if (outcome !== 'stored' || !imageId) throw new Error(`unexpected outcome of a rating click: ${outcome}`);
      showRating(person.userId, imageId, score, at);
      return { at };
    });
  };
}

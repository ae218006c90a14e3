/**
 * The rules of rating votes, as pure functions (no I/O). The ledger applies the same rules in SQL, in
 * one statement under a per-(person, image) lock (tasteloop_apply_vote, migrations/0006), so a rating
 * costs one round trip; these functions serve the in-memory ledger of the tests, and the property test
 * of tests/ratings.test.ts holds the database's rules to the same reference model.
 *
 * A person may leave several rating reactions on one image; each (person, image, score) is one vote
 * that is present or absent (a tombstone). Delivery is at-least-once and unordered, so an event is
 * applied only if it is newer than the last event seen for that vote: duplicates are no-ops, and a
 * stale add that arrives after a remove cannot bring the vote back. The effective rating is the
 * present vote with the newest event time ("latest remaining wins").
 */

export type VoteKind = 'add' | 'remove';

export interface Vote {
  score: number;
  present: boolean;
  eventTime: Date;
}

export interface VoteEvent {
  kind: VoteKind;
  score: number;
  eventTime: Date;
}

export interface VoteOutcome<V extends Vote> {
  /** false = duplicate or stale: nothing is written. */
  applied: boolean;
  /** The vote as it must be stored when applied (also a tombstone for a remove of an unseen vote). */
  vote: Vote;
  /** The vote before the event (undefined = never seen). */
  previous: V | undefined;
  /** Effective vote before and after the event. */
  before: V | Vote | undefined;
  after: V | Vote | undefined;
  /** Applied and visible: the vote appeared/disappeared or the effective score moved. */
  changed: boolean;
}

/** The present vote with the newest event time; equal times resolve to the higher score so the outcome never depends on row order. */
export function effectiveVote<V extends Vote>(votes: readonly V[]): V | undefined {
  let best: V | undefined;
  for (const v of votes) {
    if (!v.present) continue;
    if (!best) best = v;
    else {
      const dt = v.eventTime.getTime() - best.eventTime.getTime();
      if (dt > 0 || (dt === 0 && v.score > best.score)) best = v;
    }
  }
  return best;
}

/** Applies one event to the votes of one (person, image). `votes` holds at most one entry per score. */
export function applyVoteEvent<V extends Vote>(votes: readonly V[], event: VoteEvent): VoteOutcome<V> {
  const previous = votes.find((v) => v.score === event.score);
  const before = effectiveVote(votes);
  const vote: Vote = { score: event.score, present: event.kind === 'add', eventTime: event.eventTime };
  // Strictly newer only: an equal time is a duplicate (or an unordered twin we cannot tell apart), first one wins.
  const applied = !previous || event.eventTime.getTime() > previous.eventTime.getTime();
  if (!applied) return { applied, vote, previous, before, after: before, changed: false };
  const next: (V | Vote)[] = votes.filter((v) => v.score !== event.score);
  next.push(vote);
  const after = effectiveVote(next);
  const presenceMoved = (previous?.present ?? false) !== vote.present;
  const changed = presenceMoved || before?.score !== after?.score;
  return { applied, vote, previous, before, after, changed };
}

export function isValidScore(score: unknown): score is number {
  return typeof score === 'number' && Number.isInteger(score) && score >= 1 && score <= 10;
}

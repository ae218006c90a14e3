/**
 * Reconciling a rateable message's reactions with the rating ledger, after the bot was away.
 *
 * Why: reaction events are delivered live only. Discord replays missed events only on RESUME (a few
 * minutes); after a restart or a long outage the bot starts a new session and the reactions people
 * added or removed meanwhile never arrive. Slack retries an event three times within about an hour.
 * So at (re)connect each platform reads the reactions of its recent rateable messages over REST and
 * hands them here; this module turns "who shows which score on this message now" into the rate/unrate
 * calls the live path would have made.
 *
 * Rules (pure `planReconcile`):
 *  - add a vote the message shows that the ledger has no standing vote for (for that person, image and
 *    score: a vote already standing — from this message or another one showing the same image — is left
 *    alone, so re-observing it never makes it the "newest" vote);
 *  - remove a standing vote whose latest event came from THIS message of this platform but that the
 *    message no longer shows (a vote from another message, the playground or an import is not this
 *    message's to remove).
 * Every call carries the snapshot time as its event time, taken before the platform was asked: a live
 * event that happened after the snapshot has a later time and wins in the ledger (whichever is applied
 * first), and an event from before it is already visible in the snapshot.
 */
import { isForgottenError } from './errors';
import { userKeyOf, parseUserKey, type PersonRef, type UserKey } from './identity';
import type { RatingContext } from './records';

/** What a message shows for one person: the rating reactions they currently have on it. */
export interface ObservedVotes {
  person: PersonRef;
  scores: ReadonlySet<number>;
}

/** A vote the ledger holds as standing (present) for the image. */
export interface StandingVote {
  userKey: UserKey;
  score: number;
  source: string;
  messageId: string | null;
}

export interface ReconcilePlan {
  add: { person: PersonRef; score: number }[];
  remove: { person: PersonRef; score: number }[];
}

export function planReconcile(
  observed: readonly ObservedVotes[],
  standing: readonly StandingVote[],
  where: { platform: string; messageId: string },
): ReconcilePlan {
  const standingKeys = new Set(standing.map((v) => `${v.userKey}|${v.score}`));
  const shown = new Set<string>();
  const add: ReconcilePlan['add'] = [];
  for (const o of observed) {
    const key = userKeyOf(o.person);
    for (const score of [...o.scores].sort((a, b) => a - b)) {
      shown.add(`${key}|${score}`);
      if (!standingKeys.has(`${key}|${score}`)) add.push({ person: o.person, score });
    }
  }
  const remove: ReconcilePlan['remove'] = [];
  for (const v of standing) {
    if (v.source !== where.platform || v.messageId !== where.messageId) continue;
    if (!shown.has(`${v.userKey}|${v.score}`)) remove.push({ person: parseUserKey(v.userKey), score: v.score });
  }
  return { add, remove };
}

export interface ReconcileMessageInput {
  platform: string;
  messageId: string;
  channelId: string;
  scopeId?: string;
  imageId: string;
  /** When the platform was asked (before the request): the event time of every change made. */
  observedAt: Date;
  observed: readonly ObservedVotes[];
}

export interface ReconcileLedgerPort {
  standingVotes(imageId: string): Promise<StandingVote[]>;
  rate(person: PersonRef, imageId: string, score: number, ctx: RatingContext, eventTime: Date): Promise<{ changed: boolean }>;
  unrate(person: PersonRef, imageId: string, score: number, ctx: RatingContext, eventTime: Date): Promise<{ changed: boolean }>;
}

/** Applies the plan; counts only the calls that changed the ledger (a newer live event may win). */
export async function reconcileMessage(ledger: ReconcileLedgerPort, m: ReconcileMessageInput): Promise<{ added: number; removed: number }> {
  const plan = planReconcile(m.observed, await ledger.standingVotes(m.imageId), m);
  const ctx: RatingContext = { source: m.platform, scopeId: m.scopeId, channelId: m.channelId, messageId: m.messageId };
  let added = 0;
  let removed = 0;
  // A person who asked to be forgotten is skipped (nothing stored); everyone else is still applied.
  const changed = (p: Promise<{ changed: boolean }>) =>
    p.then(
      (r) => r.changed,
      (err: unknown) => {
        if (isForgottenError(err)) return false;
        throw err;
      },
    );
  for (const a of plan.add) if (await changed(ledger.rate(a.person, m.imageId, a.score, ctx, m.observedAt))) added++;
  for (const r of plan.remove) if (await changed(ledger.unrate(r.person, m.imageId, r.score, ctx, m.observedAt))) removed++;
  return { added, removed };
}

/**
 * Ratings as platforms give them: by person (platform + user id), not by user key. Every vote, given or
 * taken back, also records the person and the scope, in the ledger's own statement (as touchPerson
 * does, under the same lock and tombstone check), so a forgotten person stores nothing (ForgottenError)
 * and a rating costs one round trip. The reaction read-back after downtime applies
 * its differences through the same two functions, so a live vote and one found later are stored alike.
 */
import { userKeyOf } from './identity';
import type { RatingLedger } from './ratings';
import { reconcileMessage } from './reaction-sync';
import type { Services } from './services';

export type PersonRatings = Services['ratings'];

export function createPersonRatings(ledger: RatingLedger): PersonRatings {
  const rate: PersonRatings['rate'] = (person, imageId, score, ctx, eventTime) =>
    ledger.rate({ userKey: userKeyOf(person), person, imageId, score, eventTime, ctx });
  const unrate: PersonRatings['unrate'] = (person, imageId, score, ctx, eventTime) =>
    ledger.unrate({ userKey: userKeyOf(person), person, imageId, score, eventTime, ctx });
  return {
    rate,
    unrate,
    standing: async (person, imageId) => {
      const userKey = userKeyOf(person);
      return (await ledger.standingVotes(imageId)).filter((v) => v.userKey === userKey).map((v) => v.score);
    },
    count: (userKey) => ledger.count(userKey),
    reconcile: (m) => reconcileMessage({ standingVotes: (imageId) => ledger.standingVotes(imageId), rate, unrate }, m),
  };
}

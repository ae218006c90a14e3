/**
 * Ratings as platforms give them: by person (platform + user id), not by user key. A new vote records
 * the person first (so a forgotten person stores nothing: touchPerson throws ForgottenError); taking a
 * vote back needs no record of them. The reaction read-back after downtime applies its differences
 * through the same two functions, so a vote from a live reaction and one found later are stored alike.
 */
import type { Db } from '../db/connection';
import { userKeyOf } from './identity';
import { touchPerson } from './people';
import type { RatingLedger } from './ratings';
import { reconcileMessage } from './reaction-sync';
import type { Services } from './services';

export type PersonRatings = Services['ratings'];

export function createPersonRatings(db: Db, ledger: RatingLedger): PersonRatings {
  const rate: PersonRatings['rate'] = async (person, imageId, score, ctx, eventTime) => {
    const userKey = await touchPerson(db, person, ctx.scopeId);
    return ledger.rate({ userKey, imageId, score, eventTime, ctx });
  };
  const unrate: PersonRatings['unrate'] = (person, imageId, score, ctx, eventTime) =>
    ledger.unrate({ userKey: userKeyOf(person), imageId, score, eventTime, ctx });
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

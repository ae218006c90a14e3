/**
 * Ratings as platforms give them: by person (platform + user id), not by user key. Every vote, given or
 * taken back, records the person and the scope first, so a forgotten person stores nothing (touchPerson
 * throws ForgottenError before the ledger sees the vote). The reaction read-back after downtime applies
 * its differences through the same two functions, so a live vote and one found later are stored alike.
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
  const unrate: PersonRatings['unrate'] = async (person, imageId, score, ctx, eventTime) => {
    const userKey = await touchPerson(db, person, ctx.scopeId);
    return ledger.unrate({ userKey, imageId, score, eventTime, ctx });
  };
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

/**
 * What a pick control does, the same on every platform (each only decodes its click): the person's
 * pick of one image of an offer (/rate mode:pick), stored through core/picks.ts — idempotent (picking
 * again on the same message replaces the pick) and nothing stored for a forgotten person — then
 * acknowledged privately. A control carries the offer id and the tile's number, never a client index.
 */
import type { PickOutcome, PickRequest } from '../core/picks';
import type { Services } from '../core/services';

/** The numbers a pick message offers, as button labels: "1" … "4". */
export const pickNumbers = (count: number) => Array.from({ length: count }, (_, i) => i + 1);

const OFFER_ID = /^[0-9a-f-]{36}$/;

/** Stores the pick; 'gone' for an offer id or number that is not one of the bot's. */
export async function pickImage(services: Services, req: PickRequest): Promise<PickOutcome> {
  if (!services.picks || !OFFER_ID.test(req.offerId) || !Number.isInteger(req.number) || req.number < 1) return { kind: 'gone' };
  return services.picks.pick(req);
}

/** The words a pick is answered with (privately). */
export function pickReply(outcome: PickOutcome): string {
  if (outcome.kind === 'stored')
    return `You picked ${outcome.number}. Thanks — your taste model learns from it (it counts as liking ${outcome.number} more than each of the others).`;
  if (outcome.kind === 'forgotten') return 'You asked me to forget you, so I stored nothing. Use /privacy to change that.';
  return 'Those images are gone, so there is nothing to pick.';
}

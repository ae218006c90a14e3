/**
 * The page's pick buttons (POST /api/pick {messageId, number}): the person's pick of one image of a
 * /rate mode:pick message. What a pick means is in ../pick-actions.ts; here only the click is checked
 * (a visible pick message with that many images) and answered, privately: the answer goes only to the
 * browser that clicked.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pickImage, pickReply } from '../pick-actions';
import { PLATFORM, PLAYGROUND_SCOPE, personFor, type PlaygroundContext } from './context';
import { json } from './responses';
import { HttpError, readJsonObject, type Session } from './security';
import { visibleTo } from './state';

export async function pickRoute(
  ctx: Pick<PlaygroundContext, 'services' | 'state'>,
  req: IncomingMessage,
  res: ServerResponse,
  session: Session,
): Promise<void> {
  const { messageId, number } = await readJsonObject(req, ['messageId', 'number']);
  if (typeof messageId !== 'string' || typeof number !== 'number' || !Number.isInteger(number))
    throw new HttpError(400, 'messageId must be a string and number a whole number');
  const m = ctx.state.messages.get(messageId);
  if (!m || m.removed || !visibleTo(m, session.person) || !m.pick) throw new HttpError(404, 'no such pick message');
  if (number < 1 || number > m.pick.imageIds.length) throw new HttpError(400, `number must be 1–${m.pick.imageIds.length}`);
  const request = { offerId: m.pick.offerId, number, person: personFor(session.person), scopeId: PLAYGROUND_SCOPE, source: PLATFORM };
  const outcome = await pickImage(ctx.services, request);
  json(res, outcome.kind === 'stored' ? 200 : 400, { ok: outcome.kind === 'stored', text: pickReply(outcome) });
}

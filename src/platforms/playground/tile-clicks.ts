/**
 * The page's per-tile buttons of a run grid (POST /api/tile {messageId, imageId, choice}): a rating
 * (r1…r10), "more" (a new /optimize run from the tile's prompt, typed for the person through the same
 * command path as the command box: its echo, checks and replies) or "big" (the image full size in
 * the run's thread). The shared meaning of each is in ../tile-actions.ts; here only the click is
 * checked (a visible grid message that shows that image) and answered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isUserError } from '../../core/errors';
import { describeFailure } from '../dispatch';
import { parseTileChoice, postBigger, rateTile, tilePrompt, tileRatingAnswer } from '../tile-actions';
import type { CommandHandler } from './commands-handler';
import { PLATFORM, PLAYGROUND_SCOPE, personFor, type PlaygroundContext } from './context';
import { json } from './responses';
import { HttpError, readJsonObject, type Session } from './security';
import { visibleTo } from './state';

type TileContext = Pick<PlaygroundContext, 'services' | 'log' | 'state' | 'conversation'> & { command: CommandHandler };

export async function tileRoute(ctx: TileContext, req: IncomingMessage, res: ServerResponse, session: Session): Promise<void> {
  const body = await readJsonObject(req, ['messageId', 'imageId', 'choice']);
  const { messageId, imageId, choice } = body;
  if (typeof messageId !== 'string' || typeof imageId !== 'string' || typeof choice !== 'string')
    throw new HttpError(400, 'messageId, imageId and choice must be strings');
  const action = parseTileChoice(choice);
  if (!action) throw new HttpError(400, 'choice must be r1…r10, "more" or "big"');
  const m = ctx.state.messages.get(messageId);
  if (!m || m.removed || !visibleTo(m, session.person) || !m.grid?.tiles.some((t) => t.imageId === imageId))
    throw new HttpError(404, 'no such tile');
  const person = personFor(session.person);
  try {
    if (action.kind === 'rate') {
      const outcome = await rateTile(
        ctx.services,
        { person, platform: PLATFORM, scopeId: PLAYGROUND_SCOPE, channelId: m.conversationId, messageId, imageId, score: action.score },
        ctx.log,
      );
      return json(res, outcome === 'stored' ? 200 : 400, {
        ok: outcome === 'stored',
        text: await tileRatingAnswer(ctx.services, person, outcome, action.score),
      });
    }
    if (action.kind === 'bigger') {
      await postBigger(ctx.services, ctx.conversation(m.conversationId, ''), imageId, m.runId);
      return json(res, 200, { ok: true });
    }
    // Quotes inside the prompt would end the quoted value: the prompt keeps its words, with ’ for ".
    const prompt = (await tilePrompt(ctx.services, imageId)).replace(/["“”]/g, '’');
    const outcome = await ctx.command(session.person, `/optimize prompt:"${prompt}"`);
    return outcome.accepted ? json(res, 200, { ok: true }) : json(res, 422, { ok: false, error: outcome.error });
  } catch (err) {
    if (err instanceof HttpError || !isUserError(err)) throw err;
    return json(res, 400, { error: describeFailure(err, ctx.log).text });
  }
}

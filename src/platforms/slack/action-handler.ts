/**
 * Block Kit actions on run messages (grid-blocks.ts): a tile's menu — rate (stored through the shared
 * rating path, answered privately), bigger (the image full size in the thread), more like this (the
 * tile's prompt as an /optimize slash command of the person who clicked: the same path, checks,
 * quotas and replies as typing it, deduplicated by the click's trigger_id) — and a summary's Details
 * button (the run's measures, privately). Acked at once; the work is tracked like a command's.
 */
import type { App, BlockAction, SlashCommand } from '@slack/bolt';
import type { PersonRef } from '../../core/identity';
import { describeFailure } from '../dispatch';
import { parseTileChoice, postBigger, rateTile, runDetails, tilePrompt, tileRatingAnswer } from '../tile-actions';
import type { CommandHandler } from './commands-handler';
import { PLATFORM, type SlackContext } from './context';
import { DETAILS_ACTION_ID, parseTileValue, PICK_ACTION_ID, TILE_ACTION_ID } from './grid-blocks';
import { pickImage, pickReply } from '../pick-actions';
import { slackMessageId, toSlackText } from './text';

type Respond = (msg: { response_type: 'ephemeral'; text: string; replace_original?: boolean }) => Promise<unknown>;

interface Click {
  person: PersonRef;
  teamId: string;
  channel: string;
  /** The message the control is on, and its thread (the run's). */
  ts: string;
  threadTs: string | undefined;
  triggerId: string;
  respond: Respond;
}

function clickOf(body: BlockAction, respond: Respond): Click | undefined {
  const teamId = body.team?.id ?? body.user.team_id;
  const channel = body.channel?.id ?? (body.container as { channel_id?: string }).channel_id;
  const message = body.message as { ts?: string; thread_ts?: string } | undefined;
  if (!teamId || !channel || !message?.ts) return undefined;
  const person: PersonRef = {
    platform: PLATFORM,
    workspaceId: teamId,
    userId: body.user.id,
    displayName: body.user.username ?? body.user.name,
  };
  return { person, teamId, channel, ts: message.ts, threadTs: message.thread_ts, triggerId: body.trigger_id, respond };
}

export function registerRunActions(ctx: SlackContext, a: App, onCommand: CommandHandler): void {
  const answer = (click: Click, text: string) =>
    click.respond({ response_type: 'ephemeral', replace_original: false, text: toSlackText(text) }).then(() => undefined);
  const tracked = (what: string, body: BlockAction, respond: Respond, work: (click: Click) => Promise<void>) => {
    const click = clickOf(body, respond);
    if (!click || ctx.state.stopping) return;
    ctx.track(what, async () => {
      try {
        await work(click);
      } catch (err) {
        await answer(click, describeFailure(err, ctx.log, { platform: PLATFORM, action: what }).text).catch(() => undefined);
      } finally {
        ctx.stats.events++;
      }
    });
  };

  a.action<BlockAction>(TILE_ACTION_ID, async ({ ack, body, action, respond }) => {
    await ack();
    const value = parseTileValue((action as { selected_option?: { value?: string } }).selected_option?.value ?? '');
    const choice = value && parseTileChoice(value.choice);
    if (!value || !choice) return;
    tracked('tile action', body, respond, async (click) => {
      if (choice.kind === 'rate') {
        const outcome = await rateTile(
          ctx.services,
          {
            person: click.person,
            platform: PLATFORM,
            scopeId: click.teamId,
            channelId: click.channel,
            messageId: slackMessageId(click.channel, click.ts),
            imageId: value.imageId,
            score: choice.score,
          },
          ctx.log,
        );
        return answer(click, await tileRatingAnswer(ctx.services, click.person, outcome, choice.score));
      }
      if (choice.kind === 'bigger') {
        const runId = (await ctx.services.messages.lookup(PLATFORM, slackMessageId(click.channel, click.ts)))?.runId ?? undefined;
        const thread = ctx.conversation(click.channel, click.threadTs ?? click.ts, click.teamId, 'the run’s thread');
        return void (await postBigger(ctx.services, thread, value.imageId, runId));
      }
      const prompt = (await tilePrompt(ctx.services, value.imageId)).replace(/["“”]/g, '’');
      // As if the person typed it in the channel of the run: the slash command path does the rest.
      const command = {
        command: '/optimize',
        text: `prompt:"${prompt}"`,
        team_id: click.teamId,
        user_id: click.person.userId,
        user_name: click.person.displayName ?? click.person.userId,
        channel_id: click.channel,
        trigger_id: click.triggerId,
      } as SlashCommand;
      await onCommand(command, (r) => (r ? answer(click, r.text) : Promise.resolve()), click.respond);
    });
  });

  a.action<BlockAction>({ action_id: PICK_ACTION_ID }, async ({ ack, body, action, respond }) => {
    await ack();
    const [offerId, number] = ((action as { value?: string }).value ?? '').split('|');
    if (!offerId || !number) return;
    tracked('pick', body, respond, async (click) => {
      const request = { offerId, number: Number(number), person: click.person, scopeId: click.teamId, source: PLATFORM };
      await answer(click, pickReply(await pickImage(ctx.services, request)));
    });
  });

  a.action<BlockAction>(DETAILS_ACTION_ID, async ({ ack, body, action, respond }) => {
    await ack();
    const runId = (action as { value?: string }).value;
    if (!runId) return;
    tracked('details', body, respond, async (click) => answer(click, await runDetails(ctx.services, runId)));
  });
}

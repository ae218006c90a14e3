/**
 * Clicks on run messages' components (components.ts): a tile's select menu — rate (stored through the
 * shared rating path, answered privately), bigger (the image full size in the thread), more like this
 * (/optimize with the tile's prompt through the slash command's own path, in the channel the run's
 * thread belongs to) — and a summary's Details button (the run's measures, privately). Everything a
 * click needs comes from its custom_id and the interaction; nothing from a client cache.
 */
import { MessageFlags, Routes, type MessageComponentInteraction } from 'discord.js';
import { describeFailure } from '../dispatch';
import { pickImage, pickReply } from '../pick-actions';
import { parseTileChoice, postBigger, rateTile, runDetails, tilePrompt, tileRatingAnswer } from '../tile-actions';
import { runCommandInteraction } from './commands-handler';
import { parseCustomId } from './components';
import { NO_MENTIONS, PLATFORM, personOf, type DiscordContext } from './context';

export function createComponentHandler(ctx: DiscordContext): (i: MessageComponentInteraction) => Promise<void> {
  const { services, log } = ctx;
  const answer = (i: MessageComponentInteraction, content: string) => i.editReply({ content, allowedMentions: NO_MENTIONS });

  return async function onComponent(i) {
    const target = parseCustomId(i.customId);
    if (!target) return;
    const choice = 'tile' in target && i.isStringSelectMenu() ? parseTileChoice(i.values[0] ?? '') : null;
    if ('tile' in target && i.isStringSelectMenu() && choice?.kind === 'more') {
      const prompt = await tilePrompt(services, target.tile).catch(() => null);
      // A run's thread cannot hold another thread: the new run opens in the channel the thread belongs to.
      const channelId = await parentChannel(ctx, i.channelId);
      return runCommandInteraction(ctx, i, { name: 'optimize', raw: prompt ? { prompt } : {}, channelId });
    }
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    try {
      if ('details' in target) return void (await answer(i, await runDetails(services, target.details)));
      if ('pick' in target) {
        const request = { offerId: target.pick, number: target.number, person: personOf(i.user), scopeId: i.guildId ?? undefined };
        return void (await answer(i, pickReply(await pickImage(services, { ...request, source: PLATFORM }))));
      }
      if (!choice) return void (await answer(i, 'Pick one of the menu’s choices.'));
      const imageId = target.tile;
      if (choice.kind === 'rate') {
        const outcome = await rateTile(
          services,
          {
            person: personOf(i.user),
            platform: PLATFORM,
            scopeId: i.guildId ?? undefined,
            channelId: i.channelId,
            messageId: i.message.id,
            imageId,
            score: choice.score,
            eventTime: new Date(i.createdTimestamp),
          },
          log,
        );
        return void (await answer(i, await tileRatingAnswer(services, personOf(i.user), outcome, choice.score)));
      }
      const runId = (await services.messages.lookup(PLATFORM, i.message.id))?.runId ?? undefined;
      await postBigger(services, ctx.conversation(i.channelId, i.guildId ?? undefined), imageId, runId);
      await answer(i, '🔍 Posted full size in the thread.');
    } catch (err) {
      await answer(i, describeFailure(err, log, { platform: PLATFORM, customId: i.customId }).text).catch(() => undefined);
    }
  };
}

/** The channel a thread belongs to (the channel itself when it is not a thread), read over REST. */
async function parentChannel(ctx: DiscordContext, channelId: string): Promise<string> {
  const ch = (await ctx.client.rest.get(Routes.channel(channelId)).catch(() => null)) as {
    parent_id?: string | null;
    type?: number;
  } | null;
  // 10, 11, 12: announcement, public and private threads.
  return ch && [10, 11, 12].includes(ch.type ?? -1) && ch.parent_id ? ch.parent_id : channelId;
}

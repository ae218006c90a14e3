/**
 * A slash command interaction → the shared command dispatcher. It acknowledges first (Discord's
 * 3-second rule), then answers through the interaction webhook only while its token is surely alive
 * (< 13 of 15 minutes); after that public answers go to the channel with the bot token.
 */
import {
  ChannelType,
  MessageFlags,
  Routes,
  type ChatInputCommandInteraction,
  type InteractionReplyOptions,
  type RepliableInteraction,
} from 'discord.js';
import { findCommand } from '../../../commands/index';
import type { CommandInvocation, OutMessage, ReplyOptions } from '../../../commands/kit/types';
import type { RawOptions } from '../../../commands/options';
import { dispatchCommand } from '../dispatch';
import { NO_MENTIONS, PLATFORM, personOf, type DiscordContext } from './context';

/** The interaction token lives 15 minutes; stop using it well before. */
export const WEBHOOK_CUTOFF_MS = 13 * 60 * 1000;

export function createCommandHandler(ctx: DiscordContext): (i: ChatInputCommandInteraction) => Promise<void> {
  return (i) => runCommandInteraction(ctx, i, { name: i.commandName, raw: rawOptions(i), channelId: i.channelId });
}

/**
 * Runs command `name` for an interaction: a slash command, or a run grid tile's "More like this"
 * (component-handler.ts) — the same acknowledgement, checks, replies and thread as typing it.
 * `channelId` is where the command counts as typed (a tile in a run's thread: the thread's channel).
 */
export async function runCommandInteraction(
  ctx: DiscordContext,
  i: RepliableInteraction,
  command: { name: string; raw: RawOptions; channelId: string },
): Promise<void> {
  const { client, services, log, runDisplay, conversation } = ctx;
  const receivedAt = ctx.clock();
  const def = findCommand(command.name);
  // Acknowledge before any work (the 3-second rule): database latency must not cost the answer.
  const deferredEphemeral = def ? Boolean(def.private) : true;
  let acked = false;
  try {
    await i.deferReply(deferredEphemeral ? { flags: MessageFlags.Ephemeral } : {});
    acked = true;
  } catch (err) {
    log.warn({ err, command: command.name }, 'could not acknowledge an interaction');
  }
  const base: CommandInvocation = {
    platform: PLATFORM,
    person: personOf(i.user),
    scopeId: i.guildId ?? undefined,
    channel: conversation(command.channelId, i.guildId ?? undefined),
    invocationId: i.id,
    services,
    log,
    reply: interactionReplier(ctx, i, command, { acked, deferredEphemeral, receivedAt }),
    runDisplay,
    defer: async () => {},
    openThread: async (title) => {
      const t = (await client.rest.post(Routes.threads(command.channelId), {
        body: { name: title.slice(0, 100), type: ChannelType.PublicThread, auto_archive_duration: 1440 },
      })) as { id: string };
      return conversation(t.id, i.guildId ?? undefined);
    },
  };
  await dispatchCommand(command.name, command.raw, base);
}

/** Answers one interaction: the first reply fills the deferred answer, later ones follow up. */
function interactionReplier(
  ctx: DiscordContext,
  i: RepliableInteraction,
  command: { name: string; channelId: string },
  state: { acked: boolean; deferredEphemeral: boolean; receivedAt: number },
): (msg: OutMessage, ro?: ReplyOptions) => Promise<void> {
  const { log } = ctx;
  const channel = ctx.conversation(command.channelId, i.guildId ?? undefined);
  const webhookAlive = () => ctx.clock() - state.receivedAt < WEBHOOK_CUTOFF_MS;
  let originalFilled = false;
  return async (msg, ro) => {
    const ephemeral = Boolean(ro?.ephemeral);
    if (!state.acked || !webhookAlive()) {
      // The interaction token is (nearly) expired: public answers go to the channel with the bot
      // token; private ones cannot be delivered privately any more, so they are only logged.
      if (ephemeral) return void log.info({ command: command.name }, 'dropped a private reply: interaction token expired');
      await channel.post(msg);
      return;
    }
    const { body, files } = await ctx.messageBody(msg);
    const payload: InteractionReplyOptions = {
      content: body.content as string,
      allowedMentions: NO_MENTIONS,
      files: files?.map((f) => ({ attachment: f.data as Buffer, name: f.name })),
    };
    if (!originalFilled) {
      originalFilled = true;
      if (ephemeral && !state.deferredEphemeral) {
        // A public "thinking…" cannot turn private: remove it and answer privately.
        await i.deleteReply().catch(() => undefined);
        await i.followUp({ ...payload, flags: MessageFlags.Ephemeral });
      } else {
        await i.editReply({ content: payload.content, allowedMentions: NO_MENTIONS, files: payload.files });
      }
      return;
    }
    await i.followUp({ ...payload, flags: ephemeral ? MessageFlags.Ephemeral : undefined });
  };
}

function rawOptions(i: ChatInputCommandInteraction): RawOptions {
  const raw: RawOptions = {};
  // Option names reach the handler by name, exactly as declared in commands/.
  for (const o of i.options.data) {
    if (o.user) raw[o.name] = personOf(o.user);
    else if (o.value !== undefined) raw[o.name] = o.value;
  }
  return raw;
}

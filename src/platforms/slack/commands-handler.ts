/**
 * A slash command → the shared command dispatcher. The command is checked before the ack, so an
 * unknown command or a mistake in its options is answered in the ack itself, privately; the work
 * runs after the ack (Slack's 3-second rule), once per trigger_id even when Slack redelivers it.
 */
import type { SlashCommand } from '@slack/bolt';
import type { CommandInvocation, OutMessage, ReplyOptions } from '../../../commands/kit/types';
import { parseOptionText, type RawOptions } from '../../../commands/options';
import { userKeyOf, type PersonRef } from '../../core/identity';
import { describeFailure, dispatchCommand, prepareCommand } from '../dispatch';
import { PLATFORM, type SlackContext } from './context';
import { decodeSlackEntities, parseUserMention, toSlackText } from './text';

type Ack = (response?: { response_type: 'ephemeral'; text: string }) => Promise<void>;
type Respond = (msg: { response_type: 'ephemeral'; text: string }) => Promise<unknown>;

export type CommandHandler = (command: SlashCommand, ack: Ack, respond: Respond) => Promise<void>;

export function createCommandHandler(ctx: SlackContext): CommandHandler {
  const { log, stats } = ctx;
  return async function onCommand(command, ack, respond) {
    // `/tl-rate` or `/tasteloop-rate` also work, for workspaces where another app owns `/rate`.
    const name = command.command.replace(/^\//, '').replace(/^(?:tasteloop|tl)[-_]/, '');
    // Identity and workspace come from the verified request, never from the command text.
    const person: PersonRef = { platform: PLATFORM, workspaceId: command.team_id, userId: command.user_id, displayName: command.user_name };
    let raw: RawOptions;
    try {
      // Pure: an unknown command or a mistake in its options is answered in the ack itself, privately.
      raw = prepareCommand(
        name,
        (def) => decodeStrings(parseOptionText(def, command.text ?? '', (v) => parseUserMention(v, command.team_id))),
        command.command,
      );
    } catch (err) {
      await ack({ response_type: 'ephemeral', text: toSlackText(describeFailure(err, log, { command: name }).text) });
      stats.commands++;
      return;
    }
    await ack();
    if (ctx.state.stopping) return;
    ctx.track(`/${name}`, async () => {
      try {
        await runCommand(ctx, name, raw, command, person, respond);
      } finally {
        stats.commands++;
      }
    });
  };
}

async function runCommand(
  ctx: SlackContext,
  name: string,
  raw: RawOptions,
  command: SlashCommand,
  person: PersonRef,
  respond: Respond,
): Promise<void> {
  const { claimer, queue, web } = ctx;
  // A redelivered command (same trigger) must not run twice.
  if (!(await claimer.claim(`slack:cmd:${command.trigger_id}`, userKeyOf(person)))) return void ctx.stats.duplicates++;
  const base: CommandInvocation = {
    platform: PLATFORM,
    person,
    scopeId: command.team_id,
    channel: ctx.conversation(command.channel_id, undefined, command.team_id),
    invocationId: command.trigger_id,
    services: ctx.services,
    log: ctx.log,
    reply: commandReplier(ctx, command, respond),
    runDisplay: ctx.runDisplay,
    defer: async () => {},
    openThread: async (title) => {
      // A thread in Slack is a parent message; its ts is the thread id.
      const parent = await queue.run(command.channel_id, 'post', () =>
        web.chat.postMessage({
          channel: command.channel_id,
          text: toSlackText(title),
          link_names: false,
          unfurl_links: false,
          unfurl_media: false,
        }),
      );
      if (!parent.ts) throw new Error('chat.postMessage returned no ts');
      return ctx.conversation(command.channel_id, parent.ts, command.team_id, `the thread “${title.replace(/[“”]/g, '')}”`);
    },
  };
  // A forgotten person leaves no dedupe row behind (it names them).
  if ((await dispatchCommand(name, raw, base)) === 'forgotten') await claimer.release(`slack:cmd:${command.trigger_id}`).catch(() => {});
}

/** Public answers go to the channel; private ones as an ephemeral message (or through response_url), their files by DM. */
function commandReplier(ctx: SlackContext, command: SlashCommand, respond: Respond): (msg: OutMessage, ro?: ReplyOptions) => Promise<void> {
  const { queue, web, log } = ctx;
  const channel = ctx.conversation(command.channel_id, undefined, command.team_id);
  return async (msg, ro) => {
    if (!ro?.ephemeral) return void (await channel.post(msg));
    // Slack cannot attach files to ephemeral messages: private answers carry their text only.
    const text = toSlackText(msg.text);
    try {
      await queue.run(command.channel_id, 'post', () =>
        web.chat.postEphemeral({ channel: command.channel_id, user: command.user_id, text }),
      );
    } catch (err) {
      // Not a member of that conversation (a DM, a private channel): the command's response_url still works.
      log.debug({ err }, 'chat.postEphemeral failed; answering through response_url');
      await respond({ response_type: 'ephemeral', text });
    }
    if (msg.files?.length) {
      // Files cannot be ephemeral in Slack: private ones (charts, a data export) go to a direct message.
      try {
        const im = await queue.run('conversations.open', 'call', () => web.conversations.open({ users: command.user_id }));
        if (!im.channel?.id) throw new Error('conversations.open returned no channel');
        await ctx.uploadFiles(im.channel.id, undefined, msg.files, 'Your files from Tasteloop (only you can see this conversation).');
      } catch (err) {
        log.warn({ err }, 'could not send private files by direct message');
      }
    }
  };
}

/** String option values arrive with Slack's entity escaping; people meant the characters. */
function decodeStrings(raw: RawOptions): RawOptions {
  const out: RawOptions = {};
  for (const [k, v] of Object.entries(raw)) out[k] = typeof v === 'string' ? decodeSlackEntities(v) : v;
  return out;
}

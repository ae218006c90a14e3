/**
 * Commands typed in the playground page: "/rate count:3" is parsed into the shared command's options
 * and run through the same dispatcher as Discord's and Slack's, as the person who typed it, in the
 * playground's one channel. The answers become messages in the state (private ones only for that
 * person), and a run opens a thread under the command's echo.
 */
import type { OutMessage, ReplyOptions } from '../../../commands/kit/types';
import { findCommand } from '../../../commands/index';
import { parseOptionText, type RawOptions } from '../../../commands/options';
import { CommandInputError, isUserError } from '../../core/errors';
import type { PersonRef } from '../../core/identity';
import { commandsTotal } from '../../prometheus-metrics';
import { describeFailure, dispatchCommand, prepareCommand } from '../dispatch';
import { BOT, PLATFORM, PLAYGROUND_SCOPE, personFor, type PlaygroundContext } from './context';
import { storeFiles } from './conversations';
import { ignoreForgotten, isForgotten } from './forget';
import { CHANNEL_ID, type PlaygroundMessage } from './state';

/** Longest command text taken (Slack's limit for a message; the longest option, a prompt, is far shorter). */
export const MAX_COMMAND_CHARS = 4000;

/** What became of a command: `accepted` = it ran (its handler may still have answered with a refusal). */
export interface CommandOutcome {
  accepted: boolean;
  /** Why it was refused before running (also shown privately in the page). */
  error?: string;
}

/** Runs a command as `userId` from text like "/rate count:3". */
export type CommandHandler = (userId: string, text: string) => Promise<CommandOutcome>;

export function createCommandHandler(ctx: PlaygroundContext): CommandHandler {
  const { services, log, state } = ctx;
  let invocations = 0;

  /**
   * Parses and checks the command before anything is stored: a refused command (unknown, bad
   * options, too long) leaves no trace — no echo in the channel, nothing in the state file or the
   * database — and is answered privately with a transient message.
   */
  function prepare(person: PersonRef, trimmed: string): { name: string; raw: RawOptions } | { refused: string } {
    const match = /^\/?([a-z]+)\s*([\s\S]*)$/i.exec(trimmed);
    const name = match?.[1]?.toLowerCase() ?? '';
    try {
      if (trimmed.length > MAX_COMMAND_CHARS)
        throw new CommandInputError(`A command is at most ${MAX_COMMAND_CHARS} characters (got ${trimmed.length}).`);
      const raw = prepareCommand(
        name,
        (def) => parseOptionText(def, match?.[2] ?? '', (v) => (v.trim() ? personFor(v.replace(/^@/, '')) : undefined)),
        trimmed,
      );
      return { name, raw };
    } catch (err) {
      if (findCommand(name))
        commandsTotal.inc({ platform: PLATFORM, command: findCommand(name)!.name, outcome: isUserError(err) ? 'user_error' : 'error' });
      const msg = describeFailure(err, log, { platform: PLATFORM });
      state.addMessage(
        { conversationId: CHANNEL_ID, author: BOT, text: msg.text, rateable: false, kind: msg.kind, ephemeralFor: person.userId },
        { transient: true },
      );
      return { refused: msg.text };
    }
  }

  /** The invocation's answers, as messages in the channel (`ephemeral` ones only for the person). */
  async function answer(person: PersonRef, msg: OutMessage, ephemeral: boolean): Promise<void> {
    state.addMessage(
      {
        conversationId: CHANNEL_ID,
        author: BOT,
        text: msg.text,
        imageId: msg.image?.imageId,
        rateable: Boolean(msg.image?.rateable),
        kind: msg.kind,
        runId: msg.runId,
        ephemeralFor: ephemeral ? person.userId : undefined,
        ...(msg.idempotencyKey && !ephemeral ? { eventKey: msg.idempotencyKey } : {}),
        ...(await storeFiles(ctx.files, msg.files)),
      },
      { transient: await isForgotten(services, person) },
    );
  }

  async function run(person: PersonRef, echo: PlaygroundMessage, name: string, raw: RawOptions, invocationId: string): Promise<void> {
    let deferredEphemeral = false;
    // Everyone who acts here is in the playground's one "server" (what /compare and group runs check).
    await services.people.touch(person, PLAYGROUND_SCOPE).catch(ignoreForgotten);
    await dispatchCommand(name, raw, {
      platform: 'playground' as const,
      person,
      scopeId: PLAYGROUND_SCOPE,
      channel: ctx.channel,
      invocationId,
      services,
      log,
      reply: (msg: OutMessage, ro?: ReplyOptions) => answer(person, msg, ro?.ephemeral ?? deferredEphemeral),
      runDisplay: ctx.runDisplay,
      defer: (o?: ReplyOptions) => {
        deferredEphemeral = Boolean(o?.ephemeral);
        return Promise.resolve();
      },
      openThread: (title: string) => {
        const t = state.addThread(echo.id, title);
        state.updateMessage(echo.id, { threadId: t.id }, false);
        return Promise.resolve(ctx.conversation(t.id, `the thread “${title}”`));
      },
    });
  }

  return async (userId, text) => {
    const person = personFor(userId);
    const trimmed = text.trim();
    const prepared = prepare(person, trimmed);
    if ('refused' in prepared) return { accepted: false, error: prepared.refused };
    const invocationId = `pg${++invocations}-${ctx.clock().toString(36)}`;
    // A person who asked to be forgotten: their command and its answers are shown, never written (forget.ts).
    const echo = state.addMessage(
      { conversationId: CHANNEL_ID, author: { id: person.userId, name: person.displayName!, bot: false }, text: trimmed, rateable: false },
      { transient: await isForgotten(services, person) },
    );
    await run(person, echo, prepared.name, prepared.raw, invocationId);
    return { accepted: true };
  };
}

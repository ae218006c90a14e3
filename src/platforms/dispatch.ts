/**
 * Runs a command for any platform: finds it (or answers with the one "unknown command" reply),
 * checks its options against the declaration, completes the platform's invocation into the command's
 * context (how the platform writes mentions, how a run is shown), calls the handler, and turns
 * failures into replies — a UserError privately and verbatim, anything else as a short message with
 * a reference id while the details go to the log. A person who asked to be forgotten gets the one
 * ForgottenError reply from whichever core entry point refused to store for them.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { COMMANDS, findCommand } from '../../commands/index';
import type { CommandContext, CommandInvocation, CommandOptions, OutMessage } from '../../commands/kit/types';
import { validateOptions, type RawOptions } from '../../commands/options';
import type { CommandDefinition } from '../../commands/types';
import { CommandInputError, isForgottenError, isUserError } from '../core/errors';
import { commandsTotal } from '../prometheus-metrics';
import { MENTION_STYLES } from './mention-styles';
import { startRunInThread } from './run-presenter';
import { PLATFORM_SURFACES } from './surfaces';

/** How a command ended: 'forgotten' = the person asked to be forgotten and nothing was stored. */
export type CommandOutcome = 'ok' | 'user_error' | 'forgotten' | 'error';

/** Options prepareCommand already checked, with the command they were checked for: not checked twice. */
const checked = new WeakMap<RawOptions, CommandDefinition>();

/**
 * For adapters that must refuse a command before acknowledging it (Slack answers in the ack itself,
 * the playground refuses without leaving a trace): the command `name`, with its options read from
 * the platform's text by `read` and checked. Throws CommandInputError — the unknown-command reply
 * (`typed` is how the person wrote the command) or the option's mistake. Hand the result to
 * dispatchCommand, which does not check it again.
 */
export function prepareCommand(name: string, read: (def: CommandDefinition) => RawOptions, typed = `/${name}`): CommandOptions {
  const def = findCommand(name);
  if (!def) throw unknownCommand(name, typed);
  const options = validateOptions(def, read(def));
  checked.set(options, def);
  return options;
}

export async function dispatchCommand(name: string, raw: RawOptions, base: CommandInvocation): Promise<CommandOutcome> {
  const def = findCommand(name);
  // Only declared names become label values: a typo cannot grow the metric's series.
  const command = def ? def.name : 'unknown';
  try {
    if (!def) throw unknownCommand(name);
    const ctx: CommandContext = {
      ...base,
      options: checked.get(raw) === def ? raw : validateOptions(def, raw),
      mentions: MENTION_STYLES[base.platform],
      surface: PLATFORM_SURFACES[base.platform],
      startRun: (request, threadTitle) =>
        startRunInThread({
          services: base.services,
          log: base.log,
          openThread: () => base.openThread(threadTitle),
          notify: (msg) => base.reply(msg),
          display: base.runDisplay,
          request,
        }),
    };
    await def.execute(ctx);
    commandsTotal.inc({ platform: base.platform, command, outcome: 'ok' });
    return 'ok';
  } catch (err) {
    commandsTotal.inc({ platform: base.platform, command, outcome: isUserError(err) ? 'user_error' : 'error' });
    const msg = describeFailure(err, base.log, { command: name, platform: base.platform, invocationId: base.invocationId });
    await base
      .reply(msg, { ephemeral: true })
      .catch((replyErr: unknown) => base.log.error({ err: replyErr }, 'could not send the error reply'));
    return isForgottenError(err) ? 'forgotten' : isUserError(err) ? 'user_error' : 'error';
  }
}

/** A message that is not a command at all: a friendly pointer, not a warning. */
class PlainTextError extends CommandInputError {}

/** The answer to a plain message (no slash) that is not a command: where to start. */
export const PLAIN_TEXT_REPLY =
  '👋 I answer commands, not chat messages. Type /help to see what I can do, or start with /rate to rate a few images.';

/**
 * The one reply to a command this bot does not have, on every platform: the closest command when
 * one is near (a typo), and /help. `typed` is how the person wrote it (Slack: `/tl-rat`; the
 * playground passes the whole text, so a message without a slash gets the plain-text answer).
 */
export function unknownCommand(name: string, typed = `/${name}`): CommandInputError {
  const text = typed.trim();
  if (!text.startsWith('/')) return new PlainTextError(PLAIN_TEXT_REPLY);
  const word = (text.slice(1).split(/\s/)[0] ?? '').slice(0, 40);
  const shown = /^[\w-]+$/.test(word) ? `/${word}` : `“${word}”`;
  const near = closestCommand(name);
  return new CommandInputError(`I don't know ${shown}.${near ? ` Did you mean /${near}?` : ''} Try /help for the list of commands.`);
}

/** The declared command a mistyped name most likely meant: a prefix of it, or a few letters off. */
function closestCommand(name: string): string | undefined {
  const word = name.trim().toLowerCase();
  if (!word) return undefined;
  let best: { name: string; distance: number } | undefined;
  for (const c of COMMANDS) {
    const distance = word.length >= 2 && c.name.startsWith(word) ? 0 : editDistance(word, c.name);
    const near = distance <= Math.max(1, Math.floor(c.name.length / 3));
    if (near && (!best || distance < best.distance)) best = { name: c.name, distance };
  }
  return best?.name;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swapped neighbours. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The private message for a failure; unexpected ones are logged with a reference id people can quote. */
export function describeFailure(err: unknown, log: Logger, context: Record<string, unknown> = {}): OutMessage {
  // Not a mistake to warn about: the person's own choice, said in the same words everywhere.
  if (isForgottenError(err)) return { kind: 'info', text: err.message };
  if (err instanceof PlainTextError) return { kind: 'info', text: err.message };
  if (isUserError(err)) return { kind: 'info', text: `⚠️ ${err.message}` };
  const referenceId = newReferenceId();
  log.error({ err, referenceId, ...context }, 'command failed unexpectedly');
  return {
    kind: 'info',
    text: `😵 Something went wrong on my side. If it keeps happening, tell an admin the reference **${referenceId}**.`,
  };
}

export function newReferenceId(): string {
  return `E-${randomBytes(4).toString('hex').toUpperCase()}`;
}

/**
 * Runs a command for any platform: validates options against the declaration, calls the handler,
 * and turns failures into replies — a UserError privately and verbatim, anything else as a short
 * message with a reference id while the details go to the log.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { findCommand } from '../../commands/index';
import { validateOptions, type RawOptions } from '../../commands/options';
import { CommandInputError, isUserError } from '../core/errors';
import type { CommandContext, OutMessage } from './types';
import { commandsTotal } from '../metrics';

export type CommandInvocation = Omit<CommandContext, 'options'>;

export async function dispatchCommand(name: string, raw: RawOptions, base: CommandInvocation): Promise<void> {
  const def = findCommand(name);
  // Only declared names become label values: a typo cannot grow the metric's series.
  const command = def ? def.name : 'unknown';
  try {
    if (!def) throw new CommandInputError(`I don't know /${name}. Try /help.`);
    const ctx: CommandContext = { ...base, options: validateOptions(def, raw) };
    await def.execute(ctx);
    commandsTotal.inc({ platform: base.platform, command, outcome: 'ok' });
  } catch (err) {
    commandsTotal.inc({ platform: base.platform, command, outcome: isUserError(err) ? 'user_error' : 'error' });
    const msg = describeFailure(err, base.log, { command: name, platform: base.platform, invocationId: base.invocationId });
    await base.reply(msg, { ephemeral: true }).catch((replyErr: unknown) => base.log.error({ err: replyErr }, 'could not send the error reply'));
  }
}

/** The private message for a failure; unexpected ones are logged with a reference id people can quote. */
export function describeFailure(err: unknown, log: Logger, context: Record<string, unknown> = {}): OutMessage {
  if (isUserError(err)) return { kind: 'info', text: `⚠️ ${err.message}` };
  const referenceId = newReferenceId();
  log.error({ err, referenceId, ...context }, 'command failed unexpectedly');
  return { kind: 'info', text: `😵 Something went wrong on my side. If it keeps happening, tell an admin the reference **${referenceId}**.` };
}

export function newReferenceId(): string {
  return `E-${randomBytes(4).toString('hex').toUpperCase()}`;
}

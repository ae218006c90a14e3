/**
 * Runs a command for any platform: validates options against the declaration, calls the handler,
 * and turns failures into replies — a UserError privately and verbatim, anything else as a short
 * message with a reference id while the details go to the log. A person who asked to be forgotten
 * gets the one ForgottenError reply from whichever core entry point refused to store for them.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { findCommand } from '../../commands/index';
import { validateOptions, type RawOptions } from '../../commands/options';
import { CommandInputError, isForgottenError, isUserError } from '../core/errors';
import type { CommandContext, OutMessage } from './types';
import { commandsTotal } from '../metrics';

export type CommandInvocation = Omit<CommandContext, 'options'>;

/** How a command ended: 'forgotten' = the person asked to be forgotten and nothing was stored. */
export type CommandOutcome = 'ok' | 'user_error' | 'forgotten' | 'error';

export async function dispatchCommand(name: string, raw: RawOptions, base: CommandInvocation): Promise<CommandOutcome> {
  const def = findCommand(name);
  // Only declared names become label values: a typo cannot grow the metric's series.
  const command = def ? def.name : 'unknown';
  try {
    if (!def) throw new CommandInputError(`I don't know /${name}. Try /help.`);
    const ctx: CommandContext = { ...base, options: validateOptions(def, raw) };
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

/** The private message for a failure; unexpected ones are logged with a reference id people can quote. */
export function describeFailure(err: unknown, log: Logger, context: Record<string, unknown> = {}): OutMessage {
  // Not a mistake to warn about: the person's own choice, said in the same words everywhere.
  if (isForgottenError(err)) return { kind: 'info', text: err.message };
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

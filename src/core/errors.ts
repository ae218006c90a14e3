/**
 * Typed errors of the core. `UserError`s are a person's mistake (or a limit they hit): the platform
 * edge shows their message privately. Anything else is unexpected and gets a reference id.
 */
export class TasteloopError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A problem the person can fix; its message is safe and friendly to show them. */
export class UserError extends TasteloopError {}

export class InvalidScoreError extends UserError {
  constructor(score: unknown) {
    super(`A rating must be a whole number from 1 to 10 (got ${JSON.stringify(score)}).`);
  }
}
export class UnknownImageError extends UserError {
  constructor(public readonly imageId: string) {
    super(`I don't know an image with id ${imageId.slice(0, 16)}…; rate one of the images I posted.`);
  }
}
export class UnknownUserError extends UserError {
  constructor(public readonly userId: string) {
    super(`I have no ratings from that person yet. Use /rate to get started.`);
  }
}
export class InvalidImageError extends UserError {
  constructor(reason: string) {
    super(`That file can't be used as an image: ${reason}`);
  }
}
export class InvalidPromptError extends UserError {}
export class LimitReachedError extends UserError {}
export class NotAllowedError extends UserError {}
export class CommandInputError extends UserError {
  constructor(
    message: string,
    public readonly usage?: string,
  ) {
    super(usage ? `${message}\nUsage: ${usage}` : message);
  }
}

/** Vectors of one embedding model fed to a scorer of another: never mixed. */
export class EmbeddingModelMismatchError extends TasteloopError {
  constructor(expected: string, got: string) {
    super(`Embedding model mismatch: scorer uses "${expected}" but got a vector from "${got}".`);
  }
}
export class ModelNotFoundError extends TasteloopError {}
export class ProviderError extends TasteloopError {
  constructor(
    public readonly provider: string,
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(`${provider}: ${message}`, options);
    this.status = options?.status;
  }
  status: number | undefined;
}
export class ProviderTimeoutError extends ProviderError {
  constructor(provider: string, ms: number) {
    super(provider, `no answer within ${ms} ms (timed out); try again later or raise the timeout setting`);
  }
}
export class QuotaExceededError extends ProviderError {}
export class CancelledError extends TasteloopError {
  constructor(message = 'cancelled') {
    super(message);
  }
}

/**
 * The person asked Tasteloop to forget them (/privacy action:forget): nothing from them is stored
 * until they opt back in. Thrown by every core entry point that would store something for them
 * (people.touch, ratings, runs, profiles, export); the platform edge answers with this one private
 * message. It carries no key or id: it may be logged as it is.
 */
export class ForgottenError extends UserError {
  static readonly MESSAGE =
    'You asked Tasteloop to forget you, so it stores nothing from you. Use `/privacy action:resume` to start again.';
  constructor() {
    super(ForgottenError.MESSAGE);
  }
}

export function isForgottenError(err: unknown): err is ForgottenError {
  return err instanceof ForgottenError;
}

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}

/**
 * A channel a run was to be shown in cannot take the bot's posts at all (deleted, archived, or the bot
 * lacks the permission): retrying would fail the same way, so the run is given up instead.
 */
export class ChannelUnavailableError extends TasteloopError {}

/** An evaluation dataset (e.g. the SAC release) that is missing, unreadable or not shaped as expected. */
export class DatasetError extends TasteloopError {}

/** An embedding that cannot be scored (non-finite values): a bug upstream, never the person's fault. */
export class InvalidEmbeddingError extends TasteloopError {}

/**
 * Someone else's taste profile cannot be seen or used from here. ONE fixed wording whatever the
 * reason (no such person, not opted in, not in this server/workspace, forgotten): a refusal must
 * never reveal whether the other person has a profile. The core marks which of the people asked
 * for were refused (`refusedKeys`); the command then names them — only people the asker named
 * themselves, in the words they wrote — with `names`.
 */
export class ProfileNotAvailableError extends NotAllowedError {
  static readonly MESSAGE =
    "I can't show or use that taste profile here. People can let others see and use their profile with `/privacy share:on`, and only in a server or workspace you are both in.";
  /** User keys of the people refused, when the request named several. */
  readonly refusedKeys: readonly string[] | undefined;
  /** How the asker wrote the refused people, when the message names them. */
  readonly names: readonly string[] | undefined;
  constructor(opts: { refusedKeys?: readonly string[]; names?: readonly string[] } = {}) {
    super(opts.names?.length ? ProfileNotAvailableError.naming(opts.names) : ProfileNotAvailableError.MESSAGE);
    this.refusedKeys = opts.refusedKeys;
    this.names = opts.names;
  }

  /** The refusal naming people: the same words for every reason, whoever they are. */
  static naming(names: readonly string[]): string {
    const list = names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names.at(-1)!}`;
    const whose = names.length === 1 ? 'the taste profile' : 'the taste profiles';
    return `I can't show or use ${whose} of ${list} here. People can let others see and use their profile with \`/privacy share:on\`, and only in a server or workspace you are both in.`;
  }
}

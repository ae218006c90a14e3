/**
 * Structured logging (pino). Secrets never reach the log; every path goes through src/redact.ts:
 *  - `formatters.log` / `formatters.bindings`: every logged object and every child binding is walked by
 *    structure (secret-named keys at any depth, Errors with their own properties, causes, request,
 *    response, config, headers, data, body) and by shape (token-looking strings, URLs);
 *  - `serializers.err`: an `err` that reaches pino some other way is serialized the same way;
 *  - `hooks.logMethod`: message strings and interpolation arguments are masked, and `log.error(err)`
 *    gets the redacted `err.message` as its message (pino would copy the raw one);
 *  - `hooks.streamWrite`: the finished JSON line is masked once more by shape, and every secret value
 *    configured in the environment (tokens, keys, URL passwords) is masked wherever it appears.
 */
import pino, { type Logger } from 'pino';
import { isErrorLike, maskValues, redactDeep, redactSecrets, secretsFromEnv } from './redact';

export interface LoggerOptions {
  /** Exact values to mask wherever they appear (default: the secrets configured in `env`). */
  secrets?: readonly string[];
  /** Where configured secrets are read from (default process.env). */
  env?: Record<string, string | undefined>;
}

function cleanArgs(args: unknown[]): unknown[] {
  const out = args.map((a, i) => (typeof a === 'string' ? redactSecrets(a) : i === 0 ? a : redactDeep(a)));
  // log.error(err) / log.error({ err }): pino would use the raw err.message as the message.
  const first = args[0];
  if (out.length === 1 && typeof first === 'object' && first !== null && (first as { msg?: unknown }).msg === undefined) {
    const err = isErrorLike(first) ? first : isErrorLike((first as { err?: unknown }).err) ? (first as { err: Error }).err : undefined;
    if (err && typeof err.message === 'string') out.push(redactSecrets(err.message));
  }
  return out;
}

export function createLogger(
  level: string = process.env.LOG_LEVEL ?? 'info',
  destination?: pino.DestinationStream,
  opts: LoggerOptions = {},
): Logger {
  const known = [...(opts.secrets ?? []), ...secretsFromEnv(opts.env ?? process.env)];
  return pino(
    {
      level,
      base: { app: 'tasteloop' },
      formatters: {
        log: (obj) => redactDeep(obj) as Record<string, unknown>,
        bindings: (bindings) => redactDeep(bindings) as pino.Bindings,
      },
      hooks: {
        logMethod(args, method) {
          return method.apply(this, cleanArgs(args) as Parameters<typeof method>);
        },
        streamWrite: (line) => maskValues(redactSecrets(line), known),
      },
      serializers: {
        // formatters.log has already turned errors into redacted objects; this covers child bindings.
        err: (err: unknown) => redactDeep(err),
      },
    },
    destination,
  );
}

export type { Logger };
export const silentLogger: Logger = pino({ level: 'silent' });

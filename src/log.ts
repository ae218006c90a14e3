/**
 * Structured logging (pino). Secrets never reach the log: known secret fields are redacted by
 * path, and any string that looks like a token is masked by the serializer as a second line of defence.
 */
import pino, { type Logger } from 'pino';

const TOKEN_PATTERNS: RegExp[] = [
  /sk-[A-Za-z0-9_-]{16,}/g, // OpenAI
  /xox[abprs]-[0-9A-Za-z-]{10,}/g, // Slack bot/user tokens
  /xapp-[0-9A-Za-z-]{10,}/g, // Slack app tokens
  /r8_[A-Za-z0-9]{16,}/g, // Replicate
  /[MN][A-Za-z0-9_-]{23,}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}/g, // Discord bot token
  /(postgres(?:ql)?:\/\/[^:\s/]+:)[^@\s]+@/g, // password in a connection string
];

export function redactSecrets(text: string): string {
  let out = text;
  for (const re of TOKEN_PATTERNS) {
    out = out.replace(re, (m, prefix?: string) => (typeof prefix === 'string' && m.startsWith(prefix) ? `${prefix}[redacted]@` : '[redacted]'));
  }
  return out;
}

const SECRET_KEYS = ['token', 'apiKey', 'api_key', 'authorization', 'Authorization', 'password', 'secret'];
const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`), '*.apiKey', '*.api_key', '*.authorization', '*.Authorization', '*.password',
  '*.DISCORD_TOKEN', '*.SLACK_BOT_TOKEN', '*.SLACK_SIGNING_SECRET', '*.SLACK_APP_TOKEN',
  '*.OPENAI_API_KEY', '*.REPLICATE_API_TOKEN', '*.DATABASE_URL',
  'headers.authorization', 'req.headers.authorization',
];

function deepRedact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => deepRedact(v, depth + 1));
  if (value instanceof Error) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = deepRedact(v, depth + 1);
  return out;
}

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'tasteloop' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: {
        // Deep-mask token-shaped strings in every logged field, whatever its name.
        log: (obj) => deepRedact(obj) as Record<string, unknown>,
      },
      hooks: {
        // Mask token-shaped substrings in every message string.
        logMethod(args, method) {
          const cleaned = args.map((a) => (typeof a === 'string' ? redactSecrets(a) : a)) as Parameters<typeof method>;
          return method.apply(this, cleaned);
        },
      },
      serializers: {
        err: (err: unknown) => {
          const s = pino.stdSerializers.err(err as Error);
          if (s && typeof s.message === 'string') s.message = redactSecrets(s.message);
          if (s && typeof s.stack === 'string') s.stack = redactSecrets(s.stack);
          return s;
        },
      },
    },
    destination,
  );
}

export type { Logger };
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * The one place that reads the environment. Everything else receives a typed Config.
 * All problems are reported together, each naming the variable and what was expected,
 * so an operator fixes a bad deployment in one pass.
 */
import { z } from 'zod';
import path from 'node:path';
import { redactSecrets, redactUrl } from './redact';
import { discordShardProblems, gatewayNumberSchema, shardCountSchema, shardIdsSchema } from './discord-shard-config';

const onOff = z.enum(['on', 'off']);
/** A yes/no switch written the ways people (and the Hugging Face tools) write it; empty = the default. */
const flag = (def: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const s = v?.trim().toLowerCase();
      if (s === undefined || s === '') return def;
      if (['1', 'on', 'true', 'yes'].includes(s)) return true;
      if (['0', 'off', 'false', 'no'].includes(s)) return false;
      ctx.addIssue({ code: 'custom', message: 'expected 1/0, on/off or true/false' });
      return z.NEVER;
    });
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const optionalUrl = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()))
  .pipe(z.url({ message: 'expected an absolute URL such as http://127.0.0.1:8080' }).optional());
/** What one process does (TASTELOOP_ROLES); every process serves the health endpoint whatever its roles. */
export const ROLES = ['gateway', 'worker', 'web'] as const;
export type Role = (typeof ROLES)[number];
/**
 * A comma list of roles, unset = all three (one process does everything, as `npm start` always did).
 * Set but empty is an error rather than "all": an operator who clears it meant some subset, and a
 * process with no role would run nothing and look healthy.
 */
const roleList = z
  .string()
  .optional()
  .transform((v, ctx): Role[] => {
    if (v === undefined) return [...ROLES];
    const names = v
      .split(',')
      .map((r) => r.trim().toLowerCase())
      .filter(Boolean);
    const unknown = names.filter((r) => !(ROLES as readonly string[]).includes(r));
    const list = unknown.map((r) => `"${r}"`).join(', ');
    if (unknown.length > 0)
      ctx.addIssue({
        code: 'custom',
        message: `unknown role${unknown.length === 1 ? '' : 's'} ${list}: expected a comma list of ${ROLES.join(', ')}`,
      });
    else if (names.length === 0)
      ctx.addIssue({ code: 'custom', message: `expected at least one of ${ROLES.join(', ')} (comma-separated; unset runs all three)` });
    else return ROLES.filter((r) => names.includes(r));
    return z.NEVER;
  });
const int = (def: number, min: number, max: number) =>
  z.coerce
    .number({ message: `expected a whole number between ${min} and ${max}` })
    .int({ message: `expected a whole number between ${min} and ${max}` })
    .min(min, { message: `expected at least ${min}` })
    .max(max, { message: `expected at most ${max}` })
    .default(def);

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().default('./data'),
  DATABASE_URL: optionalUrl,
  PORT: int(3000, 0, 65535),
  // /healthz and /readyz for orchestrators (its own port: a Discord-only bot serves no other HTTP).
  HEALTH_PORT: int(3002, 0, 65535),
  HOST: z.string().default('127.0.0.1'),
  // gateway (Discord, Slack Socket Mode, run display), worker (runs, outbox, gallery), web (playground, Slack HTTP).
  TASTELOOP_ROLES: roleList,
  // The playground runs beside any chat platform unless turned off.
  PLAYGROUND: onOff.default('on'),
  // Required for the playground to listen off loopback (HOST=0.0.0.0): browsers log in with it once.
  PLAYGROUND_TOKEN: optionalString.pipe(
    z.string().min(16, { message: 'expected at least 16 characters (e.g. `openssl rand -hex 24`)' }).optional(),
  ),
  GALLERY: onOff.default('on'),

  EMBEDDER: z.enum(['features', 'clip', 'mobilenet', 'mobilenet+features']).default('features'),
  CLIP_MODEL: z.string().default('Xenova/clip-vit-base-patch32'),
  CLIP_MODEL_DIR: optionalString,
  CLIP_CACHE_DIR: optionalString,
  // CLIP downloads on first use unless told not to; HF_HUB_OFFLINE is the Hugging Face tools' own switch.
  CLIP_OFFLINE: flag(false),
  HF_HUB_OFFLINE: flag(false),
  // A Hugging Face hub mirror (transformers.js does not read this variable itself).
  HF_ENDPOINT: optionalUrl,

  IMAGEGEN: z.enum(['sketch', 'replicate', 'openai']).default('sketch'),
  IMAGE_SIZE: int(512, 64, 2048),
  IMAGEGEN_CONCURRENCY: int(4, 1, 64),
  IMAGEGEN_TIMEOUT_MS: int(120_000, 100, 900_000),
  // Where image bytes live: files under DATA_DIR/images, or an S3-compatible bucket every process shares.
  IMAGE_STORE: z.enum(['fs', 's3']).default('fs'),
  S3_BUCKET: optionalString,
  // R2/MinIO endpoint; AWS when unset. Credentials: the standard AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.
  S3_ENDPOINT: optionalUrl,
  S3_REGION: z.string().default('us-east-1'),
  // MinIO and most self-hosted servers need path-style URLs (host/bucket/key).
  S3_FORCE_PATH_STYLE: flag(false),
  S3_TIMEOUT_MS: int(30_000, 100, 600_000),

  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalUrl,
  LLM_MODEL: z.string().default('gpt-4o-mini'),
  LLM_FEEDBACK_MODEL: optionalString,
  LLM_TIMEOUT_MS: int(60_000, 100, 600_000),
  OPENAI_IMAGE_MODEL: z.string().default('gpt-image-1'),
  MODERATION: z.enum(['on', 'off', 'auto']).default('auto'),
  PROVIDER_MAX_RETRIES: int(2, 0, 10),

  REPLICATE_API_TOKEN: optionalString,
  REPLICATE_BASE_URL: optionalUrl,
  REPLICATE_MODEL: z.string().default('black-forest-labs/flux-schnell'),
  // Webhook mode: Replicate posts completions to this public URL (served on REPLICATE_WEBHOOK_PORT,
  // verified with REPLICATE_WEBHOOK_SECRET or the secret from GET /v1/webhooks/default/secret);
  // polling stays the fallback. Unset: polling only.
  REPLICATE_WEBHOOK_URL: optionalUrl,
  REPLICATE_WEBHOOK_SECRET: optionalString,
  REPLICATE_WEBHOOK_PORT: int(3004, 0, 65535),
  REPLICATE_INPUT: z
    .string()
    .default('{}')
    .transform((s, ctx) => {
      try {
        const v = JSON.parse(s) as unknown;
        if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
      } catch {
        /* reported below */
      }
      ctx.addIssue({ code: 'custom', message: 'expected a JSON object such as {"num_inference_steps":4}' });
      return z.NEVER;
    }),

  DISCORD_TOKEN: optionalString,
  DISCORD_APPLICATION_ID: optionalString,
  DISCORD_API_URL: optionalUrl,
  DISCORD_GUILD_ID: optionalString,
  // Privileged (off for a new application until its owner turns on "Message Content Intent" in the
  // developer portal): only attachment ingest needs it, so the bot asks for it only when told to.
  DISCORD_MESSAGE_CONTENT: onOff.default('off'),
  // `npm run discord:rest-proxy` listens here; bot processes then set DISCORD_API_URL to http://<proxy>:<port>/api.
  DISCORD_REST_PROXY_PORT: int(3003, 0, 65535),
  // Sharding (discord-shard-config.ts): the bot's shard count (auto = Discord's recommendation) and this
  // process's shards — a list, or process DISCORD_GATEWAY_INDEX of DISCORD_GATEWAYS; unset = every shard.
  DISCORD_SHARD_COUNT: shardCountSchema,
  DISCORD_SHARD_IDS: shardIdsSchema,
  DISCORD_GATEWAY_INDEX: gatewayNumberSchema(0, 'the index of this gateway process, a whole number from 0 (a StatefulSet pod index)'),
  DISCORD_GATEWAYS: gatewayNumberSchema(1, 'how many gateway processes share the shards, a whole number from 1'),

  SLACK_BOT_TOKEN: optionalString,
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_APP_TOKEN: optionalString,
  SLACK_API_URL: optionalUrl,
  SLACK_PORT: int(3001, 0, 65535),
  // After a (re)connect, reactions on rateable messages of the last N days are re-read (0 = off).
  REACTION_RECONCILE_DAYS: int(7, 0, 365),
  // Delivered outbox events, processed-event marks and rating audit rows older than N days are deleted
  // (core/retention.ts); ratings and votes never are. 0 keeps everything.
  RETENTION_DAYS: int(30, 0, 36_500),
  /** How often an opted-in person gets a "made for you" run (core/made-for-you.ts), in hours. */
  MADE_FOR_YOU_INTERVAL_HOURS: int(168, 1, 24 * 366),

  SCORER_METHOD: z.enum(['auto', 'global', 'finetune', 'knn', 'maml']).default('auto'),
  // Memory for the people's scorers held by this process (MiB); the least recently used leave past it
  // and come back from their stored state when used again (core/resident-scorers.ts).
  SCORER_CACHE_MB: int(256, 1, 1_048_576),
  OPTIMIZER: z.enum(['auto', 'llm', 'genetic', 'random']).default('auto'),
  MAX_IMAGES_PER_RUN: int(64, 1, 10_000),
  DAILY_IMAGE_QUOTA_USER: int(200, 1, 1_000_000),
  DAILY_IMAGE_QUOTA_WORKSPACE: int(2000, 1, 10_000_000),
  DAILY_BUDGET_USD: z.coerce.number({ message: 'expected a number of US dollars' }).min(0).default(5),
  BANNED_WORDS: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((w) => w.trim().toLowerCase())
        .filter(Boolean),
    ),
});

export type Env = z.infer<typeof envSchema>;

/**
 * Rules that tie variables together. They run on the raw strings, so they are reported even when
 * another variable is malformed (zod skips refinements once the object itself fails).
 */
function crossFieldProblems(source: NodeJS.ProcessEnv): { name: string; message: string }[] {
  const has = (k: string) => typeof source[k] === 'string' && source[k].trim() !== '';
  const out: { name: string; message: string }[] = [];
  if (has('DISCORD_TOKEN') && !has('DISCORD_APPLICATION_ID')) {
    out.push({
      name: 'DISCORD_APPLICATION_ID',
      message: 'required when DISCORD_TOKEN is set: copy the Application ID from the Discord developer portal',
    });
  }
  if (has('SLACK_BOT_TOKEN') && !has('SLACK_SIGNING_SECRET') && !has('SLACK_APP_TOKEN')) {
    out.push({
      name: 'SLACK_SIGNING_SECRET',
      message: 'required with SLACK_BOT_TOKEN in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)',
    });
  }
  if ((has('SLACK_SIGNING_SECRET') || has('SLACK_APP_TOKEN')) && !has('SLACK_BOT_TOKEN')) {
    out.push({ name: 'SLACK_BOT_TOKEN', message: 'required when other SLACK_* settings are present (the xoxb- bot token)' });
  }
  if (source.IMAGEGEN === 'replicate' && !has('REPLICATE_API_TOKEN')) {
    out.push({ name: 'REPLICATE_API_TOKEN', message: 'required when IMAGEGEN=replicate' });
  }
  if (source.IMAGEGEN === 'openai' && !has('OPENAI_API_KEY')) {
    out.push({ name: 'OPENAI_API_KEY', message: 'required when IMAGEGEN=openai' });
  }
  if (source.IMAGE_STORE === 's3' && !has('S3_BUCKET')) {
    out.push({ name: 'S3_BUCKET', message: 'required when IMAGE_STORE=s3 (the bucket images are stored in)' });
  }
  // One half of a key pair would make the SDK fall through to other credentials silently.
  if (source.IMAGE_STORE === 's3' && has('AWS_ACCESS_KEY_ID') !== has('AWS_SECRET_ACCESS_KEY')) {
    const missing = has('AWS_ACCESS_KEY_ID') ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID';
    out.push({ name: missing, message: 'required with IMAGE_STORE=s3 when the other half of the AWS key pair is set' });
  }
  if (source.OPTIMIZER === 'llm' && !has('OPENAI_API_KEY')) {
    out.push({ name: 'OPENAI_API_KEY', message: 'required when OPTIMIZER=llm' });
  }
  out.push(...discordShardProblems(source));
  return out;
}

export interface Config extends Env {
  /** Absolute data directory. */
  dataDir: string;
  imagesDir: string;
  pgliteDir: string;
  discordEnabled: boolean;
  slackEnabled: boolean;
  playgroundEnabled: boolean;
  /** TASTELOOP_ROLES as flags: which parts run in this process. */
  roles: Record<Role, boolean>;
  llmEnabled: boolean;
  /** HEALTH_PORT was chosen by the operator (not the default): a taken port then stops startup. */
  healthPortChosen: boolean;
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n') +
        '\nFix these environment variables (see the configuration table in README.md) and start again.',
    );
    this.name = 'ConfigError';
  }
}

/** Parse an environment (default: process.env). Throws ConfigError listing every problem. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(source);
  const cross = crossFieldProblems(source).map((p) => `${p.name}: ${p.message}`);
  if (!parsed.success || cross.length > 0) {
    const issues = parsed.success ? [] : parsed.error.issues;
    const problems = issues.map((issue) => {
      const name = issue.path.join('.') || '(environment)';
      const raw = typeof issue.path[0] === 'string' ? source[issue.path[0]] : undefined;
      // Never echo values of secret-looking variables.
      const shown =
        raw === undefined ? '' : isSecretName(name) ? ' (value hidden)' : ` (got "${redactSecrets(redactUrl(String(raw))).slice(0, 60)}")`;
      return `${name}: ${issue.message}${shown}`;
    });
    throw new ConfigError([...problems, ...cross]);
  }
  const env = parsed.data;
  const dataDir = path.resolve(env.DATA_DIR);
  const discordEnabled = Boolean(env.DISCORD_TOKEN);
  const slackEnabled = Boolean(env.SLACK_BOT_TOKEN);
  const playgroundEnabled = env.PLAYGROUND === 'on';
  return {
    ...env,
    dataDir,
    imagesDir: path.join(dataDir, 'images'),
    pgliteDir: path.join(dataDir, 'pglite'),
    discordEnabled,
    slackEnabled,
    playgroundEnabled,
    roles: {
      gateway: env.TASTELOOP_ROLES.includes('gateway'),
      worker: env.TASTELOOP_ROLES.includes('worker'),
      web: env.TASTELOOP_ROLES.includes('web'),
    },
    llmEnabled: Boolean(env.OPENAI_API_KEY) && env.OPTIMIZER !== 'genetic' && env.OPTIMIZER !== 'random',
    healthPortChosen: typeof source.HEALTH_PORT === 'string' && source.HEALTH_PORT.trim() !== '',
  };
}

export function isSecretName(name: string): boolean {
  return /TOKEN|SECRET|KEY|PASSWORD|DATABASE_URL/i.test(name);
}

/** A config for tests and tools: defaults plus overrides, without reading process.env. */
export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...overrides });
}

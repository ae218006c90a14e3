/**
 * The discord.js client of the bot and what it tells about itself: the intents and partials it needs,
 * a rejected token (401) or refused intent (gateway close 4014) said once in words an operator can act
 * on, and whether the gateway is ready (the /readyz check).
 */
import { Client, Events, GatewayIntentBits, Partials, Status } from 'discord.js';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import { NO_MENTIONS } from './context';

/** What the operator must fix before the bot can work; both stay set until a restart. */
export interface DiscordCredentialState {
  /** Discord answered 401: the token was reset or revoked. */
  tokenRejected: boolean;
  /** The gateway closed with 4014: a privileged intent this application lacks was asked for. */
  intentsRefused: boolean;
}

export function createDiscordClient(
  config: Partial<Pick<Config, 'DISCORD_API_URL'>>,
  messageContent: boolean,
  log: Logger,
): { client: Client; state: DiscordCredentialState } {
  const client = new Client({
    intents: [
      GatewayIntentBits.Guilds,
      GatewayIntentBits.GuildMessageReactions,
      // Privileged: a new application does not have it, and Discord closes the gateway (4014) for
      // asking. Only the operator knows whether it was turned on in the developer portal.
      ...(messageContent ? [GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent] : []),
    ],
    // Without these, reactions on uncached messages (older ones, or after a restart) are dropped;
    // without Partials.User, removals are silently dropped.
    partials: [Partials.Message, Partials.Reaction, Partials.User, Partials.Channel, Partials.GuildMember],
    allowedMentions: NO_MENTIONS,
    rest: discordRestOptions(config),
  });
  const state: DiscordCredentialState = { tokenRejected: false, intentsRefused: false };
  // A 401 means the token was reset or revoked: discord.js stops sending it; say what to do, once, and
  // report not-ready until an operator puts the new token in (a restart with it clears this).
  client.rest.on('response', (_request, response) => {
    if (response.status !== 401 || state.tokenRejected) return;
    state.tokenRejected = true;
    log.error(
      'Discord rejected the bot token (401 Unauthorized): nothing can be posted or read. Put the current token from the developer portal (Bot → Reset Token) in DISCORD_TOKEN and restart.',
    );
  });
  // Discord blocks an IP for an hour after 10,000 invalid requests in 10 minutes: warn well before.
  client.rest.on('invalidRequestWarning', ({ count, remainingTime }) => {
    log.warn(
      { count, resetInMs: remainingTime },
      `Discord has counted ${count} invalid requests (401/403/429) in its current 10-minute window; at 10,000 it blocks this IP for an hour — check the bot's permissions and token`,
    );
  });
  return { client, state };
}

/**
 * Logs in and waits for the first ready. Returns false when Discord refused the intents (4014): no
 * retry can succeed until the operator acts, so exiting would only make the orchestrator restart us
 * into the same refusal. The bot stays up, says it once, and reports not-ready.
 */
export async function loginDiscord(client: Client, token: string, state: DiscordCredentialState, log: Logger): Promise<boolean> {
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  try {
    await client.login(token);
  } catch (err) {
    if (!isDisallowedIntents(err)) throw err;
    state.intentsRefused = true;
    log.error(
      `Discord refused the gateway connection (close code 4014, disallowed intents): the bot asked for the Message Content intent (DISCORD_MESSAGE_CONTENT=on), which this application does not have. Turn on "Message Content Intent" in the Discord developer portal (your application → Bot → Privileged Gateway Intents), or set DISCORD_MESSAGE_CONTENT=off, then restart.`,
    );
    return false;
  }
  await ready;
  return true;
}

/**
 * Whether the bot is connected and taking work, with a word on why not: per shard of this process
 * (`gateway shard 0 ready 41 ms, shard 2 Resuming`). `shardProblem` is why no session is open yet (a
 * shard lease another process holds) or may no longer be.
 */
export function discordHealth(
  client: Client,
  state: DiscordCredentialState,
  stopping: boolean,
  shardProblem: string | null = null,
): { ok: boolean; detail?: string } {
  if (stopping) return { ok: false, detail: 'stopping' };
  if (shardProblem) return { ok: false, detail: `gateway ${shardProblem}` };
  if (state.tokenRejected) return { ok: false, detail: 'Discord rejected the bot token (401): replace DISCORD_TOKEN and restart' };
  if (state.intentsRefused)
    return {
      ok: false,
      detail:
        'Discord refused the Message Content intent (4014): turn it on in the developer portal or set DISCORD_MESSAGE_CONTENT=off, then restart',
    };
  const shards = [...client.ws.shards.values()];
  const each = shards.map((s) => `shard ${s.id} ${s.status === Status.Ready ? `ready ${s.ping} ms` : Status[s.status]}`).join(', ');
  const expected = Array.isArray(client.options.shards) ? client.options.shards.length : shards.length;
  if (shards.length > 0 && shards.length >= expected && shards.every((s) => s.status === Status.Ready))
    return { ok: true, detail: `gateway ready: ${each}` };
  return { ok: false, detail: `gateway ${each || 'not connected'}` };
}

/** discord.js rejects login with this when the gateway closes with 4014 (disallowed intents). */
function isDisallowedIntents(err: unknown): boolean {
  return err instanceof Error && /disallowed intents/i.test(err.message);
}

/**
 * REST options of every bot process. DISCORD_API_URL points REST at a compatible server — the shared
 * rate-limit proxy of a multi-process deployment (rest-proxy.ts), or a fake in tests; the gateway
 * address then comes from its /gateway/bot. Every 250th invalid request (401/403/429) in Discord's
 * 10-minute window is reported.
 */
export function discordRestOptions(config: Partial<Pick<Config, 'DISCORD_API_URL'>>): {
  api?: string;
  invalidRequestWarningInterval: number;
} {
  return { ...(config.DISCORD_API_URL ? { api: config.DISCORD_API_URL } : {}), invalidRequestWarningInterval: 250 };
}

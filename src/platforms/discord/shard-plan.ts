/**
 * Which Discord shards this process runs. Discord puts a server (guild) on shard
 * `(guild_id >> 22) % shard_count`, and direct messages on shard 0; every process of a deployment must
 * use the same count, each running its own share of the ids (DISCORD_SHARD_IDS, or process i of n:
 * shards i, i+n, i+2n, …). See src/discord-shard-config.ts for the variables.
 */
import type { Config } from '../../config';

export type ShardSettings = Partial<
  Pick<Config, 'DISCORD_SHARD_COUNT' | 'DISCORD_SHARD_IDS' | 'DISCORD_GATEWAY_INDEX' | 'DISCORD_GATEWAYS'>
>;

export interface ShardPlan {
  /** Shards of the whole bot (every process). */
  count: number;
  /** The shards this process runs, ascending. */
  ids: number[];
}

/** The shard Discord delivers a guild's events on; direct messages (no guild) come on shard 0. */
export function shardOfGuild(guildId: string | undefined | null, count: number): number {
  if (!guildId || count <= 1) return 0;
  return Number((BigInt(guildId) >> 22n) % BigInt(count));
}

/**
 * This process's shards once the count is known (with `auto`, from GET /gateway/bot). The config
 * checked what it could at startup; a count that only Discord's answer fixes is checked here, with the
 * same kind of message.
 */
export function planShards(settings: ShardSettings, count: number): ShardPlan {
  const all = Array.from({ length: count }, (_, i) => i);
  if (settings.DISCORD_SHARD_IDS) {
    const beyond = settings.DISCORD_SHARD_IDS.filter((id) => id >= count);
    if (beyond.length)
      throw new Error(
        `DISCORD_SHARD_IDS: shard ${beyond.join(', ')} does not exist: the bot has ${count} shard(s) (DISCORD_SHARD_COUNT ${settings.DISCORD_SHARD_COUNT ?? 'auto'}), so ids run from 0 to ${count - 1}. Fix the list or set DISCORD_SHARD_COUNT.`,
      );
    return { count, ids: [...settings.DISCORD_SHARD_IDS] };
  }
  const index = settings.DISCORD_GATEWAY_INDEX;
  const gateways = settings.DISCORD_GATEWAYS;
  if (index !== undefined && gateways !== undefined) {
    const ids = all.filter((id) => id % gateways === index);
    if (!ids.length)
      throw new Error(
        `DISCORD_GATEWAY_INDEX ${index} of DISCORD_GATEWAYS ${gateways} gets no shard: the bot has only ${count} shard(s). Set DISCORD_GATEWAYS at most ${count} (or a fixed DISCORD_SHARD_COUNT).`,
      );
    return { count, ids };
  }
  return { count, ids: all };
}

/** The count to use: the configured one, or (auto) Discord's recommendation. */
export async function resolveShardCount(settings: ShardSettings, recommended: () => Promise<number>): Promise<number> {
  const set = settings.DISCORD_SHARD_COUNT;
  if (typeof set === 'number') return set;
  return Math.max(1, await recommended());
}

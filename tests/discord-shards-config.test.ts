/**
 * The Discord sharding settings: DISCORD_SHARD_COUNT (a number or auto), DISCORD_SHARD_IDS, or
 * DISCORD_GATEWAY_INDEX of DISCORD_GATEWAYS; wrong values stop startup naming the variable and the fix.
 * Then which shards a process runs once the count is known, and which shard carries a server.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, testConfig } from '../src/config';
import { planShards, shardOfGuild } from '../src/platforms/discord/shard-plan';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    testConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
};

describe('sharding configuration', () => {
  it('defaults to auto (Discord recommends the count) with every shard in this process', () => {
    const c = testConfig();
    expect(c.DISCORD_SHARD_COUNT).toBe('auto');
    expect(c.DISCORD_SHARD_IDS).toBeUndefined();
    expect(planShards(c, 3)).toEqual({ count: 3, ids: [0, 1, 2] });
  });

  it('reads a fixed count and a list of ids (sorted, spaces allowed)', () => {
    const c = testConfig({ DISCORD_SHARD_COUNT: '4', DISCORD_SHARD_IDS: '3, 1' });
    expect(c.DISCORD_SHARD_COUNT).toBe(4);
    expect(c.DISCORD_SHARD_IDS).toEqual([1, 3]);
    expect(planShards(c, 4)).toEqual({ count: 4, ids: [1, 3] });
  });

  it('process i of n runs shards i, i+n, i+2n, …', () => {
    const c = testConfig({ DISCORD_SHARD_COUNT: '5', DISCORD_GATEWAY_INDEX: '1', DISCORD_GATEWAYS: '2' });
    expect(planShards(c, 5).ids).toEqual([1, 3]);
    expect(planShards(testConfig({ DISCORD_GATEWAY_INDEX: '0', DISCORD_GATEWAYS: '2' }), 5).ids).toEqual([0, 2, 4]);
  });

  it('refuses malformed values, each naming its variable', () => {
    const problems = problemsOf({
      DISCORD_SHARD_COUNT: 'many',
      DISCORD_SHARD_IDS: '0,0',
    });
    expect(problems).toEqual([
      expect.stringMatching(/^DISCORD_SHARD_COUNT: expected auto or a whole number of shards/),
      expect.stringMatching(/^DISCORD_SHARD_IDS: expected a comma list of distinct shard ids/),
    ]);
    expect(problemsOf({ DISCORD_SHARD_COUNT: '0' })[0]).toMatch(/^DISCORD_SHARD_COUNT: /);
    expect(problemsOf({ DISCORD_SHARD_IDS: '-1' })[0]).toMatch(/^DISCORD_SHARD_IDS: /);
    expect(problemsOf({ DISCORD_GATEWAY_INDEX: 'a', DISCORD_GATEWAYS: '2' })[0]).toMatch(/^DISCORD_GATEWAY_INDEX: expected the index/);
  });

  it('refuses ids at or above the count, with the fix', () => {
    expect(problemsOf({ DISCORD_SHARD_COUNT: '2', DISCORD_SHARD_IDS: '1,2,3' })).toEqual([
      'DISCORD_SHARD_IDS: shard ids run from 0 to DISCORD_SHARD_COUNT − 1 (1); remove 2, 3 or raise DISCORD_SHARD_COUNT',
    ]);
  });

  it('refuses both forms at once, half of the gateway form, an index past the gateways, more gateways than shards', () => {
    expect(problemsOf({ DISCORD_SHARD_IDS: '0', DISCORD_GATEWAY_INDEX: '0', DISCORD_GATEWAYS: '2' })).toEqual([
      expect.stringMatching(/^DISCORD_SHARD_IDS: set either DISCORD_SHARD_IDS .* not both/),
    ]);
    expect(problemsOf({ DISCORD_GATEWAY_INDEX: '1' })).toEqual([
      expect.stringMatching(/^DISCORD_GATEWAYS: required with DISCORD_GATEWAY_INDEX/),
    ]);
    expect(problemsOf({ DISCORD_GATEWAYS: '3' })).toEqual([
      expect.stringMatching(/^DISCORD_GATEWAY_INDEX: required with DISCORD_GATEWAYS/),
    ]);
    expect(problemsOf({ DISCORD_GATEWAY_INDEX: '2', DISCORD_GATEWAYS: '2' })).toEqual([
      expect.stringMatching(/^DISCORD_GATEWAY_INDEX: is 2 but DISCORD_GATEWAYS is 2: the index counts from 0/),
    ]);
    expect(problemsOf({ DISCORD_SHARD_COUNT: '2', DISCORD_GATEWAY_INDEX: '0', DISCORD_GATEWAYS: '3' })).toEqual([
      expect.stringMatching(/^DISCORD_GATEWAYS: 3 gateway processes for 2 shard\(s\) would leave a process without a shard/),
    ]);
  });

  it('with auto, a list or gateway index that Discord’s count cannot serve fails when connecting, naming the variable', () => {
    expect(() => planShards(testConfig({ DISCORD_SHARD_IDS: '0,3' }), 2)).toThrow(
      /^DISCORD_SHARD_IDS: shard 3 does not exist: the bot has 2 shard/,
    );
    expect(() => planShards(testConfig({ DISCORD_GATEWAY_INDEX: '2', DISCORD_GATEWAYS: '3' }), 2)).toThrow(
      /^DISCORD_GATEWAY_INDEX 2 of DISCORD_GATEWAYS 3 gets no shard/,
    );
  });
});

describe('the shard of a server', () => {
  it('is (guild_id >> 22) % count, as Discord computes it; direct messages are on shard 0', () => {
    // A snowflake whose timestamp part is 12345: the low 22 bits (worker, process, increment) do not count.
    const id = ((12345n << 22n) + 4_000_000n).toString();
    expect(shardOfGuild(id, 2)).toBe(1);
    expect(shardOfGuild(id, 5)).toBe(0);
    expect(shardOfGuild(id, 1)).toBe(0);
    expect(shardOfGuild(undefined, 4)).toBe(0);
  });
});

/**
 * The Discord sharding variables of src/config.ts: how many shards the bot has (DISCORD_SHARD_COUNT, a
 * number or `auto` = what Discord recommends in GET /gateway/bot) and which of them this process runs —
 * a list (DISCORD_SHARD_IDS), or "process i of n" (DISCORD_GATEWAY_INDEX of DISCORD_GATEWAYS runs shards
 * i, i+n, i+2n, …: a Kubernetes StatefulSet passes its pod index). Unset, one process runs every shard.
 */
import { z } from 'zod';

/** Discord's own ceiling is far lower for nearly every bot; this only catches a typo. */
export const MAX_DISCORD_SHARDS = 65_536;

const trimmed = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());

/** A whole number in [min, max], written in decimal digits only (no "1e3", no "0x10"). */
function parseWhole(raw: string, min: number, max: number): number | undefined {
  if (!/^\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}

export const shardCountSchema = z
  .string()
  .optional()
  .transform((v, ctx): number | 'auto' => {
    const s = trimmed(v)?.toLowerCase();
    if (s === undefined || s === 'auto') return 'auto';
    const n = parseWhole(s, 1, MAX_DISCORD_SHARDS);
    if (n !== undefined) return n;
    ctx.addIssue({ code: 'custom', message: `expected auto or a whole number of shards between 1 and ${MAX_DISCORD_SHARDS}` });
    return z.NEVER;
  });

export const shardIdsSchema = z
  .string()
  .optional()
  .transform((v, ctx): number[] | undefined => {
    const s = trimmed(v);
    if (s === undefined) return undefined;
    const ids = parseShardIds(s);
    if (ids) return ids;
    ctx.addIssue({ code: 'custom', message: 'expected a comma list of distinct shard ids such as 0,2 (each a whole number from 0)' });
    return z.NEVER;
  });

export const gatewayNumberSchema = (min: number, what: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx): number | undefined => {
      const s = trimmed(v);
      if (s === undefined) return undefined;
      const n = parseWhole(s, min, MAX_DISCORD_SHARDS);
      if (n !== undefined) return n;
      ctx.addIssue({ code: 'custom', message: `expected ${what}` });
      return z.NEVER;
    });

function parseShardIds(s: string): number[] | undefined {
  const parts = s.split(',').map((p) => p.trim());
  const ids = parts.map((p) => parseWhole(p, 0, MAX_DISCORD_SHARDS - 1));
  if (ids.some((n) => n === undefined) || new Set(ids).size !== ids.length) return undefined;
  return (ids as number[]).sort((a, b) => a - b);
}

/**
 * The rules that tie the sharding variables together, on the raw strings (a malformed value is left to
 * its own schema's message). Each problem names the variable to change and how.
 */
export function discordShardProblems(source: NodeJS.ProcessEnv): { name: string; message: string }[] {
  const raw = (k: string) => trimmed(source[k]);
  const out: { name: string; message: string }[] = [];
  const countRaw = raw('DISCORD_SHARD_COUNT')?.toLowerCase();
  const count = countRaw === undefined || countRaw === 'auto' ? undefined : parseWhole(countRaw, 1, MAX_DISCORD_SHARDS);
  const idsRaw = raw('DISCORD_SHARD_IDS');
  const ids = idsRaw === undefined ? undefined : parseShardIds(idsRaw);
  const index = raw('DISCORD_GATEWAY_INDEX');
  const gateways = raw('DISCORD_GATEWAYS');
  if (idsRaw !== undefined && (index !== undefined || gateways !== undefined)) {
    out.push({
      name: 'DISCORD_SHARD_IDS',
      message:
        'set either DISCORD_SHARD_IDS (the shards of this process) or DISCORD_GATEWAY_INDEX with DISCORD_GATEWAYS (process i of n), not both: unset one form',
    });
    return out;
  }
  if ((index === undefined) !== (gateways === undefined)) {
    const missing = index === undefined ? 'DISCORD_GATEWAY_INDEX' : 'DISCORD_GATEWAYS';
    out.push({
      name: missing,
      message: `required with ${missing === 'DISCORD_GATEWAYS' ? 'DISCORD_GATEWAY_INDEX' : 'DISCORD_GATEWAYS'}: process DISCORD_GATEWAY_INDEX (from 0) of DISCORD_GATEWAYS runs shards index, index + gateways, …`,
    });
  }
  const i = index === undefined ? undefined : parseWhole(index, 0, MAX_DISCORD_SHARDS);
  const n = gateways === undefined ? undefined : parseWhole(gateways, 1, MAX_DISCORD_SHARDS);
  if (i !== undefined && n !== undefined && i >= n)
    out.push({
      name: 'DISCORD_GATEWAY_INDEX',
      message: `is ${i} but DISCORD_GATEWAYS is ${n}: the index counts from 0 and must be below DISCORD_GATEWAYS (raise DISCORD_GATEWAYS or fix the index)`,
    });
  if (count !== undefined && ids?.some((id) => id >= count))
    out.push({
      name: 'DISCORD_SHARD_IDS',
      message: `shard ids run from 0 to DISCORD_SHARD_COUNT − 1 (${count - 1}); remove ${ids.filter((id) => id >= count).join(', ')} or raise DISCORD_SHARD_COUNT`,
    });
  if (count !== undefined && n !== undefined && n > count)
    out.push({
      name: 'DISCORD_GATEWAYS',
      message: `${n} gateway processes for ${count} shard(s) would leave a process without a shard: set DISCORD_GATEWAYS at most DISCORD_SHARD_COUNT (${count}), or raise the count`,
    });
  return out;
}

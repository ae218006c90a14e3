/**
 * The shards of this gateway process, from configuration to connection: the count (fixed, or what
 * Discord recommends), this process's ids (shard-plan.ts), their leases (shard-leases.ts, when a
 * database is given), and what follows from them — whether a server's runs are shown here (its guild is
 * on one of our shards) and whether this process leads the deployment-wide chores (it runs shard 0).
 */
import { Routes, type Client } from 'discord.js';
import type { Logger } from 'pino';
import type { Db } from '../../db/connection';
import { ShardLeases, type LeaseTiming } from './shard-leases';
import { planShards, resolveShardCount, shardOfGuild, type ShardPlan, type ShardSettings } from './shard-plan';

export interface GatewayShardsOptions {
  client: Client;
  token: string;
  appId: string;
  settings: ShardSettings;
  /** Where the shard leases live; without it (tests, tools) no lease is taken. */
  db?: Db;
  holder: string;
  log: Logger;
  timing?: Partial<LeaseTiming>;
  onLost: (why: string) => void;
}

export class GatewayShards {
  plan: ShardPlan | null = null;
  private leases: ShardLeases | null = null;
  private lostWhy: string | null = null;

  constructor(private readonly o: GatewayShardsOptions) {}

  /**
   * Decides the shards, tells the client, and takes their leases (waiting while another process holds
   * one), renewed from then on until close(). False when told to stop while waiting.
   */
  async open(shouldStop: () => boolean): Promise<boolean> {
    const { client, settings, log } = this.o;
    client.rest.setToken(this.o.token);
    const count = await resolveShardCount(settings, async () => {
      const info = (await client.rest.get(Routes.gatewayBot())) as { shards?: number };
      return info.shards ?? 1;
    });
    this.plan = planShards(settings, count);
    // discord.js reads these when it connects: exactly these sessions, IDENTIFYing as [id, count].
    client.options.shards = this.plan.ids;
    client.options.shardCount = count;
    log.info({ shards: this.plan.ids, shardCount: count }, 'discord shards of this process');
    if (!this.o.db) return true;
    this.leases = new ShardLeases({
      db: this.o.db,
      appId: this.o.appId,
      count,
      ids: this.plan.ids,
      holder: this.o.holder,
      log,
      timing: this.o.timing,
      onLost: (why) => {
        this.lostWhy = why;
        this.o.onLost(why);
      },
    });
    if (!(await this.leases.acquire(shouldStop))) return false;
    // From now on, not after connecting: a login can take longer than a lease lasts.
    this.leases.startRenewing();
    return true;
  }

  /** Whether a server's events (and so its runs) belong to this process; direct messages go to shard 0. */
  owns(guildId: string | undefined): boolean {
    if (!this.plan) return false;
    return this.plan.ids.includes(shardOfGuild(guildId, this.plan.count));
  }

  /**
   * The one process of the deployment that does its chores (registering commands): the one running
   * shard 0 — holding its lease, when leases are kept.
   */
  get leader(): boolean {
    if (!this.plan?.ids.includes(0)) return false;
    return this.leases ? this.leases.holds(0) : true;
  }

  /** Why this process is not connected yet (waiting for a lease), or lost its shards; null otherwise. */
  get problem(): string | null {
    if (this.lostWhy) return `lost its shard leases (${this.lostWhy}): restart the process`;
    const waiting = this.leases?.waitingFor;
    return waiting ? `waiting for a shard lease: ${waiting}` : null;
  }

  /** Gives the leases back (on shutdown, or after a failed start). */
  async close(): Promise<void> {
    await this.leases?.release();
  }
}

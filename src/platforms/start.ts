/**
 * Which chat surfaces run in this process: each platform whose settings are present, if this process
 * has the role that serves it (TASTELOOP_ROLES) — Discord and Slack Socket Mode hold a connection
 * (gateway), the playground and Slack's HTTP receiver answer HTTP (web). A surface carries its own run
 * display and reaction read-back, so a run's posts go out wherever its platform is connected; the
 * worker that runs it only writes the outbox they read. Nothing configured starts nothing: the
 * playground runs because PLAYGROUND is on (the default), never as a fallback an operator turned off.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config, Role } from '../config';
import type { Services } from '../core/services';
import type { Db } from '../db/connection';
import type { ChatAdapter } from './types';

export interface AdapterExtras {
  /** Reads scope_settings.ingest_attachments for a server (off when absent). */
  ingestAttachments?: (scopeId: string) => Promise<boolean>;
  /**
   * The database: Slack deduplicates retried events and commands in processed_events (else in memory);
   * Discord keeps its shard leases there (else it takes none).
   */
  db?: Db;
}

export type Surface = 'discord' | 'slack' | 'playground';

export interface SurfacePlan {
  /** Configured and served by one of this process's roles. */
  here: Surface[];
  /** Configured, but served by a role this process does not have. */
  elsewhere: { surface: Surface; role: Role }[];
}

/** The role that serves each configured surface, and which of them this process runs. */
export function planSurfaces(config: Config): SurfacePlan {
  const configured: { surface: Surface; role: Role }[] = [];
  if (config.discordEnabled) configured.push({ surface: 'discord', role: 'gateway' });
  // Socket Mode is a connection this process opens; HTTP mode is a receiver Slack calls.
  if (config.slackEnabled) configured.push({ surface: 'slack', role: config.SLACK_APP_TOKEN ? 'gateway' : 'web' });
  if (config.playgroundEnabled) configured.push({ surface: 'playground', role: 'web' });
  return {
    here: configured.filter((c) => config.roles[c.role]).map((c) => c.surface),
    elsewhere: configured.filter((c) => !config.roles[c.role]),
  };
}

/** Says what this process will not serve and why, so "nothing answers" is never silent. */
export function logSurfacePlan(config: Config, plan: SurfacePlan, log: Pick<Logger, 'info' | 'warn'>): void {
  const roles = config.TASTELOOP_ROLES.join(',');
  for (const e of plan.elsewhere)
    log.info(
      { platform: e.surface, role: e.role },
      `${e.surface}: configured, served by a process with the ${e.role} role (this one has ${roles})`,
    );
  const chatRoles = config.roles.gateway || config.roles.web;
  if (chatRoles && plan.here.length === 0 && plan.elsewhere.length === 0)
    log.warn(
      'no chat platform is configured and PLAYGROUND=off: nothing here takes commands. Set DISCORD_TOKEN and ' +
        'DISCORD_APPLICATION_ID (Discord), SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN (Slack), ' +
        'or PLAYGROUND=on (the local playground)',
    );
}

export async function createConfiguredAdapters(
  config: Config,
  services: Services,
  log: Logger,
  extras: AdapterExtras = {},
): Promise<ChatAdapter[]> {
  const adapters: ChatAdapter[] = [];
  const here = new Set(planSurfaces(config).here);
  if (here.has('discord')) {
    const { createDiscordAdapter } = await import('./discord/adapter');
    adapters.push(
      // The database keeps the shard leases: no two gateway processes open a session on one shard.
      createDiscordAdapter({
        config,
        services,
        log: log.child({ platform: 'discord' }),
        ingestAttachments: extras.ingestAttachments,
        db: extras.db,
      }),
    );
  }
  if (here.has('slack')) {
    const { createSlackAdapter } = await import('./slack/adapter');
    adapters.push(createSlackAdapter({ config, services, log: log.child({ platform: 'slack' }), db: extras.db }));
  }
  if (here.has('playground')) {
    const { createPlaygroundAdapter } = await import('./playground/adapter');
    adapters.push(
      createPlaygroundAdapter({
        services,
        log: log.child({ platform: 'playground' }),
        host: config.HOST,
        port: config.PORT,
        // Required off loopback: every browser logs in with it once.
        token: config.PLAYGROUND_TOKEN,
        // The conversation survives restarts next to the database (message ids stay valid).
        stateFile: path.join(config.dataDir, 'playground.jsonl'),
      }),
    );
  }
  return adapters;
}

/** Starts adapters in order; if one fails, stops those already started and rethrows. */
export async function startAdapters(adapters: ChatAdapter[]): Promise<void> {
  const started: ChatAdapter[] = [];
  try {
    for (const a of adapters) {
      await a.start();
      started.push(a);
    }
  } catch (err) {
    await stopAdapters(started);
    throw err;
  }
}

/** Stops every adapter, each bounded, never throwing (SIGTERM path: exit within 10 s). */
export async function stopAdapters(adapters: ChatAdapter[], perAdapterMs = 4000): Promise<void> {
  await Promise.all(
    adapters.map((a) => Promise.race([a.stop().catch(() => undefined), new Promise<void>((r) => setTimeout(r, perAdapterMs).unref())])),
  );
}

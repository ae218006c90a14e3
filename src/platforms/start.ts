/**
 * Which chat surfaces run: each platform whose settings are present, plus the playground unless
 * PLAYGROUND=off — and the playground alone when nothing is configured, so `npm start` works out of
 * the box.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Services } from '../core/services';
import type { Db } from '../db/connection';
import type { ChatAdapter } from './types';

export interface AdapterExtras {
  /** Reads scope_settings.ingest_attachments for a server (off when absent). */
  ingestAttachments?: (scopeId: string) => Promise<boolean>;
  /** The database: Slack deduplicates retried events and commands in processed_events (else in memory). */
  db?: Db;
}

export async function createConfiguredAdapters(
  config: Config,
  services: Services,
  log: Logger,
  extras: AdapterExtras = {},
): Promise<ChatAdapter[]> {
  const adapters: ChatAdapter[] = [];
  if (config.discordEnabled) {
    const { createDiscordAdapter } = await import('./discord/adapter');
    adapters.push(
      createDiscordAdapter({ config, services, log: log.child({ platform: 'discord' }), ingestAttachments: extras.ingestAttachments }),
    );
  }
  if (config.slackEnabled) {
    const { createSlackAdapter } = await import('./slack/adapter');
    adapters.push(createSlackAdapter({ config, services, log: log.child({ platform: 'slack' }), db: extras.db }));
  }
  const nothingElse = adapters.length === 0;
  if (config.playgroundEnabled || nothingElse) {
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

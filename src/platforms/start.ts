/**
 * Which chat surfaces run: each platform whose settings are present, plus the playground unless
 * PLAYGROUND=off — and the playground alone when nothing is configured, so `npm start` works out of
 * the box. (Slack joins here in its issue.)
 */
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Services } from '../core/services';
import type { ChatAdapter } from './types';

export interface AdapterExtras {
  /** Reads scope_settings.ingest_attachments for a server (off when absent). */
  ingestAttachments?: (scopeId: string) => Promise<boolean>;
}

export async function createConfiguredAdapters(config: Config, services: Services, log: Logger, extras: AdapterExtras = {}): Promise<ChatAdapter[]> {
  const adapters: ChatAdapter[] = [];
  if (config.discordEnabled) {
    const { createDiscordAdapter } = await import('./discord/adapter');
    adapters.push(createDiscordAdapter({ config, services, log: log.child({ platform: 'discord' }), ingestAttachments: extras.ingestAttachments }));
  }
  const nothingElse = adapters.length === 0 && !config.slackEnabled;
  if (config.playgroundEnabled || nothingElse) {
    const { createPlaygroundAdapter } = await import('./playground/adapter');
    adapters.push(createPlaygroundAdapter({ services, log: log.child({ platform: 'playground' }), host: config.HOST, port: config.PORT }));
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

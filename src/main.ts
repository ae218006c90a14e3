/**
 * `npm start`: read the config once, build the app, run this process's roles (TASTELOOP_ROLES:
 * gateway = the chat connections, worker = runs and background work, web = the playground and
 * Slack's HTTP receiver), serve health whatever the roles, and drain cleanly on SIGTERM / SIGINT.
 */
import { ConfigError, loadConfig, ROLES, type Config } from './config';
import { createLogger, type Logger } from './log';
import { redactSecrets } from './redact';
import { createApp, type App } from './app';
import { sql } from 'drizzle-orm';
import { ingestsAttachments } from './core/scope-settings';
import { createConfiguredAdapters, logSurfacePlan, planSurfaces, startAdapters, stopAdapters } from './platforms/start';
import type { ChatAdapter } from './platforms/types';
import { createHealthServer, type HealthCheck, type HealthServer } from './health';
import { Gauge } from 'prom-client';
import { metrics } from './prometheus-metrics';

/** SIGTERM must end the process within this many ms even if something hangs. */
const SHUTDOWN_DEADLINE_MS = 9_000;

/** What health and shutdown read about the chat surfaces while they come up. */
interface Surfaces {
  adapters: ChatAdapter[];
  started: boolean;
  stopping: boolean;
}

export async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL);
  log.info({ dataDir: config.dataDir }, 'Tasteloop starting');
  logRoles(config, log);

  let app: App;
  try {
    // The starter gallery is the worker's to draw: elsewhere /rate offers what the worker has drawn so far.
    app = await createApp(config, { log, seedGallery: config.GALLERY === 'on' && config.roles.worker });
  } catch (err) {
    log.fatal({ err }, `startup failed: ${(err as Error).message}`);
    // Also in plain text: the operator must be able to read what to fix without a JSON viewer.
    process.stderr.write(`\nTasteloop could not start:\n${redactSecrets((err as Error).message)}\n`);
    process.exit(1);
  }
  for (const [part, backend] of Object.entries(app.backends)) log.info({ part, backend }, `${part}: ${backend}`);

  // app.start() is the worker role: the run queue consumer, the outbox dispatcher, Replicate's
  // completion webhooks (the generator waiting for them runs here) and the other background jobs.
  if (config.roles.worker) await app.start();
  const surfaces: Surfaces = { adapters: [], started: false, stopping: false };
  const health = await startHealth(config, app, log, surfaces);
  // Before the platforms start, not after: a gateway can wait minutes for a shard lease another process
  // holds, and a SIGTERM then (a rolling update giving up on it) must still stop the adapters — which ends
  // the wait holding nothing — and checkpoint this process's runs, instead of Node's default exit.
  onSignals(app, log, surfaces, health);
  try {
    surfaces.adapters = await createConfiguredAdapters(config, app.services, log, {
      // Slack retries (same event_id) are deduplicated across processes through the database, and
      // Discord's shard leases live there (no two gateway processes run one shard).
      db: app.database.db,
      ingestAttachments: (scopeId) => ingestsAttachments(app.database.db, scopeId),
    });
    await startAdapters(surfaces.adapters);
    if (surfaces.stopping) return; // a signal came while connecting: the shutdown owns the exit
    surfaces.started = true;
  } catch (err) {
    if (surfaces.stopping) return;
    log.fatal({ err }, `a chat platform failed to start: ${(err as Error).message}`);
    process.stderr.write(`\nTasteloop could not start:\n${redactSecrets((err as Error).message)}\n`);
    await health.stop().catch(() => {});
    await app.close().catch(() => {});
    process.exit(1);
  }
  const names = surfaces.adapters.map((a) => a.name);
  log.info({ platforms: names }, `platforms: ${names.join(', ') || 'none'}`);
  logSurfacePlan(config, planSurfaces(config), log);
  if (names.includes('playground')) log.info(`playground: open http://${config.HOST}:${config.PORT}`);
  // Only now: on a first start drawing takes the CPU for a while, and connecting comes first.
  if (config.roles.worker) app.drawGallery();
}

/**
 * Logs which roles run here. On PGlite nothing else can open the database, so a role left out runs
 * nowhere: say so, since a gateway without a worker queues runs that never start.
 */
function logRoles(config: Config, log: Logger): void {
  const roles = config.TASTELOOP_ROLES;
  log.info({ roles }, `roles: ${roles.join(', ')}`);
  const missing = ROLES.filter((r) => !config.roles[r]);
  if (missing.length === 0) return;
  if (!config.DATABASE_URL)
    log.warn(
      { roles, missing },
      `roles ${missing.join(', ')} do not run in this process, and the embedded database (PGlite) cannot be shared with another: ` +
        `other roles need a shared PostgreSQL (set DATABASE_URL in every process)`,
    );
  // The worker writes image files that the gateway and web read back to post and serve them.
  else
    log.info(
      { dataDir: config.dataDir },
      `roles ${missing.join(', ')} run elsewhere: every process must share DATABASE_URL and DATA_DIR (images)`,
    );
}

/** The health endpoint, on every process whatever its roles: up before the platforms connect. */
async function startHealth(config: Config, app: App, log: Logger, surfaces: Surfaces): Promise<HealthServer> {
  // Live at once, ready once the database answers and every platform of this process is connected.
  const health = createHealthServer({
    host: config.HOST,
    port: config.HEALTH_PORT,
    log,
    isStopping: () => surfaces.stopping,
    checks: () => [
      { name: 'database', check: async () => (await app.database.db.execute(sql`select 1`), { ok: true, detail: app.backends.database }) },
      ...(surfaces.started
        ? surfaces.adapters.map((a): HealthCheck => ({ name: a.name, check: () => a.health() }))
        : [{ name: 'platforms', check: () => ({ ok: false, detail: 'starting' }) }]),
    ],
    // Drawn in the background after the platforms connect: shown, never a reason to be unready.
    info: () => ({ gallery: app.gallery.status() }),
  });
  // Per platform, 1 while connected and taking work: what to alert on.
  new Gauge({
    name: 'tasteloop_platform_ready',
    help: 'Whether each chat platform is connected and taking work (1) or not (0).',
    labelNames: ['platform'],
    registers: [metrics],
    collect() {
      for (const a of surfaces.adapters) this.set({ platform: a.name }, surfaces.started && a.health().ok ? 1 : 0);
    },
  });
  try {
    await health.start().catch(async (err: NodeJS.ErrnoException) => {
      // The default port taken (say, by a dev server on 3002) must not stop `npm start`: take a free
      // one and say where. A port the operator chose is a promise to their probes: that fails below.
      if (err.code !== 'EADDRINUSE' || config.healthPortChosen) throw err;
      const port = await health.start(0);
      log.warn(
        { port },
        `port ${config.HEALTH_PORT} is taken: /healthz, /readyz and /metrics are on ${port} instead (set HEALTH_PORT to choose one)`,
      );
    });
  } catch (err) {
    log.fatal({ err }, `the health endpoint could not listen on ${config.HOST}:${config.HEALTH_PORT}: ${(err as Error).message}`);
    const reason = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'is not free' : `cannot be listened on at HOST ${config.HOST}`;
    process.stderr.write(
      `\nTasteloop could not start: HEALTH_PORT ${config.HEALTH_PORT} ${reason} (${(err as Error).message}). Set HEALTH_PORT to a free port (or HOST to an address of this machine).\n`,
    );
    await app.close().catch(() => {});
    process.exit(1);
  }
  return health;
}

/** SIGTERM / SIGINT: stop taking work, checkpoint runs in flight, exit 0 within the deadline. */
function onSignals(app: App, log: Logger, surfaces: Surfaces, health: HealthServer): void {
  const shutdown = async (signal: string) => {
    if (surfaces.stopping) return;
    surfaces.stopping = true;
    log.info({ signal }, 'stopping: no new work; checkpointing runs in flight');
    const deadline = setTimeout(() => {
      log.warn('shutdown deadline reached; exiting now (runs resume from their last checkpoint)');
      process.exit(0);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    await stopAdapters(surfaces.adapters);
    await app.close().catch((err) => log.warn({ err }, 'close failed'));
    await health.stop().catch(() => {});
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

void main();

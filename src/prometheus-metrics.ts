/**
 * The bot's operational series, on prom-client's registry (served at /metrics on the health port,
 * src/health.ts), plus prom-client's default process metrics (memory, CPU, event-loop lag, GC) under
 * the same `tasteloop_` prefix. Label values are bounded by construction — command names are checked
 * against the declared commands; platforms, outcomes and change kinds are fixed words — so a person
 * cannot grow the series count, and no personal data goes into a label.
 */
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

/** The process-wide registry (one bot per process). */
export const metrics = new Registry();
collectDefaultMetrics({ register: metrics, prefix: 'tasteloop_' });

const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
  new Counter<L>({ name, help, labelNames, registers: [metrics] });

export const commandsTotal = counter(
  'tasteloop_commands_total',
  'Slash commands handled, by platform, command and outcome (ok, user_error, error).',
  ['platform', 'command', 'outcome'],
);
export const ratingChangesTotal = counter('tasteloop_rating_changes_total', 'Changes to effective ratings: added, changed or removed.', [
  'change',
]);
export const reconciledTotal = counter(
  'tasteloop_reactions_reconciled_total',
  'Rating votes added or removed by reading reactions back after the bot was away.',
  ['platform', 'change'],
);
export const reconcileMessagesTotal = counter(
  'tasteloop_reconcile_messages_total',
  'Messages whose reactions were read back, by outcome (read, gone, forbidden, failed).',
  ['platform', 'outcome'],
);
export const runsEndedTotal = counter(
  'tasteloop_runs_ended_total',
  'Optimization runs that ended, by outcome (finished, failed, cancelled).',
  ['outcome'],
);

/** The current value of one labelled series (0 if never counted): for tests and logs. */
export async function valueOf(c: Counter<string>, labels: Record<string, string>): Promise<number> {
  const { values } = await c.get();
  const keys = Object.keys(labels);
  return values.find((v) => keys.length === Object.keys(v.labels).length && keys.every((k) => v.labels[k] === labels[k]))?.value ?? 0;
}

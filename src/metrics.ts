/**
 * A few operational counters and gauges in the Prometheus text format (served at /metrics on the
 * health port, src/health.ts). Deliberately small — no dependency: counters with fixed label sets,
 * and gauges read when scraped. Label values are bounded by construction (command names are checked
 * against the declared commands; platforms, outcomes and change kinds are fixed words), so a person
 * cannot grow the series count. No personal data goes into a label.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

type Labels = Record<string, string>;

interface CounterSeries {
  labels: Labels;
  value: number;
}

export interface Counter {
  inc(labels?: Labels, by?: number): void;
  /** Current value of one series (tests, logs). */
  get(labels?: Labels): number;
}

interface MetricDef {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  render(): string[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.length ? `{${keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(',')}}` : '';
}

function num(v: number): string {
  return Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
}

export class MetricsRegistry {
  private readonly defs = new Map<string, MetricDef>();

  counter(name: string, help: string): Counter {
    const existing = this.defs.get(name) as (MetricDef & { counter?: Counter }) | undefined;
    if (existing?.counter) return existing.counter;
    if (!NAME.test(name)) throw new Error(`invalid metric name ${name}`);
    const series = new Map<string, CounterSeries>();
    const counter: Counter = {
      inc(labels = {}, by = 1) {
        if (!(by >= 0)) throw new Error(`counter ${name} can only go up (got ${by})`);
        const key = labelText(labels);
        const s = series.get(key) ?? { labels: { ...labels }, value: 0 };
        s.value += by;
        series.set(key, s);
      },
      get(labels = {}) {
        return series.get(labelText(labels))?.value ?? 0;
      },
    };
    this.defs.set(name, { name, help, type: 'counter', counter, render: () => [...series.values()].map((s) => `${name}${labelText(s.labels)} ${num(s.value)}`) } as MetricDef & { counter: Counter });
    return counter;
  }

  /** A value read at scrape time (a number, or one value per label set). */
  gauge(name: string, help: string, read: () => number | [Labels, number][]): void {
    if (!NAME.test(name)) throw new Error(`invalid metric name ${name}`);
    this.defs.set(name, {
      name, help, type: 'gauge',
      render: () => {
        const v = read();
        return typeof v === 'number' ? [`${name} ${num(v)}`] : v.map(([l, x]) => `${name}${labelText(l)} ${num(x)}`);
      },
    });
  }

  /** The exposition text (format 0.0.4). A gauge whose reader throws is left out, not the scrape. */
  render(): string {
    const out: string[] = [];
    for (const d of [...this.defs.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      let lines: string[];
      try {
        lines = d.render();
      } catch {
        continue;
      }
      out.push(`# HELP ${d.name} ${d.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${d.name} ${d.type}`, ...lines);
    }
    return `${out.join('\n')}\n`;
  }
}

/** The process-wide registry (one bot per process), like prom-client's default register. */
export const metrics = new MetricsRegistry();

// ---------- the bot's own series, declared in one place ----------

export const commandsTotal = metrics.counter('tasteloop_commands_total', 'Slash commands handled, by platform, command and outcome (ok, user_error, error).');
export const ratingChangesTotal = metrics.counter('tasteloop_rating_changes_total', 'Changes to effective ratings: added, changed or removed.');
export const reconciledTotal = metrics.counter('tasteloop_reactions_reconciled_total', 'Rating votes added or removed by reading reactions back after the bot was away.');
export const reconcileMessagesTotal = metrics.counter('tasteloop_reconcile_messages_total', 'Messages whose reactions were read back, by outcome (read, gone, failed).');
export const runsEndedTotal = metrics.counter('tasteloop_runs_ended_total', 'Optimization runs that ended, by outcome (finished, failed, cancelled).');

const startedAt = Date.now();
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();
metrics.gauge('tasteloop_uptime_seconds', 'Seconds since the process started.', () => Math.round((Date.now() - startedAt) / 1000));
metrics.gauge('tasteloop_resident_memory_bytes', 'Resident set size of the process.', () => process.memoryUsage.rss());
metrics.gauge('tasteloop_event_loop_delay_p99_seconds', 'p99 event-loop delay since the last scrape (a blocked loop delays every reply).', () => {
  const v = loopDelay.percentile(99) / 1e9;
  loopDelay.reset();
  return v;
});

/**
 * After (re)connecting, read the reactions of the platform's recent rateable messages and bring the
 * ledger in line (core/reaction-sync.ts says what changes and why). Every chat platform runs this same
 * loop; each supplies only `read`: the rating reactions a message shows now, per person, over its REST
 * API — or 'gone' when the message (or its channel) no longer exists, or 'forbidden' when the bot may
 * not read it (a missing permission or scope: the pass then warns with the fix). Either way its ratings
 * are kept as they are: deleting a message is not taking a rating back.
 *
 * A few messages at a time (`concurrency`, default 4): each message costs a couple of REST round trips,
 * and the platform's own client still paces every request by its rate limits, so the pass is not
 * serialized behind network latency (`npm run bench:reconcile`). A failure on one message is logged and
 * skipped, never the end of the pass.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { ObservedVotes } from '../core/reaction-sync';
import type { RateableMessage, Services } from '../core/services';
import { reconcileMessagesTotal, reconciledTotal } from '../prometheus-metrics';

export const DEFAULT_RECONCILE_DAYS = 7;
/** Upper bound per pass: at ~2 requests a message, a few minutes of background REST calls. */
export const RECONCILE_MAX_MESSAGES = 1000;
export const DEFAULT_RECONCILE_CONCURRENCY = 4;

export interface ReconcileReport {
  messages: number;
  added: number;
  removed: number;
  gone: number;
  /** Messages the bot was not allowed to read (permissions / scopes): see `forbiddenHint`. */
  forbidden: number;
  failed: number;
  stopped: boolean;
  /** More recent rateable messages existed than one pass reads (the oldest of the window were left). */
  capped: boolean;
  /** Skipped: another process read back after this one's session began (see `coordinate`). */
  covered?: boolean;
}

export interface ReconcileOptions {
  platform: string;
  services: Services;
  log: Logger;
  /** How far back to look (days); 0 turns reconciling off. */
  days: number;
  read: (m: RateableMessage) => Promise<ObservedVotes[] | 'gone' | 'forbidden'>;
  /** What to grant when messages were forbidden, e.g. "give the bot Read Message History". */
  forbiddenHint?: string;
  /** Checked between messages: a shutdown ends the pass early. */
  shouldStop?: () => boolean;
  clock?: () => number;
  maxMessages?: number;
  /** Messages read at once (default 4). */
  concurrency?: number;
  /**
   * Several processes of one deployment: run the pass only if no other process started one after
   * `neededSince` (when this process's session began); wait while another runs
   * (services.messages.claimReadBack). Without it every pass runs.
   */
  coordinate?: { holder: string; neededSince: Date; leaseMs?: number; pollMs?: number };
}

/** This process's name in read_back_passes: host, pid and a random part (two adapters never share one). */
export function processHolder(platform: string): string {
  return `${hostname()}:${process.pid}:${platform}:${randomUUID().slice(0, 8)}`;
}

/** A pass that has not finished after this long is taken to have died with its process. */
export const READ_BACK_LEASE_MS = 15 * 60_000;

export async function reconcileRecentMessages(o: ReconcileOptions): Promise<ReconcileReport> {
  const report: ReconcileReport = { messages: 0, added: 0, removed: 0, gone: 0, forbidden: 0, failed: 0, stopped: false, capped: false };
  if (o.days <= 0) return report;
  if (o.coordinate) {
    const claim = await claimOrWait(o, o.coordinate);
    if (claim === 'stopped') return { ...report, stopped: true };
    if (claim === 'covered') {
      o.log.info({ platform: o.platform }, 'reactions were read back by another process since this session began; not reading them again');
      return { ...report, covered: true };
    }
  }
  try {
    return await pass(o, report);
  } finally {
    if (o.coordinate)
      await o.services.messages
        .finishReadBack({ platform: o.platform, holder: o.coordinate.holder })
        .catch((err: unknown) => o.log.warn({ err }, 'could not mark the read-back finished'));
  }
}

/** 'claimed': this process runs the pass; 'covered': another process's pass covers it. */
async function claimOrWait(
  o: ReconcileOptions,
  c: NonNullable<ReconcileOptions['coordinate']>,
): Promise<'claimed' | 'covered' | 'stopped'> {
  for (;;) {
    const claim = await o.services.messages.claimReadBack({
      platform: o.platform,
      holder: c.holder,
      neededSince: c.neededSince,
      leaseMs: c.leaseMs ?? READ_BACK_LEASE_MS,
    });
    if (claim !== 'busy') return claim;
    if (o.shouldStop?.()) return 'stopped';
    // Another process is reading back right now: its result decides (or its lease runs out).
    await new Promise((r) => setTimeout(r, c.pollMs ?? 5_000));
  }
}

async function pass(o: ReconcileOptions, report: ReconcileReport): Promise<ReconcileReport> {
  const clock = o.clock ?? Date.now;
  const since = new Date(clock() - o.days * 86_400_000);
  const max = o.maxMessages ?? RECONCILE_MAX_MESSAGES;
  // One more than the cap, to know whether the window held more than a pass reads.
  const messages = await o.services.messages.recentRateable(o.platform, since, max + 1);
  if (messages.length > max) {
    report.capped = true;
    messages.length = max;
  }
  // A channel that refused once refuses again: asking anyway only adds to the platform's count of
  // invalid requests (Discord blocks an IP for an hour at 10,000 in 10 minutes).
  const refused = new Set<string>();
  const one = async (m: RateableMessage): Promise<void> => {
    report.messages++;
    if (refused.has(m.channelId)) {
      report.forbidden++;
      reconcileMessagesTotal.inc({ platform: o.platform, outcome: 'forbidden' });
      return;
    }
    // Taken before asking the platform: any live event after this instant carries a later time and wins.
    const observedAt = new Date(clock());
    try {
      const observed = await o.read(m);
      if (observed === 'forbidden') refused.add(m.channelId);
      if (observed === 'gone' || observed === 'forbidden') {
        report[observed]++;
        reconcileMessagesTotal.inc({ platform: o.platform, outcome: observed });
        return;
      }
      const r = await o.services.ratings.reconcile({
        platform: o.platform,
        messageId: m.messageId,
        channelId: m.channelId,
        scopeId: m.scopeId ?? undefined,
        imageId: m.imageId,
        observedAt,
        observed,
      });
      report.added += r.added;
      report.removed += r.removed;
      reconcileMessagesTotal.inc({ platform: o.platform, outcome: 'read' });
      reconciledTotal.inc({ platform: o.platform, change: 'added' }, r.added);
      reconciledTotal.inc({ platform: o.platform, change: 'removed' }, r.removed);
    } catch (err) {
      report.failed++;
      reconcileMessagesTotal.inc({ platform: o.platform, outcome: 'failed' });
      o.log.warn({ err, messageId: m.messageId }, 'could not reconcile the reactions of a message; skipped');
    }
  };
  // A small pool of workers over the newest-first list; each checks for shutdown before taking more.
  let next = 0;
  const worker = async () => {
    while (next < messages.length) {
      if (o.shouldStop?.()) {
        report.stopped = true;
        return;
      }
      await one(messages[next++]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? DEFAULT_RECONCILE_CONCURRENCY, messages.length)) }, worker));
  if (report.forbidden) {
    o.log.warn(
      { platform: o.platform, forbidden: report.forbidden },
      `could not read the reactions of ${report.forbidden} message(s): the bot lacks access there — ${o.forbiddenHint ?? 'check its permissions'}; ratings given there while it was away are missing until then`,
    );
  }
  const level = report.failed || report.capped ? 'warn' : 'info';
  const capNote = report.capped
    ? ` (the newest ${max} of the last ${o.days} days; older ones were not read — lower REACTION_RECONCILE_DAYS or expect them missed)`
    : '';
  o.log[level](
    { ...report, days: o.days },
    `reconciled reactions of ${report.messages} recent rateable messages${capNote}: ${report.added} ratings added, ${report.removed} removed while the bot was away`,
  );
  return report;
}

/**
 * Runs one pass at a time; a request while a pass runs queues exactly one more (a reconnect during a
 * pass may have missed events the running pass already read past). Each request says since when a
 * pass is needed (the start of the session that asked); a queued pass needs the latest of them.
 */
export function reconcileScheduler(run: (neededSince: Date) => Promise<unknown>): {
  request(neededSince?: Date): Promise<void>;
  idle(): Promise<void>;
} {
  let running: Promise<void> | null = null;
  let pending: Date | null = null;
  const loop = async () => {
    while (pending) {
      const since = pending;
      pending = null;
      await run(since);
    }
  };
  return {
    request(neededSince = new Date()) {
      if (!pending || neededSince > pending) pending = neededSince;
      if (running) return running;
      running = loop().finally(() => {
        running = null;
      });
      return running;
    },
    idle: async () => {
      await running;
    },
  };
}

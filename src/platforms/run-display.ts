/**
 * Shows runs durably: each platform adapter owns one RunDisplay that reads the outbox feed of runs
 * whose destination is that platform (services.runs.feed), renders the events (render-run.ts) and
 * posts them into the run's thread — re-attached by id, so a process started after a crash continues
 * in the same thread.
 *
 * Exactly once per event key: before posting, the key is looked up in platform_messages
 * (services.messages.byEventKey); the adapter's Conversation.post records it right after the post
 * (OutMessage.idempotencyKey). The window between a post and its record (a crash there) is closed per
 * platform:
 * - Discord: the message nonce with enforce_nonce — a repeated post returns the first message.
 * - Slack and the playground: the post itself carries the key (Slack: message metadata, or the
 *   block_id of an image share; playground: the message in its state file), and
 *   Conversation.findPosted looks for it. It is asked only while a run is being caught up with (the
 *   run's events this process had not shown yet when it first read them: what an earlier process may
 *   have posted without recording), never in steady state: after a restart that is one history read
 *   per run (per batch of its events, until one posts something new). What it finds is recorded (and
 *   finished: rating controls) and not posted again.
 * The progress message is one message per run (key `${runId}:progress`), found again after a restart
 * and edited in place. The closing notice records `${runId}:end:done`, which ends the run's feed.
 */
import type { Logger } from 'pino';
import { runDoneKey } from '../core/run-feed';
import type { RunEvent } from '../core/optimizer/events';
import type { Services } from '../core/services';
import type { Conversation, Notify, OutMessage, RunFollower, RunOutcome } from '../../commands/kit/types';
import { renderRunEvent, type RenderOp } from './render-run';

/** Where a run is shown; stored in runs.destination (opaque to the core). */
export interface RunDestination {
  platform: string;
  /** The channel /optimize was typed in (the closing notice goes there). */
  channelId: string;
  /** The run's thread. */
  threadId?: string;
  scopeId?: string;
}

export interface RunDisplayOptions {
  platform: string;
  services: Services;
  log: Logger;
  /** A conversation by id with no client cache needed (the thread, or the command's channel). */
  conversation(id: string, dest: RunDestination): Conversation;
  pollMs?: number;
}

export const progressKey = (runId: string): string => `${runId}:progress`;

export class RunDisplay implements RunFollower {
  private readonly cursors = new Map<string, number>();
  private readonly followers = new Map<string, { notify?: Notify; resolve: (o: RunOutcome) => void }>();
  /**
   * Runs this process has caught up with: nothing of theirs can be posted-but-unrecorded by an earlier
   * process any more, so posts need no Conversation.findPosted first. A run joins once a batch of its
   * events posted something new here (or reached its end), or when it was started here (follow()).
   */
  private readonly caughtUp = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private pass: Promise<void> | null = null;
  private again = false;
  private stopped = true;

  constructor(private readonly opts: RunDisplayOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    // Live events are only a wake-up call here; what to post always comes from the durable feed.
    this.unsubscribe = this.opts.services.runs.subscribe(() => void this.poll());
    this.timer = setInterval(() => void this.poll(), this.opts.pollMs ?? 250);
    void this.poll();
  }

  /** Stops reading the feed; resolves once the pass in flight is over. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.pass?.catch(() => undefined);
  }

  /** Resolves when the run's closing notice is out; `notify` (this process only) delivers that notice. */
  follow(runId: string, notify?: Notify): Promise<RunOutcome> {
    // Started by a command of this process: no earlier process can have posted any of it.
    if (!this.cursors.has(runId)) this.caughtUp.add(runId);
    const done = new Promise<RunOutcome>((resolve) => this.followers.set(runId, { notify, resolve }));
    void this.poll();
    return done;
  }

  /** One pass over the feed now (coalesced: at most one pass at a time, another right after if asked). */
  poll(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.pass) {
      this.again = true;
      return this.pass;
    }
    this.pass = (async () => {
      do {
        this.again = false;
        await this.onePass();
      } while (this.again && !this.stopped);
    })()
      .catch((err: unknown) => this.opts.log.warn({ err }, 'reading the run feed failed; will retry'))
      .finally(() => {
        this.pass = null;
      });
    return this.pass;
  }

  private async onePass(): Promise<void> {
    const rows = await this.opts.services.runs.feed(this.opts.platform, Object.fromEntries(this.cursors));
    const byRun = new Map<string, typeof rows>();
    for (const r of rows) byRun.set(r.runId, [...(byRun.get(r.runId) ?? []), r]);
    // Runs advance independently; one run's messages stay in order.
    await Promise.all(
      [...byRun.entries()].map(async ([runId, events]) => {
        const dest = events[0]!.destination as unknown as RunDestination;
        const ended = await this.show(
          runId,
          dest,
          events.map((e) => e.event),
        );
        // A run shown to its end leaves the feed (its done marker); keep no cursor for it.
        if (ended) {
          this.cursors.delete(runId);
          this.caughtUp.delete(runId);
        } else this.cursors.set(runId, Math.max(this.cursors.get(runId) ?? 0, ...events.map((e) => e.id)));
      }),
    );
  }

  /** Applies the events' operations in order; true when the run's display ended (its 'done' op ran). */
  private async show(runId: string, dest: RunDestination, events: RunEvent[]): Promise<boolean> {
    if (!dest.threadId) return false;
    const thread = this.opts.conversation(dest.threadId, dest);
    const batch: Batch = { recovering: !this.caughtUp.has(runId), postedNew: false };
    let ended = false;
    for (const op of collapseProgress(events.flatMap((e) => renderRunEvent(e)))) {
      if (this.stopped) return false;
      if (op.op === 'done') ended = true;
      try {
        await this.apply(runId, dest, thread, op, batch);
      } catch (err) {
        // One lost post must not stop the rest of the run's messages.
        this.opts.log.error({ err, runId, key: op.key }, 'posting a run message failed');
      }
    }
    // Everything this process found of the run is shown now: from here on its posts are new.
    if (batch.postedNew || ended) this.caughtUp.add(runId);
    return ended;
  }

  /**
   * While catching up with a run: the message an earlier process posted for `key` but never recorded
   * (it crashed in between), recorded now by the adapter (Conversation.findPosted), or undefined.
   */
  private async findLost(
    conversation: Conversation,
    key: string,
    msg: OutMessage,
    runId: string,
    batch: Batch,
  ): Promise<string | undefined> {
    if (!batch.recovering || !conversation.findPosted) return undefined;
    const found = await conversation.findPosted({ ...msg, idempotencyKey: key });
    if (found)
      this.opts.log.info(
        { runId, key, messageId: found },
        'found a run message posted before a restart but never recorded: recorded it, not posted again',
      );
    return found;
  }

  private async apply(runId: string, dest: RunDestination, thread: Conversation, op: RenderOp, batch: Batch): Promise<void> {
    const { services, platform } = this.opts;
    if (op.op === 'post') {
      if (await services.messages.byEventKey(platform, op.key)) return;
      if (await this.findLost(thread, op.key, op.message, runId, batch)) return;
      batch.postedNew = true;
      await thread.post({ ...op.message, idempotencyKey: op.key });
      return;
    }
    if (op.op === 'progress') {
      const key = progressKey(runId);
      const existing =
        (await services.messages.byEventKey(platform, key))?.messageId ?? (await this.findLost(thread, key, op.message, runId, batch));
      if (existing) await thread.edit(existing, op.message);
      else {
        batch.postedNew = true;
        await thread.post({ ...op.message, idempotencyKey: key });
      }
      return;
    }
    const doneKey = runDoneKey(runId);
    if (await services.messages.byEventKey(platform, doneKey)) return this.settle(runId, op.outcome);
    const follower = this.followers.get(runId);
    try {
      if (follower?.notify) {
        // The key rides along: where the answer is a plain post (Slack), it is marked and recorded too.
        await follower.notify({ ...op.notice, idempotencyKey: doneKey });
        await services.messages.record({
          platform,
          messageId: doneKey,
          channelId: dest.channelId,
          scopeId: dest.scopeId,
          runId,
          kind: 'info',
          eventKey: doneKey,
        });
      } else {
        // No live answer to fill (e.g. after a restart): the notice goes to the command's channel.
        const channel = this.opts.conversation(dest.channelId, dest);
        if (!(await this.findLost(channel, doneKey, op.notice, runId, batch)))
          await channel.post({ ...op.notice, idempotencyKey: doneKey });
      }
    } catch (err) {
      this.opts.log.warn({ err, runId }, 'could not post the run outcome notice');
      // The run is over either way: mark it so the feed ends rather than retrying forever.
      await services.messages.record({
        platform,
        messageId: doneKey,
        channelId: dest.channelId,
        scopeId: dest.scopeId,
        runId,
        kind: 'info',
        eventKey: doneKey,
      });
    }
    this.settle(runId, op.outcome);
  }

  private settle(runId: string, outcome: RunOutcome): void {
    const f = this.followers.get(runId);
    this.followers.delete(runId);
    f?.resolve(outcome);
  }
}

/** One run's batch of events in one pass. */
interface Batch {
  /** The run is being caught up with: look for posts an earlier process made without recording them. */
  recovering: boolean;
  /** Something was posted for the first time in this batch. */
  postedNew: boolean;
}

/**
 * Within one batch only the newest progress text matters (catching up after a restart would otherwise
 * replay every older state): it takes the place of the batch's first progress operation.
 */
export function collapseProgress(ops: RenderOp[]): RenderOp[] {
  const idx = ops.map((o, i) => (o.op === 'progress' ? i : -1)).filter((i) => i >= 0);
  if (idx.length <= 1) return ops;
  const last = ops[idx.at(-1)!]!;
  const first = idx[0]!;
  return ops.flatMap((o, i) => (o.op !== 'progress' ? [o] : i === first ? [last] : []));
}

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
 * Several processes reading one platform's feed (Slack web replicas, gateways in a rolling update)
 * could each look a key up, find nothing, and both post: a process posts a run's events only while it
 * holds the run's display claim (display-claims.ts), checked before every post. One that takes a run
 * over from another goes through the whole run again as a catch-up (looking for posts first).
 * The progress message stays the thread's last: edited in place within an iteration, posted anew
 * after each iteration's grid under that iteration's key, the older ones then removed (progress-trail.ts). The closing notice records `${runId}:end:done`, which ends the run's feed.
 * A run without a thread yet (made for you: started by the weekly worker, not a command) gets its
 * parent message and thread from the claim holder first (run-thread.ts); a channel that takes no posts
 * gives the run up: cancelled, logged once with a reference, the person told on their next /suggest.
 */
import type { Logger } from 'pino';
import { ChannelUnavailableError } from '../core/errors';
import type { MadeForYouPost } from '../core/made-for-you';
import { runDoneKey, type FeedEvent } from '../core/run-feed';
import type { RunEvent } from '../core/optimizer/events';
import type { Services } from '../core/services';
import type { Conversation, Notify, OutMessage, RunFollower, RunOutcome } from '../../commands/kit/types';
import { DisplayClaims } from './display-claims';
import { newReferenceId } from './dispatch';
import { processHolder } from './reaction-read-back';
import { collapseProgressOps, ProgressTrail } from './progress-trail';
import { renderRunEvent, type RenderOp } from './render-run';
import { withRunPictures } from './run-pictures';
import { notPostedReason, openRunThread, type ThreadOpener } from './run-thread';

/** Where a run is shown; stored in runs.destination (opaque to the core). */
export interface RunDestination {
  platform: string;
  /** The channel /optimize was typed in (the closing notice goes there). */
  channelId: string;
  /** The run's thread (null: a made-for-you run whose thread is not open yet). */
  threadId?: string | null;
  scopeId?: string;
  /** The thread's title (a made-for-you run: "🎁 Made for you, <name>"). */
  title?: string;
  /** Set on a run the weekly worker started: whom its thread's parent message is for (core/made-for-you.ts). */
  madeForYou?: MadeForYouPost;
}

export interface RunDisplayOptions {
  platform: string;
  services: Services;
  log: Logger;
  /** A conversation by id with no client cache needed (the thread, or the command's channel). */
  conversation(id: string, dest: RunDestination): Conversation;
  pollMs?: number;
  /**
   * Whether this process shows a run (default: every run of the platform). Several gateway processes
   * split a platform's runs so that no two post the same event: Discord shows a run in the process
   * whose shards carry its server.
   */
  shows?: (dest: RunDestination) => boolean;
  /**
   * How long this process's claim on a run it shows lasts without renewal (default 15 s; renewed every
   * third of it): another process showing the same platform takes a run over this long after the
   * holder died. A process that stops gives its runs up at once.
   */
  claimLeaseMs?: number;
  /** How this platform opens a thread on a message: without it, runs started without a thread are not shown. */
  threads?: ThreadOpener;
}

const DEFAULT_CLAIM_LEASE_MS = 15_000;
/** A run this process did not start waits this long before claiming it (its starter follows it: see display-claims.ts). */
const HEAD_START_MS = 1_000;
/** A thread that could not be opened for a passing reason (a network error) is tried again this much later. */
const THREAD_RETRY_MS = 5_000;

export class RunDisplay implements RunFollower {
  private readonly cursors = new Map<string, number>();
  private readonly followers = new Map<string, { notify?: Notify; resolve: (o: RunOutcome) => void }>();
  /**
   * Runs this process has caught up with: nothing of theirs can be posted-but-unrecorded by an earlier
   * process any more, so posts need no Conversation.findPosted first. A run joins once a batch of its
   * events posted something new here (or reached its end), or when it was started here (follow()).
   */
  private readonly caughtUp = new Set<string>();
  /** Runs another process shows whose last event went by here, with when (see skipRunsShownElsewhere). */
  private readonly endedElsewhere = new Map<string, number>();
  /** Which runs this process shows now: only while it holds a run's claim does it post the run's events. */
  private readonly claims: DisplayClaims;
  private readonly leaseMs: number;
  /** Which progress messages each run has had, so a new one (posted last) removes the older ones. */
  private readonly progress: ProgressTrail;
  /** How runs followed here but shown by another process ended, as their events went by (settles follow()). */
  private readonly outcomes = new Map<string, RunOutcome>();
  /** Runs whose thread could not be opened for a passing reason, with when to try again. */
  private readonly threadRetryAt = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  /** The renewal in flight: stop() waits for it, so no claim is renewed after the claims are given up. */
  private renewing: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;
  private pass: Promise<void> | null = null;
  private again = false;
  private stopped = true;

  constructor(private readonly opts: RunDisplayOptions) {
    this.leaseMs = opts.claimLeaseMs ?? DEFAULT_CLAIM_LEASE_MS;
    this.progress = new ProgressTrail(opts.services, opts.platform);
    this.claims = new DisplayClaims({
      platform: opts.platform,
      holder: processHolder(opts.platform),
      messages: opts.services.messages,
      leaseMs: this.leaseMs,
      headStartMs: Math.min(HEAD_START_MS, this.leaseMs / 4),
    });
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    // Live events are only a wake-up call here; what to post always comes from the durable feed.
    this.unsubscribe = this.opts.services.runs.subscribe(() => void this.poll());
    this.timer = setInterval(() => void this.poll(), this.opts.pollMs ?? 250);
    // Claims are renewed apart from the passes, so a post held up by a rate limit does not let them lapse.
    this.heartbeat = setInterval(() => {
      this.renewing = this.claims
        .renewDue()
        .catch((err: unknown) => this.opts.log.warn({ err }, 'renewing run display claims failed; will retry'));
    }, this.leaseMs / 6);
    void this.poll();
  }

  /**
   * Stops reading the feed; resolves once the pass in flight is over and the runs this process showed
   * are given up (another process takes them over at once rather than after their claims expire).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.timer = null;
    this.heartbeat = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.pass?.catch(() => undefined);
    await this.renewing;
    await this.claims
      .releaseAll()
      .catch((err: unknown) => this.opts.log.warn({ err }, 'could not give run display claims up; they expire on their own'));
  }

  /** Resolves when the run's closing notice is out; `notify` (this process only) delivers that notice. */
  follow(runId: string, notify?: Notify): Promise<RunOutcome> {
    // Started by a command of this process: no earlier process can have posted any of it.
    if (!this.cursors.has(runId)) this.caughtUp.add(runId);
    // Its closing notice answers this process's command: claim it now rather than after a head start.
    this.claims.askSoon(runId);
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
    this.skipRunsShownElsewhere(byRun);
    // Runs advance independently; one run's messages stay in order. Runs held or watched are looked at
    // without new events too: a claim is renewed, or taken over from a holder that died.
    const runIds = new Set([...byRun.keys(), ...this.claims.known()]);
    await Promise.all([...runIds].map((runId) => this.passRun(runId, byRun.get(runId) ?? [])));
  }

  /** One run's share of a pass: shown while this process holds its claim, else only read past. */
  private async passRun(runId: string, events: FeedEvent[]): Promise<void> {
    const standing = await this.claims.standing(runId, { followed: this.followers.has(runId) });
    if (standing === 'over') return this.shownToEndElsewhere(runId);
    if (standing === 'elsewhere') return this.readPast(runId, events);
    // Taken over after this process read past part of it: another process may have shown (or half
    // shown) that part, so go through the whole run again, looking for posts before repeating them.
    if (standing === 'taken' && this.cursors.has(runId)) {
      this.opts.log.info({ runId }, 'took over showing a run another process was showing');
      return this.catchUpFromStart(runId);
    }
    if (!events.length) return;
    let dest = events[0]!.destination as unknown as RunDestination;
    if (!dest.threadId && dest.madeForYou && this.opts.threads) {
      const threadId = await this.openThread(runId, dest, dest.madeForYou, this.opts.threads);
      if (!threadId) return;
      dest = { ...dest, threadId };
    }
    const shown = await this.show(
      runId,
      dest,
      events.map((e) => e.event),
    );
    if (shown === 'ended') {
      // A run shown to its end leaves the feed (its done marker); keep no cursor nor claim for it.
      this.cursors.delete(runId);
      this.caughtUp.delete(runId);
      this.progress.forget(runId);
      await this.claims
        .release(runId)
        .catch((err: unknown) => this.opts.log.warn({ err, runId }, 'could not give a run display claim up; it expires on its own'));
    } else if (shown === 'shown') this.cursors.set(runId, Math.max(this.cursors.get(runId) ?? 0, ...events.map((e) => e.id)));
    // 'lost' (the claim went, or this process stops): the cursor stays, the next look decides.
  }

  /**
   * The thread of a made-for-you run (run-thread.ts), or undefined: not now (a passing failure, tried
   * again in a few seconds with the run's events unread), or never (the channel takes no posts: the
   * run is given up and leaves the feed).
   */
  private async openThread(runId: string, dest: RunDestination, post: MadeForYouPost, threads: ThreadOpener): Promise<string | undefined> {
    if ((this.threadRetryAt.get(runId) ?? 0) > Date.now()) return undefined;
    const { services, platform, log } = this.opts;
    try {
      const threadId = await openRunThread({
        runId,
        platform,
        services,
        channel: this.opts.conversation(dest.channelId, dest),
        dest: { ...dest, madeForYou: post },
        opener: threads,
        recovering: !this.caughtUp.has(runId),
      });
      this.threadRetryAt.delete(runId);
      log.info({ runId, threadId }, 'made for you: opened the run’s thread');
      return threadId;
    } catch (err) {
      if (!(err instanceof ChannelUnavailableError)) {
        this.threadRetryAt.set(runId, Date.now() + THREAD_RETRY_MS);
        log.warn({ err, runId }, 'made for you: could not open the run’s thread; will retry');
        return undefined;
      }
      this.threadRetryAt.delete(runId);
      // Once: the done marker below takes the run out of every process's feed.
      const referenceId = newReferenceId();
      log.error({ err, runId, channelId: dest.channelId, referenceId }, 'made for you: the channel takes no posts; run given up');
      await services.runs.cancel(post.userKey, runId).catch(() => null);
      await services.madeForYou?.notPosted(post.userKey, runId, notPostedReason(referenceId));
      await this.markDone(runId, dest);
      this.cursors.delete(runId);
      this.caughtUp.delete(runId);
      await this.claims
        .release(runId)
        .catch((e: unknown) => log.warn({ err: e, runId }, 'could not give a run display claim up; it expires on its own'));
      return undefined;
    }
  }

  /** Another process shows the run: its events are read past, not shown again on every pass. */
  private readPast(runId: string, events: FeedEvent[]): void {
    if (!events.length) return;
    this.cursors.set(runId, Math.max(this.cursors.get(runId) ?? 0, ...events.map((e) => e.id)));
    if (!this.followers.has(runId)) return;
    for (const e of events) for (const op of renderRunEvent(e.event)) if (op.op === 'done') this.outcomes.set(runId, op.outcome);
  }

  private catchUpFromStart(runId: string): void {
    this.cursors.delete(runId);
    this.caughtUp.delete(runId);
    this.again = true;
  }

  /**
   * The run's display ended in another process (its closing notice went to the command's channel from
   * there). A follower here is settled with the outcome its events showed; had this process read none
   * of them, it is dropped unsettled (nothing here awaits it beyond the command that started the run).
   */
  private shownToEndElsewhere(runId: string): void {
    this.cursors.delete(runId);
    this.caughtUp.delete(runId);
    this.claims.forget(runId);
    const outcome = this.outcomes.get(runId);
    this.outcomes.delete(runId);
    if (outcome) this.settle(runId, outcome);
    else this.followers.delete(runId);
  }

  /**
   * Drops the runs another process shows (options.shows). Their cursor still advances, so their events
   * are not read again on every pass (nor crowd this process's runs out of the feed's page); it is
   * forgotten ten minutes after the run's last event, when its own process has long ended its feed.
   */
  private skipRunsShownElsewhere(byRun: Map<string, FeedEvent[]>): void {
    const shows = this.opts.shows;
    if (!shows) return;
    const now = Date.now();
    for (const [runId, endedAt] of this.endedElsewhere)
      if (now - endedAt > 10 * 60_000) {
        this.endedElsewhere.delete(runId);
        this.cursors.delete(runId);
      }
    for (const [runId, events] of byRun) {
      if (shows(events[0]!.destination as unknown as RunDestination)) continue;
      byRun.delete(runId);
      this.cursors.set(runId, Math.max(this.cursors.get(runId) ?? 0, ...events.map((e) => e.id)));
      if (events.some((e) => renderRunEvent(e.event).some((op) => op.op === 'done'))) this.endedElsewhere.set(runId, now);
    }
  }

  /**
   * Applies the events' operations in order, each while this process still holds the run's claim:
   * 'ended' when the run's display ended (its 'done' op ran), 'lost' when it stopped part-way (the claim
   * went, or this process stops), else 'shown'.
   */
  private async show(runId: string, dest: RunDestination, events: RunEvent[]): Promise<'ended' | 'shown' | 'lost'> {
    if (!dest.threadId) return 'shown';
    const thread = this.opts.conversation(dest.threadId, dest);
    const batch: Batch = { recovering: !this.caughtUp.has(runId), postedNew: false };
    let ended = false;
    for (const op of collapseProgressOps(events.flatMap((e) => renderRunEvent(e)))) {
      if (this.stopped || !(await this.stillHolds(runId))) return 'lost';
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
    return ended ? 'ended' : 'shown';
  }

  /** Whether the run's claim is still this process's (renewed here if due). A claim that lapsed and was taken again means starting over. */
  private async stillHolds(runId: string): Promise<boolean> {
    const standing = await this.claims.standing(runId, { followed: this.followers.has(runId) });
    if (standing === 'taken') this.catchUpFromStart(runId);
    return standing === 'held';
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
      await thread.post({ ...(await withRunPictures(services, op.message, this.opts.log)), idempotencyKey: op.key });
      return;
    }
    if (op.op === 'progress') {
      // One key per progress message (the run's first is `${runId}:progress`); a new one is posted last and retires the older ones.
      const key = op.key;
      // Replaced by a newer one before a restart: that one stands, this one stays gone.
      if (await this.progress.removed(key)) return;
      const existing =
        (await services.messages.byEventKey(platform, key))?.messageId ?? (await this.findLost(thread, key, op.message, runId, batch));
      if (existing) await thread.edit(existing, op.message);
      else {
        batch.postedNew = true;
        await thread.post({ ...op.message, idempotencyKey: key });
      }
      await this.progress.retire(runId, thread, key, op.replaces, (k) =>
        this.findLost(thread, k, { kind: 'progress', runId, text: '' }, runId, batch),
      );
      return;
    }
    const doneKey = runDoneKey(runId);
    if (await services.messages.byEventKey(platform, doneKey)) return this.settle(runId, op.outcome);
    const follower = this.followers.get(runId);
    try {
      if (follower?.notify) {
        // The key rides along: where the answer is a plain post (Slack), it is marked and recorded too.
        await follower.notify({ ...op.notice, idempotencyKey: doneKey });
        await this.markDone(runId, dest);
      } else {
        // No live answer to fill (e.g. after a restart): the notice goes to the command's channel.
        const channel = this.opts.conversation(dest.channelId, dest);
        if (!(await this.findLost(channel, doneKey, op.notice, runId, batch)))
          await channel.post({ ...op.notice, idempotencyKey: doneKey });
      }
    } catch (err) {
      this.opts.log.warn({ err, runId }, 'could not post the run outcome notice');
      // The run is over either way: mark it so the feed ends rather than retrying forever.
      await this.markDone(runId, dest);
    }
    this.settle(runId, op.outcome);
  }

  /** Records the run's done marker (its closing notice's key), which ends the run in every process's feed. */
  private async markDone(runId: string, dest: RunDestination): Promise<void> {
    const doneKey = runDoneKey(runId);
    await this.opts.services.messages.record({
      platform: this.opts.platform,
      messageId: doneKey,
      channelId: dest.channelId,
      scopeId: dest.scopeId,
      runId,
      kind: 'info',
      eventKey: doneKey,
    });
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

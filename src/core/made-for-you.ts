/**
 * "Made for you": an opt-in weekly post. Each opted-in person gets one short optimize run, started
 * from a prompt of one of their top-rated images, posted as a normal run where they opted in.
 *
 * - Only worker processes schedule (MadeForYouScheduler.start): every few minutes they claim the due
 *   subscriptions (made-for-you-store.claimDue: FOR UPDATE SKIP LOCKED + the stamp in one
 *   transaction) and start each claimed week's run through RunService.start, whose request key is
 *   the person and the claim time: even a claim repeated by mistake starts one run.
 * - A week that cannot run (over quota, a run already going, nothing rated highly with a prompt) is
 *   skipped: the reason is recorded and told once (the person's next /suggest), never retried in a
 *   loop — the next try is a whole interval later.
 */
import type { Db } from '../db/connection';
import type { Logger } from '../log';
import { silentLogger } from '../log';
import { isUserError } from './errors';
import type { PersonRef, Platform, UserKey } from './identity';
import type { ImageRecord } from './records';
import type { StartRunRequest } from './services';
import { LIKED_FROM_SCORE } from './suggestion-reasons';
import {
  claimDue,
  readSubscription,
  recordNotPosted,
  recordRun,
  recordSkip,
  subscribe,
  takeUntoldSkip,
  unsubscribe,
  type MadeForYouApi,
  type MadeForYouSubscription,
  type OptInResult,
} from './made-for-you-store';

/** A short run: the post is a taste of the loop, not a full optimization of the person's budget. */
export const MADE_FOR_YOU_ITERATIONS = 2;
export const MADE_FOR_YOU_CANDIDATES = 4;
/** The run's prompt comes from one of the person's this many best-rated images (a different one each week). */
const TOP_IMAGES = 5;
const CLAIM_BATCH = 20;

export interface MadeForYouDeps {
  db: Db;
  ledger: { listRatings(userKey: UserKey): Promise<{ imageId: string; score: number }[]> };
  images: { getMany(ids: string[]): Promise<Map<string, ImageRecord>> };
  runs: { start(req: StartRunRequest): Promise<{ runId: string }> };
  intervalHours: number;
  now?: () => Date;
  log?: Logger;
}

export type WeekOutcome = { userKey: UserKey; runId: string } | { userKey: UserKey; skipped: string };

export class MadeForYou implements MadeForYouApi {
  private readonly now: () => Date;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: MadeForYouDeps) {
    this.now = deps.now ?? (() => new Date());
    this.log = deps.log ?? silentLogger;
  }

  async optIn(sub: MadeForYouSubscription): Promise<OptInResult> {
    if ((await this.promptsOf(sub.userKey)).length === 0) return { kind: 'no-ratings' };
    await subscribe(this.deps.db, sub, this.now());
    return { kind: 'subscribed', intervalHours: this.deps.intervalHours };
  }

  optOut(userKey: UserKey): Promise<boolean> {
    return unsubscribe(this.deps.db, userKey);
  }

  untoldSkip(userKey: UserKey): Promise<string | undefined> {
    return takeUntoldSkip(this.deps.db, userKey, this.now());
  }

  notPosted(userKey: UserKey, runId: string, reason: string): Promise<void> {
    return recordNotPosted(this.deps.db, userKey, runId, reason);
  }

  /** Checks for due weeks now and every `everyMs` (worker processes only: see app.ts). */
  start(everyMs = 5 * 60_000): void {
    if (this.timer) return;
    const tick = () => {
      this.checking = this.runDue().catch((err: unknown) => this.log.warn({ err }, 'made for you: check failed'));
    };
    tick();
    this.timer = setInterval(tick, everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.checking;
  }

  /** One check: claims the due weeks and starts (or skips) each. */
  async runDue(): Promise<WeekOutcome[]> {
    const at = this.now();
    const claimed = await claimDue(this.deps.db, at, this.deps.intervalHours * 3_600_000, CLAIM_BATCH);
    const outcomes: WeekOutcome[] = [];
    for (const sub of claimed) outcomes.push(await this.startWeek(sub, at));
    return outcomes;
  }

  private async startWeek(sub: MadeForYouSubscription, at: Date): Promise<WeekOutcome> {
    const prompts = await this.promptsOf(sub.userKey);
    const week = Math.floor(at.getTime() / (this.deps.intervalHours * 3_600_000));
    const prompt = prompts[week % Math.max(1, prompts.length)];
    if (!prompt) return this.skip(sub.userKey, 'none of the images you rated highly has a prompt to start from; rate a few more');
    try {
      const { runId } = await this.deps.runs.start(madeForYouRequest(sub, prompt, at));
      await recordRun(this.deps.db, sub.userKey, runId);
      this.log.info({ userKey: sub.userKey, runId }, 'made for you: run started');
      return { userKey: sub.userKey, runId };
    } catch (err) {
      // A person's limit (quota, budget, a run going) skips this week; anything else is logged and skipped too.
      if (!isUserError(err)) this.log.error({ err, userKey: sub.userKey }, 'made for you: the run could not start');
      return this.skip(sub.userKey, isUserError(err) ? err.message : 'the run could not start');
    }
  }

  private async skip(userKey: UserKey, reason: string): Promise<WeekOutcome> {
    await recordSkip(this.deps.db, userKey, reason);
    return { userKey, skipped: reason };
  }

  /** Prompts of the person's best-rated liked images (highest score first, newest prompt wins ties by order). */
  private async promptsOf(userKey: UserKey): Promise<string[]> {
    const liked = (await this.deps.ledger.listRatings(userKey))
      .filter((r) => r.score >= LIKED_FROM_SCORE)
      .sort((a, b) => b.score - a.score || a.imageId.localeCompare(b.imageId));
    const records = await this.deps.images.getMany(liked.map((r) => r.imageId));
    const prompts = liked.flatMap((r) => {
      const p = records.get(r.imageId)?.prompt?.trim();
      return p ? [p] : [];
    });
    return [...new Set(prompts)].slice(0, TOP_IMAGES);
  }
}

/** What a platform needs to open a made-for-you run's thread (its parent message names the person and the prompt). */
export interface MadeForYouPost {
  userKey: UserKey;
  /** The person's id on the platform (for a mention where the platform has one). */
  userId: string;
  displayName: string;
  prompt: string;
}

/**
 * The run request of one week: a normal run in the opted-in channel, titled for the person. No thread
 * exists yet: `threadId: null` puts the run in its platform's feed (core/run-feed.ts lists runs whose
 * destination has the key), where the process showing it opens the thread first (platforms/run-thread.ts).
 */
function madeForYouRequest(sub: MadeForYouSubscription, prompt: string, at: Date): StartRunRequest {
  const requester = personOf(sub.userKey, sub.displayName);
  const post: MadeForYouPost = { userKey: sub.userKey, userId: requester.userId, displayName: sub.displayName, prompt };
  const destination: Record<string, unknown> = {
    platform: sub.platform,
    channelId: sub.channelId,
    ...(sub.scopeId ? { scopeId: sub.scopeId } : {}),
    threadId: null,
    title: `🎁 Made for you, ${sub.displayName}`,
    madeForYou: post,
  };
  return {
    requester,
    prompt,
    iterations: MADE_FOR_YOU_ITERATIONS,
    candidates: MADE_FOR_YOU_CANDIDATES,
    ...(sub.scopeId ? { scopeId: sub.scopeId } : {}),
    requestKey: `made-for-you:${sub.userKey}:${at.toISOString()}`,
    destination,
    note: `Made for you, ${sub.displayName}, from one of your top-rated images. Stop these with /suggest weekly:off.`,
  };
}

/** The person a user key names (`platform:workspace-or-dash:userId`, see identity.ts). */
function personOf(userKey: UserKey, displayName: string): PersonRef {
  const [platform = '', ws = '-', ...rest] = userKey.split(':');
  return { platform: platform as Platform, ...(ws !== '-' ? { workspaceId: ws } : {}), userId: rest.join(':'), displayName };
}

export { readSubscription };

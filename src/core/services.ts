/**
 * What commands and platform adapters may call: the core's public face. src/app.ts builds one
 * `Services` from the configured backends; tests build it on PGlite with offline providers.
 */
import type { GalleryStatus } from './gallery';
import type { PersonRef, UserKey } from './identity';
import type { ImageRecord, RatingChange, RatingContext, ScorerQuality } from './records';
import type { ConfidenceReading } from './scorer/confidence';
import type { FeedbackSet, GroupObjective, OptimizerKind, RunEvent, RunMetricsView } from './optimizer/events';
import type { ForgetHook } from './privacy';
import type { RunPicturesApi } from './run-pictures';
import type { ReconcileMessageInput } from './reaction-sync';
import type { SuggestionsApi } from './suggestions';
import type { MadeForYouApi } from './made-for-you-store';
import type { PicksApi } from './picks';
import type { TasteCodesApi } from './taste-codes';

import type { ReadBackClaim } from '../db/read-back-passes';
import type { RunDisplayClaim } from '../db/run-display-claims';

/** A message the bot posted that carries an image people rate by reacting. */
export interface RateableMessage {
  messageId: string;
  channelId: string;
  scopeId: string | null;
  imageId: string;
}

export interface StartRunRequest {
  requester: PersonRef;
  /** Group members (user keys) for group runs; empty/undefined = the requester alone. */
  members?: UserKey[];
  objective?: GroupObjective;
  prompt: string;
  iterations?: number;
  candidates?: number;
  feedback?: FeedbackSet;
  optimizer?: OptimizerKind;
  seed?: number;
  /** Guild / workspace the request came from (from the verified platform event). */
  scopeId?: string;
  /** Dedupe key: the platform's interaction id / Slack trigger; one request starts at most one run. */
  requestKey?: string;
  /** Where to post; opaque to the core, echoed back to the platform. */
  destination?: Record<string, unknown>;
  /** Extra words for the run header (e.g. "your scorer is still learning"). */
  note?: string;
  /** A taste code (as the person typed it): its frozen scorer scores the run; the requester's own, or a shared one. */
  taste?: string;
}

export interface ProfileSummary {
  userKey: UserKey;
  ratings: number;
  /** Picks made with /rate mode:pick (each teaches the scorer as three preferences); absent where not counted. */
  picks?: number;
  method: string;
  quality: ScorerQuality;
  /** The confidence meter (scorer/confidence.ts); absent where the taste service does not compute it. */
  confidence?: ConfidenceReading;
  topImages: { image: ImageRecord; score: number }[];
  predictedFavorites: { image: ImageRecord; predicted: number }[];
}

export interface Services {
  backends: Record<string, string>;
  /**
   * What the configured image generator cannot show of a prompt, in one sentence (the offline sketch
   * renderer names the words it does not draw); absent or undefined when it can show all of it.
   */
  imageLimits?: (prompt: string) => string | undefined;
  /** Taste profiles and comparisons; see src/core/profiles-and-privacy.ts. */
  profiles: ProfilesApi;
  /** Opt-in sharing, visibility checks, forget and export. */
  privacy: PrivacyApi;
  /** A run's grid and score chart pictures (absent where no chart renderer is wired: messages go without them). */
  pictures?: RunPicturesApi;
  /** /suggest: the scope's images a person would like and has not seen (absent where not wired: the command says so). */
  suggestions?: SuggestionsApi;
  /** The opt-in weekly "made for you" run (/suggest weekly:on|off); absent where the bot does not offer it. */
  madeForYou?: MadeForYouApi;
  /** /rate mode:pick: sets of four to pick from and the picks (absent where not wired: the command says so). */
  picks?: PicksApi;
  /** Taste codes: /profile's code and history (absent where not wired: /profile goes without them). */
  tasteCodes?: TasteCodesApi;
  images: {
    get(id: string): Promise<ImageRecord | undefined>;
    readBytes(id: string): Promise<Buffer>;
    /** Ingest an image a person posted (attachment / upload). */
    ingest(bytes: Buffer, meta: { source: 'uploaded' | 'attachment'; ownerKey?: UserKey }): Promise<ImageRecord>;
  };
  people: {
    /** Records the person (and the scope they were seen in). Returns their key. ForgottenError for a forgotten person. */
    touch(person: PersonRef, scopeId?: string): Promise<UserKey>;
  };
  ratings: {
    rate(person: PersonRef, imageId: string, score: number, ctx: RatingContext, eventTime?: Date): Promise<RatingChange>;
    unrate(person: PersonRef, imageId: string, score: number, ctx: RatingContext, eventTime?: Date): Promise<RatingChange>;
    /** Scores of the person's votes standing on the image now, read from the ledger (the playground's buttons clear these). */
    standing(person: PersonRef, imageId: string): Promise<number[]>;
    count(userKey: UserKey): Promise<number>;
    /**
     * Brings the ledger in line with the rating reactions a message shows now (after the bot was
     * away; see core/reaction-sync.ts). Returns how many votes it added and removed.
     */
    reconcile(m: ReconcileMessageInput): Promise<{ added: number; removed: number }>;
  };
  /**
   * The starter gallery, drawn in the background after start: lets /rate tell "still being drawn"
   * from "nothing left to rate".
   */
  gallery: { status(): GalleryStatus };
  taste: {
    /** Images to rate next (only images that exist): onboarding first for a new person, then active selection. */
    nextToRate(userKey: UserKey, k: number): Promise<ImageRecord[]>;
    profile(userKey: UserKey): Promise<ProfileSummary>;
    predict(userKey: UserKey, imageIds: string[]): Promise<number[]>;
    /** How well the scorer knows the person (the confidence meter); optional for services that do not compute it. */
    confidence?(userKey: UserKey): Promise<ConfidenceReading>;
  };
  runs: {
    start(req: StartRunRequest): Promise<{ runId: string }>;
    /** Cancels the person's active run (or the given one if theirs). Returns the cancelled run id or null. */
    cancel(userKey: UserKey, runId?: string): Promise<string | null>;
    /** Live events of a run (past events are not replayed; use the outbox for durability). */
    subscribe(listener: (event: RunEvent) => void): () => void;
    /** The measures of a run that ended (what its summary's Details toggle shows again), or null. */
    metrics?(runId: string): Promise<RunMetricsView | null>;
    /** Merges into the run's destination (e.g. `{ threadId }` once the platform opened the thread). */
    setDestination(runId: string, dest: Record<string, unknown>): Promise<void>;
    /**
     * The durable feed a platform shows runs from (see src/core/run-feed.ts): outbox events of runs
     * whose destination is `platform` with a thread, not yet done there, newer than `cursors[runId]`.
     */
    feed(
      platform: string,
      cursors: Record<string, number>,
    ): Promise<{ id: number; runId: string; destination: Record<string, unknown>; event: RunEvent }[]>;
  };
  messages: {
    /**
     * Remember a posted platform message: what image it carries (so reactions work after restarts)
     * and, for run messages, which event it shows (`eventKey`, unique per platform).
     */
    record(m: {
      platform: string;
      messageId: string;
      channelId: string;
      scopeId?: string;
      imageId?: string;
      runId?: string;
      kind: string;
      eventKey?: string;
    }): Promise<void>;
    lookup(
      platform: string,
      messageId: string,
    ): Promise<{ imageId: string | null; runId: string | null; kind: string; channelId: string } | undefined>;
    /** The message recorded for a run event on a platform (exactly-once posting after restarts). */
    byEventKey(platform: string, eventKey: string): Promise<{ messageId: string; channelId: string } | undefined>;
    /** Image-carrying messages posted on a platform since `since`, newest first (what reconciling reads). */
    recentRateable(platform: string, since: Date, limit: number): Promise<RateableMessage[]>;
    /**
     * One reaction read-back per platform across all processes: 'claimed' = run it; 'covered' = a pass
     * that started after `neededSince` has finished; 'busy' = one is running (wait and ask again).
     */
    claimReadBack(o: { platform: string; holder: string; neededSince: Date; leaseMs: number }): Promise<ReadBackClaim>;
    finishReadBack(o: { platform: string; holder: string }): Promise<void>;
    /**
     * Which process shows a run on a platform (db/run-display-claims.ts): takes the run's claim for
     * `holder` for `leaseMs`, or renews it; refused while another holder's claim is unexpired.
     */
    claimRunDisplay(o: { platform: string; runId: string; holder: string; leaseMs: number }): Promise<RunDisplayClaim>;
    releaseRunDisplay(o: { platform: string; runId: string; holder: string }): Promise<void>;
    /**
     * Stores the thread a platform opened for a run that had none (a made-for-you run) unless one is
     * stored already; resolves to the run's thread now (of two processes racing, the first one's).
     */
    attachRunThread?(runId: string, threadId: string): Promise<string | undefined>;
  };
}

// ---------- profiles & privacy ----------

export interface ProfileView {
  summary: ProfileSummary;
  /** Display name of the person the profile is about. */
  name: string;
  self: boolean;
  /** What they like and dislike, and what they like more than the community, in sentences. */
  description: string;
  likes: string[];
  dislikes: string[];
  moreThanCommunity: string[];
  lessThanCommunity: string[];
  /** PNG: bar chart of the scores they gave (null without ratings). */
  distributionChart: Buffer | null;
  /** PNG: top-rated and predicted-favorite images (null when there are none). */
  grid: Buffer | null;
}

export interface CompareView {
  members: { key: UserKey; name: string }[];
  pairs: { a: string; b: string; percent: number; explanation: string }[];
  /** The whole answer as text (numbers explained in words). */
  text: string;
  /** PNG heatmap of the pairwise matches (groups of 3 or more). */
  heatmap: Buffer | null;
  consensusImageId: string;
  divisiveImageId: string;
}

export interface ProfilesApi {
  /** The viewer's own profile, or `target`'s when that person shares it in `scopeId` (else ProfileNotAvailableError). */
  view(req: { viewer: PersonRef; target?: PersonRef; scopeId?: string }): Promise<ProfileView>;
  /** 2–8 people (the requester is added when only one other person is named). */
  compare(req: { requester: PersonRef; people: PersonRef[]; scopeId?: string }): Promise<CompareView>;
}

export interface ForgetSummary {
  ratings: number;
  runs: number;
  images: number;
}

export interface PrivacyApi {
  setSharing(person: PersonRef, share: boolean, scopeId?: string): Promise<void>;
  isSharing(person: PersonRef): Promise<boolean>;
  /** Group members as user keys; every member other than the requester must share in `scopeId` (else ProfileNotAvailableError). */
  authorizeMembers(requester: PersonRef, members: PersonRef[], scopeId?: string): Promise<UserKey[]>;
  /**
   * Forgets the person: from now on nothing is stored for them (ForgottenError from every entry point
   * that stores); their run is stopped; everything about them is deleted in one transaction; then the
   * platforms' stores registered with onForget drop their copies.
   */
  forget(person: PersonRef): Promise<ForgetSummary>;
  /** Whether the person asked to be forgotten (and has not resumed). */
  isForgotten(person: PersonRef): Promise<boolean>;
  /** Opts a forgotten person back in (nothing from before comes back). Returns whether they were forgotten. */
  resume(person: PersonRef): Promise<boolean>;
  /** A platform's store outside the database that must forget people too (e.g. the playground's log). Returns the unregister function. */
  onForget(hook: ForgetHook): () => void;
  /** Everything stored about the person, as pretty JSON (ForgottenError for a forgotten person). */
  export(person: PersonRef): Promise<{ filename: string; json: string }>;
}

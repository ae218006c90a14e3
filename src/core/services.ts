/**
 * What commands and platform adapters may call: the core's public face. src/app.ts builds one
 * `Services` from the configured backends; tests build it on PGlite with offline providers.
 */
import type { PersonRef, UserKey } from './identity';
import type { ImageRecord, RatingChange, RatingContext, ScorerQuality } from './ports';
import type { FeedbackSet, GroupObjective, OptimizerKind, RunEvent } from './optimizer/events';

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
}

export interface ProfileSummary {
  userKey: UserKey;
  ratings: number;
  method: string;
  quality: ScorerQuality;
  topImages: { image: ImageRecord; score: number }[];
  predictedFavorites: { image: ImageRecord; predicted: number }[];
}

export interface Services {
  backends: Record<string, string>;
  images: {
    get(id: string): Promise<ImageRecord | undefined>;
    readBytes(id: string): Promise<Buffer>;
    /** Ingest an image a person posted (attachment / upload). */
    ingest(bytes: Buffer, meta: { source: 'uploaded' | 'attachment'; ownerKey?: UserKey }): Promise<ImageRecord>;
  };
  people: {
    /** Records the person (and the scope they were seen in). Returns their key. */
    touch(person: PersonRef, scopeId?: string): Promise<UserKey>;
  };
  ratings: {
    rate(person: PersonRef, imageId: string, score: number, ctx: RatingContext, eventTime?: Date): Promise<RatingChange>;
    unrate(person: PersonRef, imageId: string, score: number, ctx: RatingContext, eventTime?: Date): Promise<RatingChange>;
    count(userKey: UserKey): Promise<number>;
  };
  taste: {
    /** Images to rate next: onboarding first for a new person, then active selection. */
    nextToRate(userKey: UserKey, k: number): Promise<ImageRecord[]>;
    profile(userKey: UserKey): Promise<ProfileSummary>;
    predict(userKey: UserKey, imageIds: string[]): Promise<number[]>;
  };
  runs: {
    start(req: StartRunRequest): Promise<{ runId: string }>;
    /** Cancels the person's active run (or the given one if theirs). Returns the cancelled run id or null. */
    cancel(userKey: UserKey, runId?: string): Promise<string | null>;
    /** Live events of a run (past events are not replayed; use the outbox for durability). */
    subscribe(listener: (event: RunEvent) => void): () => void;
  };
  messages: {
    /** Remember that a platform message carries an image (so reactions work after restarts). */
    record(m: { platform: string; messageId: string; channelId: string; scopeId?: string; imageId?: string; runId?: string; kind: string }): Promise<void>;
    lookup(platform: string, messageId: string): Promise<{ imageId: string | null; runId: string | null; kind: string; channelId: string } | undefined>;
  };
}

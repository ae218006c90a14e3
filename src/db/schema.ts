/**
 * The whole database schema, in one place (drizzle style). Migrations under migrations/ are
 * generated from this file with `npm run db:generate` and applied at startup.
 *
 * People are keyed by `user_key` = `${platform}:${workspace or "-"}:${platformUserId}` (see core/identity.ts):
 * Slack user ids are unique only within a workspace, Discord ids are global.
 */
import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  customType,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();

export const users = pgTable('users', {
  userKey: text('user_key').primaryKey(),
  platform: text('platform').notNull(),
  workspaceId: text('workspace_id'),
  platformUserId: text('platform_user_id').notNull(),
  displayName: text('display_name'),
  /** Opt-in: others may see / compare / include this profile (issue: profiles & privacy). */
  shareProfile: boolean('share_profile').notNull().default(false),
  createdAt: createdAt(),
});

/** Where a person has been seen (guild / workspace): the scope for cross-person features. */
export const userScopes = pgTable(
  'user_scopes',
  {
    userKey: text('user_key').notNull(),
    scopeId: text('scope_id').notNull(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userKey, t.scopeId] })],
);

/** Hashes of people who asked to be forgotten: later events for them are dropped. */
export const forgottenUsers = pgTable('forgotten_users', {
  userKeyHash: text('user_key_hash').primaryKey(),
  forgottenAt: timestamp('forgotten_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

export const images = pgTable(
  'images',
  {
    /** sha256 of the normalized PNG bytes. */
    id: text('id').primaryKey(),
    width: integer('width').notNull(),
    height: integer('height').notNull(),
    bytes: integer('bytes').notNull(),
    /** gallery | onboarding | generated | uploaded | attachment */
    source: text('source').notNull(),
    prompt: text('prompt'),
    generator: text('generator'),
    seed: integer('seed'),
    /** For uploaded/attachment images: who brought it (deleted with them on forget). */
    ownerKey: text('owner_key'),
    createdAt: createdAt(),
  },
  (t) => [index('images_source_idx').on(t.source)],
);

export const embeddings = pgTable(
  'embeddings',
  {
    imageId: text('image_id')
      .notNull()
      .references(() => images.id, { onDelete: 'cascade' }),
    model: text('model').notNull(),
    dim: integer('dim').notNull(),
    vector: real('vector').array().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.imageId, t.model] })],
);

/**
 * One row per (person, image, score) vote, i.e. per rating reaction. `present=false` is a tombstone:
 * a later-arriving duplicate add with an older event time cannot resurrect it.
 */
export const ratingVotes = pgTable(
  'rating_votes',
  {
    userKey: text('user_key').notNull(),
    imageId: text('image_id').notNull(),
    score: smallint('score').notNull(),
    present: boolean('present').notNull(),
    eventTime: timestamp('event_time', { withTimezone: true, mode: 'date', precision: 6 }).notNull(),
    /** Where the latest event for this vote happened: when removing a newer vote falls back to this one, the `ratings` row takes it from here. */
    source: text('source').notNull(),
    scopeId: text('scope_id'),
    channelId: text('channel_id'),
    messageId: text('message_id'),
  },
  // By image: reconciling a message's reactions reads the votes standing for its image.
  (t) => [primaryKey({ columns: [t.userKey, t.imageId, t.score] }), index('rating_votes_image_idx').on(t.imageId)],
);

/** The effective rating: the newest vote still standing. Absent when none stands. */
export const ratings = pgTable(
  'ratings',
  {
    userKey: text('user_key').notNull(),
    imageId: text('image_id').notNull(),
    score: smallint('score').notNull(),
    eventTime: timestamp('event_time', { withTimezone: true, mode: 'date', precision: 6 }).notNull(),
    source: text('source').notNull(),
    scopeId: text('scope_id'),
    channelId: text('channel_id'),
    messageId: text('message_id'),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userKey, t.imageId] }), index('ratings_image_idx').on(t.imageId)],
);

/** Append-only audit of every change to a person's ratings. */
export const ratingEvents = pgTable(
  'rating_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userKey: text('user_key').notNull(),
    imageId: text('image_id').notNull(),
    kind: text('kind').notNull(), // add | remove
    score: smallint('score').notNull(),
    eventTime: timestamp('event_time', { withTimezone: true, mode: 'date', precision: 6 }).notNull(),
    /** The effective rating after this change (null = no rating). */
    effectiveScore: smallint('effective_score'),
    source: text('source').notNull(),
    scopeId: text('scope_id'),
    channelId: text('channel_id'),
    messageId: text('message_id'),
    receivedAt: createdAt(),
  },
  // By age: retention (core/retention.ts) deletes audit rows past RETENTION_DAYS oldest first.
  (t) => [index('rating_events_user_idx').on(t.userKey, t.imageId), index('rating_events_received_idx').on(t.receivedAt)],
);

/** Persisted per-person scorer state (the model is small: O(d)). */
export const scorerModels = pgTable(
  'scorer_models',
  {
    userKey: text('user_key').notNull(),
    model: text('model').notNull(), // embedder model id
    method: text('method').notNull(),
    n: integer('n').notNull(),
    params: jsonb('params').notNull(),
    quality: jsonb('quality'),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userKey, t.model] })],
);

/** Raw bytes (packed numbers); both drivers hand bytea over as a Uint8Array (postgres.js: a Buffer). */
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
});

/**
 * A person's fitted scorer in compact form, so a process loads them without replaying every rating: the
 * rated image ids and scores in the scorer's row order (the vectors come from `embeddings`), the ledger
 * version and community model version it was fitted at, and the fit itself — Δ (float64, d + 1) and the
 * evaluation scalars (`fit`: λ, method, quality…). `fit`/`delta` are null when the fit was out of date
 * when written (a new community prior): the rows are still usable, the fit is redone on use.
 */
export const scorerStates = pgTable(
  'scorer_states',
  {
    userKey: text('user_key').notNull(),
    model: text('model').notNull(), // embedder model id
    ledgerVersion: text('ledger_version').notNull(),
    communityVersion: integer('community_version'),
    imageIds: text('image_ids').array().notNull(),
    scores: smallint('scores').array().notNull(),
    fit: jsonb('fit'),
    delta: bytea('delta'),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userKey, t.model] })],
);

/**
 * Taste codes (core/taste-codes*.ts): a short code (`tl-7Q4K-M2XA`) naming an immutable snapshot of a
 * person's scorer, one per person, embedding model and ledger version. Self-contained: the linear
 * model (`weights` float64 × dim, `bias`), and for knn/blend the rated vectors (float32 n × dim) and scores.
 */
export const tasteCodes = pgTable(
  'taste_codes',
  {
    code: text('code').primaryKey(),
    userKey: text('user_key').notNull(),
    model: text('model').notNull(),
    ledgerVersion: text('ledger_version').notNull(),
    ratings: integer('ratings').notNull(),
    method: text('method').notNull(),
    dim: integer('dim').notNull(),
    weights: bytea('weights'),
    bias: doublePrecision('bias'),
    neighbourVectors: bytea('neighbour_vectors'),
    neighbourScores: smallint('neighbour_scores').array(),
    neighbourK: integer('neighbour_k'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('taste_codes_person_version_idx').on(t.userKey, t.model, t.ledgerVersion),
    index('taste_codes_person_created_idx').on(t.userKey, t.createdAt),
  ],
);

/** Sets of images offered together for a pick (/rate mode:pick): what a pick control's id points at. */
export const pickOffers = pgTable('pick_offers', {
  id: text('id').primaryKey(),
  imageIds: text('image_ids').array().notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/** A person's pick on an offer: the winner over each other image shown (pairwise preferences); one per person per offer. */
export const picks = pgTable(
  'picks',
  {
    offerId: text('offer_id')
      .notNull()
      .references(() => pickOffers.id, { onDelete: 'cascade' }),
    userKey: text('user_key').notNull(),
    winnerImageId: text('winner_image_id').notNull(),
    loserImageIds: text('loser_image_ids').array().notNull(),
    source: text('source').notNull(),
    pickedAt: timestamp('picked_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.offerId, t.userKey] }), index('picks_user_idx').on(t.userKey)],
);

/** A person's opt-in to the weekly "made for you" run (core/made-for-you.ts), with where it is posted. */
export const madeForYou = pgTable(
  'made_for_you',
  {
    userKey: text('user_key').primaryKey(),
    platform: text('platform').notNull(),
    scopeId: text('scope_id'),
    channelId: text('channel_id').notNull(),
    displayName: text('display_name').notNull(),
    optedInAt: timestamp('opted_in_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastRunAt: timestamp('last_run_at', { withTimezone: true, mode: 'date' }),
    lastRunId: text('last_run_id'),
    skipReason: text('skip_reason'),
    skipToldAt: timestamp('skip_told_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('made_for_you_due_idx').on(t.lastRunAt.asc().nullsFirst())],
);

/** Hashes of the codes a forget deleted: they answer "this taste code no longer exists" and are never issued again. */
export const retiredTasteCodes = pgTable('retired_taste_codes', {
  codeHash: text('code_hash').primaryKey(),
  retiredAt: timestamp('retired_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/**
 * The community models (global prior, meta-init, λ schedule) per embedder model, as the last retrain
 * left them: `version` grows with every store, so a process compares it with the one it holds and
 * loads this row instead of trusting its own retrain count (a replica started later, or one that
 * missed notifications, ends up with the same community model).
 */
export const communityModels = pgTable('community_models', {
  model: text('model').primaryKey(), // embedder model id
  version: integer('version').notNull(),
  params: jsonb('params').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/** Messages the bot posted that carry an image: how a reaction finds its image after a restart. */
export const platformMessages = pgTable(
  'platform_messages',
  {
    platform: text('platform').notNull(),
    messageId: text('message_id').notNull(),
    channelId: text('channel_id').notNull(),
    scopeId: text('scope_id'),
    imageId: text('image_id'),
    runId: text('run_id'),
    kind: text('kind').notNull(), // rate | candidate | header | progress | summary | attachment
    /** The run event (outbox key + part) this message shows: a restarted process posts each one once. */
    eventKey: text('event_key'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.platform, t.messageId] }),
    uniqueIndex('platform_messages_event_key_idx').on(t.platform, t.eventKey),
    // Newest first per platform: which messages to reconcile after a restart.
    index('platform_messages_recent_idx').on(t.platform, t.createdAt),
  ],
);

/** Per-server settings (e.g. rating attachments ingests them). */
export const scopeSettings = pgTable('scope_settings', {
  scopeId: text('scope_id').primaryKey(),
  ingestAttachments: boolean('ingest_attachments').notNull().default(false),
});

export const runs = pgTable(
  'runs',
  {
    id: text('id').primaryKey(),
    userKey: text('user_key').notNull(),
    scopeId: text('scope_id'),
    /** Claim key: one interaction / request creates at most one run. */
    requestKey: text('request_key'),
    status: text('status').notNull(), // queued | running | finished | failed | cancelled
    initialPrompt: text('initial_prompt').notNull(),
    params: jsonb('params').notNull(),
    /** Where to post: platform, channel, thread. */
    destination: jsonb('destination'),
    nextIteration: integer('next_iteration').notNull().default(0),
    state: jsonb('state'),
    metrics: jsonb('metrics'),
    error: text('error'),
    cancelRequested: boolean('cancel_requested').notNull().default(false),
    lockedBy: text('locked_by'),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true, mode: 'date' }),
    /**
     * When the run's closing notice was recorded on its destination platform (the `${id}:end:done`
     * platform message). A trigger on platform_messages keeps it in step with that marker
     * (migrations/0004_run_display_ended.sql), so the run feed (core/run-feed.ts) reads only the runs
     * still being shown, by index, instead of every run ever made.
     */
    displayEndedAt: timestamp('display_ended_at', { withTimezone: true, mode: 'date' }),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('runs_request_key_idx').on(t.requestKey),
    // At most one active run per person, enforced by the database itself.
    uniqueIndex('runs_one_active_per_user_idx')
      .on(t.userKey)
      .where(sql`status in ('queued','running')`),
    index('runs_status_idx').on(t.status),
    // The run feed's poll (every 250 ms per platform): runs of a platform still being shown in a thread.
    index('runs_feed_idx')
      .on(sql`(${t.destination}->>'platform')`)
      .where(sql`display_ended_at is null and destination ? 'threadId'`),
    // The daily image quotas (run start): a person's runs, a workspace's runs and its active ones.
    index('runs_user_idx').on(t.userKey),
    index('runs_scope_idx').on(t.scopeId, t.status),
  ],
);

export const runIterations = pgTable(
  'run_iterations',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    iteration: integer('iteration').notNull(),
    bestScore: doublePrecision('best_score'),
    bestSoFar: doublePrecision('best_so_far'),
    feedback: text('feedback'),
    /** Number of ratings the scorer had when it scored this iteration (human-in-the-loop record). */
    scorerN: integer('scorer_n'),
    optimizerState: jsonb('optimizer_state'),
    completedAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.iteration] })],
);

export const candidates = pgTable(
  'candidates',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    iteration: integer('iteration').notNull(),
    idx: integer('idx').notNull(),
    prompt: text('prompt').notNull(),
    imageId: text('image_id'),
    score: doublePrecision('score'),
    memberScores: jsonb('member_scores'),
    feedback: text('feedback'),
    skippedReason: text('skipped_reason'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.iteration, t.idx] }),
    // The daily image quotas (run start) count the images of the last 24 h: only recent rows are read.
    index('candidates_images_recent_idx')
      .on(t.createdAt)
      .where(sql`image_id is not null`),
  ],
);

/** Transactional outbox: events to deliver to chat platforms, each exactly once per idempotency key. */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: text('run_id'),
    key: text('key').notNull(),
    kind: text('kind').notNull(),
    payload: jsonb('payload').notNull(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true, mode: 'date' }),
    deliveredRef: text('delivered_ref'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('outbox_key_idx').on(t.key),
    index('outbox_run_idx').on(t.runId),
    // The delivery claim (every 500 ms per process) reads only undelivered rows, in id order.
    index('outbox_undelivered_idx')
      .on(t.id)
      .where(sql`delivered_at is null`),
    // Retention deletes delivered rows past RETENTION_DAYS, oldest first.
    index('outbox_delivered_idx')
      .on(t.deliveredAt)
      .where(sql`delivered_at is not null`),
  ],
);

/** Every provider call that costs something. */
export const usage = pgTable(
  'usage',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: text('run_id'),
    userKey: text('user_key'),
    scopeId: text('scope_id'),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    kind: text('kind').notNull(), // chat | feedback | image | moderation | embed
    tokensIn: integer('tokens_in').notNull().default(0),
    tokensOut: integer('tokens_out').notNull().default(0),
    images: integer('images').notNull().default(0),
    attempts: integer('attempts').notNull().default(1),
    costUsd: doublePrecision('cost_usd').notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [index('usage_user_idx').on(t.userKey, t.createdAt), index('usage_scope_idx').on(t.scopeId, t.createdAt)],
);

/** Processed platform event ids (Slack event_id, Discord interaction id): dedupe retries. */
export const processedEvents = pgTable(
  'processed_events',
  {
    eventKey: text('event_key').primaryKey(),
    userKey: text('user_key'),
    createdAt: createdAt(),
  },
  // By age: pruning (Slack's daily one and core/retention.ts) deletes the old rows only.
  (t) => [index('processed_events_created_idx').on(t.createdAt)],
);

/**
 * The latest reaction read-back per platform (platforms/reaction-read-back.ts), shared by every process of a
 * deployment: a process whose session began before another process's pass started is covered by that
 * pass and skips its own (db/read-back-passes.ts).
 */
export const readBackPasses = pgTable('read_back_passes', {
  platform: text('platform').primaryKey(),
  holder: text('holder').notNull(),
  startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull(),
  finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }),
});

/**
 * Named leases (src/db/leases.ts): one holder at a time until expires_at, renewed while held. A Discord
 * gateway takes `discord:<application>:shard:<id>/<count>` before opening that shard's session.
 */
export const leases = pgTable('leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
});

/**
 * Which process shows a run on a platform (src/db/run-display-claims.ts): the holder posts the run's
 * events until expires_at (the database's clock), renewing while it shows the run, and deletes the row
 * at the run's end; a holder that died is replaced once its claim has expired.
 */
export const runDisplayClaims = pgTable(
  'run_display_claims',
  {
    platform: text('platform').notNull(),
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    holder: text('holder').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.platform, t.runId] })],
);

/**
 * The people whose scorers this process holds in memory, and how they get there and leave.
 *
 * Nobody is loaded at startup: a person comes in on first use (a refit asked for by a rating, a
 * notification or a version check before a prediction). Coming in, their compact state (./scorer-state-store)
 * is read when one was stored for this embedder: at the ledger's current version it is the whole fit,
 * otherwise the ratings since are applied to it as a diff; without one (or with an unusable one: an image
 * since deleted) every rating is replayed. A refit then diffs the ledger's ratings against what the
 * scorer holds (`held`) and applies rank-one updates. The person's picks (./live-picks) are not in the
 * stored state: they are read whenever the picks part of the ledger version is not the one held (on
 * every load of someone who picked, and after each pick), and the scorer refits on them jointly.
 *
 * A change this process committed needs no database at all when its person is held (`applyLocal`): its
 * effective score is applied as a rank-one update and the ledger version it leads to is computed
 * (./ledger-version). When that cannot be told for sure (the change may already be counted, or the
 * person is not held) the caller refits from the database instead.
 *
 * Memory is bounded by a byte budget (ScorerCache): past it, the least recently used people not in use
 * (no refit running, not pinned by a prediction) are dropped, their state written first when it changed
 * since it was last stored. States are written by the refit that settles a person, at most once per
 * `writeIntervalMs` per person (a burst of ratings writes once), and on eviction, many people per
 * transaction (./scorer-state-writer). The scorer's summary (scorer_models) goes with an eviction's or a
 * flush's write, and with a timed one only when the scorer's evaluation is already current.
 */
import { and, eq } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/connection';
import { scorerModels } from '../db/schema';
import type { EmbeddingService } from './embeddings';
import type { UserKey } from './identity';
import { picksPart, versionAfter } from './ledger-version';
import { loadHeldPairs } from './live-picks';
import { NO_VERSION, type RatingLedger } from './ratings';
import type { CommittedChange } from './records';
import { ScorerCache } from './scorer-cache';
import { deleteScorerStates, type StoredScorerState } from './scorer-state-store';
import { ScorerStateWriter } from './scorer-state-writer';
import { PeopleReads } from './people-batch-load';
import type { ScorerService } from './scorer/scorer-service';
import { VectorCache } from './vector-cache';

/**
 * The scorer's summary (scorer_models) goes with a timed state write at most this often per person: it
 * costs a leave-one-out evaluation of every method (milliseconds at 20 ratings, per person). Evictions
 * and flush (idle, shutdown) always write it.
 */
const SUMMARY_INTERVAL_MS = 60_000;

/** Vectors of recently rated images kept for in-memory updates (512-d float32: 2 KiB each, 8 MiB in all). */
const RECENT_VECTORS = 4096;

export interface ResidentScorersDeps {
  db: Db;
  ledger: RatingLedger;
  embeddings: EmbeddingService;
  scorer: ScorerService;
  log: Logger;
  /** Memory budget of the people held (bytes, as ScorerService.footprint estimates them). */
  cacheBytes: number;
  /** At most one state write per person per this many ms (0: at every settled refit). */
  writeIntervalMs: number;
  /** Version of the community models in use; null when it means nothing to another process. */
  communityVersion: () => number | null;
  /** True while the person has a refit running or pending: never evicted then. */
  refitting: (userKey: UserKey) => boolean;
  /** Called when a refit finds the person without ratings or rating events (forgotten, or never rated). */
  forgotten?: (userKey: UserKey) => void;
}

/** How a person came into memory on their last load (tests and diagnostics). */
export type LoadedFrom = 'state' | 'state+diff' | 'ratings';

export class ResidentScorers {
  /** What each person's scorer currently holds: imageId → score. Mirrors the ScorerService. */
  private readonly held = new Map<UserKey, Map<string, number>>();
  /** The ledger version (RatingLedger.versions) each person's scorer was fitted at. */
  private readonly versions = new Map<UserKey, string>();
  /** The picks part of the version (./ledger-version) whose picks each person's scorer holds (stored states carry none). */
  private readonly heldPicks = new Map<UserKey, string>();
  private readonly cache: ScorerCache;
  private readonly pins = new Map<UserKey, number>();
  /** People whose scorer changed since their state was last written, with the timer that will write it. */
  private readonly dirty = new Map<UserKey, NodeJS.Timeout | null>();
  private readonly lastWrite = new Map<UserKey, number>();
  private readonly lastSummary = new Map<UserKey, number>();
  /** People whose last state write went without the summary: the next eviction or flush writes it. */
  private readonly summaryBehind = new Set<UserKey>();
  /** The community version of the state last stored (or loaded) per person: a fit redone since is worth storing. */
  private readonly storedCommunity = new Map<UserKey, number | null>();
  /** Stores the states taken, several people per transaction, each person's in the order taken. */
  private readonly writer: ScorerStateWriter;
  /** The reads of people coming into memory or refitting, one query for everyone asking at the same time. */
  private readonly reads: PeopleReads;
  readonly loadedFrom = new Map<UserKey, LoadedFrom>();
  private stateWrites = 0;
  private localUpdates = 0;
  private stopped = false;
  private readonly recentVectors: VectorCache;

  constructor(private readonly deps: ResidentScorersDeps) {
    this.cache = new ScorerCache(deps.cacheBytes);
    this.recentVectors = new VectorCache(deps.embeddings, RECENT_VECTORS);
    this.writer = new ScorerStateWriter(deps.db, deps.scorer.modelId, deps.log);
    this.reads = new PeopleReads({ ...deps, modelId: deps.scorer.modelId });
  }

  private get modelId(): string {
    return this.deps.scorer.modelId;
  }

  /** The ledger version the person's scorer was fitted at; undefined when not held. */
  versionOf(userKey: UserKey): string | undefined {
    return this.versions.get(userKey);
  }

  people(): UserKey[] {
    return [...new Set([...this.held.keys(), ...this.versions.keys()])];
  }

  stats(): { people: number; usedBytes: number; budgetBytes: number; stateWrites: number; localUpdates: number } {
    const { size, usedBytes, budgetBytes } = this.cache;
    return { people: size, usedBytes, budgetBytes, stateWrites: this.stateWrites, localUpdates: this.localUpdates };
  }

  /**
   * Applies changes this process committed to the person's scorer in memory, without reading the
   * database. False (nothing applied) when it cannot be sure the result is the ledger at the computed
   * version: the person is not held, a change may already be counted in the held version, or the
   * person would be left without ratings. The caller then refits from the database.
   */
  async applyLocal(userKey: UserKey, changes: readonly CommittedChange[]): Promise<boolean> {
    const have = this.held.get(userKey);
    const held = this.versions.get(userKey);
    if (!have || held === undefined || changes.some((c) => c.eventId === null)) return false;
    // In audit-row order: one image's changes are serialized by the ledger, so the later id is the later score.
    const ordered = [...changes].sort((a, b) => a.eventId! - b.eventId!);
    const version = versionAfter(
      held,
      ordered.map((c) => c.eventId!),
    );
    if (version === null) return false;
    const after = new Map(ordered.map((c) => [c.imageId, c.after]));
    const toAdd = [...after].filter((e): e is [string, number] => e[1] !== null && have.get(e[0]) !== e[1]);
    const toRemove = [...after].filter(([id, score]) => score === null && have.has(id)).map(([id]) => id);
    if (have.size + toAdd.filter(([id]) => !have.has(id)).length - toRemove.length === 0) return false;
    const vectors = await this.recentVectors.get(toAdd.map(([id]) => id));
    // Forgotten or evicted while the vectors were read: the database decides.
    if (this.held.get(userKey) !== have || this.versions.get(userKey) !== held) return false;
    const { scorer } = this.deps;
    for (const id of toRemove) {
      scorer.removeRating(userKey, id);
      have.delete(id);
    }
    for (const [id, score] of toAdd) {
      scorer.addRating(userKey, vectors.get(id)!, score, { imageId: id, modelId: this.modelId });
      have.set(id, score);
    }
    this.versions.set(userKey, version);
    this.localUpdates++;
    if (toAdd.length > 0 || toRemove.length > 0) this.markDirty(userKey);
    this.touch(userKey);
    return true;
  }

  /** Keeps the person in memory until the returned release is called (a prediction in progress). */
  pin(userKey: UserKey): () => void {
    this.pins.set(userKey, (this.pins.get(userKey) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.pins.get(userKey) ?? 1) - 1;
      if (n > 0) this.pins.set(userKey, n);
      else this.pins.delete(userKey);
      // Used under a newer community prior than its stored state's: the fit redone for this use is stored.
      const community = this.deps.communityVersion();
      if (this.held.has(userKey) && community !== null && this.storedCommunity.get(userKey) !== community) this.markDirty(userKey);
      this.touch(userKey);
    };
  }

  /**
   * Brings one person's scorer in line with the ledger (loading them first when not held) by applying
   * only the difference. Returns how many ratings the person has.
   */
  async refit(userKey: UserKey): Promise<number> {
    // The version first, then the ratings: the ratings read are at least that version, never older.
    const version = await this.reads.version(userKey, NO_VERSION);
    // Nothing changed since the last fit (e.g. the notification of a change this process already refitted for).
    if (this.versions.get(userKey) === version) return this.held.get(userKey)?.size ?? 0;
    if (!this.held.has(userKey) && (await this.restore(userKey, version))) {
      await this.syncPicks(userKey, version);
      this.versions.set(userKey, version);
      this.touch(userKey);
      return this.held.get(userKey)?.size ?? 0;
    }
    // The ratings and (when they changed) the picks, each one indexed query, side by side.
    const [rows, picksRead] = await Promise.all([this.reads.ratings(userKey), this.syncPicks(userKey, version)]);
    const want = new Map(rows.map((r) => [r.imageId, r.score]));
    const have = this.held.get(userKey) ?? new Map<string, number>();
    if (!this.held.has(userKey)) this.cameIn(userKey, 'ratings');
    const toAdd = [...want].filter(([id, s]) => have.get(id) !== s);
    const toRemove = [...have.keys()].filter((id) => !want.has(id));
    if (toAdd.length > 0 || toRemove.length > 0) await this.apply(userKey, have, toAdd, toRemove);
    // Picks and no ratings: a personal model all the same, held like anyone's.
    else if (this.deps.scorer.pickCount(userKey) > 0) this.held.set(userKey, have);
    if (want.size === 0 && version === NO_VERSION) {
      // Never rated, or forgotten (a forget deletes ratings and events and announces the person).
      this.forget(userKey);
      this.deps.forgotten?.(userKey);
      return 0;
    }
    this.versions.set(userKey, version);
    // A new pick too: the stored state then records the version it is current at.
    if (toAdd.length > 0 || toRemove.length > 0 || picksRead) this.markDirty(userKey);
    this.touch(userKey);
    return want.size;
  }

  /**
   * Gives the scorer the person's picks when the picks part of `version` is not the one it holds (picks
   * are not in the stored state: they are read after every load). No query for someone who never picked.
   */
  private async syncPicks(userKey: UserKey, version: string): Promise<boolean> {
    const part = picksPart(version);
    const { scorer } = this.deps;
    if (this.heldPicks.get(userKey) === part) return false;
    if (part === '' && scorer.pickCount(userKey) === 0) {
      this.heldPicks.set(userKey, part);
      return false;
    }
    const { pairs, picks } = await loadHeldPairs(this.deps.db, this.deps.embeddings, userKey);
    if (picks > 0 || scorer.hasUser(userKey)) scorer.setPairs(userKey, pairs, picks);
    this.heldPicks.set(userKey, part);
    return true;
  }

  private async apply(userKey: UserKey, have: Map<string, number>, toAdd: [string, number][], toRemove: string[]): Promise<void> {
    const { scorer } = this.deps;
    const vectors = await this.reads.vectors(toAdd.map(([id]) => id));
    for (const id of toRemove) {
      scorer.removeRating(userKey, id);
      have.delete(id);
    }
    for (const [id, score] of toAdd) {
      scorer.addRating(userKey, vectors.get(id)!, score, { imageId: id, modelId: this.modelId });
      have.set(id, score);
    }
    if (have.size === 0 && scorer.pickCount(userKey) === 0) {
      this.held.delete(userKey);
      scorer.deleteUser(userKey);
      this.cancelWrite(userKey);
      await this.deps.db.delete(scorerModels).where(and(eq(scorerModels.userKey, userKey), eq(scorerModels.model, this.modelId)));
      await deleteScorerStates(this.deps.db, [userKey]);
    } else {
      this.held.set(userKey, have);
    }
  }

  /**
   * Puts the person's stored state into the scorer and `held`. True when it is at `version` (nothing
   * left to apply); false when the ratings since must still be diffed in (or there was no usable state).
   */
  private async restore(userKey: UserKey, version: string): Promise<boolean> {
    // Evicted a moment ago: its state may still be on its way to the database.
    await this.writer.written(userKey);
    const stored = await this.reads.state(userKey).catch((err: unknown) => {
      this.deps.log.warn({ err, userKey }, 'could not read the stored scorer state; refitting from the ratings');
      return null;
    });
    if (!stored) return false;
    const { snapshot } = stored;
    // An image deleted since (a forget of its owner) has no vector any more: replay the ratings instead.
    const vectors = await this.reads.vectors(snapshot.imageIds).catch(() => null);
    if (!vectors || snapshot.imageIds.some((id) => vectors.get(id)?.length !== this.deps.scorer.dim)) return false;
    const community = this.deps.communityVersion();
    const fitUsable = community !== null && stored.communityVersion === community;
    const fit = fitUsable ? snapshot.fit : { ...snapshot.fit, delta: null };
    try {
      this.deps.scorer.restore(
        userKey,
        snapshot.imageIds.map((id) => vectors.get(id)!),
        { ...snapshot, fit },
      );
    } catch (err) {
      // A state this scorer cannot take (e.g. written by a version with other rules): the ratings are the truth.
      this.deps.log.warn({ err, userKey }, 'the stored scorer state is unusable; refitting from the ratings');
      this.deps.scorer.deleteUser(userKey);
      return false;
    }
    this.held.set(userKey, new Map(snapshot.imageIds.map((id, i) => [id, snapshot.scores[i]!])));
    this.storedCommunity.set(userKey, stored.communityVersion);
    const current = stored.ledgerVersion === version;
    this.cameIn(userKey, current ? 'state' : 'state+diff');
    if (!current) this.markDirty(userKey);
    return current;
  }

  /**
   * A person just loaded: a timed state write carries their summary only from SUMMARY_INTERVAL_MS on,
   * and only when their scorer was evaluated anyway (a prediction); a state written without it leaves
   * the summary to their eviction or the next flush. With many people rating in turn, evaluating
   * everyone at their first write would cost more than the ratings.
   */
  private cameIn(userKey: UserKey, from: LoadedFrom): void {
    this.loadedFrom.set(userKey, from);
    this.lastSummary.set(userKey, Date.now());
    // Their first state write waits the interval too, counted from now: people arrive together (a
    // start, a busy server), and writing each at their first rating wrote a thousand states in the
    // two seconds their ratings were busiest. Until then a load elsewhere replays what the state lacks.
    this.lastWrite.set(userKey, Date.now());
  }

  /** Records what the person holds now and drops whoever is past the budget (and not in use). */
  touch(userKey: UserKey): void {
    if (!this.held.has(userKey)) return;
    this.cache.touch(userKey, this.deps.scorer.footprint(userKey));
    const keep = (k: UserKey) => k === userKey || this.pins.has(k) || this.deps.refitting(k);
    for (const victim of this.cache.evictions(keep)) this.evict(victim);
  }

  private evict(userKey: UserKey): void {
    if (this.dirty.has(userKey) || this.summaryBehind.has(userKey)) this.writeNow(userKey);
    this.drop(userKey);
  }

  private drop(userKey: UserKey): void {
    this.cancelWrite(userKey);
    this.held.delete(userKey);
    this.versions.delete(userKey);
    this.heldPicks.delete(userKey);
    this.lastWrite.delete(userKey);
    this.lastSummary.delete(userKey);
    this.summaryBehind.delete(userKey);
    this.storedCommunity.delete(userKey);
    this.loadedFrom.delete(userKey);
    this.cache.remove(userKey);
    this.deps.scorer.deleteUser(userKey);
  }

  /** Forget a person's model (privacy): nothing of theirs stays, nothing pending is written. */
  forget(userKey: UserKey): void {
    this.drop(userKey);
    this.writer.discard(userKey);
  }

  private markDirty(userKey: UserKey): void {
    if (this.dirty.has(userKey)) return;
    if (this.stopped) this.dirty.set(userKey, null);
    else this.arm(userKey, Math.max(0, (this.lastWrite.get(userKey) ?? -Infinity) + this.deps.writeIntervalMs - Date.now()));
  }

  private arm(userKey: UserKey, ms: number): void {
    const timer = setTimeout(() => this.writeDue(userKey), ms);
    timer.unref();
    this.dirty.set(userKey, timer);
  }

  private writeDue(userKey: UserKey): void {
    if (!this.dirty.has(userKey) || this.stopped) return;
    // A refit still running: write once it has settled, from the scorer it leaves.
    if (this.deps.refitting(userKey)) this.arm(userKey, Math.max(50, this.deps.writeIntervalMs));
    else this.writeNow(userKey, Date.now() - (this.lastSummary.get(userKey) ?? -Infinity) >= SUMMARY_INTERVAL_MS ? 'if-evaluated' : 'no');
  }

  private cancelWrite(userKey: UserKey): void {
    const timer = this.dirty.get(userKey);
    if (timer) clearTimeout(timer);
    this.dirty.delete(userKey);
  }

  /**
   * Takes the person's snapshot now and stores it behind their earlier writes, with the summary: always
   * (evaluating the scorer if need be: an eviction, a flush), only when the scorer's evaluation is
   * already current (a timed write while people rate: evaluating everyone who rated would cost more
   * than the ratings), or not at all.
   */
  private writeNow(userKey: UserKey, withSummary: 'yes' | 'if-evaluated' | 'no' = 'yes'): void {
    this.cancelWrite(userKey);
    // First: it may evaluate the scorer, and the snapshot then keeps that evaluation.
    const summary = withSummary === 'no' ? undefined : this.summary(userKey, withSummary === 'yes');
    if (summary) this.lastSummary.set(userKey, Date.now());
    if (summary || withSummary === 'yes') this.summaryBehind.delete(userKey);
    else this.summaryBehind.add(userKey);
    const snapshot = this.deps.scorer.snapshot(userKey);
    const ledgerVersion = this.versions.get(userKey);
    if (!snapshot || ledgerVersion === undefined) return;
    const state: StoredScorerState = { snapshot, ledgerVersion, communityVersion: this.deps.communityVersion(), summary };
    this.lastWrite.set(userKey, Date.now());
    this.stateWrites++;
    this.storedCommunity.set(userKey, state.communityVersion);
    this.writer.put(userKey, state);
  }

  /**
   * The person's scorer as it stands (method, hyper-parameters, cross-validated quality): what /profile
   * and /privacy export report, and an audit of how the model evolved. Evaluated here, when the state is
   * stored, not per rating: the evaluation is a leave-one-out pass over the person's ratings.
   */
  private summary(userKey: UserKey, evaluate: boolean): StoredScorerState['summary'] {
    const d = evaluate ? this.deps.scorer.details(userKey) : this.deps.scorer.evaluatedDetails(userKey);
    if (!d) return undefined;
    return { method: d.method, n: d.quality.n, params: { lambda: d.lambda, k: d.k }, quality: d.quality };
  }

  /** Writes every changed state now and waits for all writes (tests, shutdown). */
  async flush(): Promise<void> {
    for (const userKey of new Set([...this.dirty.keys(), ...this.summaryBehind])) this.writeNow(userKey);
    await this.writer.flush();
  }

  /** Stops timers; pending states are written by flush (stop itself never touches the database). */
  stop(): void {
    this.stopped = true;
    for (const timer of this.dirty.values()) if (timer) clearTimeout(timer);
  }
}

/**
 * `npm run bench:ingest [-- --people 1000 --ratings 20 --concurrency 32 --rate 0 --warmup 400 --images 400 --seed 1
 *   --retrain on|off --refits on|off --group-commit on|off --quick]`
 *
 * How many ratings per second the write path takes, and what each costs: `--people` people give
 * `--ratings` ratings each through `services.ratings.rate()` — the call every platform makes — from
 * `--concurrency` concurrent callers, the people interleaved (each caller takes the next rating as soon
 * as it is free; one person's ratings are far apart, as in a busy server): the most the process takes.
 * `--rate R` instead offers R ratings per second on a fixed schedule (open loop, `--concurrency` ignored):
 * the i-th rating is due at i/R s and starts then whatever is still in flight, and its latency counts
 * from when it was due, so a stall shows in the tail instead of slowing the arrivals down (the figure a
 * person in a busy server sees at that load). `ratings_per_s` is then what was taken, at most R.
 * First, unmeasured, `--warmup` ratings by other people (four each, at `--concurrency` callers, then
 * every refit settled): the process then has its connections open and its code compiled, as a server
 * that has been up for a while has; every measured person is still new to it. `--warmup 0` measures
 * from a cold process. The core is wired as
 * src/app.ts wires it: the RatingLedger, the TasteService listening for the ledger's notifications
 * (so every rating refits its person, and every 20 the community models retrain in their worker), and
 * the person ratings over the ledger. Images and their embeddings are stored up front (random unit
 * vectors, scores from a per-person linear taste), so the figures are the ledger's and the refits',
 * not an embedder's.
 *
 * Against `DATABASE_URL` when set (a database you can fill and throw away), else PGlite in a
 * temporary folder. `--retrain off` never retrains the community models (refits stay).
 * `--refits off` leaves the TasteService out altogether: the ledger alone. `--group-commit off` sends every
 * vote in a statement of its own (the ledger's maxVotesPerStatement 1), for a paired comparison.
 * `--quick` is a small run (60 people × 5 ratings at 8 callers) for tests.
 *
 * Last stdout line: JSON {ratings_per_s, rate_p50_ms, rate_p99_ms, refit_lag_p99_ms, retrain_cpu_share,
 * wal_bytes_per_rating, wal_scope, tx_per_rating, backend, people, ratings, concurrency, images, retrain, refits,
 * seed, retrains, errors, scorers_match, seconds, cpu_ms_per_rating, ingest_cpu_ms_per_rating, main_thread_cpu_ms_per_rating, pg_cpu_ms_per_rating, group_commit,
 * votes_per_statement, offered_per_s, warmup, max_in_flight, event_loop_delay_p99_ms, rate_p99_after_first_s_ms}; retrains
 * counts the community models stored during the run, scorers_match whether every person's scorer ended
 * holding as many ratings as the ledger has for them.
 *   refit_lag   from rate() resolving to the person's scorer having refitted after it (the
 *               TasteService's scheduler settled for that person);
 *   retrain_cpu_share  CPU seconds of the community trainer's worker threads / the process's CPU
 *               seconds, from the first rating until every refit and retrain is over (null without /proc);
 *   wal_bytes_per_rating  WAL over the run / ratings: this database's (wal_scope "database", through
 *               pg_walinspect) or, where that extension cannot be created, the whole server's ("cluster",
 *               other databases' writes included); tx_per_rating  this database's commits / ratings;
 *               both null on PGlite;
 *   cpu_ms_per_rating  this process's CPU (all threads) per rating; pg_cpu_ms_per_rating  the CPU of
 *               the server processes serving this database per rating (null unless the server runs on
 *               this machine, readable): on a busy machine throughput falls, these barely move;
 *   ingest_cpu_ms_per_rating  the part of cpu_ms_per_rating spent until every refit settled: without the
 *               final write of everyone's state with its evaluated summary (what evictions and shutdown
 *               pay once per person), so the CPU a sustained stream of ratings costs;
 *   main_thread_cpu_ms_per_rating  the main thread's share of ingest_cpu_ms_per_rating (without the
 *               trainer's fits and Node's helper threads): what bounds one process's ratings per second;
 *   offered_per_s  --rate (null in the closed loop); max_in_flight  the most rate() calls outstanding at once;
 *   event_loop_delay_p99_ms  how late the main thread ran timers while ratings arrived (a blocked loop
 *               delays every rating at once);
 *   rate_p99_after_first_s_ms  the p99 of the ratings due after the first second: without the start,
 *               where every person is new to the process and its code not yet compiled.
 */
import { createHash } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../config';
import { eq } from 'drizzle-orm';
import { openDatabase, type Database } from '../../db/connection';
import { communityModels, embeddings, images } from '../../db/schema';
import { EmbeddingService } from '../../core/embeddings';
import { ImageStore } from '../../core/images';
import { createPersonRatings } from '../../core/person-ratings';
import { createRng, type Rng } from '../../core/random';
import type { Embedder } from '../../core/ports';
import { RatingLedger } from '../../core/ratings';
import type { RatingContext } from '../../core/records';
import { TasteService } from '../../core/taste-service';
import { silentLogger } from '../../log';
import { createImageBlobStore, createProviders } from '../../providers/from-config';
import { parseArgs, progress, runMain, UsageError } from '../cli';
import {
  mainThreadCpuSeconds,
  pgBackendCpuSeconds,
  pgCpuBetween,
  sampleNewThreadCpu,
  settledPgCounters,
  startWalMeter,
  warmThreadPool,
} from './ingest-probes';

interface Settings {
  people: number;
  ratings: number;
  concurrency: number;
  /** Ratings offered per second on a fixed schedule; 0: closed loop at `concurrency` callers. */
  rate: number;
  /** Unmeasured ratings by other people first (0: none). */
  warmup: number;
  images: number;
  seed: number;
  retrain: boolean;
  /** false: no TasteService at all, only the ledger (what the write path alone sustains). */
  refits: boolean;
  /** false: one vote per statement (no group commit). */
  groupCommit: boolean;
}

interface OneRating {
  person: number;
  image: number;
  score: number;
}

function readSettings(argv: string[]): Settings {
  const a = parseArgs(argv, {
    people: 1000,
    ratings: 20,
    concurrency: 32,
    rate: 0,
    warmup: 400,
    images: 400,
    seed: 1,
    retrain: 'on',
    refits: 'on',
    'group-commit': 'on',
    quick: false,
  });
  const quick = a.quick ? { people: 60, ratings: 5, concurrency: 8, images: 60, warmup: 20 } : {};
  const s = { people: a.people, ratings: a.ratings, concurrency: a.concurrency, images: a.images, ...quick };
  for (const [name, value] of Object.entries(s))
    if (!Number.isInteger(value) || value < 1) throw new UsageError(`--${name} needs a whole number from 1 (got ${value})`);
  if (!(Number.isFinite(a.rate) && a.rate >= 0))
    throw new UsageError(`--rate needs ratings per second, 0 for as fast as callers go (got ${a.rate})`);
  const warmup = a.quick ? 20 : a.warmup;
  if (!(Number.isInteger(warmup) && warmup >= 0))
    throw new UsageError(`--warmup needs a whole number of ratings, 0 for none (got ${warmup})`);
  if (s.ratings > s.images) throw new UsageError(`--ratings (${s.ratings}) cannot exceed --images (${s.images}): one rating per image`);
  if (a.retrain !== 'on' && a.retrain !== 'off') throw new UsageError(`--retrain takes on or off (got "${a.retrain}")`);
  if (a.refits !== 'on' && a.refits !== 'off') throw new UsageError(`--refits takes on or off (got "${a.refits}")`);
  const group = a['group-commit'];
  if (group !== 'on' && group !== 'off') throw new UsageError(`--group-commit takes on or off (got "${group}")`);
  return {
    ...s,
    rate: a.rate,
    warmup,
    seed: a.seed,
    retrain: a.retrain === 'on' && a.refits === 'on',
    refits: a.refits === 'on',
    groupCommit: group === 'on',
  };
}

function unitVector(rng: Rng, dim: number): number[] {
  const v = Array.from({ length: dim }, () => rng.normal());
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

/** Stores the images and their embeddings under the embedder's model id, so no image is embedded during the run. */
async function storeImages(database: Database, modelId: string, vectors: number[][]): Promise<string[]> {
  const ids = vectors.map((_, i) => createHash('sha256').update(`bench-ingest-${i}`).digest('hex'));
  for (let i = 0; i < ids.length; i += 200) {
    const chunk = ids.slice(i, i + 200);
    await database.db.insert(images).values(chunk.map((id) => ({ id, width: 8, height: 8, bytes: 100, source: 'gallery' })));
    await database.db
      .insert(embeddings)
      .values(chunk.map((imageId, k) => ({ imageId, model: modelId, dim: vectors[i + k]!.length, vector: vectors[i + k]! })));
  }
  return ids;
}

/** Each person's ratings (distinct images, scores from their own linear taste), interleaved across people. */
function plan(s: Settings, rng: Rng, vectors: number[][]): OneRating[] {
  const perPerson = Array.from({ length: s.people }, (_, person) => {
    const taste = unitVector(rng, vectors[0]!.length);
    return rng
      .shuffle([...vectors.keys()])
      .slice(0, s.ratings)
      .map((image) => {
        const dot = taste.reduce((acc, w, d) => acc + w * vectors[image]![d]!, 0);
        return { person, image, score: Math.min(10, Math.max(1, Math.round(5.5 + 12 * dot + rng.normal()))) };
      });
  });
  return Array.from({ length: s.ratings }, (_, j) => perPerson.map((list) => list[j]!)).flat();
}

/** The stored community models' version: it grows by one with every retrain (0 before the first). */
async function communityVersion(database: Database, modelId: string): Promise<number> {
  const rows = await database.db.select({ v: communityModels.version }).from(communityModels).where(eq(communityModels.model, modelId));
  return rows[0]?.v ?? 0;
}

function benchContext(r: OneRating): RatingContext {
  return { source: 'discord', scopeId: 'guild-bench', channelId: `chan-${r.person % 16}`, messageId: `m-${r.image}` };
}

/** The unmeasured start (see --warmup): four ratings each by warm-up people, at the measured concurrency. */
async function warmUp(s: Settings, rng: Rng, images: number, rate: (r: OneRating) => Promise<unknown>): Promise<void> {
  const each = Math.min(4, images);
  const todo = Array.from({ length: s.warmup }, (_, i) => ({
    person: Math.floor(i / each),
    image: rng.int(images),
    score: 1 + rng.int(10),
  }));
  await atConcurrency(todo, s.concurrency, rate);
}

/** The closed loop: `callers` callers, each taking the next rating as soon as its last one is done. */
async function atConcurrency(ratings: readonly OneRating[], callers: number, rate: (r: OneRating) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(callers, Math.max(1, ratings.length)) }, async () => {
      while (next < ratings.length) await rate(ratings[next++]!);
    }),
  );
}

/**
 * The open loop: the i-th rating starts when due (t0 + i/rate s) whether or not earlier ones are done;
 * a late wake-up starts every rating that fell due meanwhile, each still timed from when it was due.
 */
async function offerAtRate(
  ratings: readonly OneRating[],
  rate: number,
  t0: number,
  rateOne: (r: OneRating, due: number) => Promise<void>,
): Promise<void> {
  const calls: Promise<void>[] = [];
  const dueAt = (i: number) => t0 + (i * 1000) / rate;
  let i = 0;
  while (i < ratings.length) {
    const now = performance.now();
    for (; i < ratings.length && dueAt(i) <= now; i++) calls.push(rateOne(ratings[i]!, dueAt(i)));
    if (i < ratings.length) await sleep(Math.max(1, dueAt(i) - performance.now()));
  }
  await Promise.all(calls);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const r1 = (x: number) => Math.round(x * 10) / 10;

async function openBenchDatabase(): Promise<{ database: Database; cleanup: () => Promise<void> }> {
  const url = process.env.DATABASE_URL;
  if (url) {
    const database = await openDatabase({ databaseUrl: url });
    return { database, cleanup: () => database.close() };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'tl-bench-ingest-'));
  const database = await openDatabase({ pgliteDir: path.join(dir, 'pglite') });
  return {
    database,
    cleanup: async () => {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const s = readSettings(process.argv.slice(2));
  const { database, cleanup } = await openBenchDatabase();
  try {
    const out = await measure(s, database);
    const load = out.offered_per_s === null ? `at ${out.concurrency} callers` : `offered at ${out.offered_per_s}/s`;
    console.log(
      `${out.ratings} ratings by ${out.people} people ${load} on ${out.backend}: ${out.ratings_per_s} ratings/s, ` +
        `rate() p50 ${out.rate_p50_ms} ms p99 ${out.rate_p99_ms} ms, refit lag p99 ${out.refit_lag_p99_ms} ms`,
    );
    console.log(JSON.stringify(out));
  } finally {
    await cleanup();
  }
}

/** The core as src/app.ts wires it; only the community retrain (--retrain off) or every refit (--refits off) can be left out. */
async function wire(s: Settings, database: Database, config: Config, embedder: Embedder) {
  const log = silentLogger;
  const imageStore = new ImageStore(database.db, await createImageBlobStore(config));
  const ledger = new RatingLedger(database.db, { log, ...(s.groupCommit ? {} : { maxVotesPerStatement: 1 }) });
  const taste = !s.refits
    ? null
    : new TasteService({
        db: database.db,
        ledger,
        embeddings: new EmbeddingService(database.db, imageStore, embedder),
        images: imageStore,
        log,
        method: config.SCORER_METHOD,
        listen: database.listen,
        ...(s.retrain ? {} : { globalEvery: Number.POSITIVE_INFINITY }),
      });
  return { ledger, taste, personRatings: createPersonRatings(ledger) };
}

async function measure(s: Settings, database: Database) {
  const config = loadConfig({ DATA_DIR: tmpdir(), GALLERY: 'off', LOG_LEVEL: 'silent' });
  const { providers } = await createProviders(config, { db: database.db, log: silentLogger });
  const rng = createRng(s.seed);
  const vectors = Array.from({ length: s.images }, () => unitVector(rng, providers.embedder.dim));
  const ids = await storeImages(database, providers.embedder.modelId, vectors);
  const ratings = plan(s, rng, vectors);
  progress(
    `ingest: ${s.people} people × ${s.ratings} ratings at ${s.concurrency} callers on ${database.kind} (retrain ${s.retrain ? 'on' : 'off'})`,
  );

  await warmThreadPool();
  const trainerCpu = sampleNewThreadCpu();
  const { ledger, taste, personRatings } = await wire(s, database, config, providers.embedder);
  await taste?.load();
  await warmUp(s, rng, ids.length, (r) =>
    personRatings.rate({ platform: 'discord', userId: `warmup-${r.person}` }, ids[r.image]!, r.score, benchContext(r)),
  );
  await taste?.idle();

  const version0 = await communityVersion(database, providers.embedder.modelId);
  const before = await settledPgCounters(database);
  const pgCpu0 = await pgBackendCpuSeconds(database);
  const walMeter = database.kind === 'postgres' ? await startWalMeter(database) : null;
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuSeconds();
  const trainer0 = trainerCpu.seconds();
  const rateMs: number[] = [];
  /** Latencies of the ratings due after the first second. */
  const laterMs: number[] = [];
  const lagMs: number[] = [];
  const lags: Promise<void>[] = [];
  let errors = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const t0 = performance.now();
  /** One rating, its latency from `due` (when it started, or in the open loop when it was due). */
  const rateOne = async (r: OneRating, due: number): Promise<void> => {
    const person = { platform: 'discord' as const, userId: `bench-${r.person}` };
    const ctx = benchContext(r);
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    try {
      const change = await personRatings.rate(person, ids[r.image]!, r.score, ctx);
      const done = performance.now();
      rateMs.push(done - due);
      if (due - t0 >= 1000) laterMs.push(done - due);
      if (taste) lags.push(taste.scheduler.settled(change.userKey).then(() => void lagMs.push(performance.now() - done)));
    } catch (err) {
      if (errors++ === 0) progress(`first error: ${(err as Error).message}`);
    } finally {
      inFlight--;
    }
  };
  if (s.rate > 0) await offerAtRate(ratings, s.rate, t0, rateOne);
  else await atConcurrency(ratings, s.concurrency, (r) => rateOne(r, performance.now()));
  const seconds = (performance.now() - t0) / 1000;
  loopDelay.disable();
  await Promise.all(lags);
  const ingestCpu = process.cpuUsage(cpu0);
  const main1 = mainThreadCpuSeconds();
  await taste?.idle();
  const cpuUsed = process.cpuUsage(cpu0);
  const trainer1 = trainerCpu.seconds();
  trainerCpu.stop();
  const pgCpu = pgCpuBetween(pgCpu0, await pgBackendCpuSeconds(database));
  const after = await settledPgCounters(database);
  const wal = (await walMeter?.stop()) ?? null;

  const writes = ledger.writeStats();
  const keys = Array.from({ length: s.people }, (_, i) => `discord:-:bench-${i}`);
  const counts = await Promise.all(keys.map((k) => ledger.count(k)));
  const scorersMatch = taste ? keys.every((k, i) => taste.scorer.count(k) === counts[i]) : null;
  const retrains = (await communityVersion(database, providers.embedder.modelId)) - version0;
  taste?.stop();
  await taste?.idle();

  rateMs.sort((a, b) => a - b);
  laterMs.sort((a, b) => a - b);
  lagMs.sort((a, b) => a - b);
  const n = rateMs.length;
  const totalCpu = (cpuUsed.user + cpuUsed.system) / 1e6;
  return {
    ratings_per_s: r1(n / seconds),
    rate_p50_ms: r1(percentile(rateMs, 50)),
    rate_p99_ms: r1(percentile(rateMs, 99)),
    refit_lag_p99_ms: taste ? r1(percentile(lagMs, 99)) : null,
    retrain_cpu_share: trainer0 === null || trainer1 === null ? null : Math.round(((trainer1 - trainer0) / totalCpu) * 1000) / 1000,
    wal_bytes_per_rating: wal ? Math.round(wal.bytes / n) : null,
    wal_scope: wal?.scope ?? null,
    tx_per_rating: before && after ? Math.round(((after.commits - before.commits) / n) * 100) / 100 : null,
    backend: database.kind,
    people: s.people,
    ratings: n,
    concurrency: s.rate > 0 ? null : s.concurrency,
    images: s.images,
    retrain: s.retrain ? 'on' : 'off',
    refits: s.refits ? 'on' : 'off',
    seed: s.seed,
    retrains,
    errors,
    scorers_match: scorersMatch,
    seconds: r1(seconds),
    cpu_ms_per_rating: Math.round((totalCpu / n) * 1e5) / 100,
    ingest_cpu_ms_per_rating: Math.round(((ingestCpu.user + ingestCpu.system) / 1e6 / n) * 1e5) / 100,
    main_thread_cpu_ms_per_rating: main0 === null || main1 === null ? null : Math.round(((main1 - main0) / n) * 1e5) / 100,
    pg_cpu_ms_per_rating: pgCpu === null ? null : Math.round((pgCpu / n) * 1e5) / 100,
    group_commit: s.groupCommit ? 'on' : 'off',
    votes_per_statement: writes.statements > 0 ? Math.round((writes.votes / writes.statements) * 100) / 100 : null,
    offered_per_s: s.rate > 0 ? s.rate : null,
    warmup: s.warmup,
    max_in_flight: maxInFlight,
    event_loop_delay_p99_ms: r1(loopDelay.percentile(99) / 1e6),
    rate_p99_after_first_s_ms: laterMs.length > 0 ? r1(percentile(laterMs, 99)) : null,
  };
}

runMain(import.meta.url, main);

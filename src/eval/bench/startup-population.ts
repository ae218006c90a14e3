/**
 * `npm run bench:startup -- --people 100000 --database-url postgres://postgres@127.0.0.1:5432/postgres
 *  [--ratings 20] [--groups 200] [--cache-mb 64] [--use 3000]`
 *
 * Start-up at a large population. A fresh database on that PostgreSQL server (created here, dropped at
 * the end) is seeded directly with SQL: `--people` people with `--ratings` ratings each (ratings,
 * rating_events, users), 400 images with embeddings, a stored community model, and every person's
 * compact scorer state at their ledger version. People fall into `--groups` taste groups (same images,
 * same scores), so each group's state is a real fit, made here with the scorer the app runs and copied to
 * its members; a few people (1 in 500) get no state, to time a first use that replays the ratings.
 *
 *   started  `src/main.ts` spawned against it (SCORER_CACHE_MB = --cache-mb), as a serving replica
 *            (TASTELOOP_ROLES=gateway,web) and with every role (npm start's default, which makes it the
 *            community trainer): seconds to /readyz 200 and to the log's "scorers ready" (community
 *            model adopted: predictions are served), and its RSS then;
 *   in use   a child process that creates the app as a serving replica (TASTELOOP_ROLES=gateway,web: not
 *            the community trainer) and predicts for `--use` people drawn at random (each a first use:
 *            loaded from their state, or from the ratings for those without): first-use latency by
 *            source, RSS and the cache's accounts after.
 *
 * Last stdout line (of bench:startup): JSON with both phases' figures.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { createApp } from '../../app';
import { loadConfig } from '../../config';
import { newerCommunity, storeCommunity } from '../../core/community-store';
import { saveScorerState } from '../../core/scorer-state-store';
import { emptyGlobal } from '../../core/scorer/global';
import { ScorerService } from '../../core/scorer/scorer-service';
import { openDatabase, type Database } from '../../db/connection';
import { embeddings as embeddingsTable } from '../../db/schema';
import { silentLogger } from '../../log';
import { FeaturesEmbedder } from '../../providers/embedder/features';
import { parseArgs, progress, runMain, UsageError } from '../cli';
import { rssMiB, startMain, watchLog, withTimeout } from './startup-process';
import { mulberry32 } from '../../core/random';

export interface PopulationOptions {
  people: number;
  ratings: number;
  groups: number;
  cacheMb: number;
  use: number;
  databaseUrl: string;
  timeoutMs: number;
}

const IMAGES = 400;
const PREFIX = 'playground:bench';
/** 1 in this many people has no stored state (their first use replays the ratings). */
const NO_STATE_EVERY = 500;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const imageId = (k: number) => `bench-img-${String(k).padStart(5, '0')}`;
/** The same formulas as the seeding SQL: group g's j-th image and score. */
const groupImage = (g: number, j: number) => (g * 37 + j * 11) % IMAGES;
const groupScore = (g: number, j: number) => 1 + ((g * 3 + j * 7) % 10);

/** Deterministic uniform numbers: the same embeddings and draws on every run. */
const rng = mulberry32;

async function freshDatabase(adminUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `tl_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

/** Seeds the population; returns the seconds each part took. */
async function seed(database: Database, o: PopulationOptions): Promise<Record<string, number>> {
  const { db } = database;
  const embedder = new FeaturesEmbedder();
  const times: Record<string, number> = {};
  const timed = async (what: string, work: () => Promise<unknown>) => {
    const t = performance.now();
    await work();
    times[what] = Math.round((performance.now() - t) / 100) / 10;
    progress(`  seeded ${what} in ${times[what]} s`);
  };
  const random = rng(1);
  const vectors = Array.from({ length: IMAGES }, () => Float32Array.from({ length: embedder.dim }, () => random() * 2 - 1));
  await timed('images', async () => {
    await db.execute(sql`insert into images (id, width, height, bytes, source, prompt, seed)
      select 'bench-img-' || lpad(k::text, 5, '0'), 64, 64, 1000, 'generated', 'bench image ' || k, k
      from generate_series(0, ${IMAGES - 1}::int) k`);
    for (let k = 0; k < IMAGES; k += 50)
      await db
        .insert(embeddingsTable)
        .values(
          vectors
            .slice(k, k + 50)
            .map((v, i) => ({ imageId: imageId(k + i), model: embedder.modelId, dim: embedder.dim, vector: Array.from(v) })),
        );
  });
  const [P, R, G] = [o.people, o.ratings, o.groups];
  const rows = sql`from generate_series(0, ${P - 1}::int) p cross join generate_series(0, ${R - 1}::int) j`;
  const image = sql`'bench-img-' || lpad(((((p % ${G}::int) * 37) + j * 11) % ${IMAGES}::int)::text, 5, '0')`;
  const score = sql`1 + (((p % ${G}::int) * 3 + j * 7) % 10)`;
  await timed('users', () =>
    db.execute(sql`insert into users (user_key, platform, platform_user_id)
      select ${PREFIX}::text || p, 'playground', 'bench' || p from generate_series(0, ${P - 1}::int) p`),
  );
  await timed('ratings', () =>
    db.execute(sql`insert into ratings (user_key, image_id, score, event_time, source)
      select ${PREFIX}::text || p, ${image}, ${score}, now() - interval '1 day', 'bench' ${rows}`),
  );
  await timed('rating_events', () =>
    db.execute(sql`insert into rating_events (user_key, image_id, kind, score, event_time, effective_score, source)
      select ${PREFIX}::text || p, ${image}, 'add', ${score}, now() - interval '1 day', ${score}, 'bench' ${rows} order by p, j`),
  );
  await timed('scorer_states', async () => {
    // The neutral prior, counted as this community's (users, ratings): a trainer finds it current and keeps it.
    const version = await storeCommunity(db, embedder.modelId, {
      global: { ...emptyGlobal(embedder.dim), users: P, ratings: P * R },
      meta: null,
      metaUsers: P,
      calibratedRatings: P * R,
    });
    // The community model as the app will read it back, so the fits below are the app's to the last bit.
    const community = (await newerCommunity(db, embedder.modelId, 0))!;
    const scorer = new ScorerService({ modelId: embedder.modelId, dim: embedder.dim, global: community.global, meta: community.meta });
    for (let g = 0; g < Math.min(G, P); g++) {
      const key = `${PREFIX}${g}`;
      for (let j = 0; j < R; j++) {
        const k = groupImage(g, j);
        scorer.addRating(key, vectors[k]!, groupScore(g, j), { imageId: imageId(k) });
      }
      scorer.details(key);
      await saveScorerState(db, key, embedder.modelId, { snapshot: scorer.snapshot(key)!, ledgerVersion: '', communityVersion: version });
      scorer.deleteUser(key);
    }
    // Every member gets their group's state at their own ledger version (RatingLedger.versions' formula).
    await db.execute(sql`insert into scorer_states (user_key, model, ledger_version, community_version, image_ids, scores, fit, delta)
      select v.user_key, t.model, v.version, t.community_version, t.image_ids, t.scores, t.fit, t.delta
      from (select user_key, count(*)::text || ':' || max(id)::text || ':' || sum(id)::text as version
            from rating_events group by user_key) v
      join scorer_states t on t.user_key = ${PREFIX}::text || (substring(v.user_key from ${PREFIX.length + 1}::int)::int % ${G}::int)
      where substring(v.user_key from ${PREFIX.length + 1}::int)::int % ${NO_STATE_EVERY}::int <> 1
      on conflict (user_key, model) do update set ledger_version = excluded.ledger_version`);
  });
  await timed('analyze', () => db.execute(sql`analyze`));
  return times;
}

/**
 * `src/main.ts` with these roles against the seeded database: to /readyz, to "scorers ready", and its RSS
 * then (null: not within the timeout).
 */
async function started(url: string, o: PopulationOptions, roles: string): Promise<Record<string, number | null>> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tl-bench-population-'));
  const env = { DATABASE_URL: url, GALLERY: 'off', SCORER_CACHE_MB: String(o.cacheMb), TASTELOOP_ROLES: roles };
  const app = await startMain(dataDir, o.timeoutMs, 0, env);
  const scorersReady = watchLog(app.child, app.t0, (msg) => msg === 'scorers ready');
  try {
    const ready = await app.ready;
    const rssReady = rssMiB(app.child.pid);
    const scorers = await withTimeout(scorersReady, o.timeoutMs, 'the scorers').catch(() => null);
    return {
      ready_s: r2(ready.s),
      ready_cpu_s: ready.cpu,
      rss_ready_mb: round(rssReady),
      scorers_ready_s: scorers === null ? null : r2(scorers),
      rss_scorers_ready_mb: round(rssMiB(app.child.pid)),
    };
  } finally {
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The in-use phase in its own process (this file with --serve), so its RSS is the app's alone. */
function inUse(url: string, o: PopulationOptions): Promise<Record<string, unknown>> {
  // A serving replica (gateway, web): the scorers' memory alone, without the community trainer's copy of
  // every rating that a worker holds (measured in the started phase's RSS at "scorers ready").
  const args = ['--serve', '--database-url', url, '--people', String(o.people), '--cache-mb', String(o.cacheMb), '--use', String(o.use)];
  args.push('--roles', 'gateway,web');
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code === 0) resolve(JSON.parse(last) as Record<string, unknown>);
      else reject(new Error(`the in-use phase exited with code ${code}: ${last}`));
    }),
  );
}

/** Runs in the child: creates the app, waits for it, and uses `--use` people at random. */
async function serve(): Promise<void> {
  const a = parseArgs(process.argv.slice(2), { serve: false, 'database-url': '', people: 0, 'cache-mb': 64, use: 3000, roles: '' });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tl-bench-population-'));
  const config = loadConfig({
    DATABASE_URL: a['database-url'],
    DATA_DIR: dataDir,
    GALLERY: 'off',
    PLAYGROUND: 'off',
    LOG_LEVEL: 'silent',
    SCORER_CACHE_MB: String(a['cache-mb']),
    TASTELOOP_ROLES: a.roles,
  });
  const app = await createApp(config, { log: silentLogger, seedGallery: false });
  try {
    await app.taste.loaded();
    const readyS = process.uptime();
    const rssReady = process.memoryUsage().rss;
    const random = rng(7);
    const probe = Array.from({ length: 8 }, (_, i) => imageId((i * 53) % IMAGES));
    const latency: Record<string, number[]> = {};
    const t = performance.now();
    for (let i = 0; i < a.use; i++) {
      const key = `${PREFIX}${Math.floor(random() * a.people)}`;
      const t1 = performance.now();
      await app.taste.predict(key, probe);
      const from = app.taste.resident.loadedFrom.get(key) ?? 'held';
      (latency[from] ??= []).push(performance.now() - t1);
    }
    const useS = (performance.now() - t) / 1000;
    await app.taste.idle();
    const stats = app.taste.resident.stats();
    const mb = (b: number) => round(b / 2 ** 20);
    console.log(
      JSON.stringify({
        app_ready_s: r2(readyS),
        rss_ready_mb: mb(rssReady),
        used_people: a.use,
        use_s: r2(useS),
        first_use_ms: Object.fromEntries(
          Object.entries(latency).map(([k, v]) => [k, { n: v.length, p50: r2(pct(v, 0.5)), p95: r2(pct(v, 0.95)) }]),
        ),
        rss_after_use_mb: mb(process.memoryUsage().rss),
        heap_after_use_mb: mb(process.memoryUsage().heapUsed),
        // Typed arrays (the ratings' vectors, Δ, factors) live outside the JS heap.
        array_buffers_after_use_mb: mb(process.memoryUsage().arrayBuffers),
        cache_people: stats.people,
        cache_used_mb: mb(stats.usedBytes),
        cache_budget_mb: mb(stats.budgetBytes),
        state_writes: stats.stateWrites,
      }),
    );
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The population benchmark: seed, start, use. */
export async function populationStartup(o: PopulationOptions): Promise<Record<string, unknown>> {
  if (!o.databaseUrl) throw new UsageError('--people needs --database-url postgres://… (a server where a database may be created)');
  if (!(Number.isInteger(o.people) && o.people >= 1 && o.ratings >= 1 && o.groups >= 1))
    throw new UsageError('--people, --ratings and --groups need whole numbers from 1');
  progress(`population: ${o.people} people × ${o.ratings} ratings (${o.groups} taste groups), SCORER_CACHE_MB=${o.cacheMb}`);
  const { url, drop } = await freshDatabase(o.databaseUrl);
  try {
    const database = await openDatabase({ databaseUrl: url });
    const t = performance.now();
    let seeded: Record<string, number>;
    try {
      seeded = await seed(database, o);
    } finally {
      await database.close();
    }
    progress(`seeded in ${r2((performance.now() - t) / 1000)} s`);
    // A serving replica first (what this work bounds), then `npm start`'s every role: that process is also
    // the community trainer, which reads every rating when it starts (./community-training).
    const replica = await started(url, o, 'gateway,web');
    progress(`started (gateway,web): ${JSON.stringify(replica)}`);
    const all = await started(url, o, 'gateway,worker,web');
    progress(`started (every role): ${JSON.stringify(all)}`);
    const used = await inUse(url, o);
    progress(`in use: ${JSON.stringify(used)}`);
    return {
      people: o.people,
      ratings_per_person: o.ratings,
      cache_mb: o.cacheMb,
      seed_s: seeded,
      started_replica: replica,
      started_all_roles: all,
      in_use: used,
    };
  } finally {
    await drop();
  }
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

const r2 = (x: number) => Math.round(x * 100) / 100;
const round = (x: number | null) => (x === null ? null : Math.round(x));

runMain(import.meta.url, serve);

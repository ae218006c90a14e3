/**
 * Scorer benchmark: incremental vs full refit, prediction throughput, memory per stored person, and how
 * long a community retrain stalls the event loop (inline vs in its worker thread).
 * Human-readable lines on stderr; the last stdout line is one JSON object. `--seed N` (default 1).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { createRng, type Rng } from '../../core/random';
import { ScorerService } from '../../core/scorer/scorer-service';
import { emptyGlobal, type GlobalModel } from '../../core/scorer/global';
import { RatingStore } from '../../core/scorer/data';
import { IncrementalFinetune, fitFinetuneBatch, selectLambda } from '../../core/scorer/finetune';
import { trainInline, type CommunityTrainer } from '../../core/scorer/community';
import { trainOffThread } from '../../core/scorer/community-thread';
import type { PackedRatings } from '../../core/scorer/data';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const seed = Number(argValue('--seed') ?? 1);
const log = (msg: string) => process.stderr.write(`${msg}\n`);

function unit(rng: Rng, d: number): Float32Array {
  const v = new Float32Array(d);
  let s = 0;
  for (let j = 0; j < d; j++) {
    v[j] = rng.normal();
    s += (v[j] as number) ** 2;
  }
  const inv = 1 / Math.sqrt(s);
  for (let j = 0; j < d; j++) v[j] = (v[j] as number) * inv;
  return v;
}

function randomGlobal(rng: Rng, d: number): GlobalModel {
  return { ...emptyGlobal(d), w: Float64Array.from({ length: d }, () => rng.normal()), bias: 5.5 };
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

function rating(rng: Rng, w: Float64Array, x: Float32Array): number {
  let v = 5.5;
  for (let j = 0; j < x.length; j++) v += (w[j] as number) * (x[j] as number);
  return Math.min(10, Math.max(1, Math.round(v + rng.normal())));
}

/** A person with n ratings in a service, then `samples` timed single-rating refits at that size. */
function benchRefit(d: number, n: number, samples: number, fullReps: number, rng: Rng) {
  const global = randomGlobal(rng, d);
  const svc = new ScorerService({ modelId: 'bench', dim: d, global, defaultMethod: 'finetune' });
  const taste = Float64Array.from({ length: d }, () => rng.normal() * 2);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const x = unit(rng, d);
    svc.addRating('p', x, rating(rng, taste, x), { imageId: `i${i}` });
  }
  log(`d=${d}: built a person with ${n} ratings incrementally in ${(performance.now() - t0).toFixed(0)} ms`);
  // Warm up the JIT on the exact path being timed.
  for (let i = 0; i < 20; i++) {
    svc.addRating('p', unit(rng, d), 5, { imageId: 'probe' });
    svc.removeRating('p', 'probe');
  }
  const inc: number[] = [];
  const rem: number[] = [];
  for (let i = 0; i < samples; i++) {
    const x = unit(rng, d);
    const y = rating(rng, taste, x);
    const a = performance.now();
    svc.addRating('p', x, y, { imageId: 'probe' });
    const b = performance.now();
    svc.removeRating('p', 'probe');
    rem.push(performance.now() - b);
    inc.push(b - a);
  }
  // Full refit at the same λ from the same data (what a non-incremental scorer does per rating).
  const data = new RatingStore(d, n);
  for (let i = 0; i < n; i++) data.add(unit(rng, d), 1 + rng.int(10));
  const lambda = svc.details('p')?.lambda ?? 1;
  const full: number[] = [];
  for (let r = 0; r < fullReps; r++) {
    const a = performance.now();
    fitFinetuneBatch(global, data, lambda);
    full.push(performance.now() - a);
  }
  const a = performance.now();
  selectLambda(global, data);
  const withSelection = performance.now() - a;
  const res: Record<string, number> & {
    refit_incremental_p50_ms: number;
    refit_incremental_p99_ms: number;
    refit_full_p50_ms: number;
    refit_speedup: number;
    remove_incremental_p50_ms: number;
    refit_full_with_lambda_selection_ms: number;
  } = {
    refit_incremental_p50_ms: pct(inc, 0.5),
    refit_incremental_p99_ms: pct(inc, 0.99),
    refit_full_p50_ms: pct(full, 0.5),
    refit_speedup: pct(full, 0.5) / pct(inc, 0.5),
    remove_incremental_p50_ms: pct(rem, 0.5),
    refit_full_with_lambda_selection_ms: withSelection,
  };
  log(
    `d=${d}, n=${n}: incremental refit p50 ${res.refit_incremental_p50_ms.toFixed(3)} ms, p99 ${res.refit_incremental_p99_ms.toFixed(3)} ms; ` +
      `removal p50 ${res.remove_incremental_p50_ms.toFixed(3)} ms; full refit p50 ${res.refit_full_p50_ms.toFixed(1)} ms ` +
      `(with LOO λ selection ${withSelection.toFixed(0)} ms); speedup ×${res.refit_speedup.toFixed(0)}`,
  );
  return res;
}

function benchPredict(d: number, rng: Rng): { perS: number; knnPerS: number } {
  const svc = new ScorerService({ modelId: 'bench', dim: d, global: randomGlobal(rng, d), defaultMethod: 'finetune' });
  const taste = Float64Array.from({ length: d }, () => rng.normal() * 2);
  const X = Array.from({ length: 1000 }, () => unit(rng, d));
  svc.setRatings(
    'p',
    X,
    X.map((x) => rating(rng, taste, x)),
  );
  const imgs = Array.from({ length: 10_000 }, () => unit(rng, d));
  svc.predict('p', imgs); // warm-up (fits lazily, JIT)
  const times: number[] = [];
  for (let r = 0; r < 7; r++) {
    const a = performance.now();
    svc.predict('p', imgs);
    times.push(performance.now() - a);
  }
  const perS = 10_000 / (pct(times, 0.5) / 1000);
  svc.setMethod('p', 'knn');
  const some = imgs.slice(0, 500);
  svc.predict('p', some);
  const a = performance.now();
  svc.predict('p', some);
  const knnPerS = 500 / ((performance.now() - a) / 1000);
  log(
    `predict (finetune, d=${d}): ${Math.round(perS).toLocaleString('en')} images/s over 10,000 images; knn with 1,000 ratings: ${Math.round(knnPerS).toLocaleString('en')}/s`,
  );
  return { perS, knnPerS };
}

function heapBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Resident bytes per stored person, measured as heap + array-buffer growth over many people. */
function benchMemory(
  d: number,
  ratings: number,
  users: number,
  hotCapacity: number,
  fitAll: boolean,
  rng: Rng,
): { perUser: number; rssPerUser: number } {
  const taste = Float64Array.from({ length: d }, () => rng.normal() * 2);
  // Pre-generate one pool of embeddings so the measured delta is the service's own storage.
  const pool = Array.from({ length: ratings }, () => unit(rng, d));
  const ys = pool.map((x) => rating(rng, taste, x));
  const before = heapBytes();
  const rssBefore = process.memoryUsage().rss;
  const svc = new ScorerService({ modelId: 'bench', dim: d, global: randomGlobal(rng, d), defaultMethod: 'finetune', hotCapacity });
  for (let u = 0; u < users; u++) svc.setRatings(`u${u}`, pool, ys, { imageIds: pool.map((_, i) => `img${i}`) });
  // The most recently active people rate once more: they hold factorizations in the hot LRU, as
  // active users do. Everyone else is stored cold: ratings + O(d) model.
  if (fitAll) {
    const probe = [unit(rng, d)];
    for (let u = 0; u < users; u++) svc.predict(`u${u}`, probe);
  }
  for (let u = users - hotCapacity; u < users; u++) svc.addRating(`u${u}`, pool[0] as Float32Array, 5, { imageId: 'extra' });
  const after = heapBytes();
  const rssAfter = process.memoryUsage().rss;
  const st = svc.stats();
  const perUser = (after - before) / users;
  log(
    `memory, ${users} people × ${ratings} ratings at d=${d} (${st.hotUsers} hot): ${(perUser / 1e6).toFixed(3)} MB/person measured ` +
      `(typed data ${(st.dataBytes / users / 1e6).toFixed(3)} MB, factors ${(st.factorBytes / users / 1e6).toFixed(3)} MB amortized; rss Δ ${((rssAfter - rssBefore) / users / 1e6).toFixed(3)} MB)`,
  );
  if (svc.count('u0') !== ratings || st.hotUsers !== hotCapacity) throw new Error('memory bench: data not stored');
  return { perUser, rssPerUser: (rssAfter - rssBefore) / users };
}

/**
 * A community retrain (global prior + meta-init) of `users` people × `perUser` ratings at d, and the
 * longest gap between ticks of a 5 ms timer meanwhile: what every chat acknowledgement waiting on
 * this process would be delayed by.
 */
async function benchCommunity(
  d: number,
  users: number,
  perUser: number,
  rng: Rng,
): Promise<{ trainMs: number; inlineStallMs: number; workerStallMs: number }> {
  const w = Float64Array.from({ length: d }, () => rng.normal());
  const images = Array.from({ length: 600 }, () => unit(rng, d));
  const community: PackedRatings[] = Array.from({ length: users }, () => {
    const s = new RatingStore(d, perUser);
    for (let i = 0; i < perUser; i++) {
      const x = images[rng.int(images.length)] as Float32Array;
      s.add(x, rating(rng, w, x));
    }
    return s;
  });
  const stall = async (train: CommunityTrainer): Promise<{ ms: number; stall: number }> => {
    let last = performance.now();
    let worst = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
    }, 5);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 20));
    await train(community, { meta: true, calibrate: true, seed: 1 });
    const ms = performance.now() - t0 - 20;
    await new Promise((r) => setTimeout(r, 20));
    clearInterval(timer);
    return { ms, stall: worst };
  };
  const inline = await stall(trainInline);
  const worker = await stall(trainOffThread);
  log(
    `community retrain, ${users} people × ${perUser} ratings at d=${d}: inline ${inline.ms.toFixed(0)} ms, stalling the event loop ${inline.stall.toFixed(0)} ms; ` +
      `in a worker ${worker.ms.toFixed(0)} ms, longest stall ${worker.stall.toFixed(1)} ms`,
  );
  return { trainMs: inline.ms, inlineStallMs: inline.stall, workerStallMs: worker.stall };
}

async function main(): Promise<void> {
  const rng = createRng(seed);
  const started = performance.now();
  log(`bench:scorer seed=${seed}`);
  const r512 = benchRefit(512, 1000, 300, 5, rng.fork());
  const r64 = benchRefit(64, 1000, 2000, 30, rng.fork());
  const pred = benchPredict(512, rng.fork());
  const m50 = benchMemory(512, 50, 400, 16, true, rng.fork());
  const m1000 = benchMemory(512, 1000, 32, 4, false, rng.fork());
  const comm = await benchCommunity(512, 50, 100, rng.fork());
  // Sanity: the incremental path really is exact (cheap spot check on a small person).
  const srng = rng.fork();
  const g = randomGlobal(srng, 32);
  const inc = new IncrementalFinetune(g, new RatingStore(32), { lambda: 1 });
  for (let i = 0; i < 100; i++) inc.add(unit(srng, 32), 1 + srng.int(10));
  const ref = fitFinetuneBatch(g, inc.data, 1).delta;
  const maxErr = Math.max(...Array.from(ref, (v, i) => Math.abs(v - (inc.delta[i] as number))));
  log(`exactness spot check: max |Δ_incremental − Δ_batch| = ${maxErr.toExponential(2)}`);
  const out = {
    seed,
    refit_incremental_p50_ms: r512.refit_incremental_p50_ms,
    refit_incremental_p99_ms: r512.refit_incremental_p99_ms,
    refit_full_p50_ms: r512.refit_full_p50_ms,
    refit_speedup: r512.refit_speedup,
    remove_incremental_p50_ms: r512.remove_incremental_p50_ms,
    refit_full_with_lambda_selection_ms: r512.refit_full_with_lambda_selection_ms,
    refit_incremental_p50_ms_d64: r64.refit_incremental_p50_ms,
    refit_incremental_p99_ms_d64: r64.refit_incremental_p99_ms,
    refit_full_p50_ms_d64: r64.refit_full_p50_ms,
    refit_speedup_d64: r64.refit_speedup,
    predict_per_s: pred.perS,
    predict_knn_per_s: pred.knnPerS,
    bytes_per_user_50: m50.perUser,
    bytes_per_user_1000: m1000.perUser,
    rss_bytes_per_user_1000: m1000.rssPerUser,
    exactness_max_abs_err: maxErr,
    community_retrain_ms: comm.trainMs,
    community_stall_inline_ms: comm.inlineStallMs,
    community_stall_worker_ms: comm.workerStallMs,
    community_stall_ratio: comm.inlineStallMs / comm.workerStallMs,
    elapsed_s: (performance.now() - started) / 1000,
  };
  log(
    `targets: speedup ≥ 100 ${r512.refit_speedup >= 100 ? 'OK' : 'MISSED'}, incremental p50 < 1 ms ${r512.refit_incremental_p50_ms < 1 ? 'OK' : 'MISSED'}, ` +
      `bytes_per_user_1000 ≤ 4.5 MB ${out.bytes_per_user_1000 <= 4.5e6 ? 'OK' : 'MISSED'}, predict ≥ 1M/s ${out.predict_per_s >= 1e6 ? 'OK' : 'MISSED'}`,
  );
  console.log(JSON.stringify(out));
}

await main();

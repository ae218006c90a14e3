/**
 * The PIAA protocol (same for synthetic and real data): raters are split into two folds; the community
 * models (global ridge, MAML meta-initialization) are trained on the other fold's ratings only, so a
 * test person's own held-out ratings never leak into their prior. Images are split too, per fold: a
 * random `freshShare` of them are *fresh* — the community models never see a rating of them — and every
 * test person is tested on fresh images only, as in the method's own protocol (test workers' images
 * disjoint from the training images) and as the product uses the scorer (a generated image nobody has
 * rated). Without that split the community models, with more dimensions than a quick pool has images,
 * can learn each test image's community mean rating instead of taste from pixels (measured, seed 1: 78%
 * of the noise ceiling with shared images vs 68% on fresh ones). For each test person a random test set
 * of fresh images is fixed; training sets are nested prefixes (10 ⊂ 50 ⊂ 100) of a random order of the
 * rest. Predictions are clipped to the 1..10 scale (for every method alike) and compared with the
 * person's observed ratings. Mean ± std over people.
 *
 * Noise ceiling (synthetic only): SROCC of each person's hidden noise-free taste against their own
 * observed (noisy, quantized) ratings on the same test set — what a perfect model of their taste
 * would score.
 *
 * Active vs random: from the same small random start set, images are added either by the scorer's
 * active selection or at random, and the finetune model (the Bayesian model active selection reasons
 * with) is evaluated on the test set at equal numbers of ratings. Each person's two figures are means
 * over several draws of start set and candidates (and the random arm over several random orders per
 * draw): the expected result of each rule for that person, so the paired difference measures the rules
 * rather than one lucky or unlucky draw (measured per-seed s.e.: 0.001–0.003 averaged this way,
 * 0.003–0.007 from a single draw).
 */
import { createRng, type Rng } from '../../core/random';
import { srocc, mse, mae } from '../../core/scorer/quality-metrics';
import type { PackedRatings } from '../../core/scorer/data';
import { AVAILABLE_METHODS, trainCommunity, type Community, type EvalMethod } from './methods';
import { activeOrder, ACTIVE_MODEL } from './active';
import { meanStd, round4 } from '../cli';
import type { PiaaData, RaterData } from './data';
import type { PiaaConfig } from './config';
import type { PairedComparison } from '../paired';
import { seedComparisons } from './comparisons';
import { picksArm, picksComparisons, summarizePicks, type PicksResult } from './picks';
import { calibrationPoint, summarizeCalibration, type CalibrationPoint, type CalibrationRow } from './calibration';

export interface MetricSummary {
  srocc: number;
  mse: number;
  mae: number;
  srocc_std: number;
  mse_std: number;
  mae_std: number;
  n: number;
}

export interface PiaaSummary {
  shots: Record<string, Record<string, MetricSummary>>;
  ceiling: { srocc: number; srocc_std: number; n: number } | { srocc: null };
  /** SROCC of the embedding bound (see RaterData.bound) against the observed ratings: the practical ceiling of every scorer here. */
  embedding_bound?: { srocc: number; srocc_std: number; n: number };
  /** Per count: mean SROCC of each arm, plus the paired per-person difference (active − random). */
  active_vs_random: Record<
    string,
    {
      active: number;
      random: number;
      active_std: number;
      random_std: number;
      diff: number;
      diff_se: number;
      active_wins: number;
      n: number;
    }
  >;
  seed: number;
  people: number;
  source: 'synthetic' | 'sac' | 'external';
  active_model: string;
  /** Paired per-person comparisons (active vs random, best vs each method, the targets): comparisons.ts. */
  comparisons: PairedComparison[];
  /** The picks arm (picks.ts), when run (--picks): mean SROCC against the hidden taste per interaction count. */
  picks_vs_ratings?: Record<string, { picks: number; ratings: number; n: number }>;
  /** Reported quality and confidence meter vs the truth per ratings count (calibration.ts), when run (--calibration). */
  calibration?: Record<string, CalibrationRow>;
  notes: string[];
}

export function packRows(data: PiaaData, rater: RaterData, positions: readonly number[]): PackedRatings {
  const d = data.dim;
  const X = new Float32Array(positions.length * d);
  const y = new Float64Array(positions.length);
  positions.forEach((p, k) => {
    const img = rater.items[p] as number;
    X.set(data.X.subarray(img * d, (img + 1) * d), k * d);
    y[k] = rater.ratings[p] as number;
  });
  return { n: positions.length, dim: d, X, y };
}

function clip10(v: Float64Array): Float64Array {
  return v.map((x) => (x < 1 ? 1 : x > 10 ? 10 : x));
}

function evaluate(
  method: EvalMethod,
  train: PackedRatings,
  test: PackedRatings,
  community: Community,
): { srocc: number | null; mse: number | null; mae: number | null } {
  const pred = clip10(method.fit(train, community)(test.X, test.n));
  return { srocc: srocc(pred, test.y), mse: mse(pred, test.y), mae: mae(pred, test.y) };
}

function permutation(n: number, rng: Rng): number[] {
  return rng.shuffle(Array.from({ length: n }, (_, i) => i));
}

export interface PersonResult {
  shots: Record<number, Record<string, { srocc: number | null; mse: number | null; mae: number | null }>>;
  ceiling: number | null;
  bound: number | null;
  active: Record<number, { active: number | null; random: number | null }>;
  picks?: PicksResult | null;
  calibration?: Record<number, CalibrationPoint>;
}

function evaluatePerson(
  data: PiaaData,
  rater: RaterData,
  community: Community,
  cfg: PiaaConfig,
  fresh: Uint8Array,
  rng: Rng,
): PersonResult | null {
  const n = rater.items.length;
  const perm = permutation(n, rng);
  // Test images: fresh ones only (never seen by the community models); training: any other.
  const freshPos = cfg.freshShare > 0 ? perm.filter((p) => fresh[rater.items[p] as number] === 1) : perm;
  const T = Math.min(cfg.testSize, freshPos.length);
  if (T < cfg.minTest) return null;
  const testPos = freshPos.slice(0, T);
  const inTest = new Set(testPos);
  const trainSeq = perm.filter((p) => !inTest.has(p));
  const fitting = cfg.shots.filter((s) => s <= trainSeq.length);
  if (fitting.length === 0) return null;
  const test = packRows(data, rater, testPos);
  const out: PersonResult = { shots: {}, ceiling: null, bound: null, active: {} };
  if (rater.hidden) {
    const h = Float64Array.from(testPos, (p) => rater.hidden![p] as number);
    out.ceiling = srocc(h, test.y);
  }
  if (rater.bound)
    out.bound = srocc(
      Float64Array.from(testPos, (p) => rater.bound![p] as number),
      test.y,
    );
  for (const s of fitting) {
    const train = packRows(data, rater, trainSeq.slice(0, s));
    out.shots[s] = {};
    for (const name of cfg.methods) {
      const m = AVAILABLE_METHODS[name];
      if (m) out.shots[s][name] = evaluate(m, train, test, community);
    }
    if (cfg.calibration) {
      const hidden = rater.hidden ? Float64Array.from(testPos, (p) => rater.hidden![p] as number) : null;
      (out.calibration ??= {})[s] = calibrationPoint(train, test, hidden, community);
    }
  }
  // Active vs random from the same start set, over the same candidate pool; repeated over
  // `activeReplicates` draws of (candidates, start set) from the person's training images — the first
  // is the protocol's own order — and averaged, so the person's figure is the expected result of each
  // rule rather than the luck of one start set.
  const counts = cfg.activeCounts.filter((c) => c <= trainSeq.length);
  const model = AVAILABLE_METHODS[ACTIVE_MODEL];
  if (counts.length && model) {
    const sums = counts.map(() => ({ active: [] as number[], random: [] as number[] }));
    const replicates = Math.max(1, cfg.activeReplicates ?? 1);
    for (let k = 0; k < replicates; k++) {
      const order = k === 0 ? trainSeq : rng.shuffle([...trainSeq]);
      const candPos = order.slice(0, Math.min(order.length, Math.max(cfg.activeCandidates, Math.max(...counts))));
      const pool = packRows(data, rater, candPos);
      const start = candPos.slice(0, cfg.activeStart);
      const activeSeq = activeOrder(
        pool,
        community,
        start.map((_, i) => i),
        Math.max(...counts),
        cfg.activeBatch,
      ).map((i) => candPos[i] as number);
      const randomSeqs = randomArmOrders(candPos, start.length, cfg.randomOrders ?? 1, rng);
      counts.forEach((c, ci) => {
        const a = evaluate(model, packRows(data, rater, activeSeq.slice(0, c)), test, community).srocc;
        const randoms = randomSeqs
          .map((seq) => evaluate(model, packRows(data, rater, seq.slice(0, c)), test, community).srocc)
          .filter((v): v is number => v !== null);
        // A replicate counts only when both arms have a figure, so the two means stay paired.
        if (a !== null && randoms.length) {
          sums[ci]!.active.push(a);
          sums[ci]!.random.push(randoms.reduce((x, y) => x + y, 0) / randoms.length);
        }
      });
    }
    const mean = (v: number[]) => (v.length ? v.reduce((x, y) => x + y, 0) / v.length : null);
    counts.forEach((c, ci) => (out.active[c] = { active: mean(sums[ci]!.active), random: mean(sums[ci]!.random) }));
  }
  if (cfg.pickCounts?.length) {
    const pack = (positions: readonly number[]) => packRows(data, rater, positions);
    const setup = { data, rater, community, trainSeq, testPos, counts: cfg.pickCounts, candidates: cfg.activeCandidates, pack };
    out.picks = picksArm(setup, rng);
  }
  return out;
}

/**
 * The orders the random arm of active vs random rates a person's candidates in: `orders` of them, each
 * the same `startLength` images first (the start set active selection also begins from), then the rest
 * in a random order; the first is `candidates` itself (already a random order). The arm's figure is the
 * mean over these orders — the *expected* result of random picks rather than the luck of one draw.
 */
export function randomArmOrders(candidates: readonly number[], startLength: number, orders: number, rng: Rng): number[][] {
  const start = candidates.slice(0, startLength);
  const rest = candidates.slice(startLength);
  return [[...candidates], ...Array.from({ length: Math.max(0, orders - 1) }, () => [...start, ...rng.shuffle([...rest])])];
}

/** Ratings of a community member used to train the community models (a random subset of non-fresh images). */
function communityRatings(data: PiaaData, rater: RaterData, k: number, fresh: Uint8Array, rng: Rng): PackedRatings {
  const perm = permutation(rater.items.length, rng)
    .filter((p) => fresh[rater.items[p] as number] !== 1)
    .slice(0, k);
  return packRows(data, rater, perm);
}

/** Marks a random `share` of the images as fresh (1): no community model may see a rating of them. */
export function freshImages(images: number, share: number, rng: Rng): Uint8Array {
  const fresh = new Uint8Array(images);
  for (const i of permutation(images, rng).slice(0, Math.round(images * share))) fresh[i] = 1;
  return fresh;
}

/**
 * What one fold needs to run on its own: who is tested, whose ratings train the community models, and
 * the seeds of its random streams. Drawn up front, in the order a single sequential loop forks them, so
 * folds run inline or in parallel threads give the same figures to the last digit.
 */
export interface FoldPlan {
  fold: number;
  testIdx: number[];
  commIdx: number[];
  commSeed: number;
  personSeeds: number[];
}

export interface FoldResult {
  results: PersonResult[];
  schedule: string;
}

/** The seed Rng.fork() would give its child (it draws exactly one value from the parent). */
const forkSeed = (rng: Rng) => Math.floor(rng.next() * 4294967296);

export function planFolds(data: PiaaData, cfg: Pick<PiaaConfig, 'seed' | 'maxTestPeople'>): FoldPlan[] {
  const rng = createRng(cfg.seed ^ 0x5eed);
  const order = permutation(data.raters.length, rng);
  const halves = [order.filter((_, i) => i % 2 === 0), order.filter((_, i) => i % 2 === 1)];
  return [0, 1].map((f) => {
    const testIdx = halves[f]!.slice(0, cfg.maxTestPeople ?? Infinity);
    const commSeed = forkSeed(rng);
    return { fold: f, testIdx, commIdx: halves[1 - f]!, commSeed, personSeeds: testIdx.map(() => forkSeed(rng)) };
  });
}

export function runFold(data: PiaaData, cfg: PiaaConfig, plan: FoldPlan): FoldResult {
  const f = plan.fold;
  const commRng = createRng(plan.commSeed);
  const fresh = freshImages(data.images, cfg.freshShare, commRng);
  const t0 = performance.now();
  const community = trainCommunity(
    plan.commIdx.map((i) => communityRatings(data, data.raters[i]!, cfg.communityPerRater, fresh, commRng)),
    commRng,
    { maml: cfg.methods.includes('maml') || cfg.methods.includes('auto') },
  );
  cfg.onProgress?.(
    `fold ${f + 1}/2: community models from ${plan.commIdx.length} raters in ${(performance.now() - t0).toFixed(0)} ms; evaluating ${plan.testIdx.length} people`,
  );
  const pts = community.global.lambdaSchedule?.points ?? [];
  const schedule = `fold ${f + 1}: community λ ${community.global.lambda}, finetune λ schedule ${pts.length ? pts.map((p) => `${p.n}→${p.lambda}`).join(' ') : 'none'}`;
  const results: PersonResult[] = [];
  plan.testIdx.forEach((i, k) => {
    const r = evaluatePerson(data, data.raters[i]!, community, cfg, fresh, createRng(plan.personSeeds[k]!));
    if (r) results.push(r);
    if ((k + 1) % 10 === 0 || k + 1 === plan.testIdx.length) cfg.onProgress?.(`fold ${f + 1}/2: ${k + 1}/${plan.testIdx.length} people`);
  });
  return { results, schedule };
}

/** The protocol on the calling thread, one fold after the other. */
export function runPiaaProtocol(data: PiaaData, cfg: PiaaConfig): PiaaSummary {
  const folds = planFolds(data, cfg).map((plan) => runFold(data, cfg, plan));
  return summarize(
    folds.flatMap((r) => r.results),
    data,
    cfg,
    folds.map((r) => r.schedule),
  );
}

/** Per-method means ± std over people, the noise ceiling, the embedding bound and active vs random: the run's JSON summary. */
export function summarize(results: PersonResult[], data: PiaaData, cfg: PiaaConfig, schedules: string[] = []): PiaaSummary {
  const shots: PiaaSummary['shots'] = {};
  for (const s of cfg.shots) {
    const row: Record<string, MetricSummary> = {};
    for (const m of cfg.methods) {
      const rs = results.map((r) => r.shots[s]?.[m]).filter((x): x is NonNullable<typeof x> => Boolean(x));
      if (!rs.length) continue;
      const a = meanStd(rs.map((x) => x.srocc));
      const b = meanStd(rs.map((x) => x.mse));
      const c = meanStd(rs.map((x) => x.mae));
      row[m] = {
        srocc: round4(a.mean),
        mse: round4(b.mean),
        mae: round4(c.mean),
        srocc_std: round4(a.std),
        mse_std: round4(b.std),
        mae_std: round4(c.std),
        n: rs.length,
      };
    }
    if (Object.keys(row).length) shots[String(s)] = row;
  }
  const ce = meanStd(results.map((r) => r.ceiling));
  const eb = meanStd(results.map((r) => r.bound));
  const avr: PiaaSummary['active_vs_random'] = {};
  for (const c of cfg.activeCounts) {
    const rs = results.map((r) => r.active[c]).filter((x): x is NonNullable<typeof x> => Boolean(x));
    if (!rs.length) continue;
    const a = meanStd(rs.map((x) => x.active));
    const b = meanStd(rs.map((x) => x.random));
    const paired = rs.filter((x) => x.active !== null && x.random !== null).map((x) => (x.active as number) - (x.random as number));
    const d = meanStd(paired);
    avr[String(c)] = {
      active: round4(a.mean),
      random: round4(b.mean),
      active_std: round4(a.std),
      random_std: round4(b.std),
      diff: round4(d.mean),
      diff_se: round4(d.std / Math.sqrt(Math.max(d.n, 1))),
      active_wins: paired.filter((x) => x > 0).length,
      n: rs.length,
    };
  }
  return {
    shots,
    ceiling: ce.n ? { srocc: round4(ce.mean), srocc_std: round4(ce.std), n: ce.n } : { srocc: null },
    ...(eb.n ? { embedding_bound: { srocc: round4(eb.mean), srocc_std: round4(eb.std), n: eb.n } } : {}),
    active_vs_random: avr,
    seed: cfg.seed,
    people: results.length,
    source: data.source,
    active_model: ACTIVE_MODEL,
    comparisons: [
      ...seedComparisons(results, cfg, shots),
      ...picksComparisons(
        results.map((r) => r.picks),
        cfg.seed,
      ),
    ],
    ...(results.some((r) => r.picks) ? { picks_vs_ratings: summarizePicks(results.map((r) => r.picks)) } : {}),
    ...(cfg.calibration ? { calibration: summarizeCalibration(results.map((r) => r.calibration)) } : {}),
    notes: [
      ...data.notes,
      cfg.freshShare > 0
        ? `test images: fresh — ${Math.round(cfg.freshShare * 100)}% of the images per fold, never seen by the community models (${cfg.communityPerRater} ratings per community member)`
        : 'DIAGNOSTIC: test images may be ones the community models were trained on (--fresh-share 0)',
      ...(Object.keys(avr).length
        ? [
            `active vs random: ${cfg.activeStart} random images first for both arms, then ${cfg.activeBatch} per active step from ${cfg.activeCandidates} candidates; both arms averaged over ${cfg.activeReplicates ?? 1} draw(s) of start set and candidates per person, the random arm over ${cfg.randomOrders ?? 1} random order(s) per draw`,
          ]
        : []),
      ...schedules,
    ],
  };
}

import { describe, expect, it } from 'vitest';
import { ONBOARDING_PROMPTS } from '../src/core/gallery';
import { createRng, type Rng } from '../src/core/random';
import { autoSelect } from '../src/core/scorer/auto';
import {
  communityCurve,
  confidenceMeter,
  curveAt,
  fitLearningCurve,
  meterBar,
  meterLine,
  METER_TARGET,
} from '../src/core/scorer/confidence';
import { packDataset, subsetRatings, type PackedRatings } from '../src/core/scorer/data';
import { fitFinetuneBatch, predictLinear } from '../src/core/scorer/finetune';
import { emptyGlobal } from '../src/core/scorer/global';
import { cvFolds, finetuneFit, pairwiseAgreement, sroccFromTau, sroccInterval } from '../src/core/scorer/quality-cv';
import { srocc } from '../src/core/scorer/quality-metrics';
import { FeaturesEmbedder } from '../src/providers/embedder/features';
import { parseSketchPrompt } from '../src/providers/imagegen/sketch/parse';
import { renderSketch } from '../src/providers/imagegen/sketch/render';
import { qualityWords } from '../commands/profile';
import type { ConfidenceReading } from '../src/core/scorer/confidence';
import type { Services } from '../src/core/services';
import { tileRatingAnswer } from '../src/platforms/tile-actions';

function unit(rng: Rng, d: number): Float32Array {
  const v = Float32Array.from({ length: d }, () => rng.normal());
  const s = Math.hypot(...v);
  return v.map((x) => x / s);
}
const dot = (w: ArrayLike<number>, x: ArrayLike<number>) => Array.from(x).reduce((s, v, j) => s + v * (w[j] as number), 0);
const clamp10 = (v: number) => Math.min(10, Math.max(1, Math.round(v)));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('honest cross-validated SROCC', () => {
  it('shows no strongly negative figure for ten ratings unrelated to the first ten onboarding images', { timeout: 120_000 }, async () => {
    const embedder = new FeaturesEmbedder();
    const pngs: Buffer[] = [];
    for (const p of ONBOARDING_PROMPTS.slice(0, 10))
      pngs.push(await renderSketch(parseSketchPrompt(p.prompt), { seed: p.seed, size: 160 }));
    const X = await embedder.embed(pngs);
    const data = packDataset({ X, y: [1, 8, 5, 2, 9, 6, 3, 10, 7, 4] });
    const res = autoSelect(data, { global: emptyGlobal(embedder.dim) });
    const used = res.evaluations.find((e) => e.method === res.method)!;
    // The figure plain leave-one-out gave (the mean of the other nine moves against the held-out rating).
    expect(srocc(used.cvPred, data.y)!).toBeLessThan(-0.5);
    for (const e of res.evaluations) expect(e.quality.srocc ?? 0).toBeGreaterThan(-0.5);
    const q = used.quality;
    if (q.srocc !== null) {
      expect(q.sroccLow!).toBeLessThan(0);
      expect(q.sroccHigh!).toBeGreaterThan(0);
    }
    expect(qualityWords(q)).toMatch(/not enough ratings/);
  });

  it('is about zero on average for ratings unrelated to the images, where leave-one-out is strongly negative', { timeout: 120_000 }, () => {
    const rng = createRng(21);
    const d = 16;
    for (const n of [10, 30]) {
      const honest: number[] = [];
      const loo: number[] = [];
      // 200 people: the figure's spread per person is about 0.45 at 10 ratings, so the mean is known to ± 0.03.
      for (let r = 0; r < 200; r++) {
        // A fresh install's prior (no taste) at 10 ratings, an unrelated community taste at 30.
        const prior = { ...emptyGlobal(d), w: Float64Array.from({ length: d }, () => (n === 10 ? 0 : rng.normal())) };
        const X = Array.from({ length: n }, () => unit(rng, d));
        const data = packDataset({ X, y: X.map(() => clamp10(5.5 + 2 * rng.normal())) });
        const ev = autoSelect(data, { global: prior, methods: ['finetune'] }).evaluations.find((e) => e.method === 'finetune')!;
        honest.push(ev.quality.srocc ?? 0);
        loo.push(srocc(ev.cvPred, data.y) ?? 0);
      }
      expect(Math.abs(mean(honest))).toBeLessThan(0.1);
      // Without a community taste the fit is mostly the person's mean: plain leave-one-out is then far below zero.
      if (n === 10) expect(mean(loo)).toBeLessThan(-0.3);
    }
  });

  it('tracks the SROCC the fitted model reaches on fresh images for a person with a real taste', { timeout: 120_000 }, () => {
    const rng = createRng(5);
    const d = 16;
    for (const n of [20, 50]) {
      const gaps: number[] = [];
      for (let r = 0; r < 40; r++) {
        const w = Float64Array.from({ length: d }, () => 3 * rng.normal());
        const prior = { ...emptyGlobal(d), w: Float64Array.from(w, (v) => 0.5 * v + 1.5 * rng.normal()) };
        const rate = (x: Float32Array) => clamp10(5.5 + dot(w, x) + 1.5 * rng.normal());
        const X = Array.from({ length: n }, () => unit(rng, d));
        const data = packDataset({ X, y: X.map(rate) });
        const res = autoSelect(data, { global: prior, methods: ['finetune'] });
        const model = fitFinetuneBatch(prior, data, res.finetune!.lambda).model;
        const fresh = Array.from({ length: 300 }, () => unit(rng, d));
        const truth = srocc(
          fresh.map((x) => predictLinear(model, x)),
          fresh.map(rate),
        )!;
        gaps.push((res.evaluations[0]!.quality.srocc ?? 0) - truth);
      }
      expect(Math.abs(mean(gaps))).toBeLessThan(0.06);
    }
  });

  it('orders each pair with finetune refitted without either rating, as separate batch fits would, dual and primal', () => {
    const rng = createRng(9);
    for (const [d, n] of [
      [12, 8],
      [12, 11],
      [4, 40],
    ] as const) {
      const prior = { ...emptyGlobal(d), w: Float64Array.from({ length: d }, () => rng.normal()), bias: 5 };
      const X = Array.from({ length: n }, () => unit(rng, d));
      const data = packDataset({ X, y: X.map((x) => clamp10(5 + 4 * x[0]! + 2 * rng.normal())) });
      const fast = pairwiseAgreement(data.y, finetuneFit(prior, data, 0.7, 3));
      expect(fast.tau!).toBeCloseTo(bruteForceTau(prior, data, cvFolds(n)), 10);
    }
  });

  it('deals folds so that periodic rows do not share one, leave-one-out up to 10 ratings', () => {
    expect(new Set(cvFolds(8)).size).toBe(8);
    expect(new Set(cvFolds(60)).size).toBe(10);
    const f = cvFolds(150);
    expect(new Set(f).size).toBe(5);
    const clusterFolds = new Set([0, 30, 60, 90, 120].map((i) => f[i]));
    expect(clusterFolds.size).toBeGreaterThan(1);
  });

  it('puts τ on SROCC’s scale and gives a 95% interval from Fisher z of τ', () => {
    expect(sroccFromTau(0)).toBe(0);
    expect(sroccFromTau(1)).toBeCloseTo(1, 12);
    // Bivariate normal with ρ = 0.5: τ = (2/π)·asin(0.5) = 1/3, ρ_s = (6/π)·asin(0.25) ≈ 0.4826.
    expect(sroccFromTau(1 / 3)).toBeCloseTo(0.4826, 4);
    const ci = sroccInterval(0, 10)!;
    expect(ci.high).toBeCloseTo(sroccFromTau(Math.tanh(1.959964 * Math.sqrt(0.437 / 6))), 9);
    expect(ci.low).toBeCloseTo(-ci.high, 12);
    const wide = sroccInterval(0.35, 12)!;
    const narrow = sroccInterval(0.35, 200)!;
    expect(narrow.high - narrow.low).toBeLessThan(wide.high - wide.low);
    expect(narrow.low).toBeGreaterThan(0.35);
    expect(sroccInterval(0.5, 4)).toBeNull();
  });
});

/** Kendall's τ_b over all pairs, each pair ordered by a batch fit without the folds of both ratings. */
function bruteForceTau(prior: ReturnType<typeof emptyGlobal>, data: PackedRatings, fold: Int32Array): number {
  let s = 0;
  let tp = 0;
  let ty = 0;
  for (let i = 0; i < data.n; i++)
    for (let j = i + 1; j < data.n; j++) {
      const train = Array.from({ length: data.n }, (_, r) => r).filter((r) => fold[r] !== fold[i] && fold[r] !== fold[j]);
      const m = fitFinetuneBatch(prior, subsetRatings(data, train), 0.7, { offsetScale: 3 }).model;
      const dp = Math.sign(predictLinear(m, data.X, i * data.dim) - predictLinear(m, data.X, j * data.dim));
      const dy = Math.sign(data.y[i]! - data.y[j]!);
      s += dp * dy;
      tp += dp !== 0 ? 1 : 0;
      ty += dy !== 0 ? 1 : 0;
    }
  return s / Math.sqrt(tp * ty);
}

describe('the confidence meter', () => {
  const curve = { ceiling: 0.8, halfN: 20 };

  it('draws a ten-step bar with the value', () => {
    expect(meterBar(0.42)).toBe('▰▰▰▰▱▱▱▱▱▱ 0.42');
    expect(meterBar(0)).toBe('▱▱▱▱▱▱▱▱▱▱ 0.00');
    expect(meterBar(-0.2)).toBe('▱▱▱▱▱▱▱▱▱▱ -0.20');
    expect(meterBar(1)).toBe('▰▰▰▰▰▰▰▰▰▰ 1.00');
  });

  it('follows the community curve with few ratings and the person’s own figure with many', () => {
    const few = confidenceMeter({ n: 10, srocc: 0.95, mse: null, mae: null }, curve);
    expect(few.predicted).toBeGreaterThan(curveAt(curve, 10));
    expect(few.predicted).toBeLessThan(0.8);
    const many = confidenceMeter({ n: 400, srocc: 0.3, mse: null, mae: null }, curve);
    expect(many.predicted).toBeLessThan(0.4);
    expect(confidenceMeter({ n: 0, srocc: null, mse: null, mae: null }, curve).predicted).toBe(0);
  });

  it('counts the ratings to reach 0.6 along the curve', () => {
    const at = (n: number) => confidenceMeter({ n, srocc: null, mse: null, mae: null }, curve);
    // Without a figure of their own the person is where the curve is: 0.6 = 0.8·n/(n+20) at n = 60.
    expect(at(10).toTarget).toBe(50);
    expect(at(59).toTarget).toBe(1);
    expect(at(60).toTarget).toBe(0);
    expect(meterLine(at(10))).toBe(
      `How well I know your taste: ▰▰▰▱▱▱▱▱▱▱ 0.27 — about 50 more ratings to reach ${METER_TARGET.toFixed(1)}.`,
    );
    expect(meterLine(at(80))).toMatch(/— past 0\.6\.$/);
    const low = confidenceMeter({ n: 10, srocc: null, mse: null, mae: null }, { ceiling: 0.5, halfN: 5 });
    expect(low.toTarget).toBeNull();
    expect(meterLine(low)).toMatch(/more ratings help only slowly/);
  });

  it('fits the learning curve from calibration points and falls back to the default without them', () => {
    const pts = [5, 10, 20, 50, 100].map((n) => ({ n, srocc: curveAt(curve, n) }));
    const fit = fitLearningCurve(pts)!;
    expect(fit.ceiling).toBeCloseTo(0.8, 1);
    expect(curveAt(fit, 30)).toBeCloseTo(curveAt(curve, 30), 2);
    const schedule = { points: pts.map((p) => ({ ...p, lambda: 1, members: 10 })) };
    expect(curveAt(communityCurve(schedule), 30)).toBeCloseTo(curveAt(curve, 30), 2);
    expect(communityCurve(undefined)).toEqual(communityCurve({ points: [{ n: 5, lambda: 1, members: 6 }] }));
  });
});

describe('the meter after a tile rating (the one rating the platforms answer)', () => {
  const person = { platform: 'playground' as const, userId: 'ann' };
  const servicesWith = (confidence?: () => Promise<ConfidenceReading>) => ({ taste: { confidence } }) as unknown as Services;
  const reading: ConfidenceReading = { ratings: 12, predicted: 0.42, target: 0.6, toTarget: 30 };

  it('adds the meter to a stored rating’s answer, and leaves it out when it is slow, missing or nothing was stored', async () => {
    const ok = await tileRatingAnswer(
      servicesWith(async () => reading),
      person,
      'stored',
      7,
    );
    expect(ok).toBe(
      'Rated 7.0/10. Thanks — your taste model learns from it.\nHow well I know your taste: ▰▰▰▰▱▱▱▱▱▱ 0.42 — about 30 more ratings to reach 0.6.',
    );
    expect(await tileRatingAnswer(servicesWith(), person, 'stored', 7)).toBe('Rated 7.0/10. Thanks — your taste model learns from it.');
    const slow = () => new Promise<ConfidenceReading>((resolve) => setTimeout(() => resolve(reading), 5000));
    expect(await tileRatingAnswer(servicesWith(slow), person, 'stored', 7)).not.toMatch(/How well/);
    expect(
      await tileRatingAnswer(
        servicesWith(async () => reading),
        person,
        'forgotten',
        7,
      ),
    ).not.toMatch(/How well/);
  });
});

/**
 * The best-of-N baseline: no prompt search at all. The start prompt is rendered with the run's whole image
 * budget of seeds — the loop's own initial image (iteration 0) plus N·K more, one per candidate slot
 * (iteration i, candidate j gets the seed the loop would have given that slot) — and the image the proxy
 * scorer likes best is kept. Whatever an optimizer gains over this at the same budget is what changing
 * the prompt buys beyond re-rolling seeds.
 *
 * The hidden true taste judges the scene the prompt describes, not the pixels, so this baseline's
 * true-taste gain is 0 by construction: all of its proxy gain is seed noise the scorer rewards.
 */
import { bestCandidate, computeMetrics } from '../../core/optimizer/run-metrics';
import { mixSeed } from '../../core/optimizer/rng';
import type { ImageGenerator } from '../../core/ports';
import type { Objective } from '../../core/optimizer/loop';
import type { MemoryImageStore } from '../memory-store';
import type { RunOutcome } from './summary';

export const BEST_OF_N = 'best-of-n';

export interface BestOfNRun {
  prompt: string;
  runSeed: number;
  iterations: number;
  candidates: number;
  size: number;
  generator: ImageGenerator;
  store: MemoryImageStore;
  objective: Objective;
  truth: (prompt: string) => number;
}

export async function runBestOfN(r: BestOfNRun): Promise<Omit<RunOutcome, 'seed'>> {
  const slots = [{ iteration: 0, idx: 0 }];
  for (let it = 1; it <= r.iterations; it++) for (let idx = 0; idx < r.candidates; idx++) slots.push({ iteration: it, idx });
  const candidates = await Promise.all(
    slots.map(async (s) => {
      const seed = mixSeed(r.runSeed, s.iteration, s.idx) & 0x7fffffff;
      const img = await r.generator.generate(r.prompt, { seed, size: r.size });
      const rec = await r.store.put(img.bytes, { source: 'generated', prompt: r.prompt, generator: r.generator.name, seed });
      return { ...s, prompt: r.prompt, imageId: rec.id, score: null as number | null, memberScores: {} };
    }),
  );
  const { scores } = await r.objective.score(candidates.map((c) => c.imageId));
  candidates.forEach((c, i) => (c.score = scores[i]?.score ?? null));
  const best = bestCandidate(candidates);
  const similarity = best && r.objective.similarity ? await r.objective.similarity(best.imageId) : null;
  const m = computeMetrics({ candidates, imagesUsed: candidates.length, costUsd: 0, similarity });
  const bestSoFar: number[] = [];
  for (let it = 0; it <= r.iterations; it++) {
    const upTo = bestCandidate(candidates.filter((c) => c.iteration <= it));
    bestSoFar.push(upTo?.score ?? NaN);
  }
  return {
    max: m.max,
    maxMinusInit: m.maxMinusInit,
    kStar: m.kStar,
    trueGain: m.bestPrompt ? r.truth(m.bestPrompt) - r.truth(r.prompt) : 0,
    images: m.imagesUsed,
    maxSim: m.maxSim,
    scoreOfMostSim: m.scoreOfMostSim,
    bestSoFar,
  };
}

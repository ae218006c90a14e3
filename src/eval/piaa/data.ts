/**
 * What eval:piaa evaluates on: images as embeddings and raters with their ratings of some of them.
 * Two sources fill this shape: the synthetic population (here) and the SAC release (sac.ts).
 */
import { buildPopulation, defaultCacheDir, judgeLatents, type JudgeView, type Population, type PopulationVersion } from '../synthetic';
import { readScene } from '../synthetic-v2';
import { describePopulation, populationStats, type PopulationStats } from '../synthetic-stats';
import { embedderForEval, embedPngsCached, type EvalEmbedderName } from '../embedding';
import { outOfFoldRidge } from '../ridge-cv';

export interface RaterData {
  id: string;
  /** Indices into PiaaData.X of the images this rater rated. */
  items: Int32Array;
  /** Observed ratings 1..10, aligned with items. */
  ratings: Float64Array;
  /** Hidden noise-free taste (synthetic only), aligned with items. */
  hidden?: Float64Array;
  /**
   * The embedding bound (synthetic only), aligned with items: each image's noise-free taste as predicted
   * by a ridge fit of this person's noise-free taste on the other folds' images (ridge-cv.ts). What a
   * linear scorer on this embedding could reach with hundreds of perfect ratings — a diagnostic, never a method.
   */
  bound?: Float64Array;
}

export interface PiaaData {
  source: 'synthetic' | 'sac' | 'external';
  dim: number;
  /** Image embeddings, row-major (images × dim). */
  X: Float32Array;
  images: number;
  raters: RaterData[];
  notes: string[];
  /** Synthetic only: how personal and how linear the population's tastes are (synthetic-stats.ts). */
  population?: PopulationStats;
}

export interface SyntheticDataOptions {
  seed: number;
  people: number;
  poolSize: number;
  size?: number;
  cacheDir?: string | false;
  /**
   * DIAGNOSTIC CONTROL ONLY: 'oracle-latents' hands the scorers the judge's own standardized scene
   * latents instead of image embeddings. It measures what the scorers could do if the embedding
   * carried everything the hidden taste depends on — i.e. separates "embedder bottleneck" from
   * "scorer bottleneck". Never the reported result.
   */
  embedding?: 'embedder' | 'oracle-latents';
  /** What the hidden judge looks at (default 'drawn'); 'words' is a diagnostic (see JudgeView). */
  judgeView?: JudgeView;
  /** Which synthetic population (default v2). */
  population?: PopulationVersion;
  /** Which offline embedder the scorers see (default the built-in features). */
  embedder?: EvalEmbedderName;
  onProgress?: (msg: string) => void;
}

/**
 * The judge's own numbers for an image (the --oracle-embedding control): the standardized scene latents,
 * and in v2 also its standardized interaction terms — everything the hidden taste is a function of, bar
 * the ideal points.
 */
function oracleVector(pop: Population, i: number): Float32Array {
  const spec = pop.pool[i]!.spec;
  const { judge } = pop;
  const z = judge.v2
    ? (({ z, terms }) => [...z, ...terms])(readScene(spec, judge.view, judge.v2))
    : judgeLatents(spec, judge.view).map((v, j) => (v - judge.scale.mean[j]!) / judge.scale.std[j]!);
  const norm = Math.hypot(...z) || 1;
  return Float32Array.from(z, (v) => v / norm);
}

/** The synthetic population as PiaaData: every person has (hidden) ratings of every pool image. */
export async function syntheticPiaaData(opts: SyntheticDataOptions): Promise<PiaaData> {
  const pop = await buildPopulation({
    seed: opts.seed,
    people: opts.people,
    poolSize: opts.poolSize,
    size: opts.size,
    cacheDir: opts.cacheDir,
    judgeView: opts.judgeView,
    population: opts.population,
    onProgress: opts.onProgress,
  });
  const population = populationStats(pop);
  opts.onProgress?.(describePopulation(population));
  let vecs: Float32Array[];
  let modelId: string;
  if (opts.embedding === 'oracle-latents') {
    modelId = 'oracle-latents (diagnostic)';
    vecs = pop.pool.map((_, i) => oracleVector(pop, i));
  } else {
    const embedder = await embedderForEval(opts.embedder);
    modelId = embedder.modelId;
    const t0 = performance.now();
    const cacheDir = opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir;
    const res = await embedPngsCached(
      embedder,
      pop.pool.map((p) => p.png),
      cacheDir,
      (done, total) => {
        if (done % 256 === 0 || done === total) opts.onProgress?.(`embedded ${done}/${total} images`);
      },
    );
    vecs = res.vecs;
    opts.onProgress?.(`embedding with ${embedder.modelId}: ${(performance.now() - t0).toFixed(0)} ms${res.cached ? ' (from cache)' : ''}`);
  }
  const dim = vecs[0]?.length ?? 0;
  const X = new Float32Array(vecs.length * dim);
  vecs.forEach((v, i) => X.set(v, i * dim));
  const all = Int32Array.from({ length: pop.pool.length }, (_, i) => i);
  const t1 = performance.now();
  const bound = outOfFoldRidge(
    X,
    vecs.length,
    dim,
    pop.hidden.map((h) => Float64Array.from(h)),
  ).pred;
  opts.onProgress?.(`embedding bound (linear fits of the noise-free tastes): ${(performance.now() - t1).toFixed(0)} ms`);
  return {
    source: 'synthetic',
    dim,
    X,
    images: pop.pool.length,
    raters: pop.people.map((p, i) => ({
      id: p.id,
      items: all,
      ratings: Float64Array.from(pop.ratings[i]!),
      hidden: pop.hidden[i]!,
      bound: bound[i]!,
    })),
    population,
    notes: [
      describePopulation(population),
      `synthetic population ${pop.judge.population}: ${opts.people} people, ${pop.pool.length} sketch images, embedder ${modelId}; hidden judge sees scene specs only (${pop.judge.view === 'drawn' ? 'what is drawn' : "DIAGNOSTIC: the prompt's words"})`,
    ],
  };
}

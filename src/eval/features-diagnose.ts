/**
 * How much of the hidden judge's scene properties the `features` embedding makes linearly visible.
 *   npx tsx src/eval/features-diagnose.ts [--seed 1 --pool 800 --folds 5 --people 30]
 *
 * For every judge latent (src/eval/synthetic.ts `judgeLatents`: warmth, lighting, subjects, medium, …)
 * a ridge regression from the embedding predicts it; the report is the cross-validated R² (K-fold,
 * λ per latent by inner choice on the grid). This is the diagnostic behind features-v3 and v4: the PIAA
 * scorers are linear in the embedding, so a scene property with low R² here is one no personal taste
 * on it can be learned from. It reads the judge's latents only to *score* the embedding; the embedder
 * itself never sees them (pixels only).
 */
import { buildPopulation, judgeLatents, LATENT_NAMES } from './synthetic';
import { embedderForEval, embedPngsCached } from './embedding';
import { defaultCacheDir } from './synthetic';
import { runMain, parseArgs, progress } from './cli';
import { outOfFoldRidge } from './ridge-cv';

export interface LatentVisibility {
  name: string;
  /** Cross-validated R² of the best ridge λ (can be < 0 for invisible properties). */
  r2: number;
  lambda: number;
}

export async function diagnoseFeatures(opts: { seed: number; pool: number; folds: number; people?: number }): Promise<{
  modelId: string;
  dim: number;
  latents: LatentVisibility[];
  mean: number;
  weighted: number;
  tasteR2: number;
  people: number;
}> {
  const people = opts.people ?? 30;
  // v1 only: the featurizer is frozen against population v2 and eval:optimize's judges (README, "Featurizer
  // freeze"), so this tool never reports how well the features explain a v2 taste.
  const pop = await buildPopulation({ seed: opts.seed, people, poolSize: opts.pool, population: 'v1', onProgress: progress });
  const embedder = await embedderForEval();
  const { vecs } = await embedPngsCached(
    embedder,
    pop.pool.map((p) => p.png),
    defaultCacheDir(),
  );
  const d = embedder.dim;
  const n = vecs.length;
  const X = new Float32Array(n * d);
  vecs.forEach((v, i) => X.set(v, i * d));
  const Z = pop.pool.map((p) => judgeLatents(p.spec, pop.judge.view));
  const Y = LATENT_NAMES.map((_, j) => Float64Array.from(Z, (z) => z[j]!));
  const res = outOfFoldRidge(X, n, d, Y, opts.folds);
  const latents = LATENT_NAMES.map((name, j) => ({ name, r2: res.r2[j]!, lambda: res.lambda[j]! }));
  // The judge standardizes every latent, so each weighs equally in the taste: the plain mean of the
  // clipped R² is the share of (linear) taste variance the embedding can carry.
  const mean = latents.reduce((a, l) => a + Math.max(0, l.r2), 0) / latents.length;
  // The same for whole people: the share of each virtual person's noise-free taste a linear scorer on
  // this embedding could learn from (folds−1)/folds of the pool — an upper bound for every scorer in
  // eval:piaa however many ratings it gets (they are all linear in the embedding).
  const taste = outOfFoldRidge(
    X,
    n,
    d,
    pop.hidden.map((h) => Float64Array.from(h)),
    opts.folds,
  );
  const tasteR2 = taste.r2.reduce((a, r) => a + r, 0) / taste.r2.length;
  return { modelId: embedder.modelId, dim: d, latents, mean, weighted: mean, tasteR2, people };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), { seed: 1, pool: 800, folds: 5, people: 30 });
  const t0 = performance.now();
  const r = await diagnoseFeatures({
    seed: Number(args.seed),
    pool: Number(args.pool),
    folds: Number(args.folds),
    people: Number(args.people),
  });
  console.log(
    `## Linear visibility of the judge's scene latents in ${r.modelId} (${r.dim} dims, seed ${args.seed}, ${args.pool} images, ${args.folds}-fold CV ridge R²)`,
  );
  console.log('');
  console.log('| latent | R² | λ |');
  console.log('|---|---|---|');
  for (const l of r.latents) console.log(`| ${l.name} | ${l.r2.toFixed(3)} | ${l.lambda} |`);
  console.log('');
  console.log(`mean R² (clipped at 0): ${r.mean.toFixed(3)}`);
  console.log(
    `noise-free taste of ${r.people} virtual people, mean R²: ${r.tasteR2.toFixed(3)} (the most any linear scorer on this embedding can learn); ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  console.log(
    JSON.stringify({
      model: r.modelId,
      dim: r.dim,
      seed: Number(args.seed),
      pool: Number(args.pool),
      mean_r2: Number(r.mean.toFixed(4)),
      taste_r2: Number(r.tasteR2.toFixed(4)),
      people: r.people,
      r2: Object.fromEntries(r.latents.map((l) => [l.name, Number(l.r2.toFixed(4))])),
    }),
  );
}

runMain(import.meta.url, main);

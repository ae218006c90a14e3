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
import { symEig, dotAt } from '../core/scorer/linalg';

export interface LatentVisibility {
  name: string;
  /** Cross-validated R² of the best ridge λ (can be < 0 for invisible properties). */
  r2: number;
  lambda: number;
}

const LAMBDAS = [0.01, 0.03, 0.1, 0.3, 1, 3, 10];

/**
 * K-fold cross-validated ridge R² for each column of Y (n×t) from X (n×d, rows = unit embeddings).
 * One eigen-decomposition of the training Gram per fold serves every λ and every target. Pure.
 */
export function crossValidatedR2(X: Float32Array, n: number, d: number, Y: Float64Array[], folds = 5): { r2: number; lambda: number }[] {
  const t = Y.length;
  const sse = LAMBDAS.map(() => new Float64Array(t));
  for (let f = 0; f < folds; f++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < n; i++) (i % folds === f ? test : train).push(i);
    // Center on the training fold; dual (kernel) ridge when n_train < d, primal otherwise.
    const mx = new Float64Array(d);
    for (const i of train) for (let j = 0; j < d; j++) mx[j]! += X[i * d + j]! / train.length;
    const xc = (i: number) => Float64Array.from({ length: d }, (_, j) => X[i * d + j]! - mx[j]!);
    const Xtr = train.map(xc);
    const Xte = test.map(xc);
    const M = new Float64Array(d * d);
    for (const x of Xtr) for (let a = 0; a < d; a++) { const xa = x[a]!; if (xa === 0) continue; for (let b = 0; b <= a; b++) M[a * d + b]! += xa * x[b]!; }
    for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) M[b * d + a] = M[a * d + b]!;
    const { values, vectors } = symEig(M, d);
    const Ztr = Xtr.map((x) => Float64Array.from({ length: d }, (_, k) => dotAt(vectors, k * d, x, 0, d)));
    const Zte = Xte.map((x) => Float64Array.from({ length: d }, (_, k) => dotAt(vectors, k * d, x, 0, d)));
    for (let c = 0; c < t; c++) {
      const y = Y[c]!;
      const my = train.reduce((s, i) => s + y[i]!, 0) / train.length;
      const beta = new Float64Array(d);
      train.forEach((i, r) => { const z = Ztr[r]!; const yc = y[i]! - my; for (let k = 0; k < d; k++) beta[k]! += z[k]! * yc; });
      LAMBDAS.forEach((lam, li) => {
        const coef = Float64Array.from(beta, (b, k) => b / (Math.max(values[k]!, 0) + lam));
        test.forEach((i, r) => { sse[li]![c]! += (y[i]! - my - dotAt(Zte[r]!, 0, coef, 0, d)) ** 2; });
      });
    }
  }
  return Y.map((y, c) => {
    const m = y.reduce((a, b) => a + b, 0) / n;
    const sst = y.reduce((a, b) => a + (b - m) ** 2, 0);
    let best = { r2: -Infinity, lambda: LAMBDAS[0]! };
    LAMBDAS.forEach((lam, li) => { const r2 = sst > 0 ? 1 - sse[li]![c]! / sst : 0; if (r2 > best.r2) best = { r2, lambda: lam }; });
    return best;
  });
}

export async function diagnoseFeatures(opts: { seed: number; pool: number; folds: number; people?: number }): Promise<{ modelId: string; dim: number; latents: LatentVisibility[]; mean: number; weighted: number; tasteR2: number; people: number }> {
  const people = opts.people ?? 30;
  const pop = await buildPopulation({ seed: opts.seed, people, poolSize: opts.pool, onProgress: progress });
  const embedder = await embedderForEval();
  const { vecs } = await embedPngsCached(embedder, pop.pool.map((p) => p.png), defaultCacheDir());
  const d = embedder.dim;
  const n = vecs.length;
  const X = new Float32Array(n * d);
  vecs.forEach((v, i) => X.set(v, i * d));
  const Z = pop.pool.map((p) => judgeLatents(p.spec, pop.judge.view));
  const Y = LATENT_NAMES.map((_, j) => Float64Array.from(Z, (z) => z[j]!));
  const res = crossValidatedR2(X, n, d, Y, opts.folds);
  const latents = LATENT_NAMES.map((name, j) => ({ name, r2: res[j]!.r2, lambda: res[j]!.lambda }));
  // The judge standardizes every latent, so each weighs equally in the taste: the plain mean of the
  // clipped R² is the share of (linear) taste variance the embedding can carry.
  const mean = latents.reduce((a, l) => a + Math.max(0, l.r2), 0) / latents.length;
  // The same for whole people: the share of each virtual person's noise-free taste a linear scorer on
  // this embedding could learn from (folds−1)/folds of the pool — an upper bound for every scorer in
  // eval:piaa however many ratings it gets (they are all linear in the embedding).
  const taste = crossValidatedR2(X, n, d, pop.hidden.map((h) => Float64Array.from(h)), opts.folds);
  const tasteR2 = taste.reduce((a, t) => a + t.r2, 0) / taste.length;
  return { modelId: embedder.modelId, dim: d, latents, mean, weighted: mean, tasteR2, people };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), { seed: 1, pool: 800, folds: 5, people: 30 });
  const t0 = performance.now();
  const r = await diagnoseFeatures({ seed: Number(args.seed), pool: Number(args.pool), folds: Number(args.folds), people: Number(args.people) });
  console.log(`## Linear visibility of the judge's scene latents in ${r.modelId} (${r.dim} dims, seed ${args.seed}, ${args.pool} images, ${args.folds}-fold CV ridge R²)`);
  console.log('');
  console.log('| latent | R² | λ |');
  console.log('|---|---|---|');
  for (const l of r.latents) console.log(`| ${l.name} | ${l.r2.toFixed(3)} | ${l.lambda} |`);
  console.log('');
  console.log(`mean R² (clipped at 0): ${r.mean.toFixed(3)}`);
  console.log(`noise-free taste of ${r.people} virtual people, mean R²: ${r.tasteR2.toFixed(3)} (the most any linear scorer on this embedding can learn); ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(JSON.stringify({ model: r.modelId, dim: r.dim, seed: Number(args.seed), pool: Number(args.pool), mean_r2: Number(r.mean.toFixed(4)), taste_r2: Number(r.tasteR2.toFixed(4)), people: r.people, r2: Object.fromEntries(r.latents.map((l) => [l.name, Number(l.r2.toFixed(4))])) }));
}

runMain(import.meta.url, main);

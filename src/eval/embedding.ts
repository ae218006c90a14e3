/**
 * The embedder the evaluations use: the configured offline default (`features-v1`), or CLIP for real
 * data. Scorers under evaluation see only these vectors — never the renderer's scene description.
 */
import type { Embedder } from '../core/ports';
import { FeaturesEmbedder } from '../providers/embedder/features';

export async function embedderForEval(): Promise<Embedder> {
  return new FeaturesEmbedder();
}

/** Embeds in batches (bounded memory, progress every `progressEvery` images). */
export async function embedPngs(embedder: Embedder, pngs: Buffer[], onProgress?: (done: number, total: number) => void, batch = 64): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < pngs.length; i += batch) {
    out.push(...(await embedder.embed(pngs.slice(i, i + batch))));
    onProgress?.(out.length, pngs.length);
  }
  return out;
}

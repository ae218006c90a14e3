/**
 * The embedder the evaluations use: the offline default (`features`), MobileNetV2 or both (`--embedder`),
 * or CLIP for real data. Scorers under evaluation see only these vectors — never the renderer's scene description.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Embedder } from '../core/ports';
import { FeaturesEmbedder, FEATURE_GROUPS, FEATURE_MEAN, FEATURE_SCALE, FEATURES_MODEL_ID } from '../providers/embedder/features';

/** The embedders an evaluation can run on offline (`--embedder`): the built-in descriptors, MobileNetV2, or both. */
export type EvalEmbedderName = 'features' | 'mobilenet' | 'mobilenet+features';
export const EVAL_EMBEDDERS: readonly EvalEmbedderName[] = ['features', 'mobilenet', 'mobilenet+features'];

export async function embedderForEval(name: EvalEmbedderName = 'features'): Promise<Embedder> {
  if (name === 'mobilenet') {
    const { MobileNetEmbedder } = await import('../providers/embedder/mobilenet');
    return new MobileNetEmbedder();
  }
  if (name === 'mobilenet+features') {
    const { MobileNetPlusFeaturesEmbedder } = await import('../providers/embedder/mobilenet-features');
    return new MobileNetPlusFeaturesEmbedder();
  }
  return new FeaturesEmbedder();
}

/** Embeds in batches (bounded memory, progress every `progressEvery` images). */
export async function embedPngs(
  embedder: Embedder,
  pngs: Buffer[],
  onProgress?: (done: number, total: number) => void,
  batch = 64,
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < pngs.length; i += batch) {
    out.push(...(await embedder.embed(pngs.slice(i, i + batch))));
    onProgress?.(out.length, pngs.length);
  }
  return out;
}

/**
 * embedPngs with an on-disk cache under `cacheDir`, keyed by (embedder model id, the exact bytes of
 * every image in order): a re-run of an evaluation on the same seeded pool skips embedding entirely,
 * and any change of renderer output or embedder id (a features version bump) misses the cache.
 * `cacheDir` false = no cache.
 */
export async function embedPngsCached(
  embedder: Embedder,
  pngs: Buffer[],
  cacheDir: string | false,
  onProgress?: (done: number, total: number) => void,
): Promise<{ vecs: Float32Array[]; cached: boolean }> {
  const key = createHash('sha256').update(`${embedder.modelId}|${embedder.dim}|${pngs.length}`);
  // The features embedder's constants are part of its output: a recalibration without an id bump
  // must still miss the cache.
  if (embedder instanceof FeaturesEmbedder || embedder.modelId.endsWith(`+${FEATURES_MODEL_ID}`))
    key.update(JSON.stringify([FEATURE_GROUPS, FEATURE_MEAN, FEATURE_SCALE]));
  for (const p of pngs) key.update(createHash('sha256').update(p).digest());
  const file = cacheDir ? path.join(cacheDir, `emb-${key.digest('hex').slice(0, 32)}.f32`) : '';
  const d = embedder.dim;
  if (file && fs.existsSync(file)) {
    const buf = fs.readFileSync(file);
    if (buf.length === pngs.length * d * 4) {
      const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
      return { vecs: pngs.map((_, i) => all.slice(i * d, (i + 1) * d)), cached: true };
    }
  }
  const vecs = await embedPngs(embedder, pngs, onProgress);
  if (file && vecs.every((v) => v.length === d)) {
    const all = new Float32Array(vecs.length * d);
    vecs.forEach((v, i) => all.set(v, i * d));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Write-then-rename: a concurrent run never reads a half-written cache file.
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.from(all.buffer));
    fs.renameSync(tmp, file);
  }
  return { vecs, cached: false };
}

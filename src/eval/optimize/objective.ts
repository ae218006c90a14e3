/** The objective eval:optimize hands the product's loop: a scorer over image embeddings, in memory. */
import type { Objective } from '../../core/optimizer/loop';
import { mostSimilar } from '../../core/optimizer/run-metrics';
import type { Embedder } from '../../core/ports';
import type { Predictor } from '../piaa/methods';
import { embedPngs } from '../embedding';
import type { MemoryImageStore } from '../memory-store';

/** Scores images with a predictor over their embeddings (cached per image id). */
export class EmbeddingObjective implements Objective {
  private readonly vecs = new Map<string, Float32Array>();
  constructor(
    private readonly store: MemoryImageStore,
    private readonly embedder: Embedder,
    private readonly predict: Predictor,
    private readonly label: string,
    private readonly earlier: { imageId: string; score: number; vector: Float32Array }[] = [],
  ) {}
  describe(): string {
    return this.label;
  }
  async vectors(ids: string[]): Promise<Float32Array[]> {
    const missing = ids.filter((id) => !this.vecs.has(id));
    if (missing.length) {
      const v = await embedPngs(this.embedder, await Promise.all(missing.map((id) => this.store.readBytes(id))));
      missing.forEach((id, i) => this.vecs.set(id, v[i]!));
    }
    return ids.map((id) => this.vecs.get(id)!);
  }
  async score(ids: string[]) {
    const vs = await this.vectors(ids);
    const d = this.embedder.dim;
    const X = new Float32Array(vs.length * d);
    vs.forEach((v, i) => X.set(v, i * d));
    const p = this.predict(X, vs.length);
    return { scores: Array.from(p, (s) => ({ score: Math.min(10, Math.max(1, s)), memberScores: {} })), scorerN: 0 };
  }
  async similarity(imageId: string) {
    if (!this.earlier.length) return null;
    const [v] = await this.vectors([imageId]);
    const r = mostSimilar(v!, this.earlier);
    return r ? { maxSim: r.maxSim, scoreOfMostSim: r.scoreOfMostSim } : null;
  }
}

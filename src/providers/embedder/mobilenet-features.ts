/**
 * `mobilenet+features` embedder: MobileNetV2's standardized pooled activations (mobilenet.ts: a visual
 * representation learned from real photographs, never shaped on this project's judges) side by side with
 * the built-in descriptors (features.ts: brightness, colour, layout, the scene cues they were designed
 * for). Each part is already unit length; concatenated and divided by √2, each carries half of the
 * vector's length, so neither block drowns the other in a cosine or a ridge fit whatever their sizes
 * (1,280 vs the descriptors' few hundred dimensions).
 */
import type { Embedder } from '../../core/ports';
import { FeaturesEmbedder } from './features';
import { MobileNetEmbedder, type MobileNetEmbedderOptions } from './mobilenet';

export class MobileNetPlusFeaturesEmbedder implements Embedder {
  readonly modelId: string;
  readonly dim: number;
  private readonly mobilenet: MobileNetEmbedder;
  private readonly features = new FeaturesEmbedder();

  constructor(opts: MobileNetEmbedderOptions = {}) {
    this.mobilenet = new MobileNetEmbedder(opts);
    this.modelId = `${this.mobilenet.modelId}+${this.features.modelId}`;
    this.dim = this.mobilenet.dim + this.features.dim;
  }

  describe(): string {
    return `mobilenet+features (${this.mobilenet.describe()}, beside ${this.features.describe()}; each half of the vector)`;
  }

  async embed(images: Buffer[]): Promise<Float32Array[]> {
    const [learned, built] = await Promise.all([this.mobilenet.embed(images), this.features.embed(images)]);
    const half = Math.SQRT1_2;
    return learned.map((m, i) => {
      const f = built[i]!;
      const out = new Float32Array(this.dim);
      for (let j = 0; j < m.length; j++) out[j] = m[j]! * half;
      for (let j = 0; j < f.length; j++) out[m.length + j] = f[j]! * half;
      return out;
    });
  }

  /** Ends MobileNet's worker thread (the descriptors need none). */
  close(): Promise<void> {
    return this.mobilenet.close();
  }
}

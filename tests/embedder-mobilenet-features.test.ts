/**
 * The `mobilenet+features` embedder (EMBEDDER=mobilenet+features): MobileNetV2's standardized pooled
 * features beside the built-in descriptors, each half of a unit vector. The real network runs, offline.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { FEATURE_DIM, FeaturesEmbedder } from '../src/providers/embedder/features';
import { MobileNetEmbedder } from '../src/providers/embedder/mobilenet';
import { MobileNetPlusFeaturesEmbedder } from '../src/providers/embedder/mobilenet-features';
import { SketchGenerator } from '../src/providers/imagegen/sketch/generator';

const sketch = new SketchGenerator({ size: 128 });
const render = async (prompt: string, seed: number) => (await sketch.generate(prompt, { seed, size: 128 })).bytes;

describe('mobilenet+features embedder', () => {
  const both = new MobileNetPlusFeaturesEmbedder();
  const mobilenet = new MobileNetEmbedder();
  afterAll(async () => {
    await both.close();
    await mobilenet.close();
  });

  it('is MobileNetV2 then the descriptors, each scaled by √½: a unit vector whose halves weigh the same', async () => {
    const images = [await render('a lighthouse on a cliff at sunset', 1), await render('pastel flowers meadow, minimal watercolor', 2)];
    const [vecs, learned, built] = await Promise.all([both.embed(images), mobilenet.embed(images), new FeaturesEmbedder().embed(images)]);
    expect(both.dim).toBe(1280 + FEATURE_DIM);
    expect(both.modelId).toBe(`${mobilenet.modelId}+${new FeaturesEmbedder().modelId}`);
    vecs.forEach((v, i) => {
      expect(v.length).toBe(both.dim);
      expect(Math.hypot(...v)).toBeCloseTo(1, 5);
      expect(Math.hypot(...v.subarray(0, 1280))).toBeCloseTo(Math.SQRT1_2, 5);
      for (const j of [0, 17, 1279]) expect(v[j]).toBeCloseTo(learned[i]![j]! * Math.SQRT1_2, 6);
      for (const j of [0, FEATURE_DIM - 1]) expect(v[1280 + j]).toBeCloseTo(built[i]![j]! * Math.SQRT1_2, 6);
    });
  }, 180_000);

  it('is selectable as EMBEDDER=mobilenet+features', () => {
    expect(loadConfig({ EMBEDDER: 'mobilenet+features' }).EMBEDDER).toBe('mobilenet+features');
    expect(() => loadConfig({ EMBEDDER: 'mobilenet+clip' })).toThrow(/EMBEDDER/);
  });
});

import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { SafeSketchRenderer } from '../src/eval/safe-render';
import { parseSketchPrompt, renderSketch } from '../src/providers/imagegen/sketch';

// A scene on which @resvg/resvg-js 2.6.2 panics and aborts the whole process (mirrored symmetric scene).
const CRASHING = { prompt: 'colorful cyberpunk lavender azure secret moon symmetric oil painting', seed: 417697 };

describe('crash-isolated sketch rendering for evaluations', () => {
  it('survives the rasterizer crash and substitutes the balanced composition', async () => {
    const r = new SafeSketchRenderer();
    try {
      const png = await r.render(CRASHING.prompt, CRASHING.seed, 64);
      expect((await sharp(png).metadata()).width).toBe(64);
      expect(r.substitutions).toEqual([CRASHING]);
      const balanced = await renderSketch({ ...parseSketchPrompt(CRASHING.prompt), composition: 'balanced' }, { seed: CRASHING.seed, size: 64 });
      expect(png.equals(balanced)).toBe(true);
      // The worker restarts: a healthy symmetric scene afterwards renders exactly as in-process.
      const ok = await r.render('warm symmetric lake at dawn', 5, 64);
      expect(ok.equals(await renderSketch(parseSketchPrompt('warm symmetric lake at dawn'), { seed: 5, size: 64 }))).toBe(true);
      expect(r.substitutions).toHaveLength(1);
    } finally {
      r.close();
    }
  });
});

/**
 * Regression: @resvg/resvg-js 2.6.2 panicked and aborted the whole Node process (uncatchable) on
 * ~1 in 1,000 "symmetric" sketches, because the renderer mirrored a clipped group through a
 * mirrored <use>. The renderer now mirrors in raster space; these tests pin that down.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { parseSketchPrompt } from '../src/providers/imagegen/sketch/parse';
import { renderSketch } from '../src/providers/imagegen/sketch/render';
import { buildSketchSvg } from '../src/providers/imagegen/sketch/svg';

const CRASHING = { prompt: 'colorful cyberpunk lavender azure secret moon symmetric oil painting', seed: 417697 };

describe('sketch renderer never triggers the resvg mirrored-<use> panic', () => {
  it('renders the scene that used to abort the process, in-process, and it is mirrored', async () => {
    const spec = parseSketchPrompt(CRASHING.prompt);
    expect(spec.composition).toBe('symmetric');
    for (const size of [128, 64]) {
      const png = await renderSketch(spec, { seed: CRASHING.seed, size });
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      expect(info.width).toBe(size);
      // Mirror symmetry holds before the oil effect; after it, left and right halves stay close.
      let diff = 0;
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size / 2; x++)
          for (let k = 0; k < 3; k++)
            diff += Math.abs(data[(y * size + x) * info.channels + k]! - data[(y * size + size - 1 - x) * info.channels + k]!);
      expect(diff / (size * (size / 2) * 3)).toBeLessThan(25);
    }
    // The SVG no longer contains the construct at all.
    const svg = buildSketchSvg(spec, CRASHING.seed, 128);
    expect(svg).not.toContain('<use');
    expect(svg).not.toContain('leftHalf');
  });

  it('renders 3,000 seeded random symmetric prompts without a native crash (in a child process)', () => {
    // A panic would abort the child with SIGABRT / exit 134 instead of killing vitest.
    // Tens of seconds on a busy machine: the timeout only bounds a hang.
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'tests/fixtures/sketch-fuzz.ts', '3000', '20240601'], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(res.stderr.slice(-2000)).not.toContain('panicked');
    expect(res.signal).toBeNull();
    expect(res.status).toBe(0);
    expect(JSON.parse(res.stdout.trim().split('\n').pop()!)).toEqual({ rendered: 3000 });
  }, 330_000);
});

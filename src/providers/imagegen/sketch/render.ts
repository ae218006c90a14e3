/**
 * Renders a scene to PNG: SVG rasterized by resvg, then the medium's raster effects. Output is
 * deterministic: the same (scene, seed, size) always gives the same PNG bytes.
 */
import { Resvg } from '@resvg/resvg-js';
import sharp from 'sharp';
import { hashWords, type SceneSpec } from './scene';
import { buildSketchSvg } from './svg';
import { mirrorLeftHalf, oil, pixelGrid, rgbaToRgb, watercolor } from './effects';

/** Renders a scene to PNG bytes. Deterministic for (spec, seed, size). */
export async function renderSketch(spec: SceneSpec, opts: { seed?: number; size?: number } = {}): Promise<Buffer> {
  const size = Math.max(16, Math.min(2048, Math.round(opts.size ?? 512)));
  const seed = (opts.seed ?? 0) >>> 0;
  const pixel = spec.medium === 'pixel';
  const renderSize = pixel ? pixelGrid(size, spec.detail) : size;
  const svg = buildSketchSvg(spec, seed, renderSize);
  const img = new Resvg(svg, {
    fitTo: { mode: 'width', value: renderSize },
    font: { loadSystemFonts: false },
    background: '#000000',
  }).render();
  let rgb = rgbaToRgb(img.pixels);
  // Mirror before the media effects, so brush strokes and paper grain stay non-symmetric like a real painting.
  if (spec.composition === 'symmetric') mirrorLeftHalf(rgb, renderSize);
  const noiseSeed = hashWords(`${spec.prompt}\u0001${seed}`).readUInt32BE(0);
  if (spec.medium === 'watercolor') rgb = await watercolor(rgb, size, noiseSeed);
  else if (spec.medium === 'oil') rgb = oil(rgb, size, noiseSeed);
  const raw = { raw: { width: renderSize, height: renderSize, channels: 3 as const } };
  if (pixel) {
    // Coarse grid upscaled with nearest neighbour, posterized to a small palette.
    const big = await sharp(rgb, raw).resize(size, size, { kernel: 'nearest' }).raw().toBuffer();
    return sharp(big, { raw: { width: size, height: size, channels: 3 } })
      .png({ palette: true, colours: 24, dither: 0, compressionLevel: 6 })
      .toBuffer();
  }
  return sharp(rgb, raw).png({ compressionLevel: 3, adaptiveFiltering: false }).toBuffer();
}

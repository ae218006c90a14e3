/**
 * Raster effects applied after the SVG is rasterized: the watercolor and oil media (noise warps,
 * pigment pooling, brush strokes, paper grain) and the mirror of symmetric scenes. They run on raw RGB
 * because resvg's own filters are too slow (feTurbulence) or crash it (mirrored clipped <use>).
 */
import sharp from 'sharp';
import { mulberry32 } from '../../../core/random';
import { clamp } from './color';

/** Seeded value noise on a coarse grid, smoothly interpolated: the "turbulence" of the media effects. */
function valueNoise(seed: number, cells: number): (u: number, v: number) => number {
  const r = mulberry32(seed);
  const n = cells + 1;
  const grid = new Float32Array(n * n);
  for (let i = 0; i < grid.length; i++) grid[i] = r();
  return (u, v) => {
    const x = clamp(u, 0, 0.999999) * cells;
    const y = clamp(v, 0, 0.999999) * cells;
    const xi = Math.floor(x);
    const yi = Math.floor(y);
    let tx = x - xi;
    let ty = y - yi;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    const a = grid[yi * n + xi]!;
    const b = grid[yi * n + xi + 1]!;
    const c = grid[(yi + 1) * n + xi]!;
    const d = grid[(yi + 1) * n + xi + 1]!;
    return a + (b - a) * tx + (c - a) * ty + (a - b - c + d) * tx * ty;
  };
}

/** Moves every pixel by a smooth noise field (nearest sampling, clamped at the borders). */
function warp(rgb: Uint8Array, size: number, seed: number, cells: number, amp: number, anisotropy = 1): Uint8Array {
  const nx = valueNoise(seed, cells);
  const ny = valueNoise(seed ^ 0x5bd1e995, Math.max(2, Math.round(cells * anisotropy)));
  const out = new Uint8Array(rgb.length);
  const inv = 1 / size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = x * inv;
      const v = y * inv;
      const sx = clamp(Math.round(x + (nx(u, v) - 0.5) * 2 * amp), 0, size - 1);
      const sy = clamp(Math.round(y + (ny(u, v) - 0.5) * 2 * amp), 0, size - 1);
      const si = (sy * size + sx) * 3;
      const di = (y * size + x) * 3;
      out[di] = rgb[si]!;
      out[di + 1] = rgb[si + 1]!;
      out[di + 2] = rgb[si + 2]!;
    }
  }
  return out;
}

/** Cheap per-pixel hash noise in [0,1): paper grain. */
function grain(x: number, y: number, seed: number): number {
  let h = Math.imul(x, 374761393) + Math.imul(y, 668265263) + seed;
  h = Math.imul(h ^ (h >>> 13), 1274126177);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

export async function watercolor(rgb: Uint8Array, size: number, seed: number): Promise<Uint8Array> {
  const warped = warp(rgb, size, seed, 6, size * 0.012);
  // Softness: a real Gaussian blur (sharp/libvips), scaled with the image.
  const soft = new Uint8Array(
    await sharp(warped, { raw: { width: size, height: size, channels: 3 } })
      .blur(Math.max(1, 2.4 * (size / 512)))
      .raw()
      .toBuffer(),
  );
  const blot = valueNoise(seed + 11, 9);
  const blot2 = valueNoise(seed + 12, 23);
  const inv = 1 / size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      // Pigment pooling: some areas denser, some washed out; then a warm paper shows through.
      const k = 0.88 + 0.2 * (blot(x * inv, y * inv) - 0.5) + 0.1 * (blot2(x * inv, y * inv) - 0.5);
      const g = (grain(x, y, seed) - 0.5) * 14;
      soft[i] = clamp(soft[i]! * k * 0.82 + 255 * 0.17 + g, 0, 255);
      soft[i + 1] = clamp(soft[i + 1]! * k * 0.82 + 250 * 0.17 + g, 0, 255);
      soft[i + 2] = clamp(soft[i + 2]! * k * 0.82 + 238 * 0.17 + g, 0, 255);
    }
  }
  return soft;
}

export function oil(rgb: Uint8Array, size: number, seed: number): Uint8Array {
  // Brushy smear: a finer, anisotropic warp, then stroke-shaped light/dark ridges.
  const out = warp(rgb, size, seed, 14, size * 0.007);
  const strokeA = valueNoise(seed + 21, 40);
  const strokeB = valueNoise(seed + 22, 80);
  const cos = Math.cos(0.5);
  const sin = Math.sin(0.5);
  const inv = 1 / size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      const u = x * inv;
      const v = y * inv;
      // Dabs run diagonally: sample in a rotated frame, stretched 4:1 along the stroke.
      const a = (u * cos + v * sin) / 1.5;
      const b = (-u * sin + v * cos + 0.5) / 1.5;
      const s1 = strokeA(a / 4, b) - 0.5;
      const s2 = strokeB(a / 4 + 0.3, b) - 0.5;
      const k = 1 + 0.2 * s1 + 0.12 * s2;
      const g = (grain(x, y, seed) - 0.5) * 8;
      out[i] = clamp(out[i]! * k + g, 0, 255);
      out[i + 1] = clamp(out[i + 1]! * k + g, 0, 255);
      out[i + 2] = clamp(out[i + 2]! * k + g, 0, 255);
    }
  }
  return out;
}

/** Pixel-art grid: how many "big pixels" across. */
export function pixelGrid(size: number, detail: number): number {
  return Math.max(16, Math.min(size, Math.round(40 + detail * 40)));
}

export function rgbaToRgb(rgba: Uint8Array): Uint8Array {
  const n = rgba.length / 4;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = rgba[i * 4]!;
    out[i * 3 + 1] = rgba[i * 4 + 1]!;
    out[i * 3 + 2] = rgba[i * 4 + 2]!;
  }
  return out;
}

/**
 * Copies the left half of a square RGB raster onto the right half, mirrored (in place). With an odd
 * width the middle column stays as rendered. Done in raster space because the SVG equivalent
 * (clip + mirrored <use>) crashes resvg 2.6.2 natively.
 */
export function mirrorLeftHalf(rgb: Uint8Array, size: number): void {
  const half = Math.floor(size / 2);
  for (let y = 0; y < size; y++) {
    const row = y * size * 3;
    for (let x = 0; x < half; x++) {
      const src = row + x * 3;
      const dst = row + (size - 1 - x) * 3;
      rgb[dst] = rgb[src]!;
      rgb[dst + 1] = rgb[src + 1]!;
      rgb[dst + 2] = rgb[src + 2]!;
    }
  }
}

/**
 * `features`: the built-in, download-free embedder. Classic aesthetic descriptors computed from the
 * pixels of a 128×128 thumbnail: brightness and contrast, colorfulness, saturation / hue / luminance
 * histograms, warm–cool balance, edges, sharpness, symmetry, rule-of-thirds and center energy,
 * entropy, a coarse color histogram and a 4×4 Lab layout.
 *
 * The descriptors are computed in steps that append their groups in order: global statistics
 * (features-global), content and layout (features-layout), scene properties (features-scene), pixel-grid
 * blockiness and composition (features-composition); features-pixels holds the shared colour and
 * gradient helpers. Each dimension is standardized with fixed constants (FEATURE_MEAN / FEATURE_SCALE,
 * computed once from a few hundred sketch renders by src/eval/features-calibrate.ts into
 * features-calibration.data.ts), weighted per group so the big layout block does not drown the global
 * statistics, then L2-normalized.
 * Changing the feature set or constants means bumping FEATURES_MODEL_ID: stored vectors of
 * another id are never mixed with new ones.
 */
import sharp from 'sharp';
import type { Embedder, FeatureGroup } from '../../core/ports';
import { FEATURE_MEAN, FEATURE_SCALE } from './features-calibration.data';
import { appendComposition, appendPixelGrid } from './features-composition';
import { appendGlobalFeatures } from './features-global';
import { appendLayoutFeatures } from './features-layout';
import type { FullImage } from './features-pixels';
import { appendSceneFeatures } from './features-scene';

export { FEATURE_MEAN, FEATURE_SCALE } from './features-calibration.data';

export const FEATURES_MODEL_ID = 'features-v4';
export const FEATURES_THUMB = 128;

interface Group extends FeatureGroup {
  /** Relative weight of the whole group after standardization (spread over its dims). */
  weight: number;
}

/** The layout of the raw feature vector, in order. */
export const FEATURE_GROUPS: readonly Group[] = [
  { name: 'brightness', dims: 2, weight: 1.4 }, // mean, std of luminance
  { name: 'contrast', dims: 2, weight: 1 }, // RMS contrast, p95−p5 range
  { name: 'colorfulness', dims: 1, weight: 1 }, // Hasler–Süsstrunk
  { name: 'saturation', dims: 1, weight: 1 }, // mean HSV saturation
  { name: 'satHist', dims: 8, weight: 1 },
  { name: 'hueHist', dims: 12, weight: 1.6 }, // saturation-weighted
  { name: 'warmth', dims: 2, weight: 1.4 }, // mean(R−B), warm−cool pixel share
  { name: 'edges', dims: 2, weight: 1.2 }, // Sobel edge density, mean gradient
  { name: 'sharpness', dims: 1, weight: 0.8 }, // log Laplacian variance
  { name: 'symmetry', dims: 2, weight: 1 }, // left–right, top–bottom
  { name: 'thirds', dims: 1, weight: 0.7 },
  { name: 'centerBorder', dims: 1, weight: 0.7 },
  { name: 'entropy', dims: 1, weight: 0.8 },
  { name: 'lumHist', dims: 8, weight: 1 },
  { name: 'colorHist', dims: 8, weight: 1 }, // 2×2×2 RGB
  { name: 'orientation', dims: 4, weight: 0.8 }, // gradient orientation energy: 0°, 45°, 90°, 135°
  { name: 'edgeGrid', dims: 9, weight: 1 }, // 3×3 edge density layout
  { name: 'labGrid', dims: 48, weight: 1.6 }, // 4×4 mean Lab
  // ---- v2: content and layout, the kind of thing a learned image embedding captures (pixels only)
  { name: 'labGrid6', dims: 108, weight: 1.6 }, // 6×6 mean Lab: where the sky, sun, ground and subject sit
  { name: 'bandHue', dims: 24, weight: 1.4 }, // top / middle / bottom thirds × 8 hue bins (saturation-weighted)
  { name: 'bandStats', dims: 12, weight: 1.2 }, // per third: saturation, luminance, luminance spread, red−blue
  { name: 'hogCells', dims: 96, weight: 1.6 }, // 4×4 cells × 6 edge orientations (HOG-like): shapes
  { name: 'structure', dims: 24, weight: 1.2 }, // 12 row bands of horizontal edges + 12 column bands of vertical edges
  { name: 'blobs', dims: 8, weight: 1 }, // small spots (stars, flowers, birds) by half, brightest-disc strength and place
  { name: 'texture', dims: 8, weight: 1.2 }, // fine / coarse detail energy per third, flat-neighbour share, palette size
  { name: 'bandSymmetry', dims: 4, weight: 1 }, // left–right mirror similarity per third and exact-mirror share
  // ---- v3: targeted scene descriptors (pixels only), chosen by src/eval/features-diagnose.ts
  { name: 'skyGradient', dims: 14, weight: 1.4 }, // upper / lower sky band: hue (cos, sin), warm score, sat, lum, a*, b*
  { name: 'warmCool', dims: 10, weight: 1.4 }, // per third warm and cool shares, warm score overall / of the brightest 5%, hue spread
  { name: 'disc', dims: 12, weight: 1.4 }, // brightest blob of the upper image: size, roundness, place, colour, glow, craters
  { name: 'points', dims: 6, weight: 1.2 }, // small bright points in the sky (stars) by threshold, gated by sky darkness
  { name: 'clouds', dims: 6, weight: 1.2 }, // soft bright blobs in the sky: deviation from the row's gradient
  { name: 'pixelGrid', dims: 8, weight: 1.4 }, // on the full-res image: equal neighbours, run lengths, exact palette size
  { name: 'pairs', dims: 55, weight: 1.4 }, // fixed nonlinear expansion: products (and squares) of 10 standardized key scalars
  // ---- v4: composition (pixels only)
  { name: 'composition', dims: 4, weight: 1.4 }, // mirrored shapes, mass in the middle
];

/**
 * The key scalars whose pairwise products form the `pairs` group, as (group, index within group).
 * Why products: a scene property often shows as an *interaction* — "bright for a night scene" is
 * brightness × darkness of the sky, a golden sky is warm × bright — which a linear scorer over the
 * raw descriptors cannot express.
 */
const PAIR_KEYS: readonly [string, number][] = [
  ['brightness', 0],
  ['brightness', 1],
  ['saturation', 0],
  ['colorfulness', 0],
  ['warmth', 0],
  ['edges', 0],
  ['skyGradient', 5],
  ['skyGradient', 2],
  ['skyGradient', 9],
  ['disc', 5],
];

export const FEATURE_DIM = FEATURE_GROUPS.reduce((a, g) => a + g.dims, 0);

/** Raw-vector positions of PAIR_KEYS. */
const PAIR_INDEX: readonly number[] = PAIR_KEYS.map(([name, k]) => {
  let o = 0;
  for (const g of FEATURE_GROUPS) {
    if (g.name === name) return o + k;
    o += g.dims;
  }
  throw new Error(`features: unknown group ${name}`);
});

/**
 * Raw (unstandardized) descriptors of an RGB image, row-major, 3 bytes per pixel. Pure.
 * Works for any size but is meant for the 128×128 thumbnail. `full` is the image before
 * downscaling (see decodeForFeatures); blockiness is only measurable there. Default: the thumbnail.
 * The steps append their groups in FEATURE_GROUPS order; the global step also fills `lum` and `sat`,
 * which the later steps read.
 */
export function extractFeatures(rgb: Uint8Array, w: number, h: number, full?: FullImage): Float32Array {
  const n = w * h;
  if (rgb.length < n * 3 || n === 0) throw new Error(`extractFeatures: expected ${n * 3} bytes of RGB, got ${rgb.length}`);
  const lum = new Float32Array(n);
  const sat = new Float32Array(n);
  const out: number[] = [];
  appendGlobalFeatures(rgb, lum, sat, w, h, out);
  appendLayoutFeatures(rgb, lum, sat, w, h, out);
  appendSceneFeatures(rgb, lum, sat, w, h, out);
  appendPixelGrid(full ?? { rgb, w, h }, out);
  appendPairs(out);
  appendComposition(rgb, lum, w, h, out);
  if (out.length !== FEATURE_DIM) throw new Error(`extractFeatures: produced ${out.length} dims, expected ${FEATURE_DIM}`);
  return Float32Array.from(out);
}

/** pairs: products of the standardized PAIR_KEYS scalars (z_a·z_b for a ≤ b, z clipped to ±4). */
function appendPairs(out: number[]): void {
  const z = PAIR_INDEX.map((i) => {
    const scale = FEATURE_SCALE[i] ?? 1;
    return Math.max(-4, Math.min(4, ((out[i] ?? 0) - (FEATURE_MEAN[i] ?? 0)) / (scale > 1e-9 ? scale : 1)));
  });
  for (let a = 0; a < z.length; a++) for (let b = a; b < z.length; b++) out.push(z[a]! * z[b]!);
}

/** Longest side the full-resolution descriptors look at (larger images are reduced with nearest neighbour, which keeps blocks blocky). */
export const FEATURES_FULL_MAX = 512;

/** Decodes an image once: its thumbnail (for most descriptors) and the (capped) full-res raster. */
export async function decodeForFeatures(image: Buffer, size = FEATURES_THUMB): Promise<{ thumb: Uint8Array; full: FullImage }> {
  const base = sharp(image).flatten({ background: '#000000' }).toColourspace('srgb').removeAlpha();
  const meta = await sharp(image).metadata();
  const w0 = meta.width ?? size,
    h0 = meta.height ?? size;
  const scale = Math.min(1, FEATURES_FULL_MAX / Math.max(w0, h0));
  const fw = Math.max(1, Math.round(w0 * scale)),
    fh = Math.max(1, Math.round(h0 * scale));
  const { data, info } = await (scale < 1 ? base.resize(fw, fh, { fit: 'fill', kernel: 'nearest' }) : base)
    .raw()
    .toBuffer({ resolveWithObject: true });
  const full = toRgb(data, info.width, info.height, info.channels);
  const thumb = await sharp(full, { raw: { width: info.width, height: info.height, channels: 3 } })
    .resize(size, size, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  return { thumb: new Uint8Array(thumb.buffer, thumb.byteOffset, thumb.length), full: { rgb: full, w: info.width, h: info.height } };
}

function toRgb(data: Buffer, w: number, h: number, channels: number): Uint8Array {
  if (channels === 3) return new Uint8Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = data[i * channels + Math.min(c, channels - 1)]!;
  return out;
}

const GROUP_WEIGHTS: Float32Array = (() => {
  const w = new Float32Array(FEATURE_DIM);
  let o = 0;
  for (const g of FEATURE_GROUPS) {
    // Each group contributes `weight` in total variance, however many dims it has.
    for (let i = 0; i < g.dims; i++) w[o + i] = g.weight / Math.sqrt(g.dims);
    o += g.dims;
  }
  return w;
})();

/** Standardize (fixed constants), weight per group, L2-normalize. Pure. */
export function standardizeFeatures(raw: Float32Array): Float32Array {
  const v = new Float32Array(raw.length);
  let norm = 0;
  for (let i = 0; i < raw.length; i++) {
    const mean = FEATURE_MEAN[i] ?? 0;
    const scale = FEATURE_SCALE[i] ?? 1;
    // Clip at ±5 scales so one extreme statistic cannot dominate the direction of the vector.
    const z = Math.max(-5, Math.min(5, (raw[i]! - mean) / (scale > 1e-9 ? scale : 1)));
    v[i] = z * GROUP_WEIGHTS[i]!;
    norm += v[i]! * v[i]!;
  }
  norm = Math.sqrt(norm);
  if (norm < 1e-12) {
    // The "average" image: any fixed unit vector keeps the output unit-length and deterministic.
    v.fill(0);
    v[0] = 1;
    return v;
  }
  for (let i = 0; i < v.length; i++) v[i] = v[i]! / norm;
  return v;
}

/** Decodes an image and returns its thumbnail as raw RGB. */
export async function thumbnailRgb(image: Buffer, size = FEATURES_THUMB): Promise<Uint8Array> {
  const { data, info } = await sharp(image)
    .flatten({ background: '#000000' })
    .toColourspace('srgb')
    .resize(size, size, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels === 3) return new Uint8Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint8Array(size * size * 3);
  for (let i = 0; i < size * size; i++) {
    for (let c = 0; c < 3; c++) out[i * 3 + c] = data[i * info.channels + Math.min(c, info.channels - 1)]!;
  }
  return out;
}

export class FeaturesEmbedder implements Embedder {
  readonly modelId = FEATURES_MODEL_ID;
  readonly dim = FEATURE_DIM;
  /** Named, so profiles can describe a taste in words ("warm palettes" = warmth + warm hue bins). */
  readonly featureGroups = FEATURE_GROUPS;

  async embed(images: Buffer[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const img of images) {
      const { thumb, full } = await decodeForFeatures(img);
      out.push(standardizeFeatures(extractFeatures(thumb, FEATURES_THUMB, FEATURES_THUMB, full)));
    }
    return out;
  }

  describe(): string {
    return `features (${FEATURES_MODEL_ID}: ${FEATURE_DIM} built-in aesthetic descriptors, no download)`;
  }
}

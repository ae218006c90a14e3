/**
 * `features`: the built-in, download-free embedder. Classic aesthetic descriptors computed from the
 * pixels of a 128×128 thumbnail: brightness and contrast, colorfulness, saturation / hue / luminance
 * histograms, warm–cool balance, edges, sharpness, symmetry, rule-of-thirds and center energy,
 * entropy, a coarse color histogram and a 4×4 Lab layout.
 *
 * Each dimension is standardized with fixed constants (FEATURE_MEAN / FEATURE_SCALE, computed once
 * from a few hundred sketch renders by src/eval/features-calibrate.ts and pasted here), weighted per
 * group so the big layout block does not drown the global statistics, then L2-normalized.
 * Changing the feature set or constants means bumping FEATURES_MODEL_ID: stored vectors of
 * another id are never mixed with new ones.
 */
import sharp from 'sharp';
import type { Embedder } from '../../core/ports';

export const FEATURES_MODEL_ID = 'features-v1';
export const FEATURES_THUMB = 128;

interface Group {
  name: string;
  dims: number;
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
];

export const FEATURE_DIM = FEATURE_GROUPS.reduce((a, g) => a + g.dims, 0);

function srgbToLinear(c: number): number {
  const x = c / 255;
  return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
}
const LINEAR = Float64Array.from({ length: 256 }, (_, i) => srgbToLinear(i));

/** CIE Lab (D65) of an sRGB color given as 0..255 floats. */
export function rgbToLab(r: number, g: number, b: number): [number, number, number] {
  const lin = (v: number) => srgbToLinear(Math.max(0, Math.min(255, v)));
  const R = lin(r);
  const G = lin(g);
  const B = lin(b);
  const X = (0.4124 * R + 0.3576 * G + 0.1805 * B) / 0.95047;
  const Y = 0.2126 * R + 0.7152 * G + 0.0722 * B;
  const Z = (0.0193 * R + 0.1192 * G + 0.9505 * B) / 1.08883;
  const f = (t: number) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
  const fx = f(X);
  const fy = f(Y);
  const fz = f(Z);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/**
 * Raw (unstandardized) descriptors of an RGB image, row-major, 3 bytes per pixel. Pure.
 * Works for any size but is meant for the 128×128 thumbnail.
 */
export function extractFeatures(rgb: Uint8Array, w: number, h: number): Float32Array {
  const n = w * h;
  if (rgb.length < n * 3 || n === 0) throw new Error(`extractFeatures: expected ${n * 3} bytes of RGB, got ${rgb.length}`);
  const lum = new Float32Array(n);
  const sat = new Float32Array(n);
  const out: number[] = [];

  let sumL = 0, sumL2 = 0, sumRB = 0, warmPx = 0, coolPx = 0, sumSat = 0;
  let sumRg = 0, sumRg2 = 0, sumYb = 0, sumYb2 = 0;
  const satHist = new Float64Array(8);
  const hueHist = new Float64Array(12);
  const lumHist = new Float64Array(8);
  const lum256 = new Float64Array(64);
  const colorHist = new Float64Array(8);
  for (let i = 0; i < n; i++) {
    const r = rgb[i * 3]!, g = rgb[i * 3 + 1]!, b = rgb[i * 3 + 2]!;
    const L = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    lum[i] = L;
    sumL += L;
    sumL2 += L * L;
    const max = Math.max(r, g, b), min = Math.min(r, g, b);
    const s = max === 0 ? 0 : (max - min) / max;
    sat[i] = s;
    sumSat += s;
    satHist[Math.min(7, Math.floor(s * 8))]! += 1;
    lumHist[Math.min(7, Math.floor(L * 8))]! += 1;
    lum256[Math.min(63, Math.floor(L * 64))]! += 1;
    colorHist[(r >> 7) * 4 + (g >> 7) * 2 + (b >> 7)]! += 1;
    if (max > min) {
      let hue: number;
      const d = max - min;
      if (max === r) hue = ((g - b) / d + 6) % 6;
      else if (max === g) hue = (b - r) / d + 2;
      else hue = (r - g) / d + 4;
      // Soft binning: split weight between the two nearest bins so hue jitter is smooth.
      const pos = hue * 2 - 0.5; // 12 bins, centers at 15°, 45°, …
      const lo = Math.floor(pos);
      const t = pos - lo;
      const wgt = s * (max / 255);
      hueHist[(lo + 12) % 12]! += wgt * (1 - t);
      hueHist[(lo + 13) % 12]! += wgt * t;
    }
    sumRB += (r - b) / 255;
    if (s > 0.15 && max > 40) {
      if (r > b + 20) warmPx++;
      else if (b > r + 20) coolPx++;
    }
    const rg = r - g;
    const yb = 0.5 * (r + g) - b;
    sumRg += rg;
    sumRg2 += rg * rg;
    sumYb += yb;
    sumYb2 += yb * yb;
  }
  const meanL = sumL / n;
  const stdL = Math.sqrt(Math.max(0, sumL2 / n - meanL * meanL));
  out.push(meanL, stdL);

  // contrast: RMS (std / mean, bounded) and the 5–95 percentile range
  let acc = 0, p5 = 0, p95 = 1;
  let got5 = false;
  for (let k = 0; k < 64; k++) {
    acc += lum256[k]!;
    if (!got5 && acc >= 0.05 * n) { p5 = k / 63; got5 = true; }
    if (acc >= 0.95 * n) { p95 = k / 63; break; }
  }
  out.push(stdL / (meanL + 0.1), p95 - p5);

  // Hasler & Süsstrunk (2003) colorfulness, scaled to ~0..1
  const mRg = sumRg / n, mYb = sumYb / n;
  const sRg = Math.sqrt(Math.max(0, sumRg2 / n - mRg * mRg)), sYb = Math.sqrt(Math.max(0, sumYb2 / n - mYb * mYb));
  out.push((Math.sqrt(sRg * sRg + sYb * sYb) + 0.3 * Math.sqrt(mRg * mRg + mYb * mYb)) / 150);

  out.push(sumSat / n);
  for (const v of satHist) out.push(v / n);
  let hueTotal = 0;
  for (const v of hueHist) hueTotal += v;
  // Hue shares over the saturated mass; gray images give a flat zero histogram.
  for (const v of hueHist) out.push(hueTotal > 1e-9 ? (v / hueTotal) * Math.min(1, (hueTotal / n) * 4) : 0);
  out.push(sumRB / n, (warmPx - coolPx) / n);

  // gradients (Sobel), Laplacian, orientation, edge grid, thirds and center energy
  let edgeCount = 0, gradSum = 0, lapSum = 0, lapSum2 = 0, interior = 0;
  const orient = new Float64Array(4);
  const edgeGrid = new Float64Array(9);
  const gridCount = new Float64Array(9);
  let thirdsE = 0, centerE = 0, borderE = 0, totalE = 0;
  const EDGE_T = 0.25;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const a = lum[i - w - 1]!, b = lum[i - w]!, c = lum[i - w + 1]!;
      const d = lum[i - 1]!, e = lum[i]!, f = lum[i + 1]!;
      const g = lum[i + w - 1]!, hh = lum[i + w]!, k = lum[i + w + 1]!;
      const gx = c + 2 * f + k - a - 2 * d - g;
      const gy = g + 2 * hh + k - a - 2 * b - c;
      const mag = Math.sqrt(gx * gx + gy * gy);
      const lap = b + d + f + hh - 4 * e;
      lapSum += lap;
      lapSum2 += lap * lap;
      gradSum += mag;
      interior++;
      const cell = Math.min(2, Math.floor((y * 3) / h)) * 3 + Math.min(2, Math.floor((x * 3) / w));
      gridCount[cell]! += 1;
      if (mag > EDGE_T) {
        edgeCount++;
        edgeGrid[cell]! += 1;
      }
      const e2 = mag * mag;
      totalE += e2;
      // orientation of the edge (not the gradient), folded into 4 bins
      const ang = Math.atan2(gy, gx) + Math.PI / 2;
      const bin = ((Math.round((ang / Math.PI) * 4) % 4) + 4) % 4;
      orient[bin]! += e2;
      const u = x / w, v = y / h;
      const dThird = Math.min(Math.abs(u - 1 / 3), Math.abs(u - 2 / 3)) + Math.min(Math.abs(v - 1 / 3), Math.abs(v - 2 / 3));
      if (dThird < 0.12) thirdsE += e2;
      if (u > 0.25 && u < 0.75 && v > 0.25 && v < 0.75) centerE += e2;
      else borderE += e2;
    }
  }
  const inner = Math.max(1, interior);
  out.push(edgeCount / inner, gradSum / inner);
  const lapMean = lapSum / inner;
  out.push(Math.log10(1e-6 + Math.max(0, lapSum2 / inner - lapMean * lapMean)));

  // symmetry: 1 − mean absolute luminance difference to the mirror image
  let lr = 0, tb = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      lr += Math.abs(lum[y * w + x]! - lum[y * w + (w - 1 - x)]!);
      tb += Math.abs(lum[y * w + x]! - lum[(h - 1 - y) * w + x]!);
    }
  }
  out.push(1 - lr / n, 1 - tb / n);
  const eps = 1e-9;
  out.push(thirdsE / (totalE + eps), (centerE + eps) / (centerE + borderE + 2 * eps));

  let entropy = 0;
  for (const v of lum256) if (v > 0) entropy -= (v / n) * Math.log2(v / n);
  out.push(entropy / 6);
  for (const v of lumHist) out.push(v / n);
  for (const v of colorHist) out.push(v / n);
  for (const v of orient) out.push(v / (totalE + eps));
  for (let c = 0; c < 9; c++) out.push(edgeGrid[c]! / Math.max(1, gridCount[c]!));

  // 4×4 layout of mean colors, in Lab (averaged in linear light, then converted)
  const cells = new Float64Array(16 * 4);
  for (let y = 0; y < h; y++) {
    const cy = Math.min(3, Math.floor((y * 4) / h));
    for (let x = 0; x < w; x++) {
      const cx = Math.min(3, Math.floor((x * 4) / w));
      const o = (cy * 4 + cx) * 4;
      const i = (y * w + x) * 3;
      cells[o]! += LINEAR[rgb[i]!]!;
      cells[o + 1]! += LINEAR[rgb[i + 1]!]!;
      cells[o + 2]! += LINEAR[rgb[i + 2]!]!;
      cells[o + 3]! += 1;
    }
  }
  for (let c = 0; c < 16; c++) {
    const cnt = Math.max(1, cells[c * 4 + 3]!);
    const toSrgb = (v: number) => 255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * Math.pow(v, 1 / 2.4) - 0.055);
    const [L, A, B] = rgbToLab(toSrgb(cells[c * 4]! / cnt), toSrgb(cells[c * 4 + 1]! / cnt), toSrgb(cells[c * 4 + 2]! / cnt));
    out.push(L / 100, A / 100, B / 100);
  }
  if (out.length !== FEATURE_DIM) throw new Error(`extractFeatures: produced ${out.length} dims, expected ${FEATURE_DIM}`);
  return Float32Array.from(out);
}

// Standardization constants: per-dimension mean and scale over ~400 sketch renders
// (regenerate with `npx tsx src/eval/features-calibrate.ts` and bump FEATURES_MODEL_ID).
// CALIBRATION:BEGIN
export const FEATURE_MEAN: readonly number[] = [0.4563, 0.1717, 0.3622, 0.4738, 0.2666, 0.3825, 0.2608, 0.1098, 0.1123, 0.1485, 0.1077, 0.1979, 0.02552, 0.03746, 0.05459, 0.09124, 0.05339, 0.04131, 0.03508, 0.03216, 0.04623, 0.07402, 0.05813, 0.04251, 0.03756, 0.05718, 0.02029, 0.0275, 0.09029, 0.1024, -2.49, 0.9491, 0.7634, 0.1393, 0.3435, 0.6365, 0.1347, 0.119, 0.1953, 0.1199, 0.1278, 0.129, 0.09993, 0.07444, 0.4491, 0.03558, 0.04017, 0.03823, 0.05035, 0.03432, 0.05842, 0.2939, 0.4986, 0.1586, 0.1889, 0.1539, 0.06029, 0.09224, 0.06157, 0.1198, 0.1366, 0.1156, 0.07326, 0.07522, 0.07329, 0.5758, 0.05877, -0.01338, 0.6397, 0.04252, 0.006826, 0.6404, 0.0481, 0.005229, 0.5781, 0.05989, -0.01525, 0.5899, 0.04664, -0.007759, 0.6173, 0.03531, 0.009732, 0.6091, 0.04058, 0.00271, 0.5839, 0.05299, -0.01454, 0.4426, 0.01809, 0.03202, 0.4427, 0.01824, 0.03458, 0.4472, 0.02008, 0.03199, 0.4487, 0.02056, 0.02775, 0.3548, 0.01141, 0.03862, 0.353, 0.01043, 0.03689, 0.354, 0.01154, 0.03537, 0.3573, 0.01163, 0.0372];
export const FEATURE_SCALE: readonly number[] = [0.2017, 0.06073, 0.1946, 0.1564, 0.1764, 0.2171, 0.3456, 0.1326, 0.1161, 0.1665, 0.1234, 0.2323, 0.08585, 0.1493, 0.1301, 0.1803, 0.1209, 0.106, 0.1088, 0.08896, 0.1197, 0.1493, 0.1227, 0.1037, 0.1071, 0.142, 0.1724, 0.5875, 0.05691, 0.0505, 0.4399, 0.04863, 0.1249, 0.0965, 0.1748, 0.1779, 0.261, 0.1761, 0.2192, 0.1338, 0.1305, 0.1327, 0.1358, 0.1373, 0.3475, 0.09422, 0.1055, 0.09361, 0.1266, 0.09675, 0.133, 0.2438, 0.2251, 0.07789, 0.1415, 0.07214, 0.07857, 0.08142, 0.07434, 0.1001, 0.1067, 0.09929, 0.1054, 0.1011, 0.1035, 0.2636, 0.2074, 0.2182, 0.2129, 0.1934, 0.2093, 0.2184, 0.1948, 0.2145, 0.2652, 0.2086, 0.2241, 0.2531, 0.1701, 0.1805, 0.2228, 0.158, 0.1739, 0.2276, 0.1546, 0.1793, 0.2583, 0.1717, 0.189, 0.2344, 0.1941, 0.223, 0.2277, 0.1941, 0.2229, 0.2279, 0.1947, 0.2242, 0.2358, 0.195, 0.223, 0.2122, 0.1798, 0.2154, 0.2101, 0.1778, 0.2137, 0.2107, 0.1801, 0.2168, 0.2134, 0.1827, 0.2175];
// CALIBRATION:END

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

  async embed(images: Buffer[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const img of images) {
      const rgb = await thumbnailRgb(img);
      out.push(standardizeFeatures(extractFeatures(rgb, FEATURES_THUMB, FEATURES_THUMB)));
    }
    return out;
  }

  describe(): string {
    return `features (${FEATURES_MODEL_ID}: ${FEATURE_DIM} built-in aesthetic descriptors, no download)`;
  }
}

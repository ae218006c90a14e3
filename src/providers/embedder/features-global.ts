/**
 * The v1 global descriptors of the `features` embedder, appended in FEATURE_GROUPS order: brightness,
 * contrast, colorfulness, saturation and its histogram, the hue histogram, warmth, edges, sharpness,
 * symmetry, thirds and center energy, entropy, luminance and colour histograms, edge orientation, the
 * 3×3 edge grid and the 4×4 Lab layout. Pure.
 */
import { LINEAR, meanLab } from './features-pixels';

/** What one pass over the pixels gathers for the tone and colour groups. */
interface PixelStats {
  sumL: number;
  sumL2: number;
  sumRB: number;
  warmPx: number;
  coolPx: number;
  sumSat: number;
  sumRg: number;
  sumRg2: number;
  sumYb: number;
  sumYb2: number;
  satHist: Float64Array;
  hueHist: Float64Array;
  lumHist: Float64Array;
  /** 64-bin luminance histogram (percentiles and entropy). */
  lum256: Float64Array;
  colorHist: Float64Array;
}

/**
 * One pass over the pixels: fills `lum` (Rec. 709 luminance, 0..1) and `sat` (HSV saturation) for the
 * later descriptors, and sums what the tone and colour groups need.
 */
function pixelStats(rgb: Uint8Array, lum: Float32Array, sat: Float32Array, n: number): PixelStats {
  let sumL = 0,
    sumL2 = 0,
    sumRB = 0,
    warmPx = 0,
    coolPx = 0,
    sumSat = 0;
  let sumRg = 0,
    sumRg2 = 0,
    sumYb = 0,
    sumYb2 = 0;
  const satHist = new Float64Array(8);
  const hueHist = new Float64Array(12);
  const lumHist = new Float64Array(8);
  const lum256 = new Float64Array(64);
  const colorHist = new Float64Array(8);
  for (let i = 0; i < n; i++) {
    const r = rgb[i * 3]!,
      g = rgb[i * 3 + 1]!,
      b = rgb[i * 3 + 2]!;
    const L = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    lum[i] = L;
    sumL += L;
    sumL2 += L * L;
    const max = Math.max(r, g, b),
      min = Math.min(r, g, b);
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
  return { sumL, sumL2, sumRB, warmPx, coolPx, sumSat, sumRg, sumRg2, sumYb, sumYb2, satHist, hueHist, lumHist, lum256, colorHist };
}

/** brightness, contrast, colorfulness, saturation, satHist, hueHist, warmth. */
function appendToneAndColour(st: PixelStats, n: number, out: number[]): void {
  const meanL = st.sumL / n;
  const stdL = Math.sqrt(Math.max(0, st.sumL2 / n - meanL * meanL));
  out.push(meanL, stdL);

  // contrast: RMS (std / mean, bounded) and the 5–95 percentile range
  let acc = 0,
    p5 = 0,
    p95 = 1;
  let got5 = false;
  for (let k = 0; k < 64; k++) {
    acc += st.lum256[k]!;
    if (!got5 && acc >= 0.05 * n) {
      p5 = k / 63;
      got5 = true;
    }
    if (acc >= 0.95 * n) {
      p95 = k / 63;
      break;
    }
  }
  out.push(stdL / (meanL + 0.1), p95 - p5);

  // Hasler & Süsstrunk (2003) colorfulness, scaled to ~0..1
  const mRg = st.sumRg / n,
    mYb = st.sumYb / n;
  const sRg = Math.sqrt(Math.max(0, st.sumRg2 / n - mRg * mRg)),
    sYb = Math.sqrt(Math.max(0, st.sumYb2 / n - mYb * mYb));
  out.push((Math.sqrt(sRg * sRg + sYb * sYb) + 0.3 * Math.sqrt(mRg * mRg + mYb * mYb)) / 150);

  out.push(st.sumSat / n);
  for (const v of st.satHist) out.push(v / n);
  let hueTotal = 0;
  for (const v of st.hueHist) hueTotal += v;
  // Hue shares over the saturated mass; gray images give a flat zero histogram.
  for (const v of st.hueHist) out.push(hueTotal > 1e-9 ? (v / hueTotal) * Math.min(1, (hueTotal / n) * 4) : 0);
  out.push(st.sumRB / n, (st.warmPx - st.coolPx) / n);
}

/** Sobel gradients, Laplacian, edge orientation, the 3×3 edge grid, and thirds / center energy. */
interface GradientStats {
  edgeCount: number;
  gradSum: number;
  lapSum: number;
  lapSum2: number;
  interior: number;
  orient: Float64Array;
  edgeGrid: Float64Array;
  gridCount: Float64Array;
  thirdsE: number;
  centerE: number;
  borderE: number;
  totalE: number;
}

function gradientStats(lum: Float32Array, w: number, h: number): GradientStats {
  let edgeCount = 0,
    gradSum = 0,
    lapSum = 0,
    lapSum2 = 0,
    interior = 0;
  const orient = new Float64Array(4);
  const edgeGrid = new Float64Array(9);
  const gridCount = new Float64Array(9);
  let thirdsE = 0,
    centerE = 0,
    borderE = 0,
    totalE = 0;
  const EDGE_T = 0.25;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const a = lum[i - w - 1]!,
        b = lum[i - w]!,
        c = lum[i - w + 1]!;
      const d = lum[i - 1]!,
        e = lum[i]!,
        f = lum[i + 1]!;
      const g = lum[i + w - 1]!,
        hh = lum[i + w]!,
        k = lum[i + w + 1]!;
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
      const u = x / w,
        v = y / h;
      const dThird = Math.min(Math.abs(u - 1 / 3), Math.abs(u - 2 / 3)) + Math.min(Math.abs(v - 1 / 3), Math.abs(v - 2 / 3));
      if (dThird < 0.12) thirdsE += e2;
      if (u > 0.25 && u < 0.75 && v > 0.25 && v < 0.75) centerE += e2;
      else borderE += e2;
    }
  }
  return { edgeCount, gradSum, lapSum, lapSum2, interior, orient, edgeGrid, gridCount, thirdsE, centerE, borderE, totalE };
}

/** symmetry: 1 − mean absolute luminance difference to the mirror image (left–right, top–bottom). */
function appendSymmetry(lum: Float32Array, w: number, h: number, out: number[]): void {
  const n = w * h;
  let lr = 0,
    tb = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      lr += Math.abs(lum[y * w + x]! - lum[y * w + (w - 1 - x)]!);
      tb += Math.abs(lum[y * w + x]! - lum[(h - 1 - y) * w + x]!);
    }
  }
  out.push(1 - lr / n, 1 - tb / n);
}

/** labGrid: 4×4 layout of mean colors, in Lab (averaged in linear light, then converted). */
function appendLabGrid4(rgb: Uint8Array, w: number, h: number, out: number[]): void {
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
    const [L, A, B] = meanLab(cells[c * 4]!, cells[c * 4 + 1]!, cells[c * 4 + 2]!, cnt);
    out.push(L / 100, A / 100, B / 100);
  }
}

/**
 * Appends the v1 groups (brightness … labGrid) to `out`, and fills `lum` and `sat` (n = w·h each)
 * for the descriptors that follow.
 */
export function appendGlobalFeatures(rgb: Uint8Array, lum: Float32Array, sat: Float32Array, w: number, h: number, out: number[]): void {
  const n = w * h;
  const st = pixelStats(rgb, lum, sat, n);
  appendToneAndColour(st, n, out);

  const gs = gradientStats(lum, w, h);
  const inner = Math.max(1, gs.interior);
  out.push(gs.edgeCount / inner, gs.gradSum / inner);
  const lapMean = gs.lapSum / inner;
  out.push(Math.log10(1e-6 + Math.max(0, gs.lapSum2 / inner - lapMean * lapMean)));

  appendSymmetry(lum, w, h, out);
  const eps = 1e-9;
  out.push(gs.thirdsE / (gs.totalE + eps), (gs.centerE + eps) / (gs.centerE + gs.borderE + 2 * eps));

  let entropy = 0;
  for (const v of st.lum256) if (v > 0) entropy -= (v / n) * Math.log2(v / n);
  out.push(entropy / 6);
  for (const v of st.lumHist) out.push(v / n);
  for (const v of st.colorHist) out.push(v / n);
  for (const v of gs.orient) out.push(v / (gs.totalE + eps));
  for (let c = 0; c < 9; c++) out.push(gs.edgeGrid[c]! / Math.max(1, gs.gridCount[c]!));

  appendLabGrid4(rgb, w, h, out);
}

/**
 * The v2 content/layout descriptors of the `features` embedder (appended in FEATURE_GROUPS order:
 * labGrid6, bandHue, bandStats, hogCells, structure, blobs, texture, bandSymmetry). Pixels only; meant
 * to give a linear model on top a view of *what* is where — horizon, sky and ground colours, discs,
 * verticals (buildings, trunks), diagonals (ridges, roofs), small repeated marks, texture and symmetry —
 * which the global statistics average away. Pure.
 */
import { LINEAR, lumGradients, meanLab } from './features-pixels';

/** Which horizontal third row y of an h-row image falls in. */
const thirdOf = (y: number, h: number) => Math.min(2, Math.floor((y * 3) / h));

/** labGrid6: 6×6 mean Lab (averaged in linear light): where the sky, sun, ground and subject sit. */
function appendLabGrid6(rgb: Uint8Array, w: number, h: number, out: number[]): void {
  const G = 6;
  const cells = new Float64Array(G * G * 4);
  for (let y = 0; y < h; y++) {
    const cy = Math.min(G - 1, Math.floor((y * G) / h));
    for (let x = 0; x < w; x++) {
      const o = (cy * G + Math.min(G - 1, Math.floor((x * G) / w))) * 4;
      const i = (y * w + x) * 3;
      cells[o]! += LINEAR[rgb[i]!]!;
      cells[o + 1]! += LINEAR[rgb[i + 1]!]!;
      cells[o + 2]! += LINEAR[rgb[i + 2]!]!;
      cells[o + 3]! += 1;
    }
  }
  for (let c = 0; c < G * G; c++) {
    const cnt = Math.max(1, cells[c * 4 + 3]!);
    const [L, A, B] = meanLab(cells[c * 4]!, cells[c * 4 + 1]!, cells[c * 4 + 2]!, cnt);
    out.push(L / 100, A / 100, B / 100);
  }
}

/** bandHue + bandStats: per horizontal third, 8 soft hue bins, then saturation, luminance, its spread, red−blue. */
function appendBands(rgb: Uint8Array, lum: Float32Array, sat: Float32Array, w: number, h: number, out: number[]): void {
  const hue = new Float64Array(3 * 8);
  const st = new Float64Array(3 * 5); // sat, lum, lum², r−b, count
  for (let y = 0; y < h; y++) {
    const b = thirdOf(y, h);
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const r = rgb[p * 3]!,
        g = rgb[p * 3 + 1]!,
        bl = rgb[p * 3 + 2]!;
      const L = lum[p]!;
      st[b * 5]! += sat[p]!;
      st[b * 5 + 1]! += L;
      st[b * 5 + 2]! += L * L;
      st[b * 5 + 3]! += (r - bl) / 255;
      st[b * 5 + 4]! += 1;
      const max = Math.max(r, g, bl),
        min = Math.min(r, g, bl);
      if (max > min) {
        const d = max - min;
        const hh = max === r ? ((g - bl) / d + 6) % 6 : max === g ? (bl - r) / d + 2 : (r - g) / d + 4; // 0..6
        const pos = (hh / 6) * 8 - 0.5;
        const lo = Math.floor(pos);
        const t = pos - lo;
        const wgt = sat[p]! * (max / 255);
        hue[b * 8 + ((lo + 8) % 8)]! += wgt * (1 - t);
        hue[b * 8 + ((lo + 9) % 8)]! += wgt * t;
      }
    }
  }
  for (let b = 0; b < 3; b++) {
    const cnt = Math.max(1, st[b * 5 + 4]!);
    for (let k = 0; k < 8; k++) out.push(Math.sqrt(hue[b * 8 + k]! / cnt)); // sqrt: small accents still register
  }
  for (let b = 0; b < 3; b++) {
    const cnt = Math.max(1, st[b * 5 + 4]!);
    const mL = st[b * 5 + 1]! / cnt;
    out.push(st[b * 5]! / cnt, mL, Math.sqrt(Math.max(0, st[b * 5 + 2]! / cnt - mL * mL)), st[b * 5 + 3]! / cnt);
  }
}

/**
 * hogCells: 4×4 cells × 6 unsigned orientations, magnitude-weighted, soft-binned; each cell's
 * histogram is square-rooted (Hellinger) so one strong edge does not dominate. Then structure: where
 * horizontal edges (horizon, shore, street) and vertical edges (buildings, trunks, figure) sit.
 * Both from one set of gradients.
 */
function appendHogAndStructure(lum: Float32Array, w: number, h: number, out: number[]): void {
  const { gx: gxA, gy: gyA } = lumGradients(lum, w, h);
  const C = 4,
    O = 6;
  const hog = new Float64Array(C * C * O);
  const rows = new Float64Array(12);
  const colsV = new Float64Array(12);
  for (let y = 1; y < h - 1; y++) {
    const cy = Math.min(C - 1, Math.floor((y * C) / h));
    const ry = Math.min(11, Math.floor((y * 12) / h));
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const gx = gxA[i]!,
        gy = gyA[i]!;
      const mag = Math.sqrt(gx * gx + gy * gy);
      if (mag < 1e-4) continue;
      let ang = Math.atan2(gy, gx);
      if (ang < 0) ang += Math.PI; // unsigned, 0..π
      const pos = (ang / Math.PI) * O - 0.5;
      const lo = Math.floor(pos);
      const t = pos - lo;
      const o = (cy * C + Math.min(C - 1, Math.floor((x * C) / w))) * O;
      hog[o + ((lo + O) % O)]! += mag * (1 - t);
      hog[o + ((lo + O + 1) % O)]! += mag * t;
      rows[ry]! += Math.abs(gy);
      colsV[Math.min(11, Math.floor((x * 12) / w))]! += Math.abs(gx);
    }
  }
  const cellArea = (w * h) / (C * C);
  for (let k = 0; k < hog.length; k++) out.push(Math.sqrt(hog[k]! / cellArea));
  const rowArea = (w * h) / 12;
  for (let k = 0; k < 12; k++) out.push(Math.sqrt(rows[k]! / rowArea));
  for (let k = 0; k < 12; k++) out.push(Math.sqrt(colsV[k]! / rowArea));
}

/** Luminance and saturation at half resolution (2×2 means), for blobs and coarse texture. */
interface HalfRes {
  small: Float32Array;
  smallSat: Float32Array;
  hw: number;
  hh2: number;
}

function halfRes(lum: Float32Array, sat: Float32Array, w: number, h: number): HalfRes {
  const hw = Math.max(1, w >> 1),
    hh2 = Math.max(1, h >> 1);
  const small = new Float32Array(hw * hh2);
  const smallSat = new Float32Array(hw * hh2);
  for (let y = 0; y < hh2; y++) {
    for (let x = 0; x < hw; x++) {
      let s = 0,
        ss = 0,
        c = 0;
      for (let dy = 0; dy < 2; dy++)
        for (let dx = 0; dx < 2; dx++) {
          const yy = Math.min(h - 1, y * 2 + dy),
            xx = Math.min(w - 1, x * 2 + dx);
          s += lum[yy * w + xx]!;
          ss += sat[yy * w + xx]!;
          c++;
        }
      small[y * hw + x] = s / c;
      smallSat[y * hw + x] = ss / c;
    }
  }
  return { small, smallSat, hw, hh2 };
}

/** blobs, first four: local extrema of the half-res luminance that stand out from their 5×5 surroundings. */
function appendBlobCounts({ small, smallSat, hw, hh2 }: HalfRes, out: number[]): void {
  let brightTop = 0,
    brightBottom = 0,
    darkTop = 0,
    colorBottom = 0;
  for (let y = 2; y < hh2 - 2; y++) {
    for (let x = 2; x < hw - 2; x++) {
      const i = y * hw + x;
      let s = 0,
        ssat = 0,
        isMax = true,
        isMin = true;
      for (let dy = -2; dy <= 2; dy++)
        for (let dx = -2; dx <= 2; dx++) {
          const j = i + dy * hw + dx;
          s += small[j]!;
          ssat += smallSat[j]!;
          if (Math.abs(dy) <= 1 && Math.abs(dx) <= 1 && j !== i) {
            if (small[j]! > small[i]!) isMax = false;
            if (small[j]! < small[i]!) isMin = false;
          }
        }
      const contrast = small[i]! - s / 25;
      const top = y < hh2 / 2;
      if (isMax && contrast > 0.06) {
        if (top) brightTop++;
        else brightBottom++;
      }
      if (isMin && contrast < -0.06 && top) darkTop++;
      if (!top && smallSat[i]! - ssat / 25 > 0.15 && isMax) colorBottom++;
    }
  }
  const halfArea = Math.max(1, (hw * hh2) / 2);
  out.push(
    Math.sqrt(brightTop / halfArea),
    Math.sqrt(brightBottom / halfArea),
    Math.sqrt(darkTop / halfArea),
    Math.sqrt(colorBottom / halfArea),
  );
}

/** blobs, last four: the brightest 8×8 block of the upper half (sun, moon, glow): how much it stands out, and where. */
function appendBrightestBlock({ small, hw, hh2 }: HalfRes, out: number[]): void {
  const B = 8;
  let best = -1,
    bx = 0.5,
    by = 0.25,
    topMean = 0,
    topCnt = 0;
  for (let y0 = 0; y0 + B <= hh2 / 2 + B / 2 && y0 + B <= hh2; y0 += B / 2) {
    for (let x0 = 0; x0 + B <= hw; x0 += B / 2) {
      let s = 0;
      for (let y = y0; y < y0 + B; y++) for (let x = x0; x < x0 + B; x++) s += small[y * hw + x]!;
      s /= B * B;
      topMean += s;
      topCnt++;
      if (s > best) {
        best = s;
        bx = (x0 + B / 2) / hw;
        by = (y0 + B / 2) / hh2;
      }
    }
  }
  topMean /= Math.max(1, topCnt);
  out.push(Math.max(0, best - topMean), Math.abs(bx - 0.5), by, best < 0 ? 0 : best);
}

/** texture, first six: fine (1 px) and coarse (2 px, on the half-res image) Laplacian energy per third. */
function appendDetailEnergy(lum: Float32Array, w: number, h: number, { small, hw, hh2 }: HalfRes, out: number[]): void {
  const fine = new Float64Array(3),
    fineN = new Float64Array(3),
    coarse = new Float64Array(3),
    coarseN = new Float64Array(3);
  for (let y = 1; y < h - 1; y++) {
    const b = thirdOf(y, h);
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const lap = lum[i - 1]! + lum[i + 1]! + lum[i - w]! + lum[i + w]! - 4 * lum[i]!;
      fine[b]! += lap * lap;
      fineN[b]! += 1;
    }
  }
  for (let y = 1; y < hh2 - 1; y++) {
    const b = thirdOf(y, hh2);
    for (let x = 1; x < hw - 1; x++) {
      const i = y * hw + x;
      const lap = small[i - 1]! + small[i + 1]! + small[i - hw]! + small[i + hw]! - 4 * small[i]!;
      coarse[b]! += lap * lap;
      coarseN[b]! += 1;
    }
  }
  for (let b = 0; b < 3; b++) out.push(Math.log10(1e-6 + fine[b]! / Math.max(1, fineN[b]!)));
  for (let b = 0; b < 3; b++) out.push(Math.log10(1e-6 + coarse[b]! / Math.max(1, coarseN[b]!)));
}

/** texture, last two: flat neighbours (posterized / blocky art) and palette size (distinct 5-bit colours, log scale). */
function appendFlatAndPalette(rgb: Uint8Array, w: number, h: number, out: number[]): void {
  const n = w * h;
  let flat = 0;
  const seen = new Uint8Array(32768);
  let distinct = 0;
  for (let i = 0; i < n; i++) {
    const o = i * 3;
    if (i % w < w - 1 && rgb[o] === rgb[o + 3] && rgb[o + 1] === rgb[o + 4] && rgb[o + 2] === rgb[o + 5]) flat++;
    const key = ((rgb[o]! >> 3) << 10) | ((rgb[o + 1]! >> 3) << 5) | (rgb[o + 2]! >> 3);
    if (!seen[key]) {
      seen[key] = 1;
      distinct++;
    }
  }
  out.push(flat / Math.max(1, n - h), Math.log2(1 + distinct) / 15);
}

/** bandSymmetry: left–right colour agreement per third, and the share of near-exact mirror pixels. */
function appendBandSymmetry(rgb: Uint8Array, w: number, h: number, out: number[]): void {
  const sym = new Float64Array(3),
    symN = new Float64Array(3);
  let exact = 0;
  for (let y = 0; y < h; y++) {
    const b = thirdOf(y, h);
    for (let x = 0; x < w >> 1; x++) {
      const a = (y * w + x) * 3,
        m = (y * w + (w - 1 - x)) * 3;
      const d = Math.abs(rgb[a]! - rgb[m]!) + Math.abs(rgb[a + 1]! - rgb[m + 1]!) + Math.abs(rgb[a + 2]! - rgb[m + 2]!);
      sym[b]! += d / 765;
      symN[b]! += 1;
      if (d < 24) exact++;
    }
  }
  for (let b = 0; b < 3; b++) out.push(1 - sym[b]! / Math.max(1, symN[b]!));
  out.push(exact / Math.max(1, h * (w >> 1)));
}

/** Appends the v2 groups (labGrid6 … bandSymmetry) to `out`, in FEATURE_GROUPS order. */
export function appendLayoutFeatures(rgb: Uint8Array, lum: Float32Array, sat: Float32Array, w: number, h: number, out: number[]): void {
  appendLabGrid6(rgb, w, h, out);
  appendBands(rgb, lum, sat, w, h, out);
  appendHogAndStructure(lum, w, h, out);
  const half = halfRes(lum, sat, w, h);
  appendBlobCounts(half, out);
  appendBrightestBlock(half, out);
  appendDetailEnergy(lum, w, h, half, out);
  appendFlatAndPalette(rgb, w, h, out);
  appendBandSymmetry(rgb, w, h, out);
}

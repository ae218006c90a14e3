/**
 * v3 scene descriptors of the `features` embedder, appended in FEATURE_GROUPS order (skyGradient,
 * warmCool, disc, points, clouds). Pixels only. Each targets a scene property the v2 vector left weakly
 * visible (src/eval/features-diagnose.ts): the colour *gradient* of the sky (golden hour vs dawn vs
 * day), warm–cool balance by region and of the light source, a bright round disc (sun / moon) and its
 * colour, star points in dark skies and soft bright cloud shapes. Pure.
 */
import { DEG, hueOf, LINEAR, meanLab, warmOf } from './features-pixels';

const EPS = 1e-9;

/**
 * skyGradient: the upper sky (rows 0–15%) and the lower sky (rows 25–40%): the horizon sits at
 * 35–72% of the height, so both bands are sky in almost every landscape.
 */
function appendSkyGradient(rgb: Uint8Array, lum: Float32Array, sat: Float32Array, w: number, h: number, out: number[]): void {
  const bands: [number, number][] = [
    [0, 0.15],
    [0.25, 0.4],
  ];
  for (const [a, b] of bands) {
    let hc = 0,
      hs = 0,
      wsum = 0,
      warm = 0,
      ss = 0,
      ll = 0,
      cnt = 0,
      lr = 0,
      lg = 0,
      lb = 0;
    for (let y = Math.floor(a * h); y < Math.max(Math.floor(a * h) + 1, Math.floor(b * h)); y++) {
      for (let x = 0; x < w; x++) {
        const p = y * w + x;
        const r = rgb[p * 3]!,
          g = rgb[p * 3 + 1]!,
          bl = rgb[p * 3 + 2]!;
        const hue = hueOf(r, g, bl);
        const s = sat[p]!;
        if (hue >= 0) {
          hc += s * Math.cos(hue * DEG);
          hs += s * Math.sin(hue * DEG);
          warm += s * warmOf(hue);
          wsum += s;
        }
        ss += s;
        ll += lum[p]!;
        lr += LINEAR[r]!;
        lg += LINEAR[g]!;
        lb += LINEAR[bl]!;
        cnt++;
      }
    }
    const c = Math.max(1, cnt);
    const [, A] = meanLab(lr, lg, lb, c);
    out.push(hc / c, hs / c, warm / c, wsum > EPS ? warm / wsum : 0, ss / c, ll / c, A / 100);
  }
}

/** Luminance level (0..255) at which the brightest 5% of the pixels begin. */
function brightestFivePercent(lum: Float32Array, n: number): number {
  const lumHist = new Uint32Array(256);
  for (let i = 0; i < n; i++) lumHist[Math.min(255, Math.floor(lum[i]! * 255))]! += 1;
  let acc = 0,
    thr = 255;
  for (let k = 255; k >= 0; k--) {
    acc += lumHist[k]!;
    if (acc >= 0.05 * n) {
      thr = k;
      break;
    }
  }
  return thr;
}

/**
 * warmCool: per third, share of clearly warm and clearly cool pixels; overall warm score; warm score
 * of the brightest 5% of pixels (the light source's colour); circular hue spread.
 */
function appendWarmCool(rgb: Uint8Array, lum: Float32Array, sat: Float32Array, w: number, h: number, out: number[]): void {
  const n = w * h;
  const wc = new Float64Array(6),
    wcN = new Float64Array(3);
  let warmAll = 0,
    hueC = 0,
    hueS = 0,
    hueW = 0;
  const thr = brightestFivePercent(lum, n);
  let brightWarm = 0,
    brightN = 0,
    brightSat = 0;
  for (let y = 0; y < h; y++) {
    const b = Math.min(2, Math.floor((y * 3) / h));
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const r = rgb[p * 3]!,
        g = rgb[p * 3 + 1]!,
        bl = rgb[p * 3 + 2]!;
      const hue = hueOf(r, g, bl);
      const s = sat[p]!;
      wcN[b]! += 1;
      if (hue >= 0) {
        const wv = warmOf(hue);
        if (s > 0.2 && wv > 0.5) wc[b * 2]! += 1;
        if (s > 0.2 && wv < -0.5) wc[b * 2 + 1]! += 1;
        warmAll += s * wv;
        hueC += s * Math.cos(hue * DEG);
        hueS += s * Math.sin(hue * DEG);
        hueW += s;
        if (Math.floor(lum[p]! * 255) >= thr) {
          brightWarm += s * wv;
          brightSat += s;
        }
      }
      if (Math.floor(lum[p]! * 255) >= thr) brightN++;
    }
  }
  for (let b = 0; b < 3; b++) out.push(wc[b * 2]! / Math.max(1, wcN[b]!), wc[b * 2 + 1]! / Math.max(1, wcN[b]!));
  out.push(
    warmAll / n,
    brightWarm / Math.max(1, brightN),
    brightSat / Math.max(1, brightN),
    hueW > EPS ? 1 - Math.hypot(hueC, hueS) / hueW : 0,
  );
}

/** The brightest (smoothed) point of the top 70% rows: its index and its luminance. */
function discPeak(lum: Float32Array, w: number, top: number): { bi: number; peak: number } {
  let bi = 0,
    bestL = -1;
  for (let y = 1; y < top - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const v = lum[i]! * 4 + lum[i - 1]! + lum[i + 1]! + lum[i - w]! + lum[i + w]!;
      if (v > bestL) {
        bestL = v;
        bi = i;
      }
    }
  }
  return { bi, peak: bestL / 8 };
}

/** What the flood fill from the disc's peak gathers: size, bounding box, centroid, tone and colour sums. */
interface DiscRegion {
  area: number;
  sx: number;
  sy: number;
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
  dl: number;
  dl2: number;
  dc: number;
  ds2: number;
  dss: number;
  dsat: number;
}

/** The connected near-brightest region around the peak (4-neighbours within 0.06 of it), capped at a quarter of the image. */
function floodDisc(
  rgb: Uint8Array,
  lum: Float32Array,
  sat: Float32Array,
  w: number,
  h: number,
  top: number,
  bi: number,
  peak: number,
): DiscRegion {
  const n = w * h;
  const cut = peak - 0.06;
  const seen = new Uint8Array(n);
  const stack = [bi];
  seen[bi] = 1;
  let area = 0,
    sx = 0,
    sy = 0,
    minX = w,
    maxX = 0,
    minY = h,
    maxY = 0,
    dl = 0,
    dl2 = 0,
    dc = 0,
    ds2 = 0,
    dss = 0,
    dsat = 0;
  const cap = Math.floor(n * 0.25);
  while (stack.length && area < cap) {
    const i = stack.pop()!;
    const x = i % w,
      y = (i / w) | 0;
    area++;
    sx += x;
    sy += y;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
    const r = rgb[i * 3]!,
      g = rgb[i * 3 + 1]!,
      bl = rgb[i * 3 + 2]!;
    const hue = hueOf(r, g, bl);
    const s = sat[i]!;
    dl += lum[i]!;
    dl2 += lum[i]! * lum[i]!;
    dsat += s;
    if (hue >= 0) {
      dc += s * Math.cos(hue * DEG);
      ds2 += s * Math.sin(hue * DEG);
      dss += s * warmOf(hue);
    }
    for (const j of [i - 1, i + 1, i - w, i + w]) {
      if (j < 0 || j >= top * w || seen[j]) continue;
      if ((j === i - 1 && x === 0) || (j === i + 1 && x === w - 1)) continue;
      seen[j] = 1;
      if (lum[j]! >= cut) stack.push(j);
    }
  }
  return { area, sx, sy, minX, maxX, minY, maxY, dl, dl2, dc, ds2, dss, dsat };
}

/** disc: the connected near-brightest region around the brightest (smoothed) point of the top 70%. */
function appendDisc(rgb: Uint8Array, lum: Float32Array, sat: Float32Array, w: number, h: number, out: number[]): void {
  const n = w * h;
  const top = Math.max(1, Math.floor(h * 0.7));
  const { bi, peak } = discPeak(lum, w, top);
  const d = floodDisc(rgb, lum, sat, w, h, top, bi, peak);
  const { area, minX, maxX, minY, maxY } = d;
  const bw = maxX - minX + 1,
    bh = maxY - minY + 1;
  // Ring around the blob's bounding box: how much the disc stands out, and the glow around it.
  let ring = 0,
    ringN = 0;
  const pad = Math.max(2, Math.round(Math.max(bw, bh) * 0.5));
  for (let y = Math.max(0, minY - pad); y <= Math.min(h - 1, maxY + pad); y++) {
    for (let x = Math.max(0, minX - pad); x <= Math.min(w - 1, maxX + pad); x++) {
      if (x >= minX && x <= maxX && y >= minY && y <= maxY) continue;
      ring += lum[y * w + x]!;
      ringN++;
    }
  }
  const a = Math.max(1, area);
  const mL = d.dl / a;
  const fill = area / Math.max(1, bw * bh); // a disc fills π/4 of its box
  const roundness = area > 3 ? (Math.max(0, 1 - Math.abs(fill - Math.PI / 4) * 3) * Math.min(bw, bh)) / Math.max(bw, bh) : 0;
  out.push(
    Math.sqrt(area / n),
    roundness,
    roundness * Math.sqrt(area / n) * 4,
    d.sx / a / w,
    d.sy / a / h,
    mL - (ringN ? ring / ringN : mL),
    d.dsat / a,
    d.dc / a,
    d.ds2 / a,
    d.dss / a,
    Math.sqrt(Math.max(0, d.dl2 / a - mL * mL)) * 10,
    peak,
  );
}

/**
 * points: bright pixels standing out of their 3×3 neighbourhood in the top half (stars are sub-pixel
 * dots on a 128 px thumbnail: small, faint tops), by contrast threshold. Returns the sky's darkness
 * (1 − mean luminance of the top half), which gates the points and closes the clouds group.
 */
function appendPoints(lum: Float32Array, w: number, h: number, out: number[]): number {
  const thrs = [0.03, 0.08, 0.15];
  const cnts = [0, 0, 0];
  let skyL = 0,
    skyN = 0;
  const half = Math.floor(h / 2);
  for (let y = 1; y < half; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const v = lum[i]!;
      skyL += v;
      skyN++;
      let mx = -1,
        s8 = 0;
      for (const j of [i - w - 1, i - w, i - w + 1, i - 1, i + 1, i + w - 1, i + w, i + w + 1]) {
        const u = lum[j]!;
        s8 += u;
        if (u > mx) mx = u;
      }
      if (v < mx) continue;
      const c = v - s8 / 8;
      for (let t = 0; t < 3; t++) if (c > thrs[t]!) cnts[t]!++;
    }
  }
  const darkSky = 1 - skyL / Math.max(1, skyN);
  const skyArea = Math.max(1, skyN);
  for (let t = 0; t < 3; t++) out.push(Math.sqrt(cnts[t]! / skyArea) * 4);
  for (let t = 0; t < 3; t++) out.push(Math.sqrt(cnts[t]! / skyArea) * 4 * darkSky * darkSky);
  return darkSky;
}

/**
 * clouds: in the top 45% rows, pixels brighter and less saturated than their row's median (a sky
 * gradient is constant along a row; a cloud is a soft bright, paler shape on it).
 */
function appendClouds(lum: Float32Array, sat: Float32Array, w: number, h: number, darkSky: number, out: number[]): void {
  const rows = Math.floor(h * 0.45);
  let dev = 0,
    brightPale = 0,
    brightPale2 = 0,
    rowVar = 0,
    rowsN = 0,
    wide = 0;
  const rowL = new Float32Array(w);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < w; x++) rowL[x] = lum[y * w + x]!;
    const sorted = Float32Array.from(rowL).sort();
    const med = sorted[w >> 1]!;
    let rs = 0,
      run = 0;
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const d = lum[p]! - med;
      dev += Math.abs(d);
      rs += d * d;
      if (d > 0.03 && sat[p]! < 0.6) {
        brightPale++;
        run++;
      } else {
        if (run >= w / 8) wide++;
        run = 0;
      }
      if (d > 0.08) brightPale2++;
    }
    if (run >= w / 8) wide++;
    rowVar += Math.sqrt(rs / w);
    rowsN++;
  }
  const cells = Math.max(1, rows * w);
  out.push(
    (dev / cells) * 10,
    brightPale / cells,
    brightPale2 / cells,
    (rowVar / Math.max(1, rowsN)) * 5,
    wide / Math.max(1, rowsN),
    darkSky,
  );
}

/** Appends the v3 scene groups (skyGradient … clouds) to `out`, in FEATURE_GROUPS order. */
export function appendSceneFeatures(rgb: Uint8Array, lum: Float32Array, sat: Float32Array, w: number, h: number, out: number[]): void {
  appendSkyGradient(rgb, lum, sat, w, h, out);
  appendWarmCool(rgb, lum, sat, w, h, out);
  appendDisc(rgb, lum, sat, w, h, out);
  const darkSky = appendPoints(lum, w, h, out);
  appendClouds(lum, sat, w, h, darkSky, out);
}

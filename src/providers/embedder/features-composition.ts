/**
 * The `features` descriptors that are about arrangement rather than colour: pixelGrid (v3, on the image
 * before downscaling) and composition (v4). Pure.
 */
import { lumGradients, type FullImage } from './features-pixels';

/**
 * pixelGrid: blockiness of the image BEFORE downscaling — pixel art is a coarse grid upscaled with
 * nearest neighbour and posterized, so exactly equal neighbours come in runs of the block size and
 * the exact palette is small; a thumbnail's resampling blurs both away.
 */
export function appendPixelGrid(img: FullImage, out: number[]): void {
  const { rgb, w, h } = img;
  let eqH = 0,
    eqV = 0,
    pairsH = 0,
    pairsV = 0;
  const runs = new Float64Array(4); // pixels in horizontal runs of length 1, 2–3, 4–8, > 8
  const seen = new Set<number>();
  for (let y = 0; y < h; y++) {
    let run = 1;
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const o = (row + x) * 3;
      if (seen.size <= 4096) seen.add((rgb[o]! << 16) | (rgb[o + 1]! << 8) | rgb[o + 2]!);
      if (y + 1 < h) {
        const q = o + w * 3;
        pairsV++;
        if (rgb[o] === rgb[q] && rgb[o + 1] === rgb[q + 1] && rgb[o + 2] === rgb[q + 2]) eqV++;
      }
      if (x + 1 < w) {
        pairsH++;
        if (rgb[o] === rgb[o + 3] && rgb[o + 1] === rgb[o + 4] && rgb[o + 2] === rgb[o + 5]) {
          eqH++;
          run++;
          continue;
        }
      }
      runs[run === 1 ? 0 : run <= 3 ? 1 : run <= 8 ? 2 : 3]! += run;
      run = 1;
    }
  }
  const n = Math.max(1, w * h);
  out.push(eqH / Math.max(1, pairsH), eqV / Math.max(1, pairsV));
  for (let k = 0; k < 4; k++) out.push(runs[k]! / n);
  out.push(Math.log2(1 + seen.size) / 12, seen.size <= 64 ? 1 : 64 / seen.size);
}

/**
 * composition (v4). Why these: global statistics and coarse grids see *what colours* are where, but not
 * how a picture is arranged — whether its shapes mirror each other, whether the subject sits in the
 * middle or on a third. Those are composition choices people react to. Four numbers, each kept because
 * it explained a composition choice in src/eval/features-diagnose.ts (block-mean mirror correlations,
 * centroid offsets and clutter counts were tried and dropped: they added nothing):
 *  0–1  share of strong-edge pixels whose mirror pixel is also an edge of the same colour (exact
 *       mirroring of shapes; sky gradients, symmetric in every picture, have no strong edges), over
 *       the whole image and over its lower 60%
 *  2    share of the vertical-edge mass (trunks, towers, figures, peaks) in the middle fifth of the width
 *  3    share of the salient mass (luminance far from its row's mean: what stands out of the sky and
 *       ground) in the middle fifth
 */
export function appendComposition(rgb: Uint8Array, lum: Float32Array, w: number, h: number, out: number[]): void {
  const n = w * h;
  const { gx, gy } = lumGradients(lum, w, h);
  const mag = new Float32Array(n);
  const gxAbs = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    mag[i] = Math.sqrt(gx[i]! * gx[i]! + gy[i]! * gy[i]!);
    gxAbs[i] = Math.abs(gx[i]!);
  }
  const strong = 0.08;
  const y0Low = Math.floor(h * 0.4);
  let edges = 0,
    mirrored = 0,
    edgesLow = 0,
    mirroredLow = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      if (mag[i]! < strong) continue;
      const j = y * w + (w - 1 - x);
      const d =
        Math.abs(rgb[i * 3]! - rgb[j * 3]!) + Math.abs(rgb[i * 3 + 1]! - rgb[j * 3 + 1]!) + Math.abs(rgb[i * 3 + 2]! - rgb[j * 3 + 2]!);
      const hit = mag[j]! >= strong * 0.5 && d < 40 ? 1 : 0;
      edges++;
      mirrored += hit;
      if (y >= y0Low) {
        edgesLow++;
        mirroredLow += hit;
      }
    }
  }
  out.push(edges ? mirrored / edges : 0, edgesLow ? mirroredLow / edgesLow : 0);

  const middleShare = (mass: Float32Array) => {
    let tot = 0,
      mid = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const m = mass[y * w + x]!;
        tot += m;
        const fx = (x + 0.5) / w;
        if (fx >= 0.4 && fx < 0.6) mid += m;
      }
    }
    return tot > 1e-9 ? mid / tot : 0.2;
  };
  const salient = new Float32Array(n);
  for (let y = 0; y < h; y++) {
    let m = 0;
    for (let x = 0; x < w; x++) m += lum[y * w + x]!;
    m /= w;
    for (let x = 0; x < w; x++) {
      const dv = Math.abs(lum[y * w + x]! - m);
      salient[y * w + x] = dv > 0.12 ? dv : 0;
    }
  }
  out.push(middleShare(gxAbs), middleShare(salient));
}

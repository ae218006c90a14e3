/**
 * Pixel-level helpers shared by the `features` descriptors: colour conversions (sRGB ↔ linear light,
 * CIE Lab, hue and its warm score) and luminance gradients. Pure.
 */

/** The image before downscaling (RGB, row-major), for descriptors a thumbnail would blur away. */
export interface FullImage {
  rgb: Uint8Array;
  w: number;
  h: number;
}

function srgbToLinear(c: number): number {
  const x = c / 255;
  return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
}

/** Linear-light value of each 8-bit sRGB level (averaging colours is only meaningful in linear light). */
export const LINEAR = Float64Array.from({ length: 256 }, (_, i) => srgbToLinear(i));

/** Back from linear light to a 0..255 sRGB float (not rounded: rgbToLab takes floats). */
export function linearToSrgb(v: number): number {
  return 255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * Math.pow(v, 1 / 2.4) - 0.055);
}

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

/** Lab of a cell's mean colour, given its summed linear R, G, B and pixel count (averaged in linear light). */
export function meanLab(sumR: number, sumG: number, sumB: number, count: number): [number, number, number] {
  return rgbToLab(linearToSrgb(sumR / count), linearToSrgb(sumG / count), linearToSrgb(sumB / count));
}

/** Hue in degrees (0..360) of an RGB triple, or −1 for grays. */
export function hueOf(r: number, g: number, b: number): number {
  const max = Math.max(r, g, b),
    min = Math.min(r, g, b);
  if (max === min) return -1;
  const d = max - min;
  const hh = max === r ? ((g - b) / d + 6) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  return hh * 60;
}

export const DEG = Math.PI / 180;
/** Warm score of a hue: +1 at orange (30°), −1 at sky blue (210°) — the axis sketch warmth pulls hues along. */
export const warmOf = (hue: number) => Math.cos((hue - 30) * DEG);

/** Central-difference luminance gradients (zero on the 1-px border). */
export function lumGradients(lum: Float32Array, w: number, h: number): { gx: Float32Array; gy: Float32Array } {
  const gx = new Float32Array(w * h);
  const gy = new Float32Array(w * h);
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      gx[i] = lum[i + 1]! - lum[i - 1]!;
      gy[i] = lum[i + w]! - lum[i - w]!;
    }
  }
  return { gx, gy };
}

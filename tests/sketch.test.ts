import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { parseSketchPrompt } from '../src/providers/imagegen/sketch/parse';
import { renderSketch } from '../src/providers/imagegen/sketch/render';
import { buildSketchSvg } from '../src/providers/imagegen/sketch/svg';
import { SketchGenerator } from '../src/providers/imagegen/sketch/generator';
import { CancelledError } from '../src/core/errors';

const SIZE = 128;

async function pixels(png: Buffer): Promise<{ rgb: Buffer; w: number; h: number }> {
  const { data, info } = await sharp(png).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { rgb: data, w: info.width, h: info.height };
}

async function render(prompt: string, seed = 1, size = SIZE): Promise<Buffer> {
  return renderSketch(parseSketchPrompt(prompt), { seed, size });
}

/** Mean over pixels of a per-pixel statistic. */
async function stat(png: Buffer, f: (r: number, g: number, b: number) => number): Promise<number> {
  const { rgb, w, h } = await pixels(png);
  let s = 0;
  for (let i = 0; i < w * h; i++) s += f(rgb[i * 3]!, rgb[i * 3 + 1]!, rgb[i * 3 + 2]!);
  return s / (w * h);
}
const redMinusBlue = (png: Buffer) => stat(png, (r, _g, b) => r - b);
const luminance = (png: Buffer) => stat(png, (r, g, b) => 0.2126 * r + 0.7152 * g + 0.0722 * b);
const saturation = (png: Buffer) =>
  stat(png, (r, g, b) => {
    const mx = Math.max(r, g, b);
    return mx ? (mx - Math.min(r, g, b)) / mx : 0;
  });

/** Share of pixels with a strong horizontal or vertical luminance step. */
async function edgeDensity(png: Buffer): Promise<number> {
  const { rgb, w, h } = await pixels(png);
  const L = (x: number, y: number) => {
    const i = (y * w + x) * 3;
    return 0.2126 * rgb[i]! + 0.7152 * rgb[i + 1]! + 0.0722 * rgb[i + 2]!;
  };
  let n = 0;
  for (let y = 0; y < h - 1; y++)
    for (let x = 0; x < w - 1; x++) if (Math.abs(L(x + 1, y) - L(x, y)) + Math.abs(L(x, y + 1) - L(x, y)) > 24) n++;
  return n / ((w - 1) * (h - 1));
}

/** Mean over several seeds, so a claim is about the prompt and not one lucky layout. */
async function overSeeds(prompt: string, f: (png: Buffer) => Promise<number>, seeds = [1, 2, 3, 4], size = SIZE): Promise<number> {
  let s = 0;
  for (const seed of seeds) s += await f(await render(prompt, seed, size));
  return s / seeds.length;
}

describe('parseSketchPrompt', () => {
  it('reads colors, mood, subjects, composition and medium', () => {
    const s = parseSketchPrompt('A busy watercolor of red mountains and the sea at golden hour');
    expect(s.colorWords).toEqual(['red']);
    expect(s.moodWords).toContain('golden hour');
    expect(s.lighting).toBe('golden');
    expect(s.subjects).toEqual(expect.arrayContaining(['mountains', 'sea']));
    expect(s.subjectsExplicit).toBe(true);
    expect(s.composition).toBe('busy');
    expect(s.medium).toBe('watercolor');
    expect(s.warmth).toBeGreaterThan(0.5);
    expect(parseSketchPrompt('pixel art city').medium).toBe('pixel');
    expect(parseSketchPrompt('an oil painting of a forest').medium).toBe('oil');
    expect(parseSketchPrompt('ink drawing of a person').medium).toBe('ink');
    expect(parseSketchPrompt('ink drawing of a person').subjects).toContain('figure');
    expect(parseSketchPrompt('neon city').lighting).toBe('neon');
    expect(parseSketchPrompt('starry night').lighting).toBe('night');
  });

  it('orders the interpretable knobs as the words say', () => {
    expect(parseSketchPrompt('warm sunset').warmth).toBeGreaterThan(parseSketchPrompt('cool blue night').warmth);
    expect(parseSketchPrompt('bright sunny meadow').brightness).toBeGreaterThan(parseSketchPrompt('dark moody meadow').brightness);
    expect(parseSketchPrompt('busy intricate city').detail).toBeGreaterThan(parseSketchPrompt('minimal city').detail);
    expect(parseSketchPrompt('vibrant sea').saturation).toBeGreaterThan(parseSketchPrompt('muted sea').saturation);
  });

  it('is pure, and unknown words still change the hash-derived parameters', () => {
    expect(parseSketchPrompt('zorblax mountains')).toEqual(parseSketchPrompt('Zorblax   mountains!'));
    const a = parseSketchPrompt('zorblax mountains');
    const b = parseSketchPrompt('quuxify mountains');
    expect(a.unknownWords).toEqual(['zorblax']);
    expect(a.variation).not.toEqual(b.variation);
  });

  it('picks subjects from the hash when none are named', () => {
    const s = parseSketchPrompt('something nobody can parse');
    expect(s.subjects.length).toBeGreaterThan(0);
    expect(s.subjectsExplicit).toBe(false);
  });

  it('emits SVG without text elements', () => {
    for (const p of ['a lighthouse named "Hope"', 'text that says hello', 'neon city']) {
      expect(buildSketchSvg(parseSketchPrompt(p), 1, 64)).not.toMatch(/<text|<tspan|font-family/);
    }
  });
});

describe('renderSketch / SketchGenerator', () => {
  it('same (prompt, seed, size) gives identical bytes; seed, size and words change them', async () => {
    const a = await render('misty mountains at golden hour', 7);
    const b = await render('misty mountains at golden hour', 7);
    expect(a.equals(b)).toBe(true);
    expect((await render('misty mountains at golden hour', 8)).equals(a)).toBe(false);
    expect((await render('misty mountains at golden hour zorblax', 7)).equals(a)).toBe(false);
    const meta = await sharp(await render('misty mountains at golden hour', 7, 96)).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 96, 96]);
  });

  it('every medium is deterministic', async () => {
    for (const m of ['watercolor', 'oil painting', 'ink', 'pixel art']) {
      const p = `${m} of a forest by the sea`;
      expect((await render(p, 3)).equals(await render(p, 3))).toBe(true);
    }
  });

  it('"warm golden hour" is redder than "cool blue night"', async () => {
    const warm = await overSeeds('warm golden hour mountains', redMinusBlue);
    const cool = await overSeeds('cool blue night mountains', redMinusBlue);
    expect(warm - cool).toBeGreaterThan(40);
  });

  it('a color word moves the mean color toward it', async () => {
    const red = await overSeeds('red abstract shapes', redMinusBlue);
    const blue = await overSeeds('blue abstract shapes', redMinusBlue);
    expect(red - blue).toBeGreaterThan(30);
    const green = await overSeeds('green abstract shapes', (png) => stat(png, (r, g, b) => g - (r + b) / 2));
    const purple = await overSeeds('purple abstract shapes', (png) => stat(png, (r, g, b) => g - (r + b) / 2));
    expect(green).toBeGreaterThan(purple + 15);
  });

  it('bright is lighter than dark/night; pastel lighter than moody', async () => {
    expect(await overSeeds('bright sunny sea', luminance)).toBeGreaterThan((await overSeeds('dark night sea', luminance)) + 50);
    expect(await overSeeds('pastel flowers', luminance)).toBeGreaterThan((await overSeeds('moody flowers', luminance)) + 30);
  });

  it('neon is more saturated than muted; ink is monochrome', async () => {
    expect(await overSeeds('neon city', saturation)).toBeGreaterThan((await overSeeds('muted city', saturation)) + 0.1);
    expect(await overSeeds('ink mountains', saturation)).toBeLessThan(0.08);
  });

  it('"minimal" has lower edge density than "busy"', async () => {
    for (const subject of ['abstract', 'city', 'flowers']) {
      const minimal = await overSeeds(`minimal ${subject}`, edgeDensity);
      const busy = await overSeeds(`busy ${subject}`, edgeDensity);
      expect(busy, subject).toBeGreaterThan(minimal * 1.5);
    }
  });

  it('watercolor is softer (blurred) than flat; pixel art is blocky', async () => {
    // Strong steps between neighbours (crisp edges) mostly vanish under the blur; paper grain is too faint to count.
    const flat = await overSeeds('city with mountains', edgeDensity, [1, 2, 3], 256);
    const wc = await overSeeds('watercolor city with mountains', edgeDensity, [1, 2, 3], 256);
    expect(wc).toBeLessThan(flat * 0.5);
    // Pixel art: at 512 px the image is made of big blocks, so most horizontal neighbours are equal.
    const { rgb, w, h } = await pixels(await render('pixel art city with mountains', 1, 512));
    let same = 0;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w - 1; x++)
        if (rgb.compare(rgb, (y * w + x) * 3, (y * w + x) * 3 + 3, (y * w + x + 1) * 3, (y * w + x + 1) * 3 + 3) === 0) same++;
    expect(same / (h * (w - 1))).toBeGreaterThan(0.85);
  });

  it('symmetric scenes are mirror-symmetric', async () => {
    const { rgb, w, h } = await pixels(await render('symmetric abstract shapes', 2));
    let d = 0;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w / 2; x++)
        for (let c = 0; c < 3; c++) d += Math.abs(rgb[(y * w + x) * 3 + c]! - rgb[(y * w + (w - 1 - x)) * 3 + c]!);
    const sym = d / (h * (w / 2) * 3);
    const { rgb: r2 } = await pixels(await render('abstract shapes', 2));
    let d2 = 0;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w / 2; x++)
        for (let c = 0; c < 3; c++) d2 += Math.abs(r2[(y * w + x) * 3 + c]! - r2[(y * w + (w - 1 - x)) * 3 + c]!);
    expect(sym).toBeLessThan(3);
    expect(d2 / (h * (w / 2) * 3)).toBeGreaterThan(sym * 3);
  });

  it('subjects change the picture: a city has more vertical edges than the sea', async () => {
    const vertical = async (png: Buffer) => {
      const { rgb, w, h } = await pixels(png);
      let v = 0;
      let hz = 0;
      for (let y = 1; y < h - 1; y++)
        for (let x = 1; x < w - 1; x++) {
          const i = (y * w + x) * 3;
          v += Math.abs(rgb[i + 3]! - rgb[i - 3]!);
          hz += Math.abs(rgb[i + w * 3]! - rgb[i - w * 3]!);
        }
      return v / (hz + 1);
    };
    expect(await overSeeds('city skyline', vertical)).toBeGreaterThan(await overSeeds('calm sea', vertical));
  });

  it('renders 150 random prompts without crashing (resvg panics abort the process)', async () => {
    const words = [
      'red',
      'teal',
      'gold',
      'warm',
      'cool',
      'neon',
      'pastel',
      'night',
      'golden hour',
      'busy',
      'minimal',
      'symmetric',
      'centered',
      'mountains',
      'sea',
      'city',
      'forest',
      'figure',
      'abstract',
      'moon',
      'sun',
      'flowers',
      'desert',
      'stars',
      'clouds',
      'ink',
      'watercolor',
      'pixel art',
      'oil',
      'zorblax',
    ];
    let s = 99;
    const r = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
    for (let i = 0; i < 150; i++) {
      const p = Array.from({ length: 1 + Math.floor(r() * 6) }, () => words[Math.floor(r() * words.length)]).join(' ');
      const png = await render(p, i, 48);
      expect(png.subarray(1, 4).toString()).toBe('PNG');
    }
  });

  it('SketchGenerator reports metadata, honours size and abort', async () => {
    const gen = new SketchGenerator({ size: 64 });
    expect(gen.name).toBe('sketch');
    expect(gen.concurrency).toBeGreaterThanOrEqual(1);
    const out = await gen.generate('teal sea', { seed: 5 });
    expect(out).toMatchObject({ generator: 'sketch', model: gen.model, seed: 5, costUsd: 0 });
    expect((await sharp(out.bytes).metadata()).width).toBe(64);
    expect((await gen.generate('teal sea', { seed: 5 })).bytes.equals(out.bytes)).toBe(true);
    const ac = new AbortController();
    ac.abort();
    await expect(gen.generate('teal sea', { signal: ac.signal })).rejects.toBeInstanceOf(CancelledError);
    expect(gen.describe()).toMatch(/stand-in/);
  });
});

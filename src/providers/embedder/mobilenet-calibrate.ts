/**
 * Writes mobilenet-standardization.data.ts: the mean and scale of each of MobileNetV2's 1,280 pooled
 * activations over a fixed reference set — the 84 starter prompts (20 onboarding + 64 gallery) rendered
 * by the built-in sketch renderer at two seeds each, i.e. the images every install starts from.
 *
 *   npx tsx src/providers/embedder/mobilenet-calibrate.ts [--dry]
 *
 * The scale has a floor (a quarter of the median spread): some units barely fire on the reference set,
 * and dividing by their tiny spread would let one stray activation on a real photograph dominate the
 * vector. Regenerating with different images or rules must change MOBILENET_STANDARDIZATION_ID (the
 * embedder's modelId carries it), so vectors standardized differently are never mixed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GALLERY_PROMPTS, ONBOARDING_PROMPTS } from '../../core/gallery';
import { SketchGenerator } from '../imagegen/sketch/generator';
import { MOBILENET_DIM } from './mobilenet-model';
import { MobileNetEmbedder } from './mobilenet';

/** Bump when the reference set or the rules below change. */
const STANDARDIZATION_ID = 'z1';
const SEED_OFFSETS = [0, 7919];
const SCALE_FLOOR_OF_MEDIAN = 0.25;
const DATA_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'mobilenet-standardization.data.ts');

async function referenceImages(): Promise<Buffer[]> {
  const sketch = new SketchGenerator({ size: 512, concurrency: 2 });
  const prompts = [...ONBOARDING_PROMPTS, ...GALLERY_PROMPTS];
  const jobs = prompts.flatMap((p) => SEED_OFFSETS.map((offset) => ({ prompt: p.prompt, seed: p.seed + offset })));
  return Promise.all(jobs.map(async (j) => (await sketch.generate(j.prompt, { seed: j.seed, size: 512 })).bytes));
}

function meanAndScale(rows: Float32Array[]): { mean: number[]; scale: number[]; floored: number } {
  const mean = new Array<number>(MOBILENET_DIM).fill(0);
  const variance = new Array<number>(MOBILENET_DIM).fill(0);
  for (const r of rows) for (let j = 0; j < MOBILENET_DIM; j++) mean[j]! += r[j]! / rows.length;
  for (const r of rows) for (let j = 0; j < MOBILENET_DIM; j++) variance[j]! += (r[j]! - mean[j]!) ** 2 / (rows.length - 1);
  const std = variance.map(Math.sqrt);
  const median = [...std].sort((a, b) => a - b)[Math.floor(std.length / 2)]!;
  const floor = Math.max(SCALE_FLOOR_OF_MEDIAN * median, 1e-6);
  return { mean, scale: std.map((s) => Math.max(s, floor)), floored: std.filter((s) => s < floor).length };
}

function numbers(values: number[]): string {
  const text = values.map((v) => Number(v.toPrecision(4)).toString());
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 16) lines.push(`  ${text.slice(i, i + 16).join(', ')},`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const dry = process.argv.includes('--dry');
  const images = await referenceImages();
  const embedder = new MobileNetEmbedder();
  try {
    const rows = await embedder.pooled(images);
    const { mean, scale, floored } = meanAndScale(rows);
    const block = [
      '// STANDARDIZATION:BEGIN',
      `export const MOBILENET_STANDARDIZATION_ID = '${STANDARDIZATION_ID}';`,
      `export const MOBILENET_MEAN: readonly number[] = [\n${numbers(mean)}\n];`,
      `export const MOBILENET_SCALE: readonly number[] = [\n${numbers(scale)}\n];`,
      '// STANDARDIZATION:END',
    ].join('\n');
    const header = readFileSync(DATA_FILE, 'utf8').split('// STANDARDIZATION:BEGIN')[0]!;
    console.log(`${rows.length} reference images; ${floored} of ${MOBILENET_DIM} dimensions at the scale floor`);
    if (!dry) writeFileSync(DATA_FILE, `${header}${block}\n`);
  } finally {
    await embedder.close();
  }
}

await main();

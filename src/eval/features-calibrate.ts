/**
 * Recomputes the `features` embedder's standardization constants (FEATURE_MEAN / FEATURE_SCALE) from
 * sketch renders of the gallery prompts plus random word mixes, and rewrites them in
 * src/providers/embedder/features-calibration.data.ts between the CALIBRATION markers.
 *   npx tsx src/eval/features-calibrate.ts [--n 400] [--dry]
 * After changing the constants, bump FEATURES_MODEL_ID so old cached vectors are not mixed in.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GALLERY_PROMPTS, ONBOARDING_PROMPTS } from '../core/gallery';
import { decodeForFeatures, extractFeatures, FEATURE_DIM, FEATURES_THUMB } from '../providers/embedder/features';
import { parseSketchPrompt } from '../providers/imagegen/sketch/parse';
import { renderSketch } from '../providers/imagegen/sketch/render';

const WORDS = {
  color: [
    'red',
    'blue',
    'teal',
    'gold',
    'green',
    'purple',
    'pink',
    'orange',
    'navy',
    'crimson',
    'lavender',
    'black',
    'white',
    'cyan',
    'amber',
    '',
  ],
  mood: [
    'warm',
    'cool',
    'moody',
    'neon',
    'pastel',
    'golden hour',
    'night',
    'bright',
    'muted',
    'misty',
    'stormy',
    'vibrant',
    'dark',
    'sunset',
    '',
  ],
  subject: [
    'mountains',
    'sea',
    'city',
    'forest',
    'figure',
    'abstract',
    'sun',
    'moon',
    'flowers',
    'desert',
    'stars',
    'clouds',
    'lighthouse',
    'garden',
  ],
  comp: ['centered', 'symmetric', 'minimal', 'busy', '', ''],
  medium: ['watercolor', 'ink', 'pixel art', 'oil painting', '', '', ''],
};

function pick<T>(arr: readonly T[], r: () => number): T {
  return arr[Math.floor(r() * arr.length)]!;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const n = Number(argv[argv.indexOf('--n') + 1] ?? 400) || 400;
  const dry = argv.includes('--dry');
  let s = 12345;
  const r = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  const prompts = [...ONBOARDING_PROMPTS, ...GALLERY_PROMPTS].map((p) => ({ prompt: p.prompt, seed: p.seed }));
  while (prompts.length < n) {
    const parts = [
      pick(WORDS.color, r),
      pick(WORDS.mood, r),
      pick(WORDS.subject, r),
      r() < 0.4 ? pick(WORDS.subject, r) : '',
      pick(WORDS.comp, r),
      pick(WORDS.medium, r),
    ];
    prompts.push({ prompt: parts.filter(Boolean).join(' '), seed: Math.floor(r() * 1e6) });
  }
  const sum = new Float64Array(FEATURE_DIM);
  const sum2 = new Float64Array(FEATURE_DIM);
  for (let i = 0; i < prompts.length; i++) {
    const p = prompts[i]!;
    if (process.env.CALIB_DEBUG) process.stderr.write(JSON.stringify(p) + '\n');
    const png = await renderSketch(parseSketchPrompt(p.prompt), { seed: p.seed, size: 256 });
    const { thumb, full } = await decodeForFeatures(png);
    const f = extractFeatures(thumb, FEATURES_THUMB, FEATURES_THUMB, full);
    for (let d = 0; d < FEATURE_DIM; d++) {
      sum[d]! += f[d]!;
      sum2[d]! += f[d]! * f[d]!;
    }
    if (i % 50 === 0) process.stderr.write(`${i}/${prompts.length}\n`);
  }
  const N = prompts.length;
  const mean = Array.from(sum, (v) => v / N);
  // Scale floor: a dimension that barely varies across renders must not explode on real photos.
  const scale = Array.from(sum2, (v, d) => Math.max(Math.sqrt(Math.max(0, v / N - mean[d]! * mean[d]!)), 0.01));
  const fmt = (a: number[]) => a.map((x) => Number(x.toPrecision(4))).join(', ');
  const block = `// CALIBRATION:BEGIN\nexport const FEATURE_MEAN: readonly number[] = [${fmt(mean)}];\nexport const FEATURE_SCALE: readonly number[] = [${fmt(scale)}];\n// CALIBRATION:END`;
  if (dry) {
    console.log(block);
    return;
  }
  const file = fileURLToPath(new URL('../providers/embedder/features-calibration.data.ts', import.meta.url));
  const text = readFileSync(file, 'utf8').replace(/\/\/ CALIBRATION:BEGIN[\s\S]*?\/\/ CALIBRATION:END/, block);
  writeFileSync(file, text);
  console.log(`wrote constants from ${N} renders to ${file}`);
}

void main();

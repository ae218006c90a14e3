/**
 * Render prompts with the offline sketch generator, for a quick look:
 *   npm run render -- "a prompt" [--seed N] [--size 512] [--out file.png] [--spec]
 * Several prompts may be given; with more than one, --out names a contact sheet (grid).
 */
import { writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { parseSketchPrompt } from '../providers/imagegen/sketch/parse';
import { renderSketch } from '../providers/imagegen/sketch/render';

function parseArgs(argv: string[]): { prompts: string[]; seed: number; size: number; out: string; spec: boolean } {
  const prompts: string[] = [];
  let seed = 0;
  let size = 512;
  let out = 'sketch.png';
  let spec = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--seed') seed = Number(argv[++i]);
    else if (a === '--size') size = Number(argv[++i]);
    else if (a === '--out') out = argv[++i] ?? out;
    else if (a === '--spec') spec = true;
    else prompts.push(a);
  }
  if (!prompts.length || !Number.isFinite(seed) || !Number.isFinite(size)) {
    console.error('usage: npm run render -- "a prompt" ["another prompt" …] [--seed N] [--size 512] [--out file.png] [--spec]');
    process.exit(2);
  }
  return { prompts, seed, size, out, spec };
}

async function main(): Promise<void> {
  const { prompts, seed, size, out, spec } = parseArgs(process.argv.slice(2));
  const tiles: Buffer[] = [];
  for (const p of prompts) {
    const s = parseSketchPrompt(p);
    if (spec)
      console.error(
        JSON.stringify({
          prompt: p,
          lighting: s.lighting,
          warmth: s.warmth,
          brightness: s.brightness,
          saturation: s.saturation,
          detail: s.detail,
          composition: s.composition,
          medium: s.medium,
          subjects: s.subjects,
        }),
      );
    const t0 = performance.now();
    tiles.push(await renderSketch(s, { seed, size }));
    console.error(`${(performance.now() - t0).toFixed(1)} ms  ${p}`);
  }
  if (tiles.length === 1) {
    writeFileSync(out, tiles[0]!);
  } else {
    const cols = Math.ceil(Math.sqrt(tiles.length));
    const rows = Math.ceil(tiles.length / cols);
    const sheet = await sharp({ create: { width: cols * size, height: rows * size, channels: 3, background: '#ffffff' } })
      .composite(tiles.map((input, i) => ({ input, left: (i % cols) * size, top: Math.floor(i / cols) * size })))
      .png()
      .toBuffer();
    writeFileSync(out, sheet);
  }
  console.log(out);
}

void main();

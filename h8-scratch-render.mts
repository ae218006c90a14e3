import { writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { parseSketchPrompt } from './src/providers/imagegen/sketch/parse';
import { renderSketch } from './src/providers/imagegen/sketch/render';
const prompts = process.argv.slice(2);
const tiles = [];
for (const p of prompts) tiles.push(await renderSketch(parseSketchPrompt(p), { seed: 3, size: 256 }));
const cols = 4, rows = Math.ceil(tiles.length / cols);
const img = await sharp({ create: { width: cols * 256, height: rows * 256, channels: 3, background: '#fff' } })
  .composite(tiles.map((t, i) => ({ input: t, left: (i % cols) * 256, top: Math.floor(i / cols) * 256 }))).png().toBuffer();
writeFileSync('/tmp/h8grid.png', img);

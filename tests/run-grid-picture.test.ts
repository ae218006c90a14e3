/** The iteration grid picture: layout by tile count, numbered badges, grey tiles for missing images. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { inProcessChartRenderer } from '../src/charts/render';
import { gridColumns, MAX_GRID_TILES, runGridPicture, type RunGridTile } from '../src/core/run-grid-picture';

const solid = (r: number, g: number, b: number) =>
  sharp({ create: { width: 64, height: 64, channels: 3, background: { r, g, b } } })
    .png()
    .toBuffer();

/** Mean colour of a square region, as r,g,b. */
async function meanColour(png: Buffer, left: number, top: number, size: number): Promise<number[]> {
  const { data, info } = await sharp(png).extract({ left, top, width: size, height: size }).raw().toBuffer({ resolveWithObject: true });
  const sums = [0, 0, 0];
  for (let i = 0; i < data.length; i += info.channels) for (let c = 0; c < 3; c++) sums[c]! += data[i + c]!;
  return sums.map((s) => s / (data.length / info.channels));
}

describe('run grid picture', () => {
  it('lays out 1, 2×2, 3×3 and 4×4 grids', () => {
    expect([1, 2, 4, 5, 9, 10, 16].map(gridColumns)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });

  it('places each tile by its position and badges it; a missing image is a grey tile', async () => {
    const tiles: RunGridTile[] = [
      { number: 1, png: await solid(255, 0, 0), score: 7.4 },
      { number: 2, png: await solid(0, 0, 255), score: 5 },
      { number: 3, png: null, score: null, missingReason: 'withheld' },
      { number: 4, png: await solid(0, 255, 0), score: 9.9 },
    ];
    const png = await runGridPicture(inProcessChartRenderer, tiles);
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height]).toEqual([6 + 2 * 262, 6 + 2 * 262]);
    // Sample each tile's lower-right area, away from the badge.
    const at = (col: number, row: number) => meanColour(png, 6 + col * 262 + 180, 6 + row * 262 + 180, 40);
    const [red, blue, grey, green] = await Promise.all([at(0, 0), at(1, 0), at(0, 1), at(1, 1)]);
    expect(red[0]).toBeGreaterThan(200);
    expect(blue[2]).toBeGreaterThan(200);
    expect(green[1]).toBeGreaterThan(200);
    expect(Math.abs(grey[0]! - grey[2]!)).toBeLessThan(10);
    expect(grey[0]).toBeGreaterThan(150);
    // The badge is dark where the tile is red.
    const badge = await meanColour(png, 6 + 8, 6 + 10, 10);
    expect(badge[0]).toBeLessThan(120);
  });

  it('refuses an empty grid and one past 4×4', async () => {
    await expect(runGridPicture(inProcessChartRenderer, [])).rejects.toThrow(/1–16 tiles/);
    const many = Array.from({ length: MAX_GRID_TILES + 1 }, (_, i) => ({ number: i + 1, png: null, score: null }));
    await expect(runGridPicture(inProcessChartRenderer, many)).rejects.toThrow(/got 17/);
  });
});

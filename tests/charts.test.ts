import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { barChart, chartFontFiles, heatmap, histogram, lineChart, svgToPng } from '../src/charts/render';

/** Count of pixels darker than mid-grey in a region: text and lines are dark on the white background. */
async function darkPixels(png: Buffer, region?: { left: number; top: number; width: number; height: number }): Promise<number> {
  let img = sharp(png).removeAlpha().greyscale();
  if (region) img = img.extract(region);
  const { data } = await img.raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (const v of data) if (v < 128) n++;
  return n;
}

describe('charts (Vega-Lite → SVG → resvg PNG)', () => {
  it('finds a font on this machine without downloading anything', () => {
    // resvg also loads fontconfig folders; this checks the explicit DejaVu fallback is there too.
    expect(chartFontFiles().length).toBeGreaterThan(0);
  });

  it('renders text with the local fonts (a bare SVG <text> is not blank)', async () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="5" y="28" font-family="DejaVu Sans" font-size="24" fill="black">Tasteloop</text></svg>`;
    const png = svgToPng(svg);
    expect(await darkPixels(png)).toBeGreaterThan(100);
  });

  it('lineChart gives a PNG of the requested size whose title is drawn', async () => {
    const series = [
      {
        name: 'maml',
        points: [
          { x: 10, y: 0.3, lo: 0.2, hi: 0.4 },
          { x: 50, y: 0.5 },
          { x: 100, y: 0.6 },
        ],
      },
      {
        name: 'knn',
        points: [
          { x: 10, y: 0.2 },
          { x: 50, y: 0.4 },
          { x: 100, y: 0.5 },
        ],
      },
    ];
    const titled = await lineChart(series, {
      title: 'SROCC vs number of ratings',
      width: 500,
      height: 300,
      xTitle: 'ratings',
      yTitle: 'SROCC',
    });
    const meta = await sharp(titled).metadata();
    expect(meta.format).toBe('png');
    expect([meta.width, meta.height]).toEqual([500, 300]);
    // The title sits in the top strip; without a title that strip holds (almost) nothing dark.
    const untitled = await lineChart(series, { width: 500, height: 300 });
    const strip = { left: 0, top: 0, width: 250, height: 18 };
    expect(await darkPixels(titled, strip)).toBeGreaterThan(40);
    expect(await darkPixels(titled, strip)).toBeGreaterThan(4 * (await darkPixels(untitled, strip)) + 20);
  });

  it('scale multiplies the pixel size', async () => {
    const png = await lineChart(
      [
        {
          name: 'a',
          points: [
            { x: 0, y: 0 },
            { x: 1, y: 1 },
          ],
        },
      ],
      { width: 200, height: 120, scale: 2 },
    );
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height]).toEqual([400, 240]);
  });

  it('barChart, heatmap and histogram give non-blank PNGs of the requested size', async () => {
    const charts = [
      await barChart(
        [
          { label: '10', group: 'a', value: 0.3, error: 0.1 },
          { label: '10', group: 'b', value: 0.4 },
          { label: '50', group: 'a', value: 0.5 },
          { label: '50', group: 'b', value: 0.6, error: 0.05 },
        ],
        { title: 'bars', width: 320, height: 200 },
      ),
      await heatmap(
        [
          { x: 'a', y: 'r', value: 1 },
          { x: 'b', y: 'r', value: 2 },
          { x: 'a', y: 's', value: 3 },
          { x: 'b', y: 's', value: 4 },
        ],
        { title: 'heat', width: 320, height: 200 },
      ),
      await histogram([1, 2, 2, 3, 3, 3, 4, 5, 6, 7, 7, 8, 9, 10], { title: 'hist', width: 320, height: 200, bins: 10, extent: [1, 10] }),
    ];
    for (const png of charts) {
      const meta = await sharp(png).metadata();
      expect(meta.format).toBe('png');
      expect([meta.width, meta.height]).toEqual([320, 200]);
      expect(await darkPixels(png)).toBeGreaterThan(200);
      const stats = await sharp(png).stats();
      // Colored marks: the channels are not all equal (not a grey/blank image).
      expect(stats.channels.some((c) => c.stdev > 10)).toBe(true);
    }
  });
});

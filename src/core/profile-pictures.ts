/**
 * The pictures of a profile: a score-distribution bar chart (drawn by the ChartRenderer it is handed)
 * and a grid of top-rated and predicted-favorite images composed with sharp.
 */
import sharp, { type OverlayOptions } from 'sharp';
import type { ChartRenderer } from './ports';

/** Bar chart of how often a person gave each score 1..10 (a charting library draws it). */
export async function ratingDistributionChart(
  charts: ChartRenderer,
  scores: readonly number[],
  opts: { title?: string; width?: number; height?: number } = {},
): Promise<Buffer> {
  const counts = new Array<number>(10).fill(0);
  for (const s of scores) if (Number.isInteger(s) && s >= 1 && s <= 10) counts[s - 1]!++;
  return charts.render({
    kind: 'bar',
    bars: counts.map((value, i) => ({ label: String(i + 1), value })),
    options: {
      title: opts.title ?? `Ratings given (${scores.length})`,
      xTitle: 'score',
      yTitle: 'ratings',
      integerY: true,
      width: opts.width ?? 480,
      height: opts.height ?? 280,
    },
  });
}

export interface GridTile {
  png: Buffer;
  caption: string;
}
export interface GridRow {
  label: string;
  tiles: GridTile[];
}

const GRID_TILE = 192;
const GRID_GAP = 8;
const GRID_LABEL_H = 28;
const GRID_CAPTION_H = 22;

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A text strip rendered by resvg (the same font handling as the charts). */
function textStrip(charts: ChartRenderer, text: string, width: number, height: number, size: number, bold = false): Promise<Buffer> {
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="white"/>` +
    `<text x="4" y="${Math.round(height * 0.72)}" font-family="DejaVu Sans, sans-serif" font-size="${size}"${bold ? ' font-weight="bold"' : ''} fill="#222">${escapeXml(text)}</text></svg>`;
  return charts.render({ kind: 'svg', svg });
}

/**
 * Rows of square thumbnails with a caption under each and a label above each row, on white.
 * Width = columns × (tile + gap) + gap; every row takes label + tile + caption height.
 */
export async function imageGrid(charts: ChartRenderer, rows: readonly GridRow[], opts: { tile?: number } = {}): Promise<Buffer> {
  const tile = opts.tile ?? GRID_TILE;
  const cols = Math.max(1, ...rows.map((r) => r.tiles.length));
  const width = GRID_GAP + cols * (tile + GRID_GAP);
  const rowH = GRID_LABEL_H + tile + GRID_CAPTION_H + GRID_GAP;
  const height = GRID_GAP + rows.length * rowH;
  const layers: OverlayOptions[] = [];
  for (const [r, row] of rows.entries()) {
    const top = GRID_GAP + r * rowH;
    layers.push({ input: await textStrip(charts, row.label, width - 2 * GRID_GAP, GRID_LABEL_H, 15, true), left: GRID_GAP, top });
    for (const [c, t] of row.tiles.entries()) {
      const left = GRID_GAP + c * (tile + GRID_GAP);
      const thumb = await sharp(t.png).resize(tile, tile, { fit: 'cover' }).png().toBuffer();
      layers.push({ input: thumb, left, top: top + GRID_LABEL_H });
      layers.push({ input: await textStrip(charts, t.caption, tile, GRID_CAPTION_H, 13), left, top: top + GRID_LABEL_H + tile });
    }
  }
  return sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite(layers)
    .png()
    .toBuffer();
}

export function gridSize(rows: readonly GridRow[], tile = GRID_TILE): { width: number; height: number } {
  const cols = Math.max(1, ...rows.map((r) => r.tiles.length));
  return { width: GRID_GAP + cols * (tile + GRID_GAP), height: GRID_GAP + rows.length * (GRID_LABEL_H + tile + GRID_CAPTION_H + GRID_GAP) };
}

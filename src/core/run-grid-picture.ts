/**
 * One picture per iteration of a run: the candidates as numbered tiles of a square-ish grid (2×2 for
 * four, up to 4×4), each with its number and its predicted score on a badge, so a person sees the
 * whole iteration at a glance and acts on a tile by its number. Composed with sharp; the badges are
 * drawn by the ChartRenderer's SVG path (resvg, the same fonts as every chart).
 */
import sharp, { type OverlayOptions } from 'sharp';
import type { ChartRenderer } from './ports';

export interface RunGridTile {
  /** 1-based number shown on the tile (the same number its buttons carry). */
  number: number;
  /** The image, or null when the candidate has none to show (skipped, withheld): a grey tile says why. */
  png: Buffer | null;
  /** Predicted score on 1..10, or null when not scored. */
  score: number | null;
  /** Shown on a tile without an image ("withheld", "skipped"). */
  missingReason?: string;
}

/** Most tiles one grid shows: 4×4. */
export const MAX_GRID_TILES = 16;
const TILE_PX = 256;
const GAP_PX = 6;

/** Columns for n tiles: 1, 2 (up to 4), 3 (up to 9), 4 (up to 16). */
export function gridColumns(n: number): number {
  if (n <= 1) return 1;
  return Math.min(4, Math.ceil(Math.sqrt(n)));
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** The badge in a tile's top-left corner: "3 · 7.4" (opaque: the SVG path renders on white). */
function badgeSvg(tile: RunGridTile): string {
  const text = tile.score === null ? `${tile.number}` : `${tile.number} · ${tile.score.toFixed(1)}`;
  const width = 16 + text.length * 11;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="32">` +
    `<rect x="0" y="0" width="${width}" height="32" fill="#111"/>` +
    `<text x="8" y="23" font-family="DejaVu Sans, sans-serif" font-size="18" font-weight="bold" fill="#fff">${escapeXml(text)}</text></svg>`
  );
}

function missingTileSvg(reason: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${TILE_PX}" height="${TILE_PX}">` +
    `<rect width="100%" height="100%" fill="#d9d9d9"/>` +
    `<text x="50%" y="55%" text-anchor="middle" font-family="DejaVu Sans, sans-serif" font-size="18" fill="#555">${escapeXml(reason.slice(0, 24))}</text></svg>`
  );
}

/** Renders an SVG to PNG through the chart renderer (resvg with known fonts), as profile pictures do. */
const svgPng = (charts: ChartRenderer, svg: string) => charts.render({ kind: 'svg', svg });

/** The grid picture of one iteration (PNG). Throws when given no tile or more than MAX_GRID_TILES. */
export async function runGridPicture(charts: ChartRenderer, tiles: readonly RunGridTile[]): Promise<Buffer> {
  if (tiles.length === 0 || tiles.length > MAX_GRID_TILES)
    throw new RangeError(`a run grid shows 1–${MAX_GRID_TILES} tiles, got ${tiles.length}`);
  const cols = gridColumns(tiles.length);
  const rows = Math.ceil(tiles.length / cols);
  const width = GAP_PX + cols * (TILE_PX + GAP_PX);
  const height = GAP_PX + rows * (TILE_PX + GAP_PX);
  const layers: OverlayOptions[] = [];
  for (const [i, tile] of tiles.entries()) {
    const left = GAP_PX + (i % cols) * (TILE_PX + GAP_PX);
    const top = GAP_PX + Math.floor(i / cols) * (TILE_PX + GAP_PX);
    const body = tile.png
      ? await sharp(tile.png).resize(TILE_PX, TILE_PX, { fit: 'cover' }).png().toBuffer()
      : await svgPng(charts, missingTileSvg(tile.missingReason ?? 'no image'));
    layers.push({ input: body, left, top });
    layers.push({ input: await svgPng(charts, badgeSvg(tile)), left: left + 6, top: top + 6 });
  }
  return sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite(layers)
    .png()
    .toBuffer();
}

/**
 * The pictures a run's thread shows, drawn from stored images and scores: an iteration's grid of
 * numbered tiles (run-grid-picture.ts) and the summary's line chart of the best and mean predicted
 * score per iteration (through the ChartRenderer port, drawn off the chat process's thread).
 */
import type { ChartRenderer } from './ports';
import { runGridPicture } from './run-grid-picture';

export interface RunGridTileInput {
  number: number;
  imageId: string | null;
  score: number | null;
  missingReason?: string;
}

export interface RunPicturesApi {
  /** PNG grid of the tiles (1–16), each image read from the store. */
  grid(tiles: readonly RunGridTileInput[]): Promise<Buffer>;
  /** PNG line chart of the best and mean predicted score per iteration. */
  scoreChart(points: readonly { iteration: number; best: number; mean: number }[]): Promise<Buffer>;
}

export function createRunPictures(deps: { charts: ChartRenderer; images: { readBytes(id: string): Promise<Buffer> } }): RunPicturesApi {
  const { charts, images } = deps;
  return {
    async grid(tiles) {
      const withBytes = await Promise.all(
        tiles.map(async (t) => ({
          number: t.number,
          score: t.score,
          png: t.imageId ? await images.readBytes(t.imageId) : null,
          missingReason: t.missingReason,
        })),
      );
      return runGridPicture(charts, withBytes);
    },
    scoreChart(points) {
      // The 1–10 scale around the scores, at least two points tall, so a flat run reads as flat and not as noise.
      const ys = points.flatMap((p) => [p.best, p.mean]);
      const lo = Math.max(1, Math.floor(Math.min(...ys)) - 1);
      const hi = Math.min(10, Math.max(lo + 2, Math.ceil(Math.max(...ys)) + 1));
      return charts.render({
        kind: 'line',
        series: [
          { name: 'best', points: points.map((p) => ({ x: p.iteration, y: p.best })) },
          { name: 'mean', points: points.map((p) => ({ x: p.iteration, y: p.mean })) },
        ],
        options: {
          title: 'Predicted score per iteration',
          xTitle: 'iteration',
          yTitle: 'predicted score',
          width: 420,
          height: 220,
          yDomain: [lo, hi],
        },
      });
    },
  };
}

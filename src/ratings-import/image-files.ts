/**
 * The image files a ratings dataset names, identified the way Tasteloop's image store identifies
 * pictures: decoded and normalized (src/core/images.ts), the id being the sha256 of the normalized PNG.
 * A file that cannot be decoded sets aside every row naming it, with the reason; two files holding
 * the same picture are one image, so a rater who rated both has a duplicate row.
 */
import fs from 'node:fs';
import { normalizeImage } from '../core/images';
import { InvalidImageError } from '../core/errors';
import type { RatingRow, RejectedRow } from './ratings-file';

export interface IdentifiedRow extends RatingRow {
  /** The image store's id of the picture (sha256 of its normalized PNG). */
  imageId: string;
}

export interface IdentifiedRows {
  rows: IdentifiedRow[];
  rejected: RejectedRow[];
  /** Distinct pictures among the kept rows, in first-seen order, with the first file holding each. */
  images: { id: string; file: string; prompt?: string }[];
}

/** Normalizes every distinct file once (bounded memory: bytes are not kept) and checks the rows again by picture. */
export async function identifyImages(
  rows: readonly RatingRow[],
  onProgress?: (done: number, total: number) => void,
): Promise<IdentifiedRows> {
  const files = [...new Set(rows.map((r) => r.file))];
  const idOf = new Map<string, string>();
  const unreadable = new Map<string, string>();
  for (const [i, file] of files.entries()) {
    try {
      idOf.set(file, (await normalizeImage(fs.readFileSync(file))).id);
    } catch (err) {
      if (!(err instanceof InvalidImageError)) throw err;
      unreadable.set(file, err.message);
    }
    if ((i + 1) % 100 === 0 || i + 1 === files.length) onProgress?.(i + 1, files.length);
  }
  const out: IdentifiedRows = { rows: [], rejected: [], images: [] };
  const firstLine = new Map<string, number>();
  const seenImage = new Set<string>();
  for (const r of rows) {
    const imageId = idOf.get(r.file);
    if (!imageId) {
      out.rejected.push({ line: r.line, kind: 'unreadable-image', reason: `image "${r.image}": ${unreadable.get(r.file)}` });
      continue;
    }
    const key = `${r.rater}\u0000${imageId}`;
    const first = firstLine.get(key);
    if (first !== undefined) {
      out.rejected.push({
        line: r.line,
        kind: 'duplicate',
        reason: `rater "${r.rater}" already rated this picture on line ${first} (under another file name; the first is kept)`,
      });
      continue;
    }
    firstLine.set(key, r.line);
    out.rows.push({ ...r, imageId });
    if (!seenImage.has(imageId)) {
      seenImage.add(imageId);
      out.images.push({ id: imageId, file: r.file, ...(r.prompt ? { prompt: r.prompt } : {}) });
    }
  }
  return out;
}

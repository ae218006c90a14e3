/**
 * Images as Discord attachments: PNG, scaled down when large so every upload stays well under the
 * limits (10 MB without boosts) — even a 4096² noisy input, the worst case for PNG size, still posts.
 */
import sharp from 'sharp';

/** Longest side we send. Chat clients show far less; larger only costs upload time. */
export const MAX_UPLOAD_SIDE = 1536;
/** Target ceiling for one attachment. */
export const MAX_UPLOAD_BYTES = 4 * 1024 * 1024;

export async function encodeForUpload(bytes: Buffer): Promise<Buffer> {
  const meta = await sharp(bytes).metadata();
  const side = Math.max(meta.width ?? 0, meta.height ?? 0);
  if (meta.format === 'png' && side <= MAX_UPLOAD_SIDE && bytes.length <= MAX_UPLOAD_BYTES) return bytes;
  // Shrink step by step until the PNG fits (noise compresses badly, so size depends on content).
  for (let limit = Math.min(side, MAX_UPLOAD_SIDE); ; limit = Math.floor(limit * 0.7)) {
    const out = await sharp(bytes)
      .rotate()
      .resize({ width: limit, height: limit, fit: 'inside', withoutEnlargement: true })
      .png({ compressionLevel: 9 })
      .toBuffer();
    if (out.length <= MAX_UPLOAD_BYTES || limit <= 256) return out;
  }
}

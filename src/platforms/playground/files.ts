/**
 * Bytes of the files the playground shows with messages (OutMessage.files: profile charts, image
 * grids, a JSON export). The conversation log (playground.jsonl) keeps only each file's id, name and
 * type; the bytes live here — on disk under DATA_DIR/playground-files/ for npm start (so the log
 * stays small and a restart still serves them), in memory for tests.
 *
 * Ids are random (not derived from content): the page can only fetch files it was shown.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface PlaygroundFileStore {
  /** Stores the bytes; returns the new file's id. */
  put(data: Buffer): Promise<string>;
  /** The bytes, or null for an unknown / malformed id. */
  get(id: string): Promise<Buffer | null>;
  /** Removes the file (forget); an unknown id is a no-op. */
  delete(id: string): Promise<void>;
}

export const FILE_ID = /^[0-9a-f]{24}$/;

const newId = () => randomBytes(12).toString('hex');

export function diskFileStore(dir: string): PlaygroundFileStore {
  let ready: Promise<unknown> | null = null;
  return {
    async put(data) {
      await (ready ??= mkdir(dir, { recursive: true }));
      const id = newId();
      // Write then rename: a crash mid-write never leaves a truncated file under a served id.
      const tmp = path.join(dir, `.${id}.tmp`);
      await writeFile(tmp, data);
      await rename(tmp, path.join(dir, id));
      return id;
    },
    async get(id) {
      if (!FILE_ID.test(id)) return null;
      return readFile(path.join(dir, id)).catch(() => null);
    },
    async delete(id) {
      if (FILE_ID.test(id)) await rm(path.join(dir, id), { force: true });
    },
  };
}

export function memoryFileStore(): PlaygroundFileStore {
  const files = new Map<string, Buffer>();
  return {
    put(data) {
      const id = newId();
      files.set(id, Buffer.from(data));
      return Promise.resolve(id);
    },
    get(id) {
      return Promise.resolve(files.get(id) ?? null);
    },
    delete(id) {
      files.delete(id);
      return Promise.resolve();
    },
  };
}

/** Width and height of a PNG from its IHDR chunk (the page reserves the space before it loads). */
export function pngSize(data: Buffer): { width: number; height: number } | null {
  const PNG = '89504e470d0a1a0a';
  if (data.length < 24 || data.subarray(0, 8).toString('hex') !== PNG || data.subarray(12, 16).toString('latin1') !== 'IHDR') return null;
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

/** Longest file name kept, in characters (an export's name is far shorter). */
const MAX_FILE_NAME_CHARS = 100;

/**
 * A file name safe to put in a URL path and a Content-Disposition header: letters of any script,
 * digits, ".", "_" and "-" (a person named Zoë keeps her ë), never a path or a hidden file.
 */
export function safeFileName(name: string): string {
  const cleaned = name
    .normalize('NFC')
    .replace(/[^\p{L}\p{N}._-]+/gu, '_')
    .replace(/^[._]+/, '');
  // By code point, so a letter outside the BMP is never cut in half.
  return Array.from(cleaned).slice(0, MAX_FILE_NAME_CHARS).join('') || 'file';
}

/**
 * The Content-Disposition of a served file. A name that is not plain ASCII goes in `filename*`
 * (RFC 6266, UTF-8), with an ASCII stand-in (accents dropped) in `filename` for older clients.
 */
export function contentDisposition(disposition: 'inline' | 'attachment', name: string): string {
  const safe = safeFileName(name);
  const ascii = safe
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^A-Za-z0-9._-]+/g, '_');
  if (ascii === safe) return `${disposition}; filename="${safe}"`;
  return `${disposition}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(safe)}`;
}

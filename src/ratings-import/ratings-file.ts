/**
 * Reads a dataset of external ratings — (rater id, image file, score) rows — from CSV (with a header)
 * or JSON Lines, for `eval:piaa --ratings` and `npm run import:ratings`. Every row is checked on its
 * own: a bad one is set aside with its line and the reason (a missing value, a score that is not a
 * number or lies outside the stated scale, an image file that is not there, a repeat of an earlier
 * row) and counted, and the rest are kept. Only a file with no usable row at all is an error.
 *
 * Scores are kept as given and also mapped linearly onto Tasteloop's 1–10 scale (`score10`), so a
 * dataset rated 1–5 or 0–100 is compared on the same footing as the bot's own ratings.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DatasetError } from '../core/errors';
import { parseCsv } from './csv';

export interface RatingScale {
  low: number;
  high: number;
}

export interface ColumnNames {
  rater: string;
  image: string;
  score: string;
  /** Optional: the prompt an image was made from, stored with imported images. */
  prompt?: string;
}

export type RejectKind =
  | 'malformed'
  | 'missing-value'
  | 'bad-score'
  | 'out-of-scale'
  | 'image-missing'
  | 'duplicate'
  | 'unreadable-image'
  /** The rater asked Tasteloop to forget them (import only). */
  | 'forgotten';

export interface RejectedRow {
  line: number;
  kind: RejectKind;
  reason: string;
}

export interface RatingRow {
  line: number;
  rater: string;
  /** The image as the file names it, relative to the images folder (forward slashes). */
  image: string;
  /** Absolute path of the image file (it exists). */
  file: string;
  /** The score as given, on the dataset's scale. */
  score: number;
  /** The score mapped linearly onto 1–10 (not rounded). */
  score10: number;
  prompt?: string;
}

export interface RatingsFile {
  format: 'csv' | 'jsonl';
  columns: ColumnNames;
  scale: RatingScale;
  rows: RatingRow[];
  rejected: RejectedRow[];
}

export interface ReadRatingsOptions {
  imagesDir: string;
  /** Column (or JSON key) names, where they differ from the usual ones. */
  columns?: Partial<ColumnNames>;
  /** The scale scores are given on (default 1–10). */
  scale?: RatingScale;
}

export const DEFAULT_SCALE: RatingScale = { low: 1, high: 10 };

/** Names a column is recognized by when --columns does not name it (case-insensitive). */
const USUAL_NAMES: Record<keyof ColumnNames, string[]> = {
  rater: ['rater', 'rater_id', 'user', 'user_id', 'worker', 'worker_id', 'person'],
  image: ['image', 'image_file', 'file', 'filename', 'path'],
  score: ['score', 'rating'],
  prompt: ['prompt'],
};

/** "1-5", "0-100", "0.5-5" → the scale; anything else is a DatasetError saying how to write it. */
export function parseScale(spec: string): RatingScale {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*(?:-|–|\.\.)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(spec);
  const low = m ? Number(m[1]) : NaN;
  const high = m ? Number(m[2]) : NaN;
  if (!(high > low)) throw new DatasetError(`--scale takes the lowest and highest score, like 1-10 or 1-5 (got "${spec}")`);
  return { low, high };
}

/** "rater=worker,image=file,score=rating" → the named columns; an unknown role is a DatasetError. */
export function parseColumns(spec: string): Partial<ColumnNames> {
  const out: Partial<ColumnNames> = {};
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [role, name] = part.split('=').map((s) => s.trim());
    if (!role || !name || !(role in USUAL_NAMES))
      throw new DatasetError(
        `--columns takes role=column pairs for rater, image, score and prompt, like rater=worker,image=file (got "${part}")`,
      );
    out[role as keyof ColumnNames] = name;
  }
  return out;
}

/** Reads and checks the whole file; throws DatasetError when it cannot be read or no row is usable. */
export function readRatingsFile(file: string, opts: ReadRatingsOptions): RatingsFile {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new DatasetError(`ratings file not found: ${file}`);
  const root = path.resolve(opts.imagesDir);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new DatasetError(`images folder not found: ${root}`);
  const scale = opts.scale ?? DEFAULT_SCALE;
  const text = fs.readFileSync(file, 'utf8');
  const format = /\.jsonl?$/i.test(file) || /^\s*\{/.test(text) ? 'jsonl' : 'csv';
  const raw = format === 'csv' ? csvRows(text, opts.columns ?? {}) : jsonlRows(text, opts.columns ?? {});
  const checker = new RowChecker(root, scale);
  for (const r of raw.rows) checker.check(r);
  const rejected = [...raw.rejected, ...checker.rejected].sort((a, b) => a.line - b.line);
  if (checker.rows.length === 0) {
    const first = rejected
      .slice(0, 5)
      .map((r) => `line ${r.line}: ${r.reason}`)
      .join('; ');
    throw new DatasetError(
      `no usable rating in ${file}${rejected.length ? ` (${rejected.length} rejected rows; ${first})` : ' (it is empty)'}`,
    );
  }
  return { format, columns: raw.columns, scale, rows: checker.rows, rejected };
}

/** Rejected rows counted by kind, for reports. */
export function countByKind(rejected: readonly RejectedRow[]): Partial<Record<RejectKind, number>> {
  const out: Partial<Record<RejectKind, number>> = {};
  for (const r of rejected) out[r.kind] = (out[r.kind] ?? 0) + 1;
  return out;
}

/** One row's raw values, before checking. */
interface RawRow {
  line: number;
  rater: unknown;
  image: unknown;
  score: unknown;
  prompt?: unknown;
}

interface RawRows {
  columns: ColumnNames;
  rows: RawRow[];
  rejected: RejectedRow[];
}

function pickColumn(role: keyof ColumnNames, available: readonly string[], given: Partial<ColumnNames>): string | undefined {
  const lower = available.map((a) => a.trim().toLowerCase());
  const named = given[role];
  const wanted = named ? [named.toLowerCase()] : USUAL_NAMES[role];
  for (const w of wanted) {
    const i = lower.indexOf(w);
    if (i >= 0) return available[i]!.trim();
  }
  return undefined;
}

function requireColumns(available: readonly string[], given: Partial<ColumnNames>, where: string): ColumnNames {
  const cols: Partial<ColumnNames> = {};
  for (const role of ['rater', 'image', 'score'] as const) {
    const name = pickColumn(role, available, given);
    if (!name)
      throw new DatasetError(
        `${where} has no ${given[role] ? `"${given[role]}"` : role} column (found: ${available.join(', ') || 'nothing'}); name it with --columns ${role}=<column>`,
      );
    cols[role] = name;
  }
  const prompt = pickColumn('prompt', available, given);
  return { ...(cols as ColumnNames), ...(prompt ? { prompt } : {}) };
}

function csvRows(text: string, given: Partial<ColumnNames>): RawRows {
  const { records, unclosedQuoteAt } = parseCsv(text);
  const header = records[0];
  if (!header) throw new DatasetError('the ratings file is empty (a CSV needs a header line naming its columns)');
  const columns = requireColumns(header.fields, given, 'the CSV header');
  const at = (name: string | undefined) => (name ? header.fields.map((f) => f.trim()).indexOf(name) : -1);
  const idx = { rater: at(columns.rater), image: at(columns.image), score: at(columns.score), prompt: at(columns.prompt) };
  const rows: RawRow[] = [];
  const rejected: RejectedRow[] = [];
  for (const rec of records.slice(1)) {
    if (rec.fields.length !== header.fields.length) {
      rejected.push({
        line: rec.line,
        kind: 'malformed',
        reason: `${rec.fields.length} fields where the header has ${header.fields.length}`,
      });
      continue;
    }
    rows.push({
      line: rec.line,
      rater: rec.fields[idx.rater],
      image: rec.fields[idx.image],
      score: rec.fields[idx.score],
      ...(idx.prompt >= 0 ? { prompt: rec.fields[idx.prompt] } : {}),
    });
  }
  if (unclosedQuoteAt !== null)
    rejected.push({ line: unclosedQuoteAt, kind: 'malformed', reason: 'a quoted field is never closed (the rest of the file is ignored)' });
  return { columns, rows, rejected };
}

function jsonlRows(text: string, given: Partial<ColumnNames>): RawRows {
  const rows: RawRow[] = [];
  const rejected: RejectedRow[] = [];
  let columns: ColumnNames | null = null;
  text.split(/\r?\n/).forEach((lineText, i) => {
    if (!lineText.trim()) return;
    const line = i + 1;
    let obj: unknown;
    try {
      obj = JSON.parse(lineText);
    } catch {
      rejected.push({ line, kind: 'malformed', reason: 'not valid JSON' });
      return;
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) {
      rejected.push({ line, kind: 'malformed', reason: 'not a JSON object' });
      return;
    }
    const rec = obj as Record<string, unknown>;
    // The first object names the keys; a later object missing one is a row with a missing value.
    columns ??= requireColumns(Object.keys(rec), given, `the first JSON object (line ${line})`);
    const value = (key: string) => rec[Object.keys(rec).find((k) => k.toLowerCase() === key.toLowerCase()) ?? key];
    rows.push({
      line,
      rater: value(columns.rater),
      image: value(columns.image),
      score: value(columns.score),
      ...(columns.prompt ? { prompt: value(columns.prompt) } : {}),
    });
  });
  if (!columns) throw new DatasetError('the ratings file has no JSON object in it');
  return { columns, rows, rejected };
}

const text = (v: unknown): string => (typeof v === 'string' ? v.trim() : typeof v === 'number' && Number.isFinite(v) ? String(v) : '');

/** Checks rows one by one against the scale, the images folder and the rows before them. */
class RowChecker {
  readonly rows: RatingRow[] = [];
  readonly rejected: RejectedRow[] = [];
  private readonly seen = new Map<string, number>();
  private readonly fileExists = new Map<string, boolean>();

  constructor(
    private readonly root: string,
    private readonly scale: RatingScale,
  ) {}

  check(r: RawRow): void {
    const reject = (kind: RejectKind, reason: string) => void this.rejected.push({ line: r.line, kind, reason });
    const rater = text(r.rater);
    const image = text(r.image).replace(/\\/g, '/');
    const scoreText = text(r.score);
    if (!rater) return reject('missing-value', 'no rater id');
    if (!image) return reject('missing-value', 'no image file');
    if (!scoreText) return reject('missing-value', 'no score');
    const score = Number(scoreText);
    if (!Number.isFinite(score)) return reject('bad-score', `score "${scoreText}" is not a number`);
    const { low, high } = this.scale;
    if (score < low || score > high) return reject('out-of-scale', `score ${score} is outside the scale ${low}–${high}`);
    const file = path.resolve(this.root, image);
    const rel = path.relative(this.root, file);
    if (path.isAbsolute(image) || rel.startsWith('..') || path.isAbsolute(rel))
      return reject('image-missing', `image "${image}" is not inside the images folder`);
    if (!this.exists(file)) return reject('image-missing', `image file "${image}" not found in ${this.root}`);
    const key = `${rater}\u0000${rel}`;
    const first = this.seen.get(key);
    if (first !== undefined) return reject('duplicate', `rater "${rater}" already rated "${image}" on line ${first} (the first is kept)`);
    this.seen.set(key, r.line);
    const prompt = text(r.prompt);
    this.rows.push({
      line: r.line,
      rater,
      image: rel.split(path.sep).join('/'),
      file,
      score,
      score10: 1 + (9 * (score - low)) / (high - low),
      ...(prompt ? { prompt } : {}),
    });
  }

  private exists(file: string): boolean {
    let hit = this.fileExists.get(file);
    if (hit === undefined) {
      hit = fs.existsSync(file) && fs.statSync(file).isFile();
      this.fileExists.set(file, hit);
    }
    return hit;
  }
}

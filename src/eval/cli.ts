/**
 * Tiny shared helpers for the evaluation and benchmark scripts: flag parsing, progress on stderr
 * (stdout is reserved for the report and the final JSON line), and "am I the entry point?".
 */
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

export type ArgValue = string | number | boolean;

/** A mistake in how the script was called: reported as one plain line (no stack), exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * `--name value`, `--name=value` and bare `--flag` (true). Defaults give the known flags and their
 * types; an unknown flag is an error so a typo never silently runs the default configuration.
 */
export function parseArgs<T extends Record<string, ArgValue | undefined>>(argv: string[], defaults: T): { [K in keyof T]: T[K] } {
  const out: Record<string, ArgValue | undefined> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}" (flags look like --name value)`);
    const [rawName, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (!(rawName in defaults))
      throw new UsageError(
        `unknown flag --${rawName}; known: ${Object.keys(defaults)
          .map((k) => `--${k}`)
          .join(' ')}`,
      );
    const def = defaults[rawName];
    if (typeof def === 'boolean') {
      out[rawName] = inline === undefined ? true : inline !== 'false';
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${rawName} needs a value`);
    if (typeof def === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new UsageError(`--${rawName} needs a number (got "${value}")`);
      out[rawName] = n;
    } else {
      out[rawName] = value;
    }
  }
  return out as { [K in keyof T]: T[K] };
}

/** "1-5", "1,2,7" or "3" → [1,2,3,4,5] / [1,2,7] / [3]. */
export function parseSeeds(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new UsageError(`--seeds takes seeds like 1-5 or 1,2,7 (got "${spec}")`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 99) throw new UsageError(`--seeds range "${part}" must go upwards and span at most 100 seeds`);
    for (let x = a; x <= b; x++) if (!out.includes(x)) out.push(x);
  }
  if (!out.length) throw new UsageError(`--seeds takes seeds like 1-5 or 1,2,7 (got "${spec}")`);
  return out;
}

/**
 * The seeds a run covers: `--seeds` (a range or list, each seed run once) or else exactly `--seed`.
 * Giving both is a mistake (which one was meant?), reported as such.
 */
export function seedsOf(args: { seed?: ArgValue; seeds?: ArgValue }, argv: readonly string[]): number[] {
  const gaveSeed = argv.some((a) => a === '--seed' || a.startsWith('--seed='));
  if (args.seeds) {
    if (gaveSeed) throw new UsageError('give either --seed N (one seed) or --seeds 1-10 (each seed once), not both');
    return parseSeeds(String(args.seeds));
  }
  const seed = Number(args.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed takes a whole number ≥ 0 (got "${String(args.seed)}")`);
  return [seed];
}

/** [1,2,3,4,7] → "1–4, 7": how reports name the seeds they cover. */
export function formatSeeds(seeds: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < seeds.length;) {
    let j = i;
    while (j + 1 < seeds.length && seeds[j + 1] === seeds[j]! + 1) j++;
    parts.push(j > i ? `${seeds[i]}–${seeds[j]}` : String(seeds[i]));
    i = j + 1;
  }
  return parts.join(', ');
}

/** Progress for humans, on stderr (the last stdout line is machine-read). */
export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** True when the module with this import.meta.url is the script being run (not imported by a test). */
export function isMain(importMetaUrl: string): boolean {
  // A worker thread sees the parent's argv: the module it imports from the entry script is not its main.
  if (!isMainThread) return false;
  const entry = process.argv[1];
  if (!entry) return false;
  const self = fileURLToPath(importMetaUrl);
  const resolved = path.resolve(entry);
  return self === resolved || self.replace(/\.ts$/, '') === resolved.replace(/\.ts$/, '');
}

/**
 * Runs `main` when this module is the script being run. A UsageError prints as one line saying what to
 * fix (exit 2); anything else prints in full (exit 1).
 */
export function runMain(importMetaUrl: string, main: () => Promise<void>): void {
  if (!isMain(importMetaUrl)) return;
  main().catch((err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`error: ${err.message}`);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  });
}

/** mean and (population) standard deviation, ignoring non-finite values. */
export function meanStd(values: readonly (number | null | undefined)[]): { mean: number; std: number; n: number } {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (xs.length === 0) return { mean: NaN, std: NaN, n: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, std, n: xs.length };
}

/** Rounds for reports and JSON (keeps 4 decimals; non-finite stays as is). */
export function round4(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : x;
}

/**
 * Where the files the bot opens at run time are — worker-thread entries, migrations, the playground's
 * pages — whether it runs from its TypeScript sources (tsx: `npm start`, the tests) or compiled by
 * src/build.ts (`npm run start:prod`, the container image).
 *
 * Compiled, every entry point is one ESM bundle directly in the output folder (dist/) and this module is
 * inlined into each, so its `import.meta.url` names a file in that folder; from the sources it names
 * src/runtime-files.ts. A module's own `import.meta.url` cannot locate a file next to its source once it
 * is inlined into a bundle, so every such lookup goes through here, with one rule: a file the code reads
 * has the same path relative to the output folder as relative to the repository root (the build copies
 * each of RUNTIME_ASSETS there), and a worker runs its bundle compiled and its tsx bootstrap otherwise.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = fileURLToPath(import.meta.url);

/** True inside a compiled bundle (a .js file), false when running the TypeScript sources. */
export const COMPILED = !HERE.endsWith('.ts');

/** The folder runtime files are resolved from: the output folder compiled, the repository root otherwise. */
const BASE = COMPILED ? path.dirname(HERE) : path.resolve(path.dirname(HERE), '..');

/**
 * The worker threads' entries. From the sources a worker starts from its `.mjs` bootstrap, which registers
 * tsx (Node 20 does not hand the parent's loader to worker threads) and imports the TypeScript entry;
 * compiled it starts from the entry's own bundle, and tsx is never loaded.
 */
export const WORKER_ENTRIES = {
  community: {
    bootstrap: 'src/core/scorer/community-worker.mjs',
    source: 'src/core/scorer/community-worker.ts',
    bundle: 'community-worker.js',
  },
  chart: { bootstrap: 'src/charts/worker.mjs', source: 'src/charts/worker.ts', bundle: 'chart-worker.js' },
  mobilenet: {
    bootstrap: 'src/providers/embedder/mobilenet-worker.mjs',
    source: 'src/providers/embedder/mobilenet-worker.ts',
    bundle: 'mobilenet-worker.js',
  },
} as const;
export type WorkerEntry = keyof typeof WORKER_ENTRIES;

/** The file `new Worker(...)` must start for this worker, in whichever mode the process runs. */
export function workerUrl(entry: WorkerEntry): URL {
  const worker = WORKER_ENTRIES[entry];
  return pathToFileURL(path.join(BASE, COMPILED ? worker.bundle : worker.bootstrap));
}

/** Files and folders read at run time, as paths from the repository root; the build copies each into its output. */
export const RUNTIME_ASSETS = ['migrations', 'src/platforms/playground/page.html', 'src/platforms/playground/login.html'] as const;
export type RuntimeAsset = (typeof RUNTIME_ASSETS)[number];

/** The absolute path of a runtime file (only listed ones: an unlisted file would be missing from the build). */
export function runtimeAsset(asset: RuntimeAsset): string {
  return path.join(BASE, asset);
}

/**
 * The repository root, for files a command writes for the operator (the Slack manifest under deploy/):
 * compiled into dist/, that is the output folder's parent.
 */
export const PACKAGE_ROOT = COMPILED ? path.dirname(BASE) : BASE;

/**
 * `npm run build [-- --outdir <dir>]`: compiles the production entry points to plain JavaScript, so the
 * bot runs with `node dist/main.js` and never loads tsx (`npm run start:prod`, the container image).
 *
 * Each entry — the bot, the Discord REST proxy, the two setup commands and every worker thread — becomes
 * one ESM bundle for Node 20 directly in the output folder (default dist/), with a source map and its
 * shared chunks beside it; packages stay imports of node_modules. The files the code reads at run time
 * (RUNTIME_ASSETS of src/runtime-files.ts) are copied under the same relative paths, and a package.json
 * marks the bundles as ES modules, so the folder runs wherever it is placed next to a node_modules.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { RUNTIME_ASSETS, WORKER_ENTRIES } from './runtime-files';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Program bundle name (without .js) → its source. The names are an interface: package.json, the Dockerfile
 * and deploy/k8s run `dist/<name>.js` (tests/deploy-manifests.test.ts checks each is listed here).
 */
export const PROGRAM_ENTRIES: Record<string, string> = {
  main: 'src/main.ts',
  'rest-proxy': 'src/platforms/discord/rest-proxy.ts',
  'deploy-commands': 'src/platforms/discord/deploy-commands.ts',
  'slack-manifest': 'src/platforms/slack/manifest.ts',
};

/**
 * Packages a program must never load, checked over everything its bundle can import (its chunks too):
 * tsx (the point of compiling) and, outside the chart worker, the chart stack.
 */
const FORBIDDEN_IMPORTS: { programs: RegExp; packages: RegExp; why: string }[] = [
  { programs: /./, packages: /^tsx(\/|$)/, why: 'the compiled bot must not need tsx' },
  {
    programs: /^(?!chart-worker\.js$)/,
    packages: /^vega(-lite)?(\/|$)/,
    why: 'vega-lite breaks discord.js in the same realm; charts load in their worker only',
  },
];

function entryPoints(): Record<string, string> {
  const workers = Object.values(WORKER_ENTRIES).map((w): [string, string] => [w.bundle.replace(/\.js$/, ''), w.source]);
  return { ...PROGRAM_ENTRIES, ...Object.fromEntries(workers) };
}

function parseOutdir(argv: string[]): string {
  const i = argv.indexOf('--outdir');
  if (i < 0) return path.join(ROOT, 'dist');
  const value = argv[i + 1];
  if (!value || value.startsWith('--')) throw new Error('--outdir needs a folder, e.g. npm run build -- --outdir /tmp/tasteloop-dist');
  return path.resolve(value);
}

/** Empties the output folder, refusing one that holds something other than an earlier build. */
function prepareOutdir(outdir: string): void {
  if (existsSync(outdir) && readdirSync(outdir).length > 0) {
    if (!existsSync(path.join(outdir, 'main.js')))
      throw new Error(`${outdir} is not empty and holds no earlier build (main.js): choose an empty or new folder`);
    rmSync(outdir, { recursive: true, force: true });
  }
  mkdirSync(outdir, { recursive: true });
}

/** The output files a bundle loads, itself included: its chunks, statically or on demand. */
function reachable(metafile: Metafile, entry: string): string[] {
  const seen = new Set([entry]);
  for (const file of seen)
    for (const imp of metafile.outputs[file]?.imports ?? []) if (!imp.external && !seen.has(imp.path)) seen.add(imp.path);
  return [...seen];
}

/** Every package import a rule forbids to a program, as readable lines. */
function forbiddenImports(metafile: Metafile, outdir: string): string[] {
  const found: string[] = [];
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (!output.entryPoint) continue;
    const program = path.relative(outdir, path.resolve(ROOT, file));
    for (const rule of FORBIDDEN_IMPORTS.filter((r) => r.programs.test(program)))
      for (const loaded of reachable(metafile, file))
        for (const imp of metafile.outputs[loaded]?.imports ?? [])
          if (imp.external && rule.packages.test(imp.path)) found.push(`${program} loads ${imp.path} (${rule.why})`);
  }
  return found;
}

/** `@scope/name/sub/path` → `@scope/name`, `name/sub` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return parts.slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
}

/**
 * Packages the bundles import that are not production dependencies: the image prunes devDependencies
 * (`npm prune --omit=dev`), so such an import would work here and fail only in the container.
 */
function missingDependencies(metafile: Metafile): string[] {
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const production = new Set(Object.keys(manifest.dependencies ?? {}));
  const missing = new Set<string>();
  for (const output of Object.values(metafile.outputs))
    for (const imp of output.imports)
      if (imp.external && !isBuiltin(imp.path) && !production.has(packageOf(imp.path))) missing.add(packageOf(imp.path));
  return [...missing].map((p) => `${p} is imported by the compiled code but is not in package.json "dependencies"`);
}

export async function buildDist(outdir: string): Promise<void> {
  prepareOutdir(outdir);
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: entryPoints(),
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    // Shared code and what the sources import on demand (a platform's SDK, the S3 client) go to chunks
    // next to the bundles, so a process still loads only what its configuration uses.
    splitting: true,
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  });
  const forbidden = [...forbiddenImports(result.metafile, outdir), ...missingDependencies(result.metafile)];
  if (forbidden.length > 0) throw new Error(`the build imports what it must not:\n  ${forbidden.join('\n  ')}`);
  for (const asset of RUNTIME_ASSETS) cpSync(path.join(ROOT, asset), path.join(outdir, asset), { recursive: true });
  writeFileSync(path.join(outdir, 'package.json'), `${JSON.stringify({ type: 'module', private: true }, null, 2)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const built = async () => {
    const outdir = parseOutdir(process.argv.slice(2));
    await buildDist(outdir);
    return path.relative(process.cwd(), outdir) || '.';
  };
  built().then(
    (outdir) => console.log(`built ${outdir}: node --enable-source-maps ${path.join(outdir, 'main.js')}`),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    },
  );
}

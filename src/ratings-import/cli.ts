/**
 * `npm run import:ratings -- <file.csv|.jsonl> --images <dir> [--scope <server id>] [--source <name>]
 *                            [--columns rater=…,image=…,score=…] [--scale 1-5] [--dry-run]`
 *
 * Seeds Tasteloop's database with ratings a community already has: the same database, image store and
 * embedder as the bot (DATABASE_URL, or the embedded PGlite under DATA_DIR; IMAGE_STORE; EMBEDDER).
 * --dry-run reports what would be imported (people, images, ratings, rejected rows and why) and writes
 * nothing. A real run writes everything in one transaction (apply.ts) and a re-run imports nothing twice.
 * Stop the bot first when it uses the embedded database: PGlite lets one process open DATA_DIR.
 *
 * Output: the report in words on stdout, the summary as JSON on the LAST stdout line.
 */
import pino from 'pino';
import { loadConfig } from '../config';
import { openDatabase } from '../db/connection';
import { createEmbedder, createImageBlobStore } from '../providers/from-config';
import { createLogger } from '../log';
import { DatasetError } from '../core/errors';
import { parseArgs, progress, runMain, UsageError } from '../eval/cli';
import { parseColumns, parseScale } from './ratings-file';
import { planImport } from './plan';
import { applyImport } from './apply';
import { importReportLines, summarizeImport } from './report';

const FLAGS = { images: '', scope: '', source: '', columns: '', scale: '', 'dry-run': false };

interface ImportRequest {
  file: string;
  images: string;
  scope?: string;
  source?: string;
  columns: ReturnType<typeof parseColumns>;
  scale?: ReturnType<typeof parseScale>;
  dryRun: boolean;
}

function readRequest(argv: string[]): ImportRequest {
  const file = argv[0];
  if (!file || file.startsWith('--'))
    throw new UsageError('name the ratings file first: npm run import:ratings -- <file.csv|.jsonl> --images <dir>');
  const args = parseArgs(argv.slice(1), FLAGS);
  if (!args.images) throw new UsageError('--images <folder the image file names are relative to> is required');
  try {
    return {
      file,
      images: args.images,
      ...(args.scope ? { scope: args.scope } : {}),
      ...(args.source ? { source: args.source } : {}),
      columns: args.columns ? parseColumns(args.columns) : {},
      ...(args.scale ? { scale: parseScale(args.scale) } : {}),
      dryRun: args['dry-run'],
    };
  } catch (err) {
    if (err instanceof DatasetError) throw new UsageError(err.message);
    throw err;
  }
}

async function main(): Promise<void> {
  const req = readRequest(process.argv.slice(2));
  const config = loadConfig();
  const log = createLogger(process.env.LOG_LEVEL ?? 'info', pino.destination(2));
  const database = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    pgliteDir: config.DATABASE_URL ? undefined : config.pgliteDir,
    onStaleLock: (message) => log.warn({ dir: config.pgliteDir }, message),
  });
  try {
    progress(`database: ${database.description}`);
    const plan = await planImport(database.db, {
      file: req.file,
      imagesDir: req.images,
      source: req.source,
      columns: req.columns,
      scale: req.scale,
      onProgress: progress,
    }).catch((err: unknown) => {
      throw err instanceof DatasetError ? new UsageError(err.message) : err;
    });
    let result;
    if (!req.dryRun) {
      const embedder = await createEmbedder(config, log);
      result = await applyImport(database.db, plan, {
        blobs: await createImageBlobStore(config),
        embedder,
        scopeId: req.scope,
        onProgress: progress,
        onRating: (n, total) => {
          if (n % 1000 === 0 || n === total) progress(`rated ${n}/${total}`);
        },
      });
      await (embedder as { close?: () => Promise<void> }).close?.();
    }
    const summary = summarizeImport(plan, req.dryRun, result);
    for (const line of importReportLines(summary, plan)) console.log(line);
    console.log(JSON.stringify(summary));
  } finally {
    await database.close();
  }
}

runMain(import.meta.url, main);

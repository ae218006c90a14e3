/** Shared wiring for run-service tests: a real RunService + real ImageStore over fake providers. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { testConfig } from '../../src/config';
import type { Db } from '../../src/db/connection';
import { FsImageBlobStore } from '../../src/providers/blobstore/fs';
import { ImageStore } from '../../src/core/images';
import { GeneticProposer } from '../../src/core/optimizer/genetic';
import type { LoopDeps, LoopImageStore } from '../../src/core/optimizer/loop';
import { RunService, type RunServiceOptions } from '../../src/core/runs';
import type { ImageGenerator } from '../../src/core/ports';
import { FakeGenerator, KeywordObjective } from '../fakes/optimizer-fakes';

export const PREF = ['watercolor', 'golden hour', 'pastel palette', 'wide angle'];

/** The real store, remembering each id's prompt so the synthetic objective can score it synchronously. */
export function trackingStore(
  db: Db,
  dir = mkdtempSync(path.join(tmpdir(), 'tl-runs-')),
): LoopImageStore & { promptOf(id: string): string } {
  const real = new ImageStore(db, new FsImageBlobStore(dir));
  const prompts = new Map<string, string>();
  return {
    async put(bytes, meta) {
      const rec = await real.put(bytes, meta);
      prompts.set(rec.id, meta.prompt ?? '');
      return rec;
    },
    readBytes: (id) => real.readBytes(id),
    promptOf: (id) => prompts.get(id) ?? '',
  };
}

export function makeService(
  db: Db,
  opts: {
    generator?: ImageGenerator;
    config?: Record<string, string>;
    service?: Partial<RunServiceOptions>;
    objective?: (store: ReturnType<typeof trackingStore>) => KeywordObjective;
  } = {},
) {
  const store = trackingStore(db);
  const generator = opts.generator ?? new FakeGenerator(2);
  const objective = opts.objective?.(store) ?? new KeywordObjective((id) => store.promptOf(id), PREF);
  const service = new RunService({
    db,
    config: testConfig(opts.config),
    llmAvailable: false,
    loopDeps: (): LoopDeps => ({ generator, store, objective, proposer: new GeneticProposer() }),
    describe: { generator: 'fake', llm: null, scorer: 'keyword objective' },
    queue: { kind: 'inprocess' },
    staleAfterMs: 30_000,
    sweepMs: 200,
    outboxPollMs: 50,
    ...opts.service,
  });
  return { service, store, generator, objective };
}

/** Polls `fn` until it returns a truthy value (generous deadline: this is not a speed assertion). */
export async function waitFor<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 60_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

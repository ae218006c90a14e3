/**
 * Image moderation in the run loop, with the REAL OpenAI moderator (openai SDK) against the fake
 * OpenAI server (tests/fakes/openai-server.ts), which flags images of a marker colour or the n-th
 * image check: a flagged image is withheld (never stored, scored or posted) and the run goes on; an
 * image moderation could not check is withheld too (fail closed); a clean image passes; a resumed
 * iteration neither re-renders a withheld image nor shows a stored one unchecked; and through the
 * production wiring (createApp), MODERATION=off skips the check.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { and, eq } from 'drizzle-orm';
import { InvalidPromptError, ProviderError } from '../src/core/errors';
import { LlmProposer } from '../src/core/optimizer/llm';
import { initialState, runIteration, runLoop, sniffImageMime, type DoneImage, type LoopDeps } from '../src/core/optimizer/loop';
import { resolveRunParams, type RunParamsInput } from '../src/core/optimizer/params';
import type { CandidateView, RunEvent } from '../src/core/optimizer/events';
import type { GenerateOptions, GeneratedImage } from '../src/core/ports';
import { createOpenAILlms } from '../src/providers/llm/openai';
import type { UsageRecord } from '../src/providers/usage';
import { renderRunEvent } from '../src/platforms/render-run';
import { createApp, type App } from '../src/app';
import { testConfig } from '../src/config';
import { openDatabase } from '../src/db/connection';
import { candidates, images, usage as usageTable } from '../src/db/schema';
import { silentLogger } from '../src/log';
import { FakeGenerator, KeywordObjective, MemoryImageStore, ScriptedOptimizerLlm, WordModerator } from './fakes/optimizer-fakes';
import { type FakeOpenAIServer, startFakeOpenAI } from './fakes/openai-server';
import { waitFor } from './helpers/runs';

const RED = { r: 255, g: 0, b: 0 };
const redPng = () =>
  sharp({ create: { width: 8, height: 8, channels: 3, background: RED } })
    .png()
    .toBuffer();

/** The fake generator, except that a prompt mentioning "crimson" renders the marker colour. */
class MarkerGenerator extends FakeGenerator {
  override async generate(prompt: string, opts: GenerateOptions = {}): Promise<GeneratedImage> {
    const img = await super.generate(prompt, opts);
    return prompt.includes('crimson') ? { ...img, bytes: await redPng() } : img;
  }
}

let server: FakeOpenAIServer;
let usage: UsageRecord[];

beforeAll(async () => {
  server = await startFakeOpenAI({ flaggedWords: ['gore'], flaggedImageColors: [RED] });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.requests.length = 0;
  server.imageChecks.length = 0;
  server.flagImageCalls = [];
  server.clearFaults();
  usage = [];
});

function setup(input: Partial<RunParamsInput> = {}, moderatorErrors: unknown[] = []) {
  const store = new MemoryImageStore();
  const objective = new KeywordObjective((id) => store.promptOf(id), ['watercolor', 'pastel palette']);
  const generator = new MarkerGenerator(2);
  const llm = new ScriptedOptimizerLlm();
  const { params } = resolveRunParams(
    {
      prompt: 'a fox in a forest',
      members: ['discord:-:1'],
      iterations: 2,
      candidates: 3,
      seed: 5,
      optimizer: 'llm',
      feedback: 's+p',
      ...input,
    },
    { llmAvailable: true, maxImagesPerRun: 64 },
  );
  const { moderator } = createOpenAILlms({
    apiKey: 'sk-test-not-real',
    baseURL: server.baseURL,
    model: 'gpt-4o-mini',
    timeoutMs: 400,
    maxRetries: 0,
    onUsage: (r) => {
      usage.push(r);
    },
  });
  const deps: LoopDeps = {
    generator,
    store,
    objective,
    proposer: new LlmProposer(llm, params.feedback),
    moderator,
    onModerationError: (err) => moderatorErrors.push(err),
  };
  return { store, generator, llm, params, deps };
}

/**
 * What a platform would show of the run's candidates (the destination stub): per grid tile, its line
 * in the grid message's text (prefixed with the message's title) and the image the tile shows.
 */
function posted(events: RunEvent[]) {
  return events
    .filter((e) => e.type === 'iteration.images')
    .flatMap((e) => renderRunEvent(e))
    .flatMap((op) => {
      if (op.op !== 'post' || !op.message.grid) return [];
      const [title, ...lines] = op.message.text.split('\n');
      return op.message.grid.tiles.map((t) => ({
        text: `${title!.split(' · ')[0]} ${lines.find((l) => l.startsWith(`${t.number} · `))}`,
        imageId: t.imageId,
      }));
    });
}

const viewsOf = (events: RunEvent[]): CandidateView[] => events.flatMap((e) => (e.type === 'iteration.images' ? e.candidates : []));

describe('image moderation in the loop (real OpenAI moderator, fake server)', () => {
  it('a flagged image is withheld, never stored or posted; the run finishes with the other candidates', async () => {
    const s = setup();
    s.llm.script = [['a fox in a forest, watercolor', 'a fox in a forest, crimson', 'a fox in a forest, pastel palette']];
    const res = await runLoop(s.params, s.deps, { runId: 'img-mod', userKey: 'discord:-:1' });

    expect(res.stopReason).toBe('completed');
    const flagged = res.state.history.find((c) => c.prompt.includes('crimson'))!;
    expect(flagged).toMatchObject({
      iteration: 1,
      idx: 1,
      imageId: null,
      score: null,
      withheld: 'flagged',
      skippedReason: 'the image was flagged by moderation (sexual)',
    });
    // It was rendered (and paid for), but its bytes never reached the store.
    expect(s.generator.calls.some((c) => c.prompt.includes('crimson'))).toBe(true);
    const red = await redPng();
    expect([...s.store.images.values()].some((i) => i.bytes.equals(red))).toBe(false);
    expect([...s.store.images.values()].some((i) => i.prompt?.includes('crimson'))).toBe(false);

    // Every other candidate was shown and scored.
    const others = res.state.history.filter((c) => c !== flagged);
    expect(others).toHaveLength(1 + 2 + 3);
    for (const c of others) {
      expect(c.imageId).not.toBeNull();
      expect(c.score).not.toBeNull();
      expect(c.withheld).toBeUndefined();
    }
    // Withheld images were made: they count against the image budget.
    expect(res.metrics.imagesUsed).toBe(7);

    // The event carries the mark, and the thread gets a short neutral line without the image.
    const view = viewsOf(res.events).find((v) => v.iteration === 1 && v.idx === 1)!;
    expect(view).toMatchObject({ imageId: null, withheld: 'flagged', skippedReason: 'the image was flagged by moderation (sexual)' });
    const posts = posted(res.events);
    expect(posts).toHaveLength(7);
    const line = posts.find((p) => p.text.includes('withheld'))!;
    expect(line).toEqual({ text: '**Iteration 1** 2 · withheld: the image was flagged by moderation (sexual)', imageId: null });
    expect(posts.filter((p) => p.imageId)).toHaveLength(6);

    // One image check per rendered image, each a PNG data URL, each recorded as moderation usage of this run.
    expect(server.imageChecks).toHaveLength(7);
    expect(server.imageChecks.filter((c) => c.flagged)).toHaveLength(1);
    for (const r of server.imageModerations()) expect(r.body.input[0].image_url.url).toMatch(/^data:image\/png;base64,/);
    const imageUsage = usage.filter((u) => u.kind === 'moderation' && u.runId === 'img-mod');
    expect(imageUsage).toHaveLength(7);
    expect(imageUsage.every((u) => u.ok && u.userKey === 'discord:-:1')).toBe(true);
  });

  it('clean images pass: all shown, each checked once before it was stored', async () => {
    const s = setup();
    const res = await runLoop(s.params, s.deps, { runId: 'clean' });
    expect(res.stopReason).toBe('completed');
    expect(res.state.history.every((c) => c.imageId && !c.withheld)).toBe(true);
    expect(server.imageChecks).toHaveLength(7);
    expect(server.imageChecks.every((c) => !c.flagged)).toBe(true);
    expect(posted(res.events).every((p) => p.imageId)).toBe(true);
  });

  it('moderation errors fail closed: a 500 or a timeout withholds that image ("could not be checked"), the run goes on', async () => {
    const errors: unknown[] = [];
    const s = setup({}, errors);
    const res = await runLoop(s.params, s.deps, {
      runId: 'fail-closed',
      // After the initial image: one image check answers 500 in iteration 1, one hangs in iteration 2.
      beforeIteration: (it) => {
        if (it === 1) server.fault({ kind: '500' }, { path: '/moderations', images: true });
        if (it === 2) server.fault({ kind: 'hang' }, { path: '/moderations', images: true });
      },
    });
    expect(res.stopReason).toBe('completed');
    const unchecked = res.state.history.filter((c) => c.withheld);
    expect(unchecked.map((c) => c.iteration).sort()).toEqual([1, 2]);
    for (const c of unchecked) {
      expect(c).toMatchObject({
        withheld: 'unchecked',
        imageId: null,
        score: null,
        skippedReason: 'the image could not be checked by moderation',
      });
    }
    expect(res.state.history.filter((c) => c.imageId)).toHaveLength(5);
    expect(errors).toHaveLength(2);
    expect(errors.every((e) => e instanceof ProviderError)).toBe(true);
    const lines = posted(res.events).filter((p) => p.text.includes('withheld'));
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.text).toMatch(/^\*\*Iteration \d\*\* \d · withheld: the image could not be checked by moderation$/);
    expect(usage.filter((u) => u.kind === 'moderation' && !u.ok)).toHaveLength(2);
  });

  it('the initial image flagged → the run fails with a clear message; unchecked → a provider error', async () => {
    const s = setup({ prompt: 'a crimson fox' });
    const err = await runLoop(s.params, s.deps, { runId: 'init-flagged' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidPromptError);
    expect((err as Error).message).toMatch(/image for your prompt was withheld: the image was flagged by moderation \(sexual\)/);
    expect(s.store.images.size).toBe(0);

    const t = setup();
    server.fault({ kind: '500' }, { path: '/moderations', images: true });
    const err2 = await runLoop(t.params, t.deps, { runId: 'init-unchecked' }).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(ProviderError);
    expect((err2 as Error).message).toMatch(/could not be checked/);
    expect(t.store.images.size).toBe(0);
  });

  it('with no moderator (MODERATION=off) images are not checked', async () => {
    const s = setup();
    s.llm.script = [['a fox in a forest, watercolor', 'a fox in a forest, crimson', 'a fox in a forest, pastel palette']];
    const res = await runLoop(s.params, { ...s.deps, moderator: undefined }, { runId: 'off' });
    expect(res.stopReason).toBe('completed');
    expect(res.state.history.every((c) => c.imageId && !c.withheld)).toBe(true);
    expect(server.requestsTo('/moderations')).toHaveLength(0);
  });
});

describe('image moderation across a crash (checkpointed images)', () => {
  it('a withheld image is checkpointed without bytes; on resume it is not rendered again, and stored images are checked again', async () => {
    const store = new MemoryImageStore();
    const generator = new MarkerGenerator(1);
    const moderator = new WordModerator([]);
    const red = await redPng();
    moderator.imageVerdict = (img) =>
      img.bytes.equals(red) ? { flagged: true, categories: ['violence'] } : { flagged: false, categories: [] };
    const llm = new ScriptedOptimizerLlm();
    llm.script = [['a fox, crimson', 'a fox, watercolor', 'a fox, pastel palette']];
    const { params } = resolveRunParams(
      { prompt: 'a fox', members: ['u'], iterations: 2, candidates: 3, seed: 1, optimizer: 'llm', feedback: 's+p' },
      { llmAvailable: true, maxImagesPerRun: 64 },
    );
    const deps: LoopDeps = {
      generator,
      store,
      objective: new KeywordObjective((id) => store.promptOf(id), ['watercolor']),
      proposer: new LlmProposer(llm, params.feedback),
      moderator,
    };
    const r0 = await runIteration(initialState(params), params, deps, { runId: 'crash' });

    // The first attempt at iteration 1: the checkpoints it writes.
    const checkpoints = new Map<number, DoneImage>();
    await runIteration(r0.state, params, deps, { runId: 'crash', onImage: async (idx, image) => void checkpoints.set(idx, image) });
    expect(checkpoints.get(0)).toEqual({
      imageId: null,
      costUsd: 0.01,
      withheld: { kind: 'flagged', reason: 'the image was flagged by moderation (violence)' },
    });
    expect(checkpoints.get(1)?.imageId).toMatch(/^[0-9a-f]{64}$/);

    // Resume from those checkpoints, as if the process died before the commit. A stored image that
    // moderation would flag now (say, MODERATION was off when it was made) is not shown either.
    const planted = await store.put(red, { prompt: 'a fox, pastel palette' });
    const done = new Map<number, DoneImage>([
      [0, checkpoints.get(0)!],
      [1, checkpoints.get(1)!],
      [2, { imageId: planted.id, costUsd: 0.01 }],
    ]);
    const callsBefore = generator.calls.length;
    const checksBefore = moderator.imagesChecked.length;
    const r1 = await runIteration(r0.state, params, deps, { runId: 'crash', done });
    expect(generator.calls.length).toBe(callsBefore); // nothing rendered again
    expect(moderator.imagesChecked.length - checksBefore).toBe(2); // the two stored images, checked again
    expect(r1.candidates.map((c) => [c.withheld ?? null, Boolean(c.imageId)])).toEqual([
      ['flagged', false],
      [null, true],
      ['flagged', false],
    ]);
    expect(r1.state.imagesUsed).toBe(r0.state.imagesUsed + 3);
  });

  it('sniffs the MIME type of the bytes it sends', async () => {
    expect(sniffImageMime(await redPng())).toBe('image/png');
    expect(
      sniffImageMime(
        await sharp(await redPng())
          .jpeg()
          .toBuffer(),
      ),
    ).toBe('image/jpeg');
    expect(
      sniffImageMime(
        await sharp(await redPng())
          .webp()
          .toBuffer(),
      ),
    ).toBe('image/webp');
    expect(sniffImageMime(Buffer.from('not an image'))).toBe('application/octet-stream');
  });
});

describe('through the production wiring (createApp, sketch images, OpenAI moderation)', () => {
  const person = { platform: 'playground' as const, userId: 'mod-tester' };
  // One database for both apps (opening PGlite is the slow part); each app has its own data dir.
  let database: Awaited<ReturnType<typeof openDatabase>>;
  beforeAll(async () => {
    database = await openDatabase({});
  }, 120_000);
  afterAll(async () => {
    await database?.close();
  });

  async function runWith(moderation: 'auto' | 'off', flagImageCalls: number[]) {
    server.flagImageCalls = flagImageCalls;
    const config = testConfig({
      DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tl-imgmod-')),
      OPENAI_API_KEY: 'sk-test-key-for-the-fake-server',
      OPENAI_BASE_URL: server.baseURL,
      MODERATION: moderation,
      IMAGE_SIZE: '64',
      LLM_TIMEOUT_MS: '5000',
    });
    const app: App = await createApp(config, { log: silentLogger, database, seedGallery: false, runOptions: { outboxPollMs: 50 } });
    try {
      await app.start();
      const events: RunEvent[] = [];
      const off = app.services.runs.subscribe((e) => events.push(e));
      const { runId } = await app.services.runs.start({
        requester: person,
        prompt: 'a lighthouse at dusk',
        iterations: 1,
        candidates: 3,
        feedback: 's+p',
        seed: 3,
      });
      await waitFor(
        () => events.find((e) => e.runId === runId && (e.type === 'run.finished' || e.type === 'run.failed')),
        'the run',
        60_000,
      );
      off();
      const db = app.database.db;
      return {
        events: events.filter((e) => e.runId === runId),
        cands: await db.select().from(candidates).where(eq(candidates.runId, runId)),
        generated: await db.select().from(images).where(eq(images.source, 'generated')),
        usage: await db
          .select()
          .from(usageTable)
          .where(and(eq(usageTable.kind, 'moderation'), eq(usageTable.runId, runId))),
        runId,
      };
    } finally {
      await app.close();
    }
  }

  it('MODERATION=auto: the 3rd image is withheld (candidate row marked, no image stored, not posted); the run finishes', async () => {
    const r = await runWith('auto', [3]);
    expect(r.events.at(-1)?.type).toBe('run.finished');
    expect(server.imageChecks).toHaveLength(4);
    const withheld = r.cands.filter((c) => c.skippedReason === 'the image was flagged by moderation (sexual)');
    expect(withheld).toHaveLength(1);
    expect(withheld[0]!.imageId).toBeNull();
    const shown = r.cands.filter((c) => c.imageId);
    expect(shown).toHaveLength(3);
    // Only the shown images are in the store (the /rate and profile pools draw from it).
    expect(new Set(r.generated.map((g) => g.id))).toEqual(new Set(shown.map((c) => c.imageId)));
    const posts = posted(r.events);
    expect(posts.filter((p) => p.imageId)).toHaveLength(3);
    expect(posts.filter((p) => /withheld: the image was flagged by moderation \(sexual\)$/.test(p.text))).toHaveLength(1);
    expect(r.usage).toHaveLength(4);
  });

  it('MODERATION=off: no prompt or image is sent to moderation', async () => {
    const r = await runWith('off', [1, 2, 3, 4]);
    expect(r.events.at(-1)?.type).toBe('run.finished');
    expect(server.requestsTo('/moderations')).toHaveLength(0);
    expect(r.cands.every((c) => c.imageId && !c.skippedReason)).toBe(true);
  });
});

/**
 * Whole /optimize runs through the production wiring with the REAL `openai` and `replicate` clients,
 * pointed at fake servers on 127.0.0.1 that speak their HTTP APIs — once per feedback set of the
 * method's ablation — plus moderation of LLM-written prompts and the usage ledger.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { createApp, type App } from '../src/app';
import { testConfig } from '../src/config';
import { openDatabase } from '../src/db/connection';
import { candidates, runs, usage } from '../src/db/schema';
import type { PersonRef } from '../src/core/identity';
import type { FeedbackSet, RunEvent } from '../src/core/optimizer/events';
import { silentLogger } from '../src/log';
import { messageText, startFakeOpenAI, type FakeOpenAIServer } from './fakes/openai-server';
import { FAKE_REPLICATE_TOKEN, startFakeReplicate, type FakeReplicateServer } from './fakes/replicate-server';
import { waitFor } from './helpers/runs';

describe('optimize end-to-end with the real openai + replicate clients against local fakes', () => {
  let app: App;
  let openai: FakeOpenAIServer;
  let replicate: FakeReplicateServer;
  let proposals = 0;
  const person: PersonRef = { platform: 'playground', userId: 'grace' };

  beforeAll(async () => {
    openai = await startFakeOpenAI({
      flaggedWords: ['gore'],
      chat: ({ schemaName, text }) => {
        if (schemaName === 'prompt_feedback') return { feedback: 'Warmer light, fewer objects.' };
        const n = Number(/exactly (\d+) prompts/.exec(text)?.[1] ?? 4);
        proposals++;
        // The first prompt of every proposal is one moderation must stop.
        return {
          prompts: Array.from({ length: n }, (_, i) =>
            i === 0 ? `gore scene ${proposals}` : `a harbor at dusk, version ${proposals} variant ${i}`,
          ),
        };
      },
    });
    replicate = await startFakeReplicate({ pollsToSucceed: 1 });
    const config = testConfig({
      DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tl-e2e-')),
      OPENAI_API_KEY: 'sk-test-key-for-the-fake-server',
      OPENAI_BASE_URL: openai.baseURL,
      IMAGEGEN: 'replicate',
      REPLICATE_API_TOKEN: FAKE_REPLICATE_TOKEN,
      REPLICATE_BASE_URL: replicate.baseUrl,
      IMAGEGEN_TIMEOUT_MS: '20000',
      LLM_TIMEOUT_MS: '20000',
      MAX_IMAGES_PER_RUN: '64',
    });
    app = await createApp(config, {
      log: silentLogger,
      database: await openDatabase({}),
      seedGallery: false,
      runOptions: { outboxPollMs: 50 },
    });
    await app.start();
  });
  afterAll(async () => {
    await app?.close();
    await app?.database.close();
    await openai?.close();
    await replicate?.close();
  });

  async function runOnce(feedback: FeedbackSet) {
    const events: RunEvent[] = [];
    const off = app.services.runs.subscribe((e) => events.push(e));
    const before = openai.requests.length;
    const { runId } = await app.services.runs.start({
      requester: person,
      prompt: 'a harbor at dusk',
      iterations: 2,
      candidates: 3,
      feedback,
      seed: 11,
    });
    await waitFor(
      () => events.find((e) => e.runId === runId && (e.type === 'run.finished' || e.type === 'run.failed')),
      `run ${feedback}`,
      120_000,
    );
    off();
    const [row] = await app.database.db.select().from(runs).where(eq(runs.id, runId));
    const cands = await app.database.db.select().from(candidates).where(eq(candidates.runId, runId));
    return { runId, events, row: row!, cands, requests: openai.requests.slice(before) };
  }

  const proposalRequests = (reqs: FakeOpenAIServer['requests']) =>
    reqs.filter((r) => r.path.endsWith('/chat/completions') && r.body?.response_format?.json_schema?.name === 'prompt_proposals');

  for (const feedback of ['none', 's+p', 's+p+f', 's+p+f+I'] as const) {
    it(`feedback ${feedback}: the run finishes, with what that ablation should show the LLM`, async () => {
      const { row, cands, requests, events } = await runOnce(feedback);
      expect(row.status).toBe('finished');
      const started = events.find((e) => e.type === 'run.started');
      expect(started?.type === 'run.started' && started.params.optimizer).toBe('llm');

      // Images were made by Replicate and stored at once (content-addressed files on disk).
      const withImages = cands.filter((c) => c.imageId);
      expect(withImages.length).toBeGreaterThan(0);
      for (const c of withImages) expect(existsSync(app.images.path(c.imageId!))).toBe(true);

      // Moderation stopped every LLM prompt containing a flagged word: skipped with a reason, never rendered.
      const flagged = cands.filter((c) => c.prompt.startsWith('gore'));
      expect(flagged.length).toBeGreaterThan(0);
      for (const c of flagged) {
        expect(c.imageId).toBeNull();
        expect(c.skippedReason).toMatch(/moderation|flagged/i);
      }
      const predictionInputs = replicate.requestsMatching(/predictions$/).map((r) => JSON.stringify(r.body));
      expect(predictionInputs.some((b) => b.includes('gore'))).toBe(false);

      const improve = proposalRequests(requests).slice(1); // the first is the initial spread
      expect(improve.length).toBeGreaterThan(0);
      const text = improve.map((r) => messageText(r.body.messages)).join('\n');
      const hasImages = improve.some((r) => JSON.stringify(r.body.messages).includes('"image_url"'));
      const feedbackCalls = requests.filter((r) => r.body?.response_format?.json_schema?.name === 'prompt_feedback');
      if (feedback === 'none') {
        expect(text).not.toMatch(/\d\.\d\d?/); // no scores at all
        expect(feedbackCalls.length).toBe(0);
      } else {
        expect(text).toMatch(/score/i);
      }
      expect(feedbackCalls.length > 0).toBe(feedback === 's+p+f' || feedback === 's+p+f+I');
      if (feedbackCalls.length) expect(text).toContain('Warmer light, fewer objects.');
      expect(hasImages).toBe(feedback === 's+p+f+I');
      // No tools are ever offered to the optimizer.
      for (const r of proposalRequests(requests)) expect(r.body.tools).toBeUndefined();
    });
  }

  it('records provider usage: tokens, images, attempts and estimated cost per run', async () => {
    const rows = await app.database.db.select().from(usage);
    const byKind = (k: string) => rows.filter((r) => r.kind === k);
    expect(byKind('image').length).toBeGreaterThan(0);
    expect(byKind('image').every((r) => r.provider === 'replicate' && r.images === 1 && r.costUsd > 0)).toBe(true);
    expect(byKind('chat').every((r) => r.tokensIn > 0 && r.attempts >= 1)).toBe(true);
    expect(byKind('moderation').length).toBeGreaterThan(0);
    expect(rows.some((r) => r.runId !== null)).toBe(true);
  });
});

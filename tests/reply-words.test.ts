/**
 * Replies in words a person understands without having read the method's paper: the run header and
 * summary (the optimizer and feedback really used, the measures explained in a Details part),
 * /help per platform, unknown options and plain text, /compare's scale once, refusals naming people.
 */
import { describe, expect, it } from 'vitest';
import { findCommand } from '../commands/index';
import { helpText } from '../commands/help';
import type { CommandContext, OutMessage } from '../commands/kit/types';
import { namingRefused } from '../commands/mentions';
import { pairMatch, MATCH_SCALE } from '../src/core/compare';
import { ProfileNotAvailableError } from '../src/core/errors';
import { userKeyOf } from '../src/core/identity';
import type { RunMetricsView, RunParamsView } from '../src/core/optimizer/events';
import { separatingSentence } from '../src/core/profile-words';
import { describeFailure, prepareCommand, PLAIN_TEXT_REPLY, unknownCommand } from '../src/platforms/dispatch';
import { renderHeader, renderRunEvent } from '../src/platforms/render-run';
import { DETAILS_HEADING, feedbackUsed } from '../src/platforms/run-words';
import { PLATFORM_SURFACES } from '../src/platforms/surfaces';
import { silentLogger } from '../src/log';

const PARAMS: RunParamsView = {
  prompt: 'a lighthouse at dusk',
  iterations: 3,
  candidates: 4,
  feedback: 's+p+f',
  optimizer: 'genetic',
  objective: 'single',
  members: ['playground:ann'],
  seed: 0,
  generator: 'sketch (offline)',
  llm: null,
  scorer: 'auto on features-v1',
};

const METRICS: RunMetricsView = {
  init: 6.2,
  max: 8.7,
  maxMinusInit: 2.5,
  kStar: 3,
  maxSim: 0.53,
  scoreOfMostSim: 9,
  imagesUsed: 13,
  costUsd: 0,
  bestImageId: 'img',
  bestPrompt: 'a lighthouse at dusk, watercolor',
};

/** A summary's main text and its Details part (kept apart so a platform can fold the details away). */
function summaryOf(event: Parameters<typeof renderRunEvent>[0]): { text: string; details: string } {
  const post = renderRunEvent(event).find((o) => o.op === 'post');
  return post?.op === 'post' ? { text: post.message.text, details: post.message.details ?? '' } : { text: '', details: '' };
}

describe('the run header', () => {
  it('names the optimizer and the feedback really used: no written feedback without a language model', () => {
    const text = renderHeader(PARAMS);
    expect(text).toMatch(/^🎨 \*\*Optimizing\*\* “a lighthouse at dusk”\n3 iterations of 4 new images each\./);
    expect(text).toContain('genetic search (offline, no language model)');
    expect(text).toContain('Setup: optimizer genetic · feedback s+p · images sketch (offline)');
    expect(text).not.toContain('s+p+f');
    expect(feedbackUsed('random', 's+p+f+I')).toBe('none');
    const llm = renderHeader({ ...PARAMS, optimizer: 'llm', llm: 'gpt-4o-mini' });
    expect(llm).toContain(
      'New prompts are written by a language model (gpt-4o-mini) from the scores and prompts so far and a written critique of each image.',
    );
    expect(llm).toContain('optimizer llm · feedback s+p+f');
  });

  it('says what the group objective means, and shows the note (e.g. words the renderer does not draw)', () => {
    const text = renderHeader(
      { ...PARAMS, objective: 'mean', members: ['a', 'b', 'c'] },
      'The offline sketch renderer does not draw: windmill.',
    );
    expect(text).toContain('Every image is scored by the taste models of 3 people: the average of the ratings they predict');
    expect(text.split('\n').at(-1)).toBe('The offline sketch renderer does not draw: windmill.');
  });
});

describe('the run summary', () => {
  it('leads with where the run got in plain words, then the measures each explained in a Details part', () => {
    const { text, details } = summaryOf({
      type: 'run.finished',
      key: 'k',
      runId: 'r',
      metrics: METRICS,
      stopReason: 'completed',
      method: { optimizer: 'genetic', feedback: 's+p+f' },
    });
    expect(text.split('\n')).toEqual([
      '✅ **Run finished**: from 6.2/10 to 8.7/10 (predicted for you) in 3 iterations.',
      'Best prompt (8.7/10): “a lighthouse at dusk, watercolor”',
      'New prompts come from a genetic search (offline, no language model): it mixes and changes the style words of the best-scoring prompts so far.',
    ]);
    expect(details.split('\n')).toEqual([
      DETAILS_HEADING,
      '• max 8.7/10 — the best predicted score of any image in this run',
      '• max − init +2.5 — how much the best image beats the one from your own prompt',
      '• K* 3 — the iteration that first reached the best score (0 = your own prompt)',
      '• max sim 0.53 — how alike the best image is to the most similar image you rated highly (1 = the same picture): near 1, the run rediscovered a favorite',
      '• score of most sim 9.0/10 — your rating of that most similar image',
      '• 13 images made · cost $0',
    ]);
  });

  it('says why a run stopped early and when the own prompt stayed best; a cancelled run keeps its measures', () => {
    const early = summaryOf({
      type: 'run.finished',
      key: 'k',
      runId: 'r',
      metrics: { ...METRICS, kStar: 0, maxMinusInit: 0, max: 6.2, maxSim: null },
      stopReason: 'patience',
    });
    expect(early.text).toContain('your own prompt stayed the best at 6.2/10 (predicted for you)');
    expect(early.text).toContain('It stopped early: several iterations in a row found no better image.');
    expect(early.details).toContain('• max sim – — no image you rated highly to compare the best image with yet');
    expect(early.text).not.toMatch(/\(patience\)|\(completed\)/);
    const cancelled = summaryOf({ type: 'run.cancelled', key: 'k', runId: 'r', metrics: METRICS });
    expect(cancelled.text).toMatch(/^🛑 \*\*Run cancelled\*\*: from 6\.2\/10 to 8\.7\/10/);
    expect(cancelled.text).not.toContain('(cancelled)');
    expect(cancelled.details).toMatch(/^\*\*Details\*\*\n• max 8\.7\/10 — /);
  });
});

describe('/help per platform', () => {
  it('says how rating works there, with emphasis only where it renders', () => {
    const playground = helpText(PLATFORM_SURFACES.playground);
    expect(playground).toContain('click one of the buttons 1 … 10 under it');
    expect(playground).not.toContain('1️⃣');
    // Only **bold** and `code` render in the playground: no single asterisks anywhere.
    expect(playground.replace(/\*\*[^*]+\*\*/g, '')).not.toContain('*');
    expect(helpText(PLATFORM_SURFACES.slack).replace(/\*\*[^*]+\*\*/g, '')).not.toContain('*');
    const discord = helpText(PLATFORM_SURFACES.discord);
    expect(discord).toContain('react with 1️⃣ … 🔟');
    expect(discord).toContain('*your* taste model');
    expect(discord).toContain('posts up to 10 images');
  });
});

describe('plain text and unknown commands', () => {
  it('a message without a slash gets a friendly pointer to /help, not a warning', () => {
    expect(() => prepareCommand('hello', () => ({}), 'hello bot')).toThrow(PLAIN_TEXT_REPLY);
    const reply = describeFailure(unknownCommand('hello', 'hello bot'), silentLogger);
    expect(reply.text).toBe(PLAIN_TEXT_REPLY);
    expect(reply.text).toContain('/help');
    expect(describeFailure(unknownCommand('hello', '/hello bot'), silentLogger).text).toBe(
      "⚠️ I don't know /hello. Try /help for the list of commands.",
    );
  });
});

describe('/compare in words', () => {
  const member = (name: string, predictions: number[], ratings: [string, number][] = []) => ({
    key: name,
    name,
    predictions,
    ratings: new Map(ratings),
  });
  it('explains the scale once (not per pair) and says in words how much shared ratings count', () => {
    const shared: [string, number][] = Array.from({ length: 10 }, (_, i) => [`i${i}`, (i % 10) + 1]);
    const p = pairMatch(member('Ann', [1, 2, 3, 4], shared), member('Bob', [1, 3, 2, 4], shared), 0, 1, 4);
    expect(p.explanation).not.toContain('50 ×');
    expect(p.explanation).not.toContain('counted');
    expect(p.explanation).toContain('(their own ratings make up 33% of the match, the models the other 67%)');
    expect(MATCH_SCALE).toContain('the percentage is 50 × (1 + correlation)');
  });
  it('says what separates two people without "per step"', () => {
    const direction = { id: 'warmth', positive: 'warm palettes', negative: 'cool palettes', vector: new Float64Array(0) };
    const text = separatingSentence(
      { name: 'Ann', responses: [{ direction, slope: 2, relative: 0 }] },
      { name: 'Bob', responses: [{ direction, slope: -1.8, relative: 0 }] },
    );
    expect(text).toBe(
      'What separates Ann and Bob most: Ann leans towards warm palettes while Bob leans towards cool palettes (a picture leaning noticeably more towards warm palettes than a typical one gets about 3.8 points more from Ann than from Bob).',
    );
  });
  it('a refusal names only the refused people the asker named, as they wrote them', async () => {
    const bob = { platform: 'discord' as const, userId: '222' };
    const cat = { platform: 'discord' as const, userId: '333', displayName: 'cat' };
    const refuse = (keys: string[]) => () => Promise.reject(new ProfileNotAvailableError({ refusedKeys: keys }));
    await expect(namingRefused([bob, cat], refuse([userKeyOf(cat)]))).rejects.toThrow("I can't show or use the taste profile of cat here.");
    await expect(namingRefused([bob, cat], refuse([userKeyOf(bob), userKeyOf(cat)]))).rejects.toThrow(
      "I can't show or use the taste profiles of <@222> and cat here.",
    );
    // Someone the asker did not name is never named: the generic refusal stays.
    await expect(namingRefused([bob], refuse(['discord:999']))).rejects.toThrow(ProfileNotAvailableError.MESSAGE);
  });
});

describe('/optimize says what the renderer cannot draw', () => {
  it('in its reply and in the run header note', async () => {
    const replies: OutMessage[] = [];
    const requests: { note?: string }[] = [];
    const ctx = {
      platform: 'playground',
      person: { platform: 'playground', userId: 'ann', displayName: 'Ann' },
      invocationId: 'i1',
      options: { prompt: 'a windmill at dusk' },
      log: silentLogger,
      services: {
        imageLimits: (p: string) => (p.includes('windmill') ? 'The offline sketch renderer does not draw: windmill.' : undefined),
      },
      channel: { id: 'c', mention: '#c', post: async () => 'm', edit: async () => {} },
      defer: async () => {},
      reply: async (m: OutMessage) => void replies.push(m),
      startRun: async (request: { note?: string }) => {
        requests.push(request);
        return { runId: 'r1', thread: { id: 't', mention: 'the thread', post: async () => 'm', edit: async () => {} } };
      },
    } as unknown as CommandContext;
    await findCommand('optimize')!.execute(ctx);
    expect(requests[0]!.note).toBe('The offline sketch renderer does not draw: windmill.');
    expect(replies[0]!.text).toBe(
      '🎨 Run started — follow it in the thread. Use /cancel to stop it.\nThe offline sketch renderer does not draw: windmill.',
    );
    await findCommand('optimize')!.execute({ ...ctx, options: { prompt: 'a cat at dusk' } });
    expect(requests[1]!.note).toBeUndefined();
    expect(replies[1]!.text).toBe('🎨 Run started — follow it in the thread. Use /cancel to stop it.');
  });
});

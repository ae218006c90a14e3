/**
 * The neutral shape of a run in its thread: one grid message per iteration (split into near-equal
 * messages of at most five tiles), the tiles' controls' choices, the progress message's ETA and keys
 * (each newer progress message replaces the older one), and how a batch's progress operations collapse.
 */
import { describe, expect, it } from 'vitest';
import type { CandidateView, RunEvent, RunMetricsView } from '../src/core/optimizer/events';
import { collapseProgressOps } from '../src/platforms/progress-trail';
import { etaText, renderRunEvent } from '../src/platforms/render-run';
import { MAX_TILES_PER_MESSAGE, renderIterationGrids, splitEvenly } from '../src/platforms/run-grid-message';
import { parseTileChoice, TILE_CHOICES } from '../src/platforms/tile-actions';

const img = (i: number) => i.toString(16).padStart(64, '0');
const candidate = (iteration: number, idx: number, extra: Partial<CandidateView> = {}): CandidateView => ({
  iteration,
  idx,
  prompt: `a red fox number ${idx} in the snow, painted in thick strokes of oil on a large canvas under a pale winter sky`,
  imageId: img(iteration * 100 + idx),
  score: 5 + idx / 10,
  ...extra,
});
const imagesEvent = (iteration: number, candidates: CandidateView[]): Extract<RunEvent, { type: 'iteration.images' }> => ({
  type: 'iteration.images',
  key: `run1:it${iteration}:images`,
  runId: 'run1',
  iteration,
  candidates,
});

describe('run grid messages', () => {
  it('one message for an iteration of up to five candidates: numbered tiles, shortened prompts, one key', () => {
    const [grid, ...rest] = renderIterationGrids(
      imagesEvent(
        2,
        [0, 1, 2, 3].map((i) => candidate(2, i)),
      ),
    );
    expect(rest).toHaveLength(0);
    expect(grid!.key).toBe('run1:it2:images:grid');
    expect(grid!.message.kind).toBe('grid');
    expect(grid!.message.grid!.tiles.map((t) => [t.number, t.imageId])).toEqual([0, 1, 2, 3].map((i) => [i + 1, img(200 + i)]));
    const lines = grid!.message.text.split('\n');
    expect(lines[0]).toBe('**Iteration 2** · 4 images, predicted score on each tile');
    expect(lines[1]).toMatch(/^1 · 5\.0\/10 — “a red fox number 0 in the snow, .{20,}…”$/);
    expect(lines[1]!.length).toBeLessThan(120); // the full prompt is what the tile's controls use
    expect(grid!.message.grid!.tiles[0]!.prompt).toContain('pale winter sky');
  });

  it('more than five candidates become near-equal messages of at most five tiles, numbered on', () => {
    expect(splitEvenly([...Array(16).keys()], 5).map((p) => p.length)).toEqual([4, 4, 4, 4]);
    expect(splitEvenly([...Array(9).keys()], 5).map((p) => p.length)).toEqual([5, 4]);
    expect(splitEvenly([...Array(25).keys()], 5).map((p) => p.length)).toEqual([5, 5, 5, 5, 5]);
    const parts = renderIterationGrids(
      imagesEvent(
        1,
        [...Array(9).keys()].map((i) => candidate(1, i)),
      ),
    );
    expect(parts.map((p) => p.key)).toEqual(['run1:it1:images:grid1', 'run1:it1:images:grid2']);
    expect(parts.every((p) => p.message.grid!.tiles.length <= MAX_TILES_PER_MESSAGE)).toBe(true);
    expect(parts[1]!.message.grid!.tiles.map((t) => t.number)).toEqual([6, 7, 8, 9]);
    expect(parts[1]!.message.text).toMatch(/^\*\*Iteration 1\*\* \(part 2 of 2\)/);
  });

  it('a withheld image has no image, no controls and never repeats its prompt; a skipped one says why', () => {
    const [grid] = renderIterationGrids(
      imagesEvent(1, [
        candidate(1, 0, { imageId: null, withheld: 'flagged', skippedReason: 'the image was flagged by moderation (violence)' }),
        candidate(1, 1, { imageId: null, score: null, skippedReason: 'the prompt was refused' }),
        candidate(1, 2),
      ]),
    );
    const [withheld, skipped] = grid!.message.grid!.tiles;
    expect(withheld).toMatchObject({ imageId: null, prompt: '', missingReason: 'withheld' });
    expect(skipped).toMatchObject({ imageId: null, missingReason: 'skipped' });
    expect(grid!.message.text).toContain('1 · withheld: the image was flagged by moderation (violence)');
    expect(grid!.message.text).not.toContain('number 0');
    expect(grid!.message.text).toContain('2 · skipped (the prompt was refused)');
  });

  it('a tile control offers Rate 10…1, More like this and Bigger, one gesture each', () => {
    expect(TILE_CHOICES.map((c) => c.label)).toEqual([
      ...[10, 9, 8, 7, 6, 5, 4, 3, 2, 1].map((n) => `Rate ${n}`),
      'More like this',
      'Bigger',
    ]);
    for (const c of TILE_CHOICES) expect(parseTileChoice(c.value)).not.toBeNull();
    expect(parseTileChoice('r7')).toEqual({ kind: 'rate', score: 7 });
    expect(parseTileChoice('r10')).toEqual({ kind: 'rate', score: 10 });
    for (const bad of ['r0', 'r11', 'r', '7', 'more ', 'big|x']) expect(parseTileChoice(bad)).toBeNull();
  });
});

describe('the progress message', () => {
  it('says how long is left from the mean duration of the iterations so far', () => {
    expect(etaText(1, 4, 20_000)).toBe(' · about 30 s left'); // 2 iterations in 20 s, 3 to go
    expect(etaText(0, 10, 30_000)).toBe(' · about 5 min left');
    expect(etaText(4, 4, 20_000)).toBe('');
    expect(etaText(1, 4, undefined)).toBe('');
  });

  it('is posted anew after each iteration under that iteration’s key, replacing the one before', () => {
    const progress = (iteration: number): RunEvent => ({
      type: 'run.progress',
      key: `run1:it${iteration}:progress`,
      runId: 'run1',
      iteration,
      iterations: 3,
      imagesUsed: 1,
      costUsd: 0,
    });
    expect(renderRunEvent(progress(0))).toMatchObject([{ op: 'progress', key: 'run1:it0:progress', replaces: ['run1:progress'] }]);
    expect(renderRunEvent(progress(2))).toMatchObject([{ op: 'progress', key: 'run1:it2:progress', replaces: ['run1:it1:progress'] }]);
    const metrics = {
      scoreHistory: [
        { iteration: 0, best: 5, mean: 5 },
        { iteration: 3, best: 7, mean: 6 },
      ],
    } as RunMetricsView;
    const finished = renderRunEvent({
      type: 'run.finished',
      key: 'run1:end',
      runId: 'run1',
      metrics: {
        ...metrics,
        max: 7,
        init: 5,
        maxMinusInit: 2,
        kStar: 3,
        maxSim: null,
        scoreOfMostSim: null,
        imagesUsed: 7,
        costUsd: 0,
        bestImageId: img(1),
        bestPrompt: 'a fox',
      },
      stopReason: 'completed',
    });
    expect(finished.map((o) => o.op)).toEqual(['post', 'progress', 'done']);
    expect(finished[1]).toMatchObject({ key: 'run1:end:progress', replaces: ['run1:it3:progress'] });
    // The summary: the outcome in words, the chart's points, the measures behind the Details toggle.
    const first = finished[0]!;
    const summary = first.op === 'post' ? first.message : undefined;
    expect(summary?.text).toMatch(/from 5\.0\/10 to 7\.0\/10 \(predicted for you\) in 3 iterations/);
    expect(summary?.text).not.toContain('K*');
    expect(summary?.scoreChart).toEqual(metrics.scoreHistory);
    expect(summary?.details).toMatch(/^\*\*Details\*\*\n• max 7\.0\/10 — /);
  });

  it('a batch shows only its newest progress text: at once in the first progress message, then posted last, replacing the others', () => {
    const ops = [
      { op: 'progress', key: 'p0', replaces: ['start'] },
      { op: 'post', key: 'grid1' },
      { op: 'progress', key: 'p1', replaces: ['p0'] },
      { op: 'post', key: 'grid2' },
      { op: 'progress', key: 'p2', replaces: ['p1'] },
    ];
    const newest = { op: 'progress', key: 'p2', replaces: ['p1'], text: 'iteration 2' };
    const out = collapseProgressOps([...ops.slice(0, 4), newest]);
    expect(out.map((o) => o.key)).toEqual(['p0', 'grid1', 'grid2', 'p2']);
    expect(out[0]).toMatchObject({ text: 'iteration 2', replaces: [] }); // the message already there shows the newest text
    expect(new Set(out.at(-1)!.replaces)).toEqual(new Set(['start', 'p0', 'p1']));
    expect(collapseProgressOps(ops.slice(0, 2))).toEqual(ops.slice(0, 2));
  });
});

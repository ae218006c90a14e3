/**
 * bench:saturation's count of candidates displayed as 10.0/10, on grid messages made by the product's
 * own renderer (so a change of the tile line's format breaks this test, not the benchmark silently).
 */
import { describe, expect, it } from 'vitest';
import { renderIterationGrids } from '../src/platforms/run-grid-message';
import { countShownAtTen } from '../src/eval/bench/saturation';
import type { CandidateView } from '../src/core/optimizer/events';

const candidate = (iteration: number, idx: number, score: number | null, extra: Partial<CandidateView> = {}): CandidateView => ({
  iteration,
  idx,
  prompt: `a lighthouse on a cliff, variant ${idx} with 10.0/10 in its words`,
  imageId: `img-${iteration}-${idx}`,
  score,
  ...extra,
});

const grids = (iteration: number, candidates: CandidateView[]) =>
  renderIterationGrids({ type: 'iteration.images', key: `run1:it${iteration}`, runId: 'run1', iteration, candidates }).map(
    (g) => g.message.text,
  );

describe('bench:saturation counting', () => {
  it('counts every shown candidate and those reading 10.0/10, across split grid messages', () => {
    const texts = [
      ...grids(0, [candidate(0, 0, 6.2)]),
      // Six candidates: split into two grid messages of three.
      ...grids(
        1,
        [9.96, 9.94, 10, 12.5, 3, null].map((s, i) => candidate(1, i, s)),
      ),
      ...grids(2, [
        candidate(2, 0, 10),
        candidate(2, 1, null, { imageId: null, skippedReason: 'generation failed' }),
        candidate(2, 2, 10, { withheld: 'flagged', skippedReason: 'flagged by moderation' }),
      ]),
      'Run finished: from 6.2/10 to 10.0/10',
    ];
    expect(texts.length).toBe(5);
    // Shown: 1 + 6 + 1 (the skipped and the withheld tiles show no image); at 10.0: 9.96, 10, 12.5 and 10.
    expect(countShownAtTen(texts)).toEqual({ candidates: 8, shown_at_10: 4, share: 0.5 });
  });

  it('is zero of zero for a run with no grid', () => {
    expect(countShownAtTen(['Run finished'])).toEqual({ candidates: 0, shown_at_10: 0, share: 0 });
  });
});

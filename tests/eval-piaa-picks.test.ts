import { describe, expect, it } from 'vitest';
import { runPiaaProtocol } from '../src/eval/piaa/protocol';
import { syntheticPiaaData } from '../src/eval/piaa/data';
import { defaultConfig } from '../src/eval/piaa/config';
import { PICKS_TARGET } from '../src/eval/piaa/picks';

/** A protocol run on a busy 2-core machine can take tens of seconds. */
const HEAVY_MS = 240_000;

describe('eval:piaa picks arm (k picks of four vs k ratings, against the hidden taste)', () => {
  it(
    'reports both arms per interaction count and paired comparisons with the target',
    async () => {
      const seed = 4;
      const data = await syntheticPiaaData({ seed, people: 12, poolSize: 130, cacheDir: false });
      const cfg = {
        ...defaultConfig(seed, true, ['finetune']),
        testSize: 25,
        communityPerRater: 60,
        activeCandidates: 60,
        activeCounts: [],
        pickCounts: [1, 5, PICKS_TARGET],
      };
      const summary = runPiaaProtocol(data, cfg);
      const arm = summary.picks_vs_ratings!;
      expect(Object.keys(arm).sort()).toEqual(['1', '10', '5']);
      for (const row of Object.values(arm)) {
        expect(row.n).toBe(summary.people);
        expect(Math.abs(row.picks)).toBeLessThanOrEqual(1);
        expect(Math.abs(row.ratings)).toBeLessThanOrEqual(1);
      }
      // Ten picks of four teach something about the hidden taste: their SROCC is above chance.
      expect(arm['10']!.picks).toBeGreaterThan(0.1);
      const target = summary.comparisons.find((c) => c.a === `${PICKS_TARGET} picks` && c.b === `${PICKS_TARGET} ratings`)!;
      expect(target.metric).toMatch(/target/);
      expect(target.pairs).toBe(summary.people);
      expect(['MET', 'MISSED']).toContain(target.verdict);
      expect(target.lo).toBeLessThanOrEqual(target.mean);
      expect(target.hi).toBeGreaterThanOrEqual(target.mean);
      console.log('picks vs ratings (tiny run):', JSON.stringify(arm), target.verdict, target.mean, [target.lo, target.hi]);
    },
    HEAVY_MS,
  );

  it(
    'runs only when asked: no picks figures without pickCounts',
    async () => {
      const data = await syntheticPiaaData({ seed: 5, people: 6, poolSize: 90, cacheDir: false });
      const cfg = { ...defaultConfig(5, true, ['finetune']), testSize: 20, communityPerRater: 40, activeCandidates: 40, activeCounts: [] };
      const summary = runPiaaProtocol(data, cfg);
      expect(summary.picks_vs_ratings).toBeUndefined();
      expect(summary.comparisons.some((c) => c.a.endsWith('picks'))).toBe(false);
    },
    HEAVY_MS,
  );
});

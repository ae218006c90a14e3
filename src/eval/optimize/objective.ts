/**
 * The objective eval:optimize hands the product's loop: a person's scorer over image embeddings, in
 * memory — the product's own ScorerService (with the community models and, for a virtual person, their
 * ratings), so the loop gets exactly what /optimize gets: the uncapped posterior mean and its sd to rank
 * on, and the calibrated 1–10 score shown (display-score.ts). It also keeps every score it handed out,
 * so a run can report how many candidates a person would have seen at "10.0" — shown, and as the
 * clipped predictions showed them before.
 */
import type { Objective, ObjectiveResult } from '../../core/optimizer/loop';
import { mostSimilar } from '../../core/optimizer/run-metrics';
import type { Embedder } from '../../core/ports';
import type { PackedRatings } from '../../core/scorer/data';
import { ScorerService } from '../../core/scorer/scorer-service';
import type { Community } from '../piaa/methods';
import { embedPngs } from '../embedding';
import type { MemoryImageStore } from '../memory-store';

const PERSON = 'virtual';

/** Every score an objective handed out: what was shown and what the scorer believed (uncapped). */
export interface ScoreLog {
  shown: number[];
  mean: number[];
}

/** A person's scorer as the product builds it: the community models plus (when given) their ratings. */
export function scorerFor(community: Community, dim: number, modelId: string, ratings?: PackedRatings): ScorerService {
  const scorer = new ScorerService({ modelId, dim, global: community.global, meta: community.meta });
  if (ratings && ratings.n > 0) {
    const X = Array.from({ length: ratings.n }, (_, i) => ratings.X.subarray(i * dim, (i + 1) * dim));
    scorer.setRatings(PERSON, X, ratings.y);
  }
  return scorer;
}

/** Scores images with a person's scorer over their embeddings (cached per image id). */
export class EmbeddingObjective implements Objective {
  private readonly vecs = new Map<string, Float32Array>();
  readonly log: ScoreLog = { shown: [], mean: [] };
  constructor(
    private readonly store: MemoryImageStore,
    private readonly embedder: Embedder,
    private readonly scorer: ScorerService,
    private readonly label: string,
    private readonly earlier: { imageId: string; score: number; vector: Float32Array }[] = [],
  ) {}
  describe(): string {
    return this.label;
  }
  async vectors(ids: string[]): Promise<Float32Array[]> {
    const missing = ids.filter((id) => !this.vecs.has(id));
    if (missing.length) {
      const v = await embedPngs(this.embedder, await Promise.all(missing.map((id) => this.store.readBytes(id))));
      missing.forEach((id, i) => this.vecs.set(id, v[i]!));
    }
    return ids.map((id) => this.vecs.get(id)!);
  }
  async score(ids: string[]): Promise<ObjectiveResult> {
    const b = this.scorer.belief(PERSON, await this.vectors(ids), { withSd: true });
    this.log.shown.push(...b.shown);
    this.log.mean.push(...b.mean);
    return {
      scores: b.mean.map((mean, i) => ({ score: b.shown[i]!, memberScores: {}, mean, sd: b.sd[i]! })),
      scorerN: this.scorer.count(PERSON),
    };
  }
  async similarity(imageId: string) {
    if (!this.earlier.length) return null;
    const [v] = await this.vectors([imageId]);
    const r = mostSimilar(v!, this.earlier);
    return r ? { maxSim: r.maxSim, scoreOfMostSim: r.scoreOfMostSim } : null;
  }
}

/**
 * Typed events a run emits; chat platforms render them. Every event carries an idempotency `key`
 * (run id + what it is about) so a resumed run never makes a platform post twice.
 */
export type FeedbackSet = 'none' | 's+p' | 's+p+f' | 's+p+f+I';
export type OptimizerKind = 'llm' | 'genetic' | 'random';
export type GroupObjective = 'mean' | 'min';

export interface RunParamsView {
  prompt: string;
  iterations: number;
  candidates: number;
  feedback: FeedbackSet;
  optimizer: OptimizerKind;
  objective: GroupObjective | 'single';
  members: string[]; // user keys
  seed: number;
  generator: string; // e.g. "sketch", "replicate:black-forest-labs/flux-schnell"
  llm: string | null; // model or null when none
  scorer: string; // e.g. "auto (finetune) on features-v1"
}

export interface CandidateView {
  iteration: number;
  idx: number;
  prompt: string;
  imageId: string | null;
  /** Objective score on 1..10 (group: mean or min of members). */
  score: number | null;
  /** Per-member predicted scores for group runs. */
  memberScores?: Record<string, number>;
  skippedReason?: string;
  /**
   * The image was made but not shown: moderation flagged it, or could not check it (fail closed).
   * `skippedReason` then says why, e.g. "the image was flagged by moderation (sexual)".
   */
  withheld?: 'flagged' | 'unchecked';
}

export interface RunMetricsView {
  init: number;
  max: number;
  maxMinusInit: number;
  kStar: number;
  /** Cosine similarity of the best image to the most similar earlier high-rated image (null if none). */
  maxSim: number | null;
  scoreOfMostSim: number | null;
  imagesUsed: number;
  costUsd: number;
  bestImageId: string | null;
  bestPrompt: string | null;
  /** Group runs: each member's predicted score for the best image. */
  bestMemberScores?: Record<string, number>;
  /** Best and mean predicted score per iteration (absent in events stored before it was added). */
  scoreHistory?: { iteration: number; best: number; mean: number }[];
}

export type RunEvent =
  | { type: 'run.started'; key: string; runId: string; params: RunParamsView; note?: string }
  | { type: 'iteration.images'; key: string; runId: string; iteration: number; candidates: CandidateView[] }
  | {
      type: 'iteration.summary';
      key: string;
      runId: string;
      iteration: number;
      bestSoFar: number;
      bestThisIteration: number | null;
      feedbackDigest: string | null;
      scorerN: number;
    }
  | {
      type: 'run.progress';
      key: string;
      runId: string;
      iteration: number;
      iterations: number;
      imagesUsed: number;
      costUsd: number;
      /** Milliseconds the iterations so far took (the progress message's ETA); absent in older events. */
      elapsedMs?: number;
    }
  | {
      type: 'run.finished';
      key: string;
      runId: string;
      metrics: RunMetricsView;
      stopReason: string;
      /** How the run looked for prompts, for its summary (absent in events stored before it was added). */
      method?: { optimizer: OptimizerKind; feedback: FeedbackSet };
    }
  | { type: 'run.failed'; key: string; runId: string; message: string; referenceId?: string }
  | { type: 'run.cancelled'; key: string; runId: string; metrics: RunMetricsView | null };

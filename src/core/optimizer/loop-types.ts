/**
 * What the run loop is handed and what it hands back: its collaborators (the objective, the image
 * store, the proposer, moderation), its JSON state (stored in runs.state between iterations) and the
 * inputs and results of one step. Kept apart from the step itself so the moderation and feedback
 * stages can name them without importing the loop.
 */
import type { ImageGenerator } from '../ports';
import type { ImageRecord } from '../records';
import type { SanitizeOptions } from '../text-safety';
import type { FeedbackLlm, Moderator } from '../ports';
import type { CandidateView, RunEvent } from './events';
import type { RunParams } from './params';
import type { PromptProposer } from './proposer';

export interface ObjectiveScore {
  /** The score shown on 1..10 (group: mean or min over members' shown scores). */
  score: number;
  memberScores: Record<string, number>;
  /**
   * What the scorer believes, uncapped: the posterior mean rating (group: mean or min over members)
   * and its standard deviation. What the run ranks on (ranking.ts); absent = `score` with no doubt.
   */
  mean?: number;
  sd?: number;
}

export interface ObjectiveResult {
  scores: ObjectiveScore[];
  /** Ratings the scorer had when it scored (sum over members for groups): the human-in-the-loop record. */
  scorerN: number;
}

/**
 * What the loop optimizes. `score` is called fresh every iteration, so ratings a person adds while
 * the run is going (and the refit they trigger) show up in the next iteration's scores.
 */
export interface Objective {
  describe(): string;
  score(imageIds: string[], signal?: AbortSignal): Promise<ObjectiveResult>;
  /**
   * Optional warm-up of the per-image work behind `score` (embedding), called as soon as each image
   * is stored so it overlaps the renders still in flight. Must not change what `score` returns: the
   * batch is still scored once, after all images are in, by one version of the scorer (so a refit
   * landing mid-iteration never mixes two scorers in one iteration). Failures are ignored here —
   * `score` redoes the work and reports them.
   */
  prepare?(imageId: string, signal?: AbortSignal): Promise<void>;
  /** Max-sim metric: the best image vs the person's earlier high-rated images (null when unknown). */
  similarity?(imageId: string): Promise<{ maxSim: number; scoreOfMostSim: number } | null>;
}

export interface LoopImageStore {
  put(
    bytes: Buffer,
    meta: { source: 'generated'; prompt?: string | null; generator?: string | null; seed?: number | null },
  ): Promise<ImageRecord>;
  readBytes(id: string): Promise<Buffer>;
}

export interface LoopDeps {
  generator: ImageGenerator;
  store: LoopImageStore;
  objective: Objective;
  proposer: PromptProposer;
  feedbackLlm?: FeedbackLlm;
  /** Checks prompts before rendering and images before they are stored, scored or posted. */
  moderator?: Moderator;
  /** Told when an image could not be moderated (it is withheld either way); for the operator's log. */
  onModerationError?: (err: unknown) => void;
  /** Prompt hygiene (length, banned words); defaults to text-safety's defaults. */
  sanitize?: SanitizeOptions;
  /** Feedback-LLM requests in flight at once (default 16): all N candidates' feedback in one round of latency. */
  feedbackConcurrency?: number;
}

/** Default bound on concurrent feedback-LLM calls: N = 16 candidates cost one round of LLM latency, not four. */
export const DEFAULT_FEEDBACK_CONCURRENCY = 16;

// ---------- state ----------

export interface CandidateRecord extends CandidateView {
  feedback?: string | null;
  costUsd?: number;
  /** The scorer's uncapped posterior mean: what the run's best is chosen on (absent in older states). */
  mean?: number | null;
  /** What the optimizer ranks this candidate on under the run's ranking rule (ranking.ts). */
  rank?: number | null;
}

/** Everything a run needs to continue, JSON-serializable (stored in runs.state). */
export interface LoopState {
  version: 1;
  /** The iteration to run next (0 = the initial prompt). */
  iteration: number;
  /** Prompts to render in `iteration`. */
  pending: string[];
  /** Every finished candidate so far. */
  history: CandidateRecord[];
  init: number | null;
  bestSoFar: number | null;
  /** The posterior mean of the best-so-far candidate (what "better" is judged on); absent in older states. */
  bestMeanSoFar?: number | null;
  /** Iterations in a row without a new best (for patience). */
  sinceImprovement: number;
  imagesUsed: number;
  costUsd: number;
  /** Set when the run is over: completed | patience | budget | no-prompts. */
  stopReason: string | null;
  /** Wall-clock milliseconds the finished iterations took (the progress message's ETA); absent in older states. */
  elapsedMs?: number;
}

export function initialState(params: RunParams): LoopState {
  return {
    version: 1,
    iteration: 0,
    pending: [params.prompt],
    history: [],
    init: null,
    bestSoFar: null,
    sinceImprovement: 0,
    imagesUsed: 0,
    costUsd: 0,
    stopReason: null,
  };
}

/** Why a rendered image was not shown (see CandidateView.withheld). */
export interface WithheldImage {
  kind: 'flagged' | 'unchecked';
  /** Neutral, shown in the thread: "the image was flagged by moderation (sexual)". */
  reason: string;
}

/** An image already generated for the iteration in flight before a crash (checkpointed by the caller). */
export interface DoneImage {
  /** null when the image was withheld by moderation (its bytes were never stored). */
  imageId: string | null;
  costUsd: number;
  withheld?: WithheldImage;
}

export interface IterationOptions {
  runId: string;
  signal?: AbortSignal;
  userKey?: string;
  /** Images of this iteration generated before a crash, by candidate index: not generated again. */
  done?: ReadonlyMap<number, DoneImage>;
  /** Called as soon as each image is stored (or withheld by moderation), so the caller can checkpoint it. */
  onImage?: (idx: number, image: DoneImage) => Promise<void>;
}

export interface IterationResult {
  iteration: number;
  state: LoopState;
  candidates: CandidateRecord[];
  bestThisIteration: number | null;
  feedbackDigest: string | null;
  scorerN: number;
  /** iteration.images, iteration.summary, run.progress — with idempotency keys. */
  events: RunEvent[];
  /** Images actually generated in this call (resumed ones excluded). */
  generated: number;
}

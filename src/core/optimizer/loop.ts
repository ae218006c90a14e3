/**
 * The platform-neutral run engine. It is step-wise: `runIteration(state)` executes one iteration and
 * returns the next JSON state plus the iteration's candidates and events, touching nothing durable
 * itself, so the caller (RunService) can commit each iteration atomically and resume from the last
 * committed state after a crash. `runLoop` drives the steps in memory (tests, evaluation).
 *
 * Iteration 0 renders and scores the initial prompt (the "init" score) and asks the proposer for N
 * diverse prompts; iteration i ≥ 1 renders the N pending prompts, scores them, builds feedback and
 * proposes N more (unless the run stops after this iteration).
 *
 * Moderation (when a moderator is configured): every prompt is checked before it is rendered, and
 * every rendered image before it is stored, scored or posted. A flagged image — or one moderation
 * could not check — is withheld: its bytes are never stored, its candidate carries `withheld` and a
 * neutral reason, and the run goes on with the other candidates.
 */
import { CancelledError, InvalidPromptError, ProviderError } from '../errors';
import type { ImageGenerator, ImageRecord } from '../ports';
import { sanitizePrompt, type SanitizeOptions } from '../text-safety';
import type { FeedbackLlm, LlmMessageImage, Moderator } from '../ports';
import type { CandidateView, RunEvent, RunMetricsView } from './events';
import { feedbackHasImages, feedbackHasText } from './llm';
import { bestCandidate, computeMetrics } from './metrics';
import type { RunParams } from './params';
import type { PromptProposer, ProposalFeedback, ScoredPrompt } from './proposer';
import { mixSeed, rngFor } from './rng';

// ---------- injected collaborators ----------

export interface ObjectiveScore {
  /** Objective score on 1..10 (group: mean or min over members). */
  score: number;
  memberScores: Record<string, number>;
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
  /** Iterations in a row without a new best (for patience). */
  sinceImprovement: number;
  imagesUsed: number;
  costUsd: number;
  /** Set when the run is over: completed | patience | budget | no-prompts. */
  stopReason: string | null;
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

// ---------- keys ----------

export const eventKeys = {
  started: (runId: string) => `${runId}:started`,
  images: (runId: string, it: number) => `${runId}:it${it}:images`,
  /** Per-image key a platform uses when it posts candidates one message each. */
  image: (runId: string, it: number, idx: number) => `${runId}:it${it}:img${idx}`,
  summary: (runId: string, it: number) => `${runId}:it${it}:summary`,
  progress: (runId: string, it: number) => `${runId}:it${it}:progress`,
  end: (runId: string) => `${runId}:end`,
};

// ---------- the step ----------

const EPS = 1e-9;

export async function runIteration(state: LoopState, params: RunParams, deps: LoopDeps, opts: IterationOptions): Promise<IterationResult> {
  if (state.stopReason) throw new Error(`run is already over (${state.stopReason})`);
  const { runId, signal } = opts;
  const it = state.iteration;
  throwIfAborted(signal);

  // 1. Safety: sanitize and moderate every prompt before anything is rendered.
  const candidates: CandidateRecord[] = state.pending.map((prompt, idx) => ({ iteration: it, idx, prompt, imageId: null, score: null }));
  await screenPrompts(candidates, deps, it === 0, signal);

  // 2. Render the admitted prompts concurrently (bounded by the provider's limit) as a per-image
  //    pipeline: render → moderate → store → checkpoint → warm the objective (embedding), each image
  //    as soon as it arrives, so storage and embedding overlap the renders still in flight.
  //    Moderation comes before the store on purpose: stored generated images feed /rate and profile
  //    pools, so a flagged image must never get there.
  let generated = 0;
  let costUsd = 0;
  const toRender = candidates.filter((c) => !c.skippedReason);
  const warming: Promise<void>[] = [];
  const warm = (imageId: string) => {
    if (deps.objective.prepare) warming.push(deps.objective.prepare(imageId, signal).catch(() => undefined));
  };
  const moderation = { signal, runId, userKey: opts.userKey };
  try {
    await mapBounded(toRender, Math.max(1, deps.generator.concurrency), async (c) => {
      const prior = opts.done?.get(c.idx);
      if (prior) {
        c.costUsd = prior.costUsd;
        if (prior.withheld || !prior.imageId) return withhold(c, prior.withheld ?? UNCHECKED);
        // Stored before a crash, so it passed moderation then — unless moderation was turned on
        // since. Checking again is cheap and leaves no path where an unchecked image is posted.
        if (deps.moderator) {
          const verdict = await screenImage(await deps.store.readBytes(prior.imageId), deps, moderation);
          if (verdict) return withhold(c, verdict);
        }
        c.imageId = prior.imageId;
        warm(prior.imageId);
        return;
      }
      throwIfAborted(signal);
      const seed = mixSeed(params.seed, it, c.idx) & 0x7fffffff;
      const img = await deps.generator.generate(c.prompt, { seed, size: params.size, signal, runId, userKey: opts.userKey });
      generated++;
      c.costUsd = img.costUsd;
      const verdict = deps.moderator ? await screenImage(img.bytes, deps, moderation) : null;
      if (verdict) {
        withhold(c, verdict);
        // Checkpointed too: a resumed run neither pays for this image again nor shows it.
        await opts.onImage?.(c.idx, { imageId: null, costUsd: img.costUsd, withheld: verdict });
        return;
      }
      const rec = await deps.store.put(img.bytes, { source: 'generated', prompt: c.prompt, generator: deps.generator.name, seed });
      c.imageId = rec.id;
      await opts.onImage?.(c.idx, { imageId: rec.id, costUsd: img.costUsd });
      // Not awaited: the render slot goes straight to the next prompt.
      warm(rec.id);
    });
  } finally {
    // Never leave warm-ups running past the iteration (they are caught, so this cannot throw).
    await Promise.all(warming);
  }
  for (const c of toRender) costUsd += c.costUsd ?? 0;
  throwIfAborted(signal);

  // 3. Score with the objective as it is now (fresh ratings included).
  const rendered = toRender.filter((c) => c.imageId);
  // Withheld images were made (and paid for): they count against the image budget like shown ones.
  const made = toRender.filter((c) => c.imageId || c.withheld).length;
  let scorerN = 0;
  if (rendered.length) {
    const res = await deps.objective.score(
      rendered.map((c) => c.imageId as string),
      signal,
    );
    scorerN = res.scorerN;
    rendered.forEach((c, i) => {
      const s = res.scores[i];
      if (!s) throw new Error(`objective returned ${res.scores.length} scores for ${rendered.length} images`);
      c.score = s.score;
      if (params.members.length > 1) c.memberScores = s.memberScores;
    });
  }
  if (it === 0 && rendered.length === 0) {
    const w = candidates[0]?.withheld;
    if (w === 'flagged')
      throw new InvalidPromptError(
        `The image for your prompt was withheld: ${candidates[0]?.skippedReason}. Nothing was posted; try a different prompt.`,
      );
    if (w === 'unchecked')
      throw new ProviderError('moderation', 'the image for your prompt could not be checked, so it was withheld; try again later');
    throw new InvalidPromptError('The initial prompt could not be rendered.');
  }

  // 4. Book-keeping: best so far, patience, budget.
  const bestHere = bestCandidate(candidates)?.score ?? null;
  const next: LoopState = {
    ...state,
    iteration: it + 1,
    pending: [],
    history: [...state.history, ...candidates],
    imagesUsed: state.imagesUsed + made,
    costUsd: state.costUsd + costUsd,
  };
  if (it === 0) {
    next.init = bestHere;
    next.bestSoFar = bestHere;
  } else if (bestHere !== null && (next.bestSoFar === null || bestHere > next.bestSoFar + EPS)) {
    next.bestSoFar = bestHere;
    next.sinceImprovement = 0;
  } else {
    next.sinceImprovement = state.sinceImprovement + 1;
  }
  const n = nextBatchSize(next, params);
  next.stopReason = stopReasonAfter(next, params, it, n, made ? costUsd / made : 0);

  // 5. Feedback and the next prompts (not needed when the run ends here).
  let feedbackDigest: string | null = null;
  if (!next.stopReason) {
    const ctx = { initialPrompt: params.prompt, iteration: it + 1, signal, runId, userKey: opts.userKey };
    const rng = rngFor(params.seed, it + 1, `propose:${deps.proposer.kind}`);
    let proposals: string[];
    if (it === 0) {
      proposals = await deps.proposer.initial(params.prompt, n, rng, ctx);
    } else {
      const feedback = await buildFeedback(candidates, params, deps, signal, runId, opts.userKey);
      feedbackDigest = feedback?.texts?.length
        ? feedback.texts
            .map((f) => f.text)
            .join(' | ')
            .slice(0, 500)
        : null;
      proposals = await deps.proposer.next(toScored(next.history), n, rng, ctx, feedback);
    }
    throwIfAborted(signal);
    const seen = new Set(next.history.map((c) => c.prompt));
    next.pending = [...new Set(proposals.map((p) => p.trim()).filter((p) => p && !seen.has(p)))].slice(0, n);
    if (next.pending.length === 0) next.stopReason = 'no-prompts';
  }

  const views = candidates.map(toView);
  const events: RunEvent[] = [
    { type: 'iteration.images', key: eventKeys.images(runId, it), runId, iteration: it, candidates: views },
    {
      type: 'iteration.summary',
      key: eventKeys.summary(runId, it),
      runId,
      iteration: it,
      bestSoFar: next.bestSoFar ?? NaN,
      bestThisIteration: bestHere,
      feedbackDigest,
      scorerN,
    },
    {
      type: 'run.progress',
      key: eventKeys.progress(runId, it),
      runId,
      iteration: it,
      iterations: params.iterations,
      imagesUsed: next.imagesUsed,
      costUsd: next.costUsd,
    },
  ];
  return { iteration: it, state: next, candidates, bestThisIteration: bestHere, feedbackDigest, scorerN, events, generated };
}

/** How many prompts the next iteration gets: N, or what the image budget still allows. */
function nextBatchSize(s: LoopState, p: RunParams): number {
  const left = p.budget.maxImages !== undefined ? p.budget.maxImages - s.imagesUsed : Infinity;
  return Math.max(0, Math.min(p.candidates, left));
}

function stopReasonAfter(s: LoopState, p: RunParams, it: number, nextN: number, costPerImage: number): string | null {
  if (it >= p.iterations) return 'completed';
  if (p.patience !== null && it > 0 && s.sinceImprovement >= p.patience) return 'patience';
  if (nextN <= 0) return 'budget';
  // Stop before an iteration that would overspend the money budget (estimated from this iteration's price).
  if (p.budget.maxUsd !== undefined && s.costUsd + costPerImage * nextN > p.budget.maxUsd + EPS) return 'budget';
  return null;
}

async function screenPrompts(candidates: CandidateRecord[], deps: LoopDeps, isInitial: boolean, signal?: AbortSignal): Promise<void> {
  for (const c of candidates) {
    // The person's prompt must pass as is; LLM-written prompts are trimmed to length instead of dropped.
    const r = sanitizePrompt(c.prompt, { ...deps.sanitize, truncate: !isInitial });
    if (!r.ok) {
      if (isInitial) throw new InvalidPromptError(`Your prompt can't be used: ${r.reason}.`);
      c.skippedReason = r.reason;
    } else {
      c.prompt = r.text;
    }
  }
  const open = candidates.filter((c) => !c.skippedReason);
  if (!deps.moderator || open.length === 0) return;
  throwIfAborted(signal);
  const results = await deps.moderator.check(
    open.map((c) => c.prompt),
    signal,
  );
  open.forEach((c, i) => {
    const r = results[i];
    if (r?.flagged) {
      const why = r.categories.length ? r.categories.join(', ') : 'unsafe content';
      if (isInitial) throw new InvalidPromptError(`Your prompt was flagged by moderation (${why}); nothing was generated.`);
      c.skippedReason = `flagged by moderation (${why})`;
    }
  });
}

const UNCHECKED: WithheldImage = { kind: 'unchecked', reason: 'the image could not be checked by moderation' };

function withhold(c: CandidateRecord, w: WithheldImage): void {
  c.imageId = null;
  c.withheld = w.kind;
  c.skippedReason = w.reason;
}

/** null when the image may be shown; otherwise why it is withheld. */
async function screenImage(
  bytes: Buffer,
  deps: LoopDeps,
  opts: { signal?: AbortSignal; runId: string; userKey?: string },
): Promise<WithheldImage | null> {
  if (!deps.moderator) return null;
  throwIfAborted(opts.signal);
  try {
    const r = await deps.moderator.checkImage({ mime: sniffImageMime(bytes), bytes }, opts);
    if (!r.flagged) return null;
    const why = r.categories.length ? r.categories.join(', ') : 'unsafe content';
    return { kind: 'flagged', reason: `the image was flagged by moderation (${why})` };
  } catch (err) {
    if (isAbort(err, opts.signal)) throw err;
    // Fail closed: an image moderation could not vouch for (timeout, 5xx after the SDK's retries, a
    // malformed reply) is withheld like a flagged one — never stored, scored or posted unchecked —
    // with its own reason, and the run goes on with the other candidates.
    deps.onModerationError?.(err);
    return UNCHECKED;
  }
}

/** The MIME type of image bytes from their signature (what the data URL for moderation says). */
export function sniffImageMime(b: Buffer): string {
  if (b.length >= 8 && b[0] === 0x89 && b.subarray(1, 4).toString('latin1') === 'PNG') return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 12 && b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP')
    return 'image/webp';
  if (b.length >= 6 && b.subarray(0, 4).toString('latin1') === 'GIF8') return 'image/gif';
  // Unknown: the moderation endpoint rejects it, and the image is withheld (fail closed).
  return 'application/octet-stream';
}

async function buildFeedback(
  candidates: CandidateRecord[],
  params: RunParams,
  deps: LoopDeps,
  signal: AbortSignal | undefined,
  runId: string,
  userKey: string | undefined,
): Promise<ProposalFeedback | undefined> {
  if (!deps.proposer.wantsFeedback || !feedbackHasText(params.feedback)) return undefined;
  const scored = candidates.filter((c) => c.imageId && c.score !== null);
  const withImages = await Promise.all(
    scored.map(async (c) => ({
      c,
      image: { mime: 'image/png', bytes: await deps.store.readBytes(c.imageId as string) },
    })),
  );
  const out: ProposalFeedback = {};
  if (deps.feedbackLlm) {
    const fb = deps.feedbackLlm;
    out.texts = [];
    // Every candidate's feedback at once (bounded by the feedback LLM's concurrency): one round of latency.
    await mapBounded(withImages, Math.max(1, deps.feedbackConcurrency ?? DEFAULT_FEEDBACK_CONCURRENCY), async ({ c, image }) => {
      throwIfAborted(signal);
      const text = await fb.feedback({ prompt: c.prompt, score: c.score as number, image, signal, runId, userKey });
      c.feedback = text;
    });
    out.texts = withImages.map(({ c }) => ({ prompt: c.prompt, score: c.score as number, text: c.feedback ?? '' }));
  }
  if (feedbackHasImages(params.feedback))
    out.images = withImages.map(({ c, image }) => ({ prompt: c.prompt, score: c.score as number, image }));
  return out;
}

function toScored(history: CandidateRecord[]): ScoredPrompt[] {
  return history.map((c) => ({ prompt: c.prompt, score: c.score, iteration: c.iteration, idx: c.idx }));
}

export function toView(c: CandidateRecord): CandidateView {
  const v: CandidateView = { iteration: c.iteration, idx: c.idx, prompt: c.prompt, imageId: c.imageId, score: c.score };
  if (c.memberScores) v.memberScores = c.memberScores;
  if (c.skippedReason) v.skippedReason = c.skippedReason;
  if (c.withheld) v.withheld = c.withheld;
  return v;
}

// ---------- end of run ----------

export async function finalMetrics(state: LoopState, objective: Objective): Promise<RunMetricsView> {
  const best = bestCandidate(state.history);
  const similarity = best?.imageId && objective.similarity ? await objective.similarity(best.imageId).catch(() => null) : null;
  return computeMetrics({ candidates: state.history, imagesUsed: state.imagesUsed, costUsd: state.costUsd, similarity });
}

export interface LoopRunResult {
  state: LoopState;
  stopReason: string;
  metrics: RunMetricsView;
  events: RunEvent[];
  iterations: IterationResult[];
}

/**
 * Drives a whole run in memory. Cancellation (signal) ends it with stopReason 'cancelled' and the
 * metrics of what was completed; other errors propagate.
 */
export async function runLoop(
  params: RunParams,
  deps: LoopDeps,
  opts: {
    runId: string;
    signal?: AbortSignal;
    userKey?: string;
    onEvent?: (e: RunEvent) => void;
    beforeIteration?: (it: number) => Promise<void> | void;
  },
): Promise<LoopRunResult> {
  let state = initialState(params);
  const events: RunEvent[] = [];
  const iterations: IterationResult[] = [];
  const emit = (e: RunEvent) => {
    events.push(e);
    opts.onEvent?.(e);
  };
  let stopReason: string;
  try {
    while (!state.stopReason) {
      await opts.beforeIteration?.(state.iteration);
      const r = await runIteration(state, params, deps, { runId: opts.runId, signal: opts.signal, userKey: opts.userKey });
      iterations.push(r);
      r.events.forEach(emit);
      state = r.state;
    }
    stopReason = state.stopReason;
  } catch (err) {
    if (!isAbort(err, opts.signal)) throw err;
    stopReason = 'cancelled';
  }
  const metrics = await finalMetrics(state, deps.objective);
  emit(
    stopReason === 'cancelled'
      ? { type: 'run.cancelled', key: eventKeys.end(opts.runId), runId: opts.runId, metrics: state.history.length ? metrics : null }
      : { type: 'run.finished', key: eventKeys.end(opts.runId), runId: opts.runId, metrics, stopReason },
  );
  return { state, stopReason, metrics, events, iterations };
}

// ---------- helpers ----------

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new CancelledError();
}

/** True when `err` is (or was caused by) the run's cancellation. */
export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  if (err instanceof CancelledError) return true;
  if (signal?.aborted) return true;
  return err instanceof Error && err.name === 'AbortError';
}

/** Runs `fn` over `items` with at most `limit` in flight; the first failure stops new starts and is rethrown after in-flight work settles. */
export async function mapBounded<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | null = null;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        await fn(items[i] as T, i);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw (failed as { err: unknown }).err;
}

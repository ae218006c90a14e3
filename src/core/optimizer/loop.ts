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
 * neutral reason, and the run goes on with the other candidates (see moderation.ts).
 */
import { InvalidPromptError, ProviderError } from '../errors';
import { isAbort, throwIfAborted } from './abort';
import type { CandidateView, RunEvent, RunMetricsView } from './events';
import { buildFeedback } from './feedback';
import {
  initialState,
  type CandidateRecord,
  type IterationOptions,
  type IterationResult,
  type LoopDeps,
  type LoopState,
  type Objective,
} from './loop-types';
import { mapBounded } from './map-bounded';
import { UNCHECKED, screenImage, screenPrompts, withhold } from './moderation';
import { beliefOf, bestCandidate, computeMetrics } from './run-metrics';
import { DEFAULT_RANKING, rankingValue, thompsonDraw } from './ranking';
import type { RunParams } from './params';
import type { ScoredPrompt } from './proposer';
import { mixSeed, rngFor } from './rng';

// The loop's contracts and helpers live in their own modules; callers keep importing them from here.
export * from './loop-types';
export { sniffImageMime } from './moderation';

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
  const startedAt = Date.now();
  throwIfAborted(signal);

  // 1. Safety: sanitize and moderate every prompt before anything is rendered.
  const candidates: CandidateRecord[] = state.pending.map((prompt, idx) => ({ iteration: it, idx, prompt, imageId: null, score: null }));
  await screenPrompts(candidates, deps, it === 0, signal);

  // 2. Render the admitted prompts (render → moderate → store → checkpoint → warm, per image).
  const toRender = candidates.filter((c) => !c.skippedReason);
  const generated = await renderCandidates(toRender, it, params, deps, opts);
  let costUsd = 0;
  for (const c of toRender) costUsd += c.costUsd ?? 0;
  throwIfAborted(signal);

  // 3. Score with the objective as it is now (fresh ratings included).
  const rendered = toRender.filter((c) => c.imageId);
  // Withheld images were made (and paid for): they count against the image budget like shown ones.
  const made = toRender.filter((c) => c.imageId || c.withheld).length;
  const scorerN = await scoreCandidates(rendered, params, deps, signal);
  if (it === 0 && rendered.length === 0) throw initialNotShown(candidates);

  // 4. Book-keeping: best so far (judged on belief, reported as shown), patience, budget.
  const bestC = bestCandidate(candidates);
  const bestHere = bestC?.score ?? null;
  const { next, n } = advanceState(state, params, candidates, { made, costUsd, bestHere, bestMean: bestC ? beliefOf(bestC) : null });
  next.elapsedMs = (state.elapsedMs ?? 0) + (Date.now() - startedAt);

  // 5. Feedback and the next prompts (not needed when the run ends here).
  const feedbackDigest = next.stopReason ? null : await proposeNext(next, candidates, n, params, deps, opts);

  const events = iterationEvents(runId, it, params, next, candidates, { bestHere, feedbackDigest, scorerN });
  return { iteration: it, state: next, candidates, bestThisIteration: bestHere, feedbackDigest, scorerN, events, generated };
}

/**
 * Renders the admitted prompts concurrently (bounded by the provider's limit) as a per-image
 * pipeline: render → moderate → store → checkpoint → warm the objective (embedding), each image as
 * soon as it arrives, so storage and embedding overlap the renders still in flight. Moderation comes
 * before the store on purpose: stored generated images feed /rate and profile pools, so a flagged
 * image must never get there. Returns how many images were generated here (resumed ones excluded).
 */
async function renderCandidates(
  toRender: CandidateRecord[],
  it: number,
  params: RunParams,
  deps: LoopDeps,
  opts: IterationOptions,
): Promise<number> {
  const { runId, signal } = opts;
  let generated = 0;
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
  return generated;
}

/**
 * Scores the shown images in one batch: the shown score, the scorer's uncapped belief (mean) and the
 * value the optimizer ranks on under the run's ranking rule. Returns the ratings the scorer had.
 */
async function scoreCandidates(rendered: CandidateRecord[], params: RunParams, deps: LoopDeps, signal?: AbortSignal): Promise<number> {
  if (!rendered.length) return 0;
  const res = await deps.objective.score(
    rendered.map((c) => c.imageId as string),
    signal,
  );
  rendered.forEach((c, i) => {
    const s = res.scores[i];
    if (!s) throw new Error(`objective returned ${res.scores.length} scores for ${rendered.length} images`);
    c.score = s.score;
    c.mean = s.mean ?? s.score;
    c.rank = rankingValue(params.ranking ?? DEFAULT_RANKING, c.mean, s.sd ?? 0, thompsonDraw(params.seed, c.iteration, c.idx));
    if (params.members.length > 1) c.memberScores = s.memberScores;
  });
  return res.scorerN;
}

/** Why the run cannot go on when the initial prompt's image is not shown. */
function initialNotShown(candidates: CandidateRecord[]): Error {
  const w = candidates[0]?.withheld;
  if (w === 'flagged')
    return new InvalidPromptError(
      `The image for your prompt was withheld: ${candidates[0]?.skippedReason}. Nothing was posted; try a different prompt.`,
    );
  if (w === 'unchecked')
    return new ProviderError('moderation', 'the image for your prompt could not be checked, so it was withheld; try again later');
  return new InvalidPromptError('The initial prompt could not be rendered.');
}

/** The state after this iteration (best so far, patience, budget, stop reason) and the next batch size. */
function advanceState(
  state: LoopState,
  params: RunParams,
  candidates: CandidateRecord[],
  step: { made: number; costUsd: number; bestHere: number | null; bestMean: number | null },
): { next: LoopState; n: number } {
  const it = state.iteration;
  const { made, costUsd, bestHere, bestMean } = step;
  // States stored before beliefs were kept judge on the shown best so far.
  const meanSoFar = state.bestMeanSoFar ?? state.bestSoFar;
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
    next.bestMeanSoFar = bestMean;
  } else if (bestMean !== null && (meanSoFar === null || bestMean > meanSoFar + EPS)) {
    next.bestSoFar = bestHere;
    next.bestMeanSoFar = bestMean;
    next.sinceImprovement = 0;
  } else {
    next.sinceImprovement = state.sinceImprovement + 1;
  }
  const n = nextBatchSize(next, params);
  next.stopReason = stopReasonAfter(next, params, it, n, made ? costUsd / made : 0);
  return { next, n };
}

/**
 * Builds feedback (after iteration 0) and asks the proposer for the next `n` prompts, new ones only,
 * into `next.pending` (stopping the run when there are none). Returns the feedback digest.
 */
async function proposeNext(
  next: LoopState,
  candidates: CandidateRecord[],
  n: number,
  params: RunParams,
  deps: LoopDeps,
  opts: IterationOptions,
): Promise<string | null> {
  const { runId, signal } = opts;
  const it = next.iteration - 1;
  let feedbackDigest: string | null = null;
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
  return feedbackDigest;
}

/** iteration.images, iteration.summary and run.progress, keyed for idempotent delivery. */
function iterationEvents(
  runId: string,
  it: number,
  params: RunParams,
  next: LoopState,
  candidates: CandidateRecord[],
  step: { bestHere: number | null; feedbackDigest: string | null; scorerN: number },
): RunEvent[] {
  const views = candidates.map(toView);
  return [
    { type: 'iteration.images', key: eventKeys.images(runId, it), runId, iteration: it, candidates: views },
    {
      type: 'iteration.summary',
      key: eventKeys.summary(runId, it),
      runId,
      iteration: it,
      bestSoFar: next.bestSoFar ?? NaN,
      bestThisIteration: step.bestHere,
      feedbackDigest: step.feedbackDigest,
      scorerN: step.scorerN,
    },
    {
      type: 'run.progress',
      key: eventKeys.progress(runId, it),
      runId,
      iteration: it,
      iterations: params.iterations,
      imagesUsed: next.imagesUsed,
      costUsd: next.costUsd,
      elapsedMs: next.elapsedMs,
    },
  ];
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

/** The proposer's view: each prompt with the value it ranks on (the rule's, or the belief in older states) and the shown score. */
function toScored(history: CandidateRecord[]): ScoredPrompt[] {
  return history.map((c) => ({ prompt: c.prompt, score: c.rank ?? beliefOf(c), shown: c.score, iteration: c.iteration, idx: c.idx }));
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

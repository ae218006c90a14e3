/**
 * The prompt-optimization experiment: for each seed a synthetic population, its community models and
 * one optimization run per (row, start prompt) with the product's own loop (src/core/optimizer/loop.ts
 * `runLoop`, in memory) and proposers, plus the best-of-N baseline (best-of-n.ts). Every row gets the same image budget (1 + K·N) and, per run,
 * the same initial prompt and seed, hence the same initial image. Synthetic people also have a hidden
 * true taste (src/eval/synthetic.ts, computed from the scene the prompt describes, never from pixels),
 * so every run also records the TRUE-taste gain of the best image over the initial one: how much of
 * the proxy gain is real and how much games the scorer.
 */
import { createRng } from '../../core/random';
import { runLoop, type LoopDeps } from '../../core/optimizer/loop';
import { RandomProposer } from '../../core/optimizer/random-proposer';
import { GeneticProposer } from '../../core/optimizer/genetic';
import { LlmProposer } from '../../core/optimizer/llm';
import { selectHighRated } from '../../core/optimizer/run-metrics';
import { mixSeed } from '../../core/optimizer/rng';
import type { FeedbackSet } from '../../core/optimizer/events';
import type { PromptProposer } from '../../core/optimizer/proposer';
import type { RunParams } from '../../core/optimizer/params';
import type { PackedRatings } from '../../core/scorer/data';
import type { Embedder, FeedbackLlm, PromptOptimizerLlm } from '../../core/ports';
import { parseSketchPrompt } from '../../providers/imagegen/sketch/parse';
import { SketchGenerator } from '../../providers/imagegen/sketch/generator';
import { buildPopulation, trueTaste, type Population, type PopulationVersion } from '../synthetic';
import { trainCommunity, type Community } from '../piaa/methods';
import { DEFAULT_RANKING, RANKING_RULES, type RankingRule } from '../../core/optimizer/ranking';
import { shareShownAtTen } from '../../core/scorer/display-score';
import { embedderForEval, embedPngs, type EvalEmbedderName } from '../embedding';
import { describePopulation, populationStats, type PopulationStats } from '../synthetic-stats';
import { MemoryImageStore } from '../memory-store';
import type { PairedComparison } from '../paired';
import { EmbeddingObjective, scorerFor } from './objective';
import { BEST_OF_N, runBestOfN } from './best-of-n';
import { compareRows } from './comparisons';
import { summarizeRows, type RowSummary, type RunOutcome } from './summary';

/** Neutral starting prompts (subjects without style words), one per run, cycling. */
export const START_PROMPTS = [
  'a lighthouse on a cliff',
  'a quiet village street',
  'a cat sleeping on a windowsill',
  'a harbor with small boats',
  'an old tree on a hill',
  'a road through the countryside',
  'a bowl of fruit on a table',
  'a traveler resting by a river',
  'a house by the water',
  'a bridge over a canyon',
  'a castle in the distance',
  'a garden path',
];

export interface OptimizeConfig {
  seeds: number[];
  /** Virtual people for the personal table (per seed). */
  people: number;
  /** Community members who train the global / meta models (per seed). */
  community: number;
  poolSize: number;
  /** Ratings each virtual person gave (their virtual human is fitted on these). */
  trainRatings: number;
  /** Runs of the general table per seed (one start prompt each). */
  generalRuns: number;
  iterations: number;
  candidates: number;
  size: number;
  rows: string[];
  llm?: { optimizer: PromptOptimizerLlm; feedback: FeedbackLlm } | null;
  cacheDir?: string | false;
  /** The synthetic population (default v2) and the offline embedder the scorers see (default the built-in features). */
  population?: PopulationVersion;
  embedder?: EvalEmbedderName;
  onProgress?: (msg: string) => void;
}

export interface OptimizeSummary {
  general: Record<string, RowSummary>;
  personal: Record<string, RowSummary>;
  /** Paired row-against-row differences with standard errors, 95% CIs and verdicts (comparisons.ts). */
  comparisons: { general: PairedComparison[]; personal: PairedComparison[] };
  seeds: number[];
  people: number;
  iterations: number;
  candidates: number;
  budget_images: number;
  llm: string | null;
  notes: string[];
  /** Each seed's population figures: inter-person correlation of true tastes, linear R² on the latents (synthetic-stats.ts). */
  populations?: (PopulationStats & { seed: number })[];
}

export const LLM_ROWS: FeedbackSet[] = ['none', 's+p', 's+p+f', 's+p+f+I'];

/** A row's ranking rule: `genetic:ucb` is the genetic optimizer ranking on UCB; a row without one ranks on DEFAULT_RANKING. */
export function rankingOf(row: string): RankingRule {
  const rule = row.split(':')[1];
  return RANKING_RULES.includes(rule as RankingRule) ? (rule as RankingRule) : DEFAULT_RANKING;
}

function proposerFor(row: string, cfg: OptimizeConfig): { proposer: PromptProposer; feedbackLlm?: FeedbackLlm; feedback: FeedbackSet } {
  if (row === 'random') return { proposer: new RandomProposer(), feedback: 'none' };
  if (row === 'genetic' || row.startsWith('genetic:')) return { proposer: new GeneticProposer(), feedback: 'none' };
  const set = row.replace(/^llm:/, '') as FeedbackSet;
  if (!cfg.llm || !LLM_ROWS.includes(set)) throw new Error(`row ${row} needs an LLM (set OPENAI_API_KEY)`);
  return { proposer: new LlmProposer(cfg.llm.optimizer, set), feedbackLlm: cfg.llm.feedback, feedback: set };
}

/** One run of `row` on population `seed`: the product's loop, or the best-of-N baseline (no loop). */
async function oneRun(
  row: string,
  prompt: string,
  seed: number,
  runSeed: number,
  objectiveFactory: (store: MemoryImageStore) => EmbeddingObjective,
  truth: (prompt: string) => number,
  cfg: OptimizeConfig,
): Promise<RunOutcome> {
  const store = new MemoryImageStore();
  const generator = new SketchGenerator({ size: cfg.size, concurrency: 4 });
  const objective = objectiveFactory(store);
  if (row === BEST_OF_N) {
    const { iterations, candidates, size } = cfg;
    const outcome = await runBestOfN({ prompt, runSeed, iterations, candidates, size, generator, store, objective, truth });
    return { seed, ...outcome, ...atTen(objective) };
  }
  const { proposer, feedbackLlm, feedback } = proposerFor(row, cfg);
  const deps: LoopDeps = { generator, store, objective, proposer, feedbackLlm };
  const budget = 1 + cfg.iterations * cfg.candidates;
  const params: RunParams = {
    prompt,
    objective: 'single',
    members: ['virtual'],
    candidates: cfg.candidates,
    iterations: cfg.iterations,
    feedback,
    optimizer: proposer.kind,
    ranking: rankingOf(row),
    seed: runSeed,
    patience: null,
    budget: { maxImages: budget },
    size: cfg.size,
  };
  const res = await runLoop(params, deps, { runId: `eval-${row}-${runSeed}` });
  const m = res.metrics;
  const bestSoFar = res.iterations.map((it) => it.state.bestSoFar ?? NaN);
  const trueGain = m.bestPrompt ? truth(m.bestPrompt) - truth(prompt) : 0;
  return {
    seed,
    max: m.max,
    maxMinusInit: m.maxMinusInit,
    kStar: m.kStar,
    trueGain,
    images: m.imagesUsed,
    maxSim: m.maxSim,
    scoreOfMostSim: m.scoreOfMostSim,
    bestSoFar,
    ...atTen(objective),
  };
}

/** Shares of a run's scored candidates a person would read as "10.0": shown (calibrated) and as clipped predictions read before. */
function atTen(objective: EmbeddingObjective): { shownAtTen: number; clippedAtTen: number } {
  return {
    shownAtTen: shareShownAtTen(objective.log.shown),
    clippedAtTen: shareShownAtTen(objective.log.mean.map((s) => Math.min(10, Math.max(1, s)))),
  };
}

interface SeedSetup {
  pop: Population;
  community: Community;
  vecs: Float32Array[];
  dim: number;
}

async function setupSeed(seed: number, cfg: OptimizeConfig, embedder: Embedder): Promise<SeedSetup> {
  const pop = await buildPopulation({
    seed,
    people: cfg.people + cfg.community,
    poolSize: cfg.poolSize,
    population: cfg.population,
    size: cfg.size,
    cacheDir: cfg.cacheDir,
    onProgress: cfg.onProgress,
  });
  const vecs = await embedPngs(
    embedder,
    pop.pool.map((p) => p.png),
  );
  const dim = embedder.dim;
  const rng = createRng(seed ^ 0xc0ffee);
  // The community (people after the first `cfg.people`) trains the global and meta models.
  const commData = pop.people
    .slice(cfg.people)
    .map((_, k) => packPerson(pop, vecs, dim, cfg.people + k, rng.shuffle([...pop.pool.keys()]).slice(0, cfg.trainRatings)));
  return { pop, community: trainCommunity(commData, rng), vecs, dim };
}

function packPerson(pop: Population, vecs: Float32Array[], dim: number, p: number, items: number[]): PackedRatings & { items: number[] } {
  const X = new Float32Array(items.length * dim);
  items.forEach((i, k) => X.set(vecs[i]!, k * dim));
  return { n: items.length, dim, X, y: Float64Array.from(items, (i) => pop.ratings[p]![i]!), items };
}

export async function runOptimizeEval(cfg: OptimizeConfig): Promise<OptimizeSummary> {
  const embedder = await embedderForEval(cfg.embedder);
  const populations: (PopulationStats & { seed: number })[] = [];
  const general: Record<string, RunOutcome[]> = Object.fromEntries(cfg.rows.map((r) => [r, []]));
  const personal: Record<string, RunOutcome[]> = Object.fromEntries(cfg.rows.map((r) => [r, []]));
  for (const seed of cfg.seeds) {
    const t0 = performance.now();
    const setup = await setupSeed(seed, cfg, embedder);
    cfg.onProgress?.(`seed ${seed}: population, embeddings and community models in ${(performance.now() - t0).toFixed(0)} ms`);
    const { pop, community, vecs, dim } = setup;
    populations.push({ seed, ...populationStats(pop) });
    cfg.onProgress?.(`seed ${seed}: ${describePopulation(populations.at(-1)!)}`);

    // General preference: the community scorer (a person with no ratings); truth = the population's mean hidden taste.
    const communityScorer = scorerFor(community, dim, embedder.modelId);
    const meanTruth = (prompt: string) => {
      const spec = parseSketchPrompt(prompt);
      return pop.people.reduce((a, person) => a + trueTaste(person, pop.judge, spec), 0) / pop.people.length;
    };
    for (let g = 0; g < cfg.generalRuns; g++) {
      const prompt = START_PROMPTS[(g + seed) % START_PROMPTS.length]!;
      const runSeed = mixSeed(seed, 'general', g) & 0x7fffffff;
      for (const row of cfg.rows) {
        general[row]!.push(
          await oneRun(
            row,
            prompt,
            seed,
            runSeed,
            (store) => new EmbeddingObjective(store, embedder, communityScorer, 'community scorer'),
            meanTruth,
            cfg,
          ),
        );
      }
      cfg.onProgress?.(`seed ${seed}: general ${g + 1}/${cfg.generalRuns}`);
    }

    // Personal preference: each virtual person's own fitted scorer (the virtual human).
    const rng = createRng(seed ^ 0xbeef);
    for (let p = 0; p < cfg.people; p++) {
      const items = rng.shuffle([...pop.pool.keys()]).slice(0, cfg.trainRatings);
      const data = packPerson(pop, vecs, dim, p, items);
      // The product's own scorer on the person's ratings: `auto` picks the method, as for a real person.
      const scorer = scorerFor(community, dim, embedder.modelId, data);
      const chosen = scorer.method('virtual');
      const earlier = selectHighRated(items.map((i, k) => ({ imageId: `pool-${i}`, score: data.y[k]!, vector: vecs[i]! })));
      const person = pop.people[p]!;
      const truth = (prompt: string) => trueTaste(person, pop.judge, parseSketchPrompt(prompt));
      const prompt = START_PROMPTS[(p + 3 * seed) % START_PROMPTS.length]!;
      const runSeed = mixSeed(seed, 'personal', p) & 0x7fffffff;
      for (const row of cfg.rows) {
        personal[row]!.push(
          await oneRun(
            row,
            prompt,
            seed,
            runSeed,
            (store) => new EmbeddingObjective(store, embedder, scorer, `virtual human (${chosen})`, earlier),
            truth,
            cfg,
          ),
        );
      }
      cfg.onProgress?.(`seed ${seed}: person ${p + 1}/${cfg.people} (virtual human: auto → ${chosen})`);
    }
  }
  const notes = [
    ...populations.map((p) => `seed ${p.seed}: ${describePopulation(p)}; embedder ${embedder.modelId}`),
    `objective scores and true taste are on the 1..10 scale; true_gain = hidden true taste of the best image's scene − that of the initial prompt's scene`,
    `equal image budget per run: ${1 + cfg.iterations * cfg.candidates} images (1 initial + K=${cfg.iterations} × N=${cfg.candidates})`,
    `± in the row tables is the spread over runs (standard deviation); comparisons are paired run by run and reported as mean difference ± standard error with a 95% t interval, the seeds being the units (${cfg.seeds.length} seed${cfg.seeds.length === 1 ? '' : 's'})`,
  ];
  notes.push(
    'scores are the calibrated 1–10 display (display-score.ts); runs rank on the uncapped posterior mean (genetic:ucb: mean + 1 sd); "shown at 10.0 (clipped)" = share of scored candidates a person reads as 10.0, and would have with predictions clipped to 1–10',
  );
  if (cfg.rows.includes(BEST_OF_N))
    notes.push(
      `${BEST_OF_N}: the start prompt rendered with all ${1 + cfg.iterations * cfg.candidates} seeds, the image the proxy scorer likes best kept; its true-taste gain is 0 by construction (the hidden judge scores the scene a prompt describes, not a seed's pixels)`,
    );
  if (!cfg.llm)
    notes.push(
      'LLM rows (feedback sets none, s+p, s+p+f, s+p+f+I) need an LLM: set OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server). Only the offline baselines ran.',
    );
  return {
    general: summarizeRows(general, false),
    personal: summarizeRows(personal, true),
    comparisons: { general: compareRows(general), personal: compareRows(personal) },
    seeds: cfg.seeds,
    people: cfg.people,
    iterations: cfg.iterations,
    candidates: cfg.candidates,
    budget_images: 1 + cfg.iterations * cfg.candidates,
    llm: cfg.llm ? 'configured' : null,
    notes,
    populations,
  };
}

/**
 * A genetic algorithm over prompt keywords (after Pavlichenko & Ustalov 2023, "Best prompts for
 * text-to-image models and how to find them"): individuals are keyword sets attached to the person's
 * subject; parents come from the whole scored history by tournament selection; children are made by
 * uniform crossover and add / remove / replace mutations. Only unseen prompts are proposed, so no
 * image is spent twice on the same prompt.
 *
 * Why not just "crossover of random parents + mutation": at the method's budgets (N = 4, K = 6, i.e.
 * 24 proposals) that operator is statistically the random baseline — it recombines keywords from
 * everywhere and keeps no memory of what scored well. This GA instead
 *   - is elitist: each generation grows `eliteChildren` children from the best prompt so far by ONE
 *     small mutation (local exploitation: keep what works, change one keyword);
 *   - selects every other parent by tournament among the best `population` distinct prompts of the
 *     WHOLE scored history (truncation + tournament: strong selection pressure, and good prompts
 *     from early iterations stay parents instead of being forgotten with their batch);
 *   - keeps diversity with crossover between different good prompts and an occasional immigrant
 *     (a fresh random keyword set).
 * Deterministic under the rng; stateless (everything comes from the history), so resumes replay it.
 */
import type { PromptProposer, ProposeContext, ScoredPrompt } from './proposer';
import {
  MAX_KEYWORDS,
  categoryOf,
  dedupe,
  diverseInitialPrompts,
  formatPrompt,
  parsePrompt,
  randomKeyword,
  randomKeywordSet,
  KEYWORD_VOCABULARY,
} from './keywords';
import { pick, randInt, type UniformSource } from './rng';

export interface GeneticOptions {
  /** Parent pool: the best `population` distinct scored prompts of the whole history. */
  population: number;
  /** Tournament size for parent selection. */
  tournament: number;
  /** Children per generation made from the best prompt so far by a single mutation. */
  eliteChildren: number;
  /** Probability that a non-elite child is a crossover of two tournament winners (else a mutated copy of one winner). */
  crossoverRate: number;
  /** Probability of a second mutation on a non-elite child (every child gets at least one change). */
  mutationRate: number;
  /** Probability that a non-elite slot is filled by an immigrant (a fresh random keyword set). */
  immigrantRate: number;
}

export const DEFAULT_GENETIC: GeneticOptions = {
  population: 8,
  tournament: 3,
  eliteChildren: 2,
  crossoverRate: 0.5,
  mutationRate: 0.3,
  immigrantRate: 0.1,
};

export class GeneticProposer implements PromptProposer {
  readonly kind = 'genetic' as const;
  readonly wantsFeedback = false;
  private readonly opts: GeneticOptions;

  constructor(opts: Partial<GeneticOptions> = {}) {
    this.opts = { ...DEFAULT_GENETIC, ...opts };
  }

  initial(prompt: string, n: number, rng: UniformSource): Promise<string[]> {
    return Promise.resolve(diverseInitialPrompts(prompt, n, rng, new Set([prompt])));
  }

  next(history: ScoredPrompt[], n: number, rng: UniformSource, ctx: ProposeContext): Promise<string[]> {
    const population = selectPopulation(history, this.opts.population);
    if (population.length === 0)
      return Promise.resolve(diverseInitialPrompts(ctx.initialPrompt, n, rng, new Set(history.map((h) => h.prompt))));
    const subject = parsePrompt(ctx.initialPrompt).subject;
    const seen = new Set(history.map((h) => h.prompt));
    const elite = population[0] as Individual;
    const out: string[] = [];
    const propose = (child: string[]): boolean => {
      // A child identical to something already tried is mutated again until it is new.
      let text = formatPrompt({ subject, keywords: child });
      for (let k = 0; (seen.has(text) || child.length === 0) && k < 10; k++) {
        child = mutate(child, rng);
        text = formatPrompt({ subject, keywords: child });
      }
      if (seen.has(text) || child.length === 0) return false;
      seen.add(text);
      out.push(text);
      return true;
    };
    for (let attempt = 0; out.length < n && attempt < n * 30; attempt++) {
      if (out.length < Math.min(this.opts.eliteChildren, n)) {
        propose(mutate(elite.keywords, rng));
        continue;
      }
      if (rng() < this.opts.immigrantRate) {
        propose(randomKeywordSet(rng, 2 + randInt(rng, 3)));
        continue;
      }
      const a = tournament(population, this.opts.tournament, rng);
      let child: string[];
      if (rng() < this.opts.crossoverRate) {
        const b = tournament(population, this.opts.tournament, rng);
        child = crossover(a.keywords, b.keywords, rng);
        if (sameSet(child, a.keywords) || sameSet(child, b.keywords)) child = mutate(child, rng);
      } else {
        child = mutate(a.keywords, rng);
      }
      if (rng() < this.opts.mutationRate) child = mutate(child, rng);
      propose(child);
    }
    return Promise.resolve(out);
  }
}

interface Individual {
  keywords: string[];
  score: number;
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((k) => b.includes(k));
}

/** The best `size` distinct prompts (by their best score), best first; ties broken by prompt text. */
export function selectPopulation(history: ScoredPrompt[], size: number): Individual[] {
  const best = new Map<string, number>();
  for (const h of history) {
    if (h.score === null || !Number.isFinite(h.score)) continue;
    const prev = best.get(h.prompt);
    if (prev === undefined || h.score > prev) best.set(h.prompt, h.score);
  }
  return [...best.entries()]
    .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
    .slice(0, size)
    .map(([prompt, score]) => ({ keywords: parsePrompt(prompt).keywords, score }));
}

/** Tournament selection: the best of `size` individuals drawn uniformly (with replacement). */
function tournament(pop: Individual[], size: number, rng: UniformSource): Individual {
  let best = pick(rng, pop);
  for (let i = 1; i < size; i++) {
    const c = pick(rng, pop);
    if (c.score > best.score) best = c;
  }
  return best;
}

/** Uniform crossover: keywords both parents share are kept; each other keyword is inherited with p = ½. */
export function crossover(a: string[], b: string[], rng: UniformSource): string[] {
  const shared = a.filter((k) => b.includes(k));
  const rest = dedupe([...a, ...b]).filter((k) => !shared.includes(k));
  const child = [...shared, ...rest.filter(() => rng() < 0.5)];
  return child.slice(0, MAX_KEYWORDS);
}

/** One mutation: add a keyword, remove one, or replace one by another of the same category. */
export function mutate(keywords: string[], rng: UniformSource): string[] {
  const k = [...keywords];
  const op = k.length === 0 ? 0 : k.length >= MAX_KEYWORDS ? 1 + randInt(rng, 2) : randInt(rng, 3);
  if (op === 0) {
    k.push(randomKeyword(rng, k));
  } else if (op === 1) {
    k.splice(randInt(rng, k.length), 1);
  } else {
    const i = randInt(rng, k.length);
    const cat = categoryOf(k[i] as string);
    const options = cat ? KEYWORD_VOCABULARY[cat].filter((w) => !k.includes(w)) : [];
    k[i] = options.length ? pick(rng, options) : randomKeyword(rng, k);
  }
  return dedupe(k);
}

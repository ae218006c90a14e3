/**
 * A genetic algorithm over prompt keywords (after Pavlichenko & Ustalov 2023, "Best prompts for
 * text-to-image models and how to find them"): individuals are keyword sets attached to the person's
 * subject; the population is the best-scored prompts so far (elitism: the best always stay eligible
 * parents); each child comes from tournament selection, uniform crossover of the parents' keyword
 * sets and add / remove / replace mutations. Only unseen prompts are proposed, so no image is spent
 * twice on the same prompt.
 */
import type { PromptProposer, ProposeContext, ScoredPrompt } from './proposer';
import { MAX_KEYWORDS, categoryOf, dedupe, diverseInitialPrompts, formatPrompt, parsePrompt, randomKeyword, KEYWORD_VOCABULARY } from './keywords';
import { pick, randInt, type Rng } from './rng';

export interface GeneticOptions {
  /** Population size: the best M distinct prompts so far. */
  population: number;
  /** Tournament size for parent selection. */
  tournament: number;
  /** Probability of one mutation per child (a second one follows with the same probability). */
  mutationRate: number;
}

export const DEFAULT_GENETIC: GeneticOptions = { population: 8, tournament: 3, mutationRate: 0.6 };

export class GeneticProposer implements PromptProposer {
  readonly kind = 'genetic' as const;
  readonly wantsFeedback = false;
  private readonly opts: GeneticOptions;

  constructor(opts: Partial<GeneticOptions> = {}) {
    this.opts = { ...DEFAULT_GENETIC, ...opts };
  }

  async initial(prompt: string, n: number, rng: Rng): Promise<string[]> {
    return diverseInitialPrompts(prompt, n, rng, new Set([prompt]));
  }

  async next(history: ScoredPrompt[], n: number, rng: Rng, ctx: ProposeContext): Promise<string[]> {
    const population = selectPopulation(history, this.opts.population);
    if (population.length === 0) return diverseInitialPrompts(ctx.initialPrompt, n, rng, new Set(history.map((h) => h.prompt)));
    const subject = parsePrompt(ctx.initialPrompt).subject;
    const seen = new Set(history.map((h) => h.prompt));
    const out: string[] = [];
    for (let attempt = 0; out.length < n && attempt < n * 30; attempt++) {
      const a = tournament(population, this.opts.tournament, rng);
      const b = tournament(population, this.opts.tournament, rng);
      let child = crossover(a.keywords, b.keywords, rng);
      if (rng() < this.opts.mutationRate) child = mutate(child, rng);
      if (rng() < this.opts.mutationRate) child = mutate(child, rng);
      // A child identical to something already tried is forced to mutate until new.
      let text = formatPrompt({ subject, keywords: child });
      for (let k = 0; (seen.has(text) || child.length === 0) && k < 10; k++) {
        child = mutate(child, rng);
        text = formatPrompt({ subject, keywords: child });
      }
      if (!seen.has(text)) {
        seen.add(text);
        out.push(text);
      }
    }
    return out;
  }
}

interface Individual {
  keywords: string[];
  score: number;
}

/** The best `size` distinct prompts (by their best score). */
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

function tournament(pop: Individual[], size: number, rng: Rng): Individual {
  let best = pick(rng, pop);
  for (let i = 1; i < size; i++) {
    const c = pick(rng, pop);
    if (c.score > best.score) best = c;
  }
  return best;
}

/** Uniform crossover: keywords both parents share are kept; each other keyword is inherited with p = ½. */
export function crossover(a: string[], b: string[], rng: Rng): string[] {
  const shared = a.filter((k) => b.includes(k));
  const rest = dedupe([...a, ...b]).filter((k) => !shared.includes(k));
  const child = [...shared, ...rest.filter(() => rng() < 0.5)];
  return child.slice(0, MAX_KEYWORDS);
}

/** One mutation: add a keyword, remove one, or replace one by another of the same category. */
export function mutate(keywords: string[], rng: Rng): string[] {
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

/**
 * Prompts as "subject, keyword, keyword, …" — the representation of the keyword optimizers
 * (Pavlichenko & Ustalov 2023: a prompt = a base description + a set of style keywords).
 */
import { pick, shuffle, type Rng } from './rng';

export const KEYWORD_VOCABULARY = {
  style: ['impressionism', 'art nouveau', 'surrealism', 'minimalism', 'cyberpunk', 'baroque', 'ukiyo-e', 'pop art', 'bauhaus', 'studio ghibli style'],
  medium: ['watercolor', 'oil painting', 'pencil sketch', 'digital painting', '35mm photograph', 'charcoal drawing', 'vector illustration', '3d render', 'gouache', 'linocut print'],
  lighting: ['golden hour', 'soft diffused light', 'dramatic rim light', 'neon glow', 'overcast light', 'candlelight', 'volumetric fog', 'backlit', 'moonlight', 'studio lighting'],
  color: ['pastel palette', 'vibrant colors', 'monochrome', 'muted earth tones', 'teal and orange', 'black and white', 'warm palette', 'cool blue tones', 'high contrast', 'sepia'],
  composition: ['wide angle', 'close-up', 'symmetrical composition', 'rule of thirds', 'bird\'s eye view', 'low angle', 'centered subject', 'negative space', 'panoramic', 'macro detail'],
  quality: ['highly detailed', 'trending on artstation', 'sharp focus', '8k', 'intricate', 'award winning', 'masterpiece', 'cinematic', 'soft focus', 'hyperrealistic'],
} as const;

export type KeywordCategory = keyof typeof KEYWORD_VOCABULARY;
export const KEYWORD_CATEGORIES = Object.keys(KEYWORD_VOCABULARY) as KeywordCategory[];
export const ALL_KEYWORDS: readonly string[] = KEYWORD_CATEGORIES.flatMap((c) => KEYWORD_VOCABULARY[c]);
const CATEGORY_OF = new Map<string, KeywordCategory>(KEYWORD_CATEGORIES.flatMap((c) => KEYWORD_VOCABULARY[c].map((k) => [k, c] as const)));

/** Most keywords a keyword optimizer puts in one prompt (long prompts dilute every keyword). */
export const MAX_KEYWORDS = 8;

export interface KeywordPrompt {
  subject: string;
  keywords: string[];
}

export function categoryOf(keyword: string): KeywordCategory | undefined {
  return CATEGORY_OF.get(keyword);
}

/** "a cat on a roof, watercolor, golden hour" → subject "a cat on a roof", keywords [watercolor, golden hour]. */
export function parsePrompt(prompt: string): KeywordPrompt {
  const parts = prompt.split(',').map((p) => p.trim()).filter(Boolean);
  const [subject = prompt.trim(), ...rest] = parts;
  return { subject, keywords: dedupe(rest.map((k) => k.toLowerCase())) };
}

export function formatPrompt(p: KeywordPrompt): string {
  return [p.subject, ...p.keywords].join(', ');
}

export function dedupe(items: string[]): string[] {
  return [...new Set(items)];
}

/** A random keyword, preferring categories the set does not cover yet (diversity). */
export function randomKeyword(rng: Rng, exclude: readonly string[]): string {
  const covered = new Set(exclude.map(categoryOf).filter(Boolean));
  const open = KEYWORD_CATEGORIES.filter((c) => !covered.has(c));
  const cat = pick(rng, open.length ? open : KEYWORD_CATEGORIES);
  const options = KEYWORD_VOCABULARY[cat].filter((k) => !exclude.includes(k));
  return options.length ? pick(rng, options) : pick(rng, ALL_KEYWORDS.filter((k) => !exclude.includes(k)));
}

/** `count` keywords from distinct categories (as far as possible). */
export function randomKeywordSet(rng: Rng, count: number, base: readonly string[] = []): string[] {
  const out = [...base];
  const cats = shuffle(rng, KEYWORD_CATEGORIES);
  for (let i = 0; out.length < Math.min(MAX_KEYWORDS, base.length + count) && i < 50; i++) {
    const cat = cats[i % cats.length] as KeywordCategory;
    const options = KEYWORD_VOCABULARY[cat].filter((k) => !out.includes(k));
    if (options.length) out.push(pick(rng, options));
  }
  return out;
}

/**
 * N diverse starting prompts: the person's own prompt plus 2–3 keywords each, walking the categories
 * so the first iteration maps different regions of the style space.
 */
export function diverseInitialPrompts(prompt: string, n: number, rng: Rng, avoid: ReadonlySet<string> = new Set()): string[] {
  const base = parsePrompt(prompt);
  const out: string[] = [];
  const seen = new Set(avoid);
  for (let attempt = 0; out.length < n && attempt < n * 20; attempt++) {
    const extra = 2 + (attempt % 2);
    const text = formatPrompt({ subject: base.subject, keywords: randomKeywordSet(rng, extra, base.keywords.slice(0, MAX_KEYWORDS - extra)) });
    if (!seen.has(text)) {
      seen.add(text);
      out.push(text);
    }
  }
  return out;
}

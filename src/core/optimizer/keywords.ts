/**
 * Prompts as "subject, keyword, keyword, …" — the representation of the keyword optimizers
 * (Pavlichenko & Ustalov 2023: a prompt = a base description + a set of style keywords).
 */
import { pick, shuffle, type UniformSource } from './rng';

/**
 * Every keyword is a word image models know AND one the offline sketch renderer reads
 * (src/providers/imagegen/sketch/parse.ts `parseSketchPrompt`: media, lighting and mood words, palette and
 * color words, composition words, scenery subjects). A keyword the renderer does not understand only
 * re-rolls the hash-derived details of the picture, which turns keyword search into noise: the old
 * vocabulary (art-movement names, camera and "quality" words) was mostly such words, and with it the
 * genetic optimizer could not beat random sampling. Scenery keywords matter for the same reason: when
 * a prompt names no subject, the renderer picks one from the hash of all its words, so naming one
 * keeps it stable while the other keywords evolve.
 */
export const KEYWORD_VOCABULARY = {
  medium: [
    'watercolor',
    'oil painting',
    'impressionist',
    'gouache',
    'ink sketch',
    'charcoal',
    'pencil sketch',
    'pixel art',
    'vector illustration',
    'poster',
  ],
  lighting: ['golden hour', 'blue hour', 'sunset', 'sunrise', 'dusk', 'night', 'neon', 'daylight', 'misty', 'stormy'],
  mood: ['warm', 'cozy', 'cool', 'icy', 'moody', 'dark', 'dreamy', 'serene', 'eerie', 'bright', 'autumn', 'winter', 'spring', 'summer'],
  palette: ['pastel', 'vibrant', 'muted', 'faded', 'colorful', 'monochrome'],
  color: [
    'teal and orange',
    'crimson',
    'gold',
    'emerald',
    'turquoise',
    'navy blue',
    'lavender',
    'magenta',
    'pink',
    'amber',
    'sepia',
    'coral',
  ],
  composition: ['centered', 'symmetrical', 'minimalist', 'intricate', 'highly detailed', 'rule of thirds', 'reflection', 'sparse'],
  scenery: ['mountains', 'seascape', 'forest', 'city skyline', 'flower garden', 'cloudy sky', 'desert dunes', 'galaxy', 'full moon', 'sun'],
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
  const parts = prompt
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
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
export function randomKeyword(rng: UniformSource, exclude: readonly string[]): string {
  const covered = new Set(exclude.map(categoryOf).filter(Boolean));
  const open = KEYWORD_CATEGORIES.filter((c) => !covered.has(c));
  const cat = pick(rng, open.length ? open : KEYWORD_CATEGORIES);
  const options = KEYWORD_VOCABULARY[cat].filter((k) => !exclude.includes(k));
  return options.length
    ? pick(rng, options)
    : pick(
        rng,
        ALL_KEYWORDS.filter((k) => !exclude.includes(k)),
      );
}

/** `count` keywords from distinct categories (as far as possible). */
export function randomKeywordSet(rng: UniformSource, count: number, base: readonly string[] = []): string[] {
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
 * N diverse starting prompts: the person's own prompt plus 2–3 keywords each, stratified so the
 * first iteration maps different regions of the style space — each category's values are dealt out
 * without repetition across the N prompts (a Latin-hypercube-like spread), and the categories rotate
 * so together the prompts cover every category instead of N random draws that often repeat one.
 */
export function diverseInitialPrompts(prompt: string, n: number, rng: UniformSource, avoid: ReadonlySet<string> = new Set()): string[] {
  const base = parsePrompt(prompt);
  const out: string[] = [];
  const seen = new Set(avoid);
  const cats = shuffle(rng, KEYWORD_CATEGORIES);
  const deck = new Map<KeywordCategory, string[]>(KEYWORD_CATEGORIES.map((c) => [c, shuffle(rng, KEYWORD_VOCABULARY[c])]));
  let slot = 0;
  for (let attempt = 0; out.length < n && attempt < n * 20; attempt++) {
    const extra = 2 + (attempt % 2);
    const keywords = base.keywords.slice(0, MAX_KEYWORDS - extra);
    for (let j = 0; j < extra; j++) {
      const cat = cats[slot++ % cats.length] as KeywordCategory;
      const cards = deck.get(cat) as string[];
      // Deal the next unused value of this category (reshuffled only once it runs out).
      if (cards.length === 0) cards.push(...shuffle(rng, KEYWORD_VOCABULARY[cat]));
      const k = cards.shift() as string;
      if (!keywords.includes(k)) keywords.push(k);
    }
    const text = formatPrompt({ subject: base.subject, keywords });
    if (!seen.has(text)) {
      seen.add(text);
      out.push(text);
    }
  }
  return out;
}

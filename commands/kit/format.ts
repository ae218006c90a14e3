/** Small, pure text formatters shared by commands and every platform, so all surfaces speak alike. */
import { stripInvisible } from '../../src/core/text-safety';

/** A score on the 1..10 scale: `6.4/10`; unknown → `–/10`. */
export function formatScore(score: number | null | undefined): string {
  if (score === null || score === undefined || !Number.isFinite(score)) return '–/10';
  return `${score.toFixed(1)}/10`;
}

/** "1 rating", "0 ratings", "12 ratings". */
export function plural(n: number, noun: string, pluralNoun = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : pluralNoun}`;
}

/** A text progress bar: `▰▰▰▱▱▱▱▱▱▱`. */
export function progressBar(done: number, total: number, width = 10): string {
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const filled = Math.round(frac * width);
  return '▰'.repeat(filled) + '▱'.repeat(width - filled);
}

export function formatUsd(usd: number): string {
  return usd === 0 ? '$0' : usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/** Signed difference: `+1.3`, `-0.2`. */
export function formatDelta(d: number): string {
  return `${d >= 0 ? '+' : ''}${d.toFixed(1)}`;
}

/** Text a person typed, made safe to echo: invisibles stripped, whitespace collapsed, length capped. */
export function cleanUserText(text: string, max = 500): string {
  // Invisible characters can hide text from readers; the core's rule is the one rule.
  const t = stripInvisible(text).replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** Quotes user text so it cannot start markdown structures (code fences, headings) in our messages. */
export function quoteUserText(text: string, max = 500): string {
  return `“${cleanUserText(text, max).replace(/`/g, "'")}”`;
}

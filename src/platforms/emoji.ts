/**
 * Rating reactions → 1..10. One table for every platform: Discord sends Unicode (with or without the
 * U+FE0F variation selector, since clients differ), Slack sends short names (`one`, `:one:`,
 * `keycap_ten`, `thumbsup::skin-tone-2`). Anything else — custom emoji, other emoji, 0️⃣ — is not a
 * rating and maps to null, so a stray reaction never counts as a vote.
 */

const VS16 = /\uFE0F/g;
/** Fitzpatrick skin-tone modifiers U+1F3FB..U+1F3FF (Unicode) — a rating emoji never has one, but strip anyway. */
const SKIN_TONE = /[\u{1F3FB}-\u{1F3FF}]/gu;
const KEYCAP = '\u20E3';

const SLACK_NAMES: Record<string, number> = {
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  keycap_ten: 10,
};

/** The emoji the bot itself adds under a rateable image, in order (Discord form, with U+FE0F). */
export const RATING_EMOJI: readonly string[] = [...Array.from({ length: 9 }, (_, i) => `${i + 1}\uFE0F${KEYCAP}`), '\u{1F51F}'];
/** Slack reaction names in the same order. */
export const RATING_SLACK_NAMES: readonly string[] = Object.keys(SLACK_NAMES);

export interface EmojiInput {
  /** Unicode emoji or Slack short name. */
  name: string | null | undefined;
  /** Platform id of a custom emoji (Discord). Present = custom = never a rating. */
  id?: string | null;
}

/** Normalizes a reaction to a rating 1..10, or null when it is not a rating emoji. */
export function emojiToRating(input: string | EmojiInput | null | undefined): number | null {
  const e: EmojiInput = typeof input === 'string' || input == null ? { name: input ?? null } : input;
  if (e.id) return null;
  const raw = e.name;
  if (!raw) return null;

  // Slack: ":one:" / "one" / "one::skin-tone-3".
  const slack = raw
    .replace(/^:|:$/g, '')
    .replace(/::skin-tone-\d$/, '')
    .replace(/:$/, '');
  const named = SLACK_NAMES[slack];
  if (named !== undefined) return named;

  const uni = raw.replace(VS16, '').replace(SKIN_TONE, '');
  if (uni === '\u{1F51F}') return 10;
  if (uni.length === 2 && uni[1] === KEYCAP) {
    const d = uni.charCodeAt(0) - 48;
    if (d >= 1 && d <= 9) return d;
  }
  return null;
}

/** The emoji that cancels a run when its requester puts it on the run header. */
export function isCancelEmoji(input: string | EmojiInput | null | undefined): boolean {
  const e: EmojiInput = typeof input === 'string' || input == null ? { name: input ?? null } : input;
  if (e.id || !e.name) return false;
  const n = e.name.replace(VS16, '').replace(/^:|:$/g, '');
  return n === '\u274C' || n === 'x';
}

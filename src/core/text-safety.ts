/**
 * Pure text hygiene for untrusted text (OWASP LLM01): people's prompts, LLM-written prompts and
 * feedback. Strips invisible and control Unicode (used to smuggle hidden instructions past a human
 * reader), neutralizes chat mentions (an LLM-written prompt must never ping @everyone), and
 * validates prompt length and banned words. No I/O.
 */

/**
 * Invisible or control code points:
 * - \p{Cc} C0/C1 controls and DEL (tab/newline/carriage return are handled separately),
 * - \p{Cf} format characters: zero-width space/joiners, LRM/RLM, bidi embeddings, overrides and
 *   isolates (U+202A–202E, U+2066–2069), word joiner, BOM, soft hyphen, Unicode tag characters
 *   (U+E0000–E007F, "ASCII smuggling"), interlinear annotations,
 * - variation selectors (U+FE00–FE0F, U+E0100–E01EF: can encode hidden bytes),
 * - fillers that render as nothing (Hangul fillers, Mongolian vowel separator, braille blank),
 * - lone surrogates.
 */
// eslint-disable-next-line no-misleading-character-class -- the class deliberately lists lone combining marks (U+034F, Mongolian and Unicode variation selectors) to strip them; with the u flag each is matched as its own code point
const INVISIBLE = /[\p{Cf}\u034F\u115F\u1160\u17B4\u17B5\u180B-\u180F\u2800\u3164\uFE00-\uFE0F\uFFA0\u{E0100}-\u{E01EF}]|\p{Cs}/gu;
/** Controls except \t \n \r, which become ordinary whitespace. */
// eslint-disable-next-line no-control-regex -- matching C0/C1 control characters is the purpose: they are stripped from untrusted text
const CONTROLS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;
/** Unusual spaces and line/paragraph separators, mapped to plain ones. */
const ODD_SPACES = /[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g;
const LINE_SEPARATORS = /[\u2028\u2029\u0085]/g;

/** Removes invisible and control characters; keeps \t, \n and \r. */
export function stripInvisible(text: string): string {
  return text.normalize('NFC').replace(LINE_SEPARATORS, '\n').replace(INVISIBLE, '').replace(CONTROLS, '').replace(ODD_SPACES, ' ');
}

/** True when `text` still holds something stripInvisible would remove (or a control char). */
export function hasInvisible(text: string): boolean {
  INVISIBLE.lastIndex = 0;
  CONTROLS.lastIndex = 0;
  const found = INVISIBLE.test(text) || CONTROLS.test(text);
  INVISIBLE.lastIndex = 0;
  CONTROLS.lastIndex = 0;
  return found;
}

/**
 * Makes chat mentions inert while keeping them readable: Discord `<@123>`, `<@!123>`, `<@&123>`,
 * `<#123>`, `@everyone`, `@here`; Slack `<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^ID>`,
 * `<@U123>`. The "@" becomes a fullwidth "＠" (U+FF20), which no platform parses as a mention.
 * Platforms should still send with mentions disabled (allowed_mentions / parse none); this is the
 * second line of defence.
 */
export function neutralizeMentions(text: string): string {
  return (
    text
      // <@123>, <@!123>, <@&123>, <@U123|name>
      .replace(/<@[!&]?([A-Za-z0-9_.-]+)(?:\|[^>]*)?>/g, (_m, id: string) => `＠${id}`)
      // <#123> channel links, <#C123|name>
      .replace(/<#([A-Za-z0-9_.-]+)(?:\|[^>]*)?>/g, (_m, id: string) => `#${id}`)
      // Slack special mentions <!channel>, <!here|here>, <!subteam^S123>
      .replace(/<!([A-Za-z0-9_^.-]+)(?:\|[^>]*)?>/g, (_m, id: string) => `＠${id.replace('^', ' ')}`)
      // @everyone / @here / @channel / @all (any case)
      .replace(/@(?=(everyone|here|channel|all)\b)/gi, '＠')
  );
}

export interface SanitizeOptions {
  /** Maximum length in characters after cleaning (default 400). */
  maxLen?: number;
  /** Lower-case words or phrases; a prompt containing one is rejected. */
  bannedWords?: readonly string[];
  /** Cut an over-long text at a word boundary instead of rejecting it (for LLM output). */
  truncate?: boolean;
  /** Minimum length after cleaning (default 1). */
  minLen?: number;
}

export type SanitizeResult = { ok: true; text: string; reason?: undefined } | { ok: false; text: string; reason: string };

export const DEFAULT_PROMPT_MAX_LEN = 400;

/** Folds case and compatibility forms (fullwidth letters etc.) so banned words can't hide behind them. */
function foldForMatching(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

function containsBanned(text: string, banned: readonly string[]): string | undefined {
  if (banned.length === 0) return undefined;
  const folded = foldForMatching(text);
  for (const raw of banned) {
    const word = foldForMatching(raw.trim());
    if (!word) continue;
    // Whole words only, but letters may be spread out with separators ("n.s.f.w", "g o r e").
    const spread = [...word].map(escapeRegExp).join('[^\\p{L}\\p{N}]*');
    const pattern = new RegExp(`(^|[^\\p{L}\\p{N}])${spread}($|[^\\p{L}\\p{N}])`, 'u');
    if (pattern.test(folded)) return raw;
  }
  return undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function truncateAtWord(text: string, maxLen: number): string {
  if (text.length <= maxLen) return text;
  const cut = text.slice(0, maxLen);
  const lastSpace = cut.lastIndexOf(' ');
  return (lastSpace > maxLen * 0.6 ? cut.slice(0, lastSpace) : cut).replace(/[\s,;:.-]+$/u, '');
}

/**
 * Cleans a one-line image prompt: invisible/control characters removed, whitespace collapsed,
 * mentions neutralized; then checks length and banned words. `reason` is safe to show the person.
 */
export function sanitizePrompt(text: string, opts: SanitizeOptions = {}): SanitizeResult {
  const maxLen = opts.maxLen ?? DEFAULT_PROMPT_MAX_LEN;
  const minLen = opts.minLen ?? 1;
  let cleaned = neutralizeMentions(stripInvisible(String(text)).replace(/\s+/g, ' ').trim());
  if (cleaned.length < minLen) {
    return {
      ok: false,
      text: cleaned,
      reason: cleaned.length === 0 ? 'the prompt is empty' : `the prompt is shorter than ${minLen} characters`,
    };
  }
  if (cleaned.length > maxLen) {
    if (!opts.truncate) return { ok: false, text: cleaned.slice(0, maxLen), reason: `the prompt is longer than ${maxLen} characters` };
    cleaned = truncateAtWord(cleaned, maxLen);
  }
  const banned = containsBanned(cleaned, opts.bannedWords ?? []);
  if (banned !== undefined) return { ok: false, text: cleaned, reason: 'the prompt contains a word that is not allowed here' };
  return { ok: true, text: cleaned };
}

/**
 * Cleans free text meant for display or an LLM (feedback): invisible characters removed, mentions
 * neutralized, runs of blank lines collapsed, cut to maxLen.
 */
export function sanitizeText(text: string, maxLen = 1000): string {
  const cleaned = neutralizeMentions(stripInvisible(String(text)))
    .replace(/[ \t]+/g, ' ')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return truncateAtWord(cleaned, maxLen);
}
